//! Man pages (`man/phx-*.1`) and shell completions (`man/completions/`)
//! for every tool, rendered from the same clap definitions the binaries
//! parse with, so they cannot describe another interface; what a page says
//! beyond them (files, environment, a verb's own exit statuses) is each
//! tool's `DOCS`, kept beside its `Cli`. `phx-docs [DIR]` (or `just man`)
//! writes them; a test fails when the checked-in copies are stale. A
//! developer's generator, not one of the tools: it is not installed.

use clap_complete::Shell;
use phx_core::cli::{Docs, Rows};
use std::path::Path;

/// Every tool's command line and man page extras.
pub fn commands() -> Vec<(clap::Command, Docs)> {
    vec![
        (phx_state::cli::command(), phx_state::cli::DOCS),
        (phx_net::cli::command(), phx_net::cli::DOCS),
        (phx_iam::cli::command(), phx_iam::cli::DOCS),
        (phx_nodes::cli::command(), phx_nodes::cli::DOCS),
        (phx_kubeadm::cli::command(), phx_kubeadm::cli::DOCS),
        (phx_cni::command(), phx_cni::DOCS),
        (phx_ccm::command(), phx_ccm::DOCS),
        (phx_platform::command(), phx_platform::DOCS),
    ]
}

/// `(relative path, contents)` of every generated file: a page per tool
/// (its verbs, global options, environment, exit status, examples), a page
/// per verb (`phx-net-apply.1`: its options and example), and bash, zsh
/// and fish completions.
pub fn render() -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    let source = format!("phx {}", env!("CARGO_PKG_VERSION"));
    for (cmd, docs) in commands() {
        let name = cmd.get_name().to_string();
        let mut cmd = cmd.version(env!("CARGO_PKG_VERSION"));
        cmd.build();
        out.push((format!("{name}.1"), page(&cmd, &source, &docs, None)?));
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            let sub_name = sub.get_name();
            // clap names are &'static str without its `string` feature; a
            // generator that runs once can leak a few.
            let full: &'static str = Box::leak(format!("{name}-{}", sub.get_name()).into_boxed_str());
            let bin: &'static str = Box::leak(format!("{name} {}", sub.get_name()).into_boxed_str());
            let sub = sub.clone().name(full).bin_name(bin);
            out.push((format!("{full}.1"), page(&sub, &source, &docs, Some(sub_name))?));
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

/// One page, laid out as man-pages(7) has it: NAME, SYNOPSIS,
/// DESCRIPTION, OPTIONS, (COMMANDS), EXIT STATUS, ENVIRONMENT, FILES,
/// EXAMPLES (a verb's after-help), VERSION. The tools' `--help` text for
/// exit codes and environment is not copied in: the sections are made from
/// the same tables (`phx_core::cli::{EXIT_STATUS, ENVIRONMENT}`).
fn page(cmd: &clap::Command, source: &str, docs: &Docs, verb: Option<&str>) -> std::io::Result<Vec<u8>> {
    let man = clap_mangen::Man::new(cmd.clone()).source(source.to_string());
    let mut w = Vec::new();
    man.render_title(&mut w)?;
    man.render_name_section(&mut w)?;
    man.render_synopsis_section(&mut w)?;
    man.render_description_section(&mut w)?;
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(&mut w)?;
    }
    if cmd.has_subcommands() {
        man.render_subcommands_section(&mut w)?;
    }
    let exit: Rows = docs
        .exit_status
        .iter()
        .find(|(v, _)| Some(*v) == verb)
        .map_or(phx_core::cli::EXIT_STATUS, |(_, rows)| rows);
    let mut env: Vec<(&str, &str)> = phx_core::cli::ENVIRONMENT.to_vec();
    if docs.aws {
        env.extend(phx_core::cli::AWS_ENVIRONMENT);
    }
    env.extend(docs.environment);
    let mut roff = String::new();
    section(&mut roff, "EXIT STATUS", exit);
    section(&mut roff, "ENVIRONMENT", &env);
    section(&mut roff, "FILES", docs.files);
    if let Some(text) = verb.and(cmd.get_after_help()) {
        roff.push_str(".SH EXAMPLES\n");
        // Commands are the indented lines; the rest is prose.
        for line in text.to_string().lines() {
            match line.trim() {
                "" => roff.push_str(".PP\n"),
                l if line.starts_with("  ") => roff.push_str(&format!(".nf\n    {}\n.fi\n", esc(l))),
                l => roff.push_str(&format!("{}\n", esc(l))),
            }
        }
    }
    w.extend(roff.into_bytes());
    if cmd.get_version().is_some() {
        man.render_version_section(&mut w)?;
    }
    Ok(w)
}

fn esc(t: &str) -> String {
    t.replace('\\', "\\e").replace('-', "\\-")
}

/// `.SH TITLE` and a tagged paragraph per row.
fn section(roff: &mut String, title: &str, rows: &[(&str, &str)]) {
    if rows.is_empty() {
        return;
    }
    roff.push_str(&format!(".SH \"{title}\"\n"));
    for (what, why) in rows {
        roff.push_str(&format!(".TP\n\\fB{}\\fR\n{}\n", esc(what), esc(why)));
    }
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
