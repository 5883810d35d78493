//! The `phx-cni` binary: everything lives in the library.
fn main() -> std::process::ExitCode {
    phx_cni::main()
}
