//! `phx-docs [DIR]`: write the man pages and completions (default `man/`).
fn main() -> std::process::ExitCode {
    let dir = std::env::args_os()
        .nth(1)
        .map_or_else(|| std::path::PathBuf::from("man"), Into::into);
    match phx_docs::write(&dir) {
        Ok(n) => {
            eprintln!("phx-docs: wrote {n} files under {}", dir.display());
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("phx-docs: {}: {e}", dir.display());
            std::process::ExitCode::FAILURE
        }
    }
}
