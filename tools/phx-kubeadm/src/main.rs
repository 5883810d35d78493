//! The `phx-kubeadm` binary: everything lives in the library.
fn main() -> std::process::ExitCode {
    phx_kubeadm::main()
}
