//! The `phx-platform` binary: everything lives in the library.
fn main() -> std::process::ExitCode {
    phx_platform::main()
}
