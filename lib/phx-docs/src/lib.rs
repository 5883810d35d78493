//! Man pages (`man/phx-*.1`) and shell completions (`man/completions/`)
//! for every tool, rendered from the same clap definitions the binaries
//! parse with, so they cannot describe another interface. `phx-docs
//! [DIR]` (or `just man`) writes them; a test fails when the checked-in
//! copies are stale.

use clap::CommandFactory;
use clap_complete::Shell;
use std::path::Path;

/// Every tool's command line, by binary name.
pub fn commands() -> Vec<clap::Command> {
    vec![
        phx_state::cli::Cli::command(),
        phx_net::cli::Cli::command(),
        phx_iam::cli::Cli::command(),
        phx_nodes::cli::Cli::command(),
        phx_kubeadm::cli::Cli::command(),
        phx_cni::Cli::command(),
        phx_ccm::Cli::command(),
        phx_platform::Cli::command(),
    ]
}

/// `(relative path, contents)` of every generated file: a page per tool
/// (its verbs, global options, environment, exit status, examples), a page
/// per verb (`phx-net-apply.1`: its options and example), and bash, zsh
/// and fish completions.
pub fn render() -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    let source = format!("phx {}", env!("CARGO_PKG_VERSION"));
    for cmd in commands() {
        let name = cmd.get_name().to_string();
        let mut cmd = cmd.version(env!("CARGO_PKG_VERSION"));
        cmd.build();
        let mut page = Vec::new();
        clap_mangen::Man::new(cmd.clone())
            .source(source.clone())
            .render(&mut page)?;
        out.push((format!("{name}.1"), page));
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            // clap names are &'static str without its `string` feature; a
            // generator that runs once can leak a few.
            let full: &'static str = Box::leak(format!("{name}-{}", sub.get_name()).into_boxed_str());
            let bin: &'static str = Box::leak(format!("{name} {}", sub.get_name()).into_boxed_str());
            let sub = sub.clone().name(full).bin_name(bin);
            let mut page = Vec::new();
            clap_mangen::Man::new(sub)
                .source(source.clone())
                .render(&mut page)?;
            out.push((format!("{full}.1"), page));
        }
        for (shell, file) in [
            (Shell::Bash, format!("completions/{name}.bash")),
            (Shell::Zsh, format!("completions/_{name}")),
            (Shell::Fish, format!("completions/{name}.fish")),
        ] {
            let mut c = cmd.clone();
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut c, name.clone(), &mut buf);
            out.push((file, buf));
        }
    }
    Ok(out)
}

/// Write everything under `dir`.
pub fn write(dir: &Path) -> std::io::Result<usize> {
    let files = render()?;
    for (rel, bytes) in &files {
        let p = dir.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(p, bytes)?;
    }
    Ok(files.len())
}
