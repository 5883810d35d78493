//! The `phx-net` binary: everything lives in the library.
fn main() -> std::process::ExitCode {
    phx_net::main()
}
