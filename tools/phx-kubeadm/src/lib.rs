//! `phx-kubeadm`: kubernetes on the nodes over SSH: prepare, kubeadm init and join.
//!
//! Its verbs arrive with issue #5. Until then each one says plainly
//! that it is not implemented and exits 1, and a document it is handed flows
//! on marked with `.error`, so a pipeline's `phx-state push` still stores it.

use clap::{Parser, Subcommand};
use phx_core::cli::{GlobalArgs, AFTER_HELP};
use phx_core::stage;
use std::process::ExitCode;

pub const TOOL: &str = "phx-kubeadm";

#[derive(Debug, Parser)]
#[command(name = "phx-kubeadm", version, about = "Kubernetes on the nodes over SSH: prepare, kubeadm init and join", after_help = AFTER_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub verb: Verb,
    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Subcommand)]
pub enum Verb {
    /// Prepare every node, init the control plane, join the workers (status.kubeadm)
    #[command(
        after_help = "Example:\n  phx-state lock < cluster.json | phx-kubeadm apply | phx-state push --unlock"
    )]
    Apply,
    /// Show which steps would run on which node
    #[command(after_help = "Example:\n  phx-state pull < cluster.json | phx-kubeadm plan")]
    Plan,
    /// Run kubeadm reset on every node
    #[command(after_help = "Example:\n  phx-state pull < cluster.json | phx-kubeadm reset")]
    Reset,
    /// Run a command on nodes in parallel
    #[command(after_help = "Example:\n  phx-state pull < cluster.json | phx-kubeadm exec")]
    Exec,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    phx_core::cli::run(TOOL, &cli.global, async move { run(cli.verb) })
}

pub fn run(verb: Verb) -> phx_core::Result<()> {
    match verb {
        Verb::Apply => stage::not_implemented(TOOL, "apply", true),
        Verb::Plan => stage::not_implemented(TOOL, "plan", true),
        Verb::Reset => stage::not_implemented(TOOL, "reset", true),
        Verb::Exec => stage::not_implemented(TOOL, "exec", true),
    }
}
