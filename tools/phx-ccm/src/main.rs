//! The `phx-ccm` binary: everything lives in the library.
fn main() -> std::process::ExitCode {
    phx_ccm::main()
}
