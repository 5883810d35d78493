//! The `phx-nodes` binary: everything lives in the library.
fn main() -> std::process::ExitCode {
    phx_nodes::main()
}
