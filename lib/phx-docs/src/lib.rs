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
        out.push((format!("{name}.1"), page(&cmd, &source, &name, None)?));
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            // clap names are &'static str without its `string` feature; a
            // generator that runs once can leak a few.
            let full: &'static str = Box::leak(format!("{name}-{}", sub.get_name()).into_boxed_str());
            let bin: &'static str = Box::leak(format!("{name} {}", sub.get_name()).into_boxed_str());
            let sub = sub.clone().name(full).bin_name(bin);
            out.push((format!("{full}.1"), page(&sub, &source, &name, Some(full))?));
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
fn page(cmd: &clap::Command, source: &str, tool: &str, verb: Option<&str>) -> std::io::Result<Vec<u8>> {
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
    let mut exit: Vec<(&str, &str)> = phx_core::cli::EXIT_STATUS.to_vec();
    if verb == Some("phx-kubeadm-exec") {
        exit = vec![
            (
                "0\u{2013}255",
                "the worst exit status of the command on the chosen nodes",
            ),
            ("255", "a node could not be reached"),
            ("1", "stdout was closed by its reader (quietly)"),
            ("2", "usage error"),
            ("65", "the input document is invalid; nothing was run"),
        ];
    }
    let mut env: Vec<(&str, &str)> = phx_core::cli::ENVIRONMENT.to_vec();
    if ["phx-state", "phx-net", "phx-iam", "phx-nodes"].contains(&tool) {
        env.extend(phx_core::cli::AWS_ENVIRONMENT);
    }
    env.extend(environment(tool));
    let mut roff = String::new();
    section(&mut roff, "EXIT STATUS", &exit);
    section(&mut roff, "ENVIRONMENT", &env);
    section(&mut roff, "FILES", files(tool));
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

/// Files a tool reads or writes, beyond the document on stdin/stdout.
fn files(tool: &str) -> &'static [(&'static str, &'static str)] {
    const ARTIFACTS: (&str, &str) = (
        "~/.cache/phx/artifacts/<sha256>",
        "verified upstream files (policies, manifests), by digest (PHX_CACHE_DIR moves it)",
    );
    const KUBECONFIG: (&str, &str) = (
        "~/.kube/phx-<name>.conf",
        "the admin kubeconfig phx-kubeadm wrote (status.kubeadm.kubeconfig), used to reach the API",
    );
    match tool {
        "phx-state" => &[
            (
                "cluster.json",
                "your cluster document (by convention; read on stdin)",
            ),
            (
                ".phx-state/<name>.json",
                "the local backend's state (mode 0600), with <name>.json.history/ and <name>.json.lock",
            ),
            (
                "./phx-errored-<name>-<time>-<id>.json",
                "a document push could not store (mode 0600): push it again once fixed",
            ),
        ],
        "phx-iam" => &[ARTIFACTS],
        "phx-nodes" => &[(
            phx_core::home::SSH_PUBLIC_KEYS_TEXT,
            "the public key imported as <name>-key, unless spec.nodes.ssh.publicKeyFile",
        )],
        "phx-kubeadm" => &[
            (
                phx_core::home::SSH_PRIVATE_KEYS_TEXT,
                "the SSH key when no ssh-agent offers one, unless spec.nodes.ssh.privateKeyFile",
            ),
            (
                "~/.ssh/known_hosts",
                "host keys of nodes without recorded ones (--known-hosts, PHX_KNOWN_HOSTS)",
            ),
            (
                "~/.kube/phx-<name>.conf",
                "the admin kubeconfig written, mode 0600 (--kubeconfig-out, PHX_KUBECONFIG_OUT)",
            ),
        ],
        "phx-cni" | "phx-ccm" | "phx-platform" => &[KUBECONFIG, ARTIFACTS],
        _ => &[],
    }
}

/// phx's own environment variables a tool honours (clap lists those bound
/// to an option under the option).
fn environment(tool: &str) -> &'static [(&'static str, &'static str)] {
    const MIRROR: (&str, &str) = (
        "PHX_ARTIFACT_MIRROR",
        "a base URL or directory serving the pinned upstream files under their names (air-gapped use)",
    );
    const CACHE: (&str, &str) = (
        "PHX_CACHE_DIR",
        "where verified artifacts are cached (default ~/.cache/phx)",
    );
    match tool {
        "phx-iam" | "phx-cni" | "phx-ccm" | "phx-platform" => &[MIRROR, CACHE],
        _ => &[],
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
