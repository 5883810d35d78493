//! The `phx-state` binary: everything lives in the library.
fn main() -> std::process::ExitCode {
    phx_state::main()
}
