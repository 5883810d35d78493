//! The `phx-iam` binary: everything lives in the library.
fn main() -> std::process::ExitCode {
    phx_iam::main()
}
