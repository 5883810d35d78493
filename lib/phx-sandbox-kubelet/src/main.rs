fn main() -> std::process::ExitCode {
    phx_sandbox_kubelet::main()
}
