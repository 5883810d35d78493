//! `phx-cni`: the cluster network plugin (Calico) through the Kubernetes API.
//!
//! Its verbs arrive with issue #6. Until then each one says plainly
//! that it is not implemented and exits 1, and a document it is handed flows
//! on marked with `.error`, so a pipeline's `phx-state push` still stores it.

use clap::{Parser, Subcommand};
use phx_core::cli::{GlobalArgs, AFTER_HELP};
use phx_core::stage;
use std::process::ExitCode;

pub const TOOL: &str = "phx-cni";

#[derive(Debug, Parser)]
#[command(name = "phx-cni", version, about = "The cluster network plugin (Calico) through the Kubernetes API", after_help = AFTER_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub verb: Verb,
    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Subcommand)]
pub enum Verb {
    /// Install or converge Calico (status.cni)
    #[command(
        after_help = "Example:\n  phx-state lock < cluster.json | phx-cni apply | phx-state push --unlock"
    )]
    Apply,
    /// Show the objects apply would create or change
    #[command(after_help = "Example:\n  phx-state pull < cluster.json | phx-cni plan")]
    Plan,
    /// Remove what phx-cni installed
    #[command(
        after_help = "Example:\n  phx-state lock < cluster.json | phx-cni destroy | phx-state push --unlock"
    )]
    Destroy,
    /// Show Calico's readiness
    #[command(after_help = "Example:\n  phx-state pull < cluster.json | phx-cni status")]
    Status,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    phx_core::cli::run(TOOL, &cli.global, async move { run(cli.verb) })
}

pub fn run(verb: Verb) -> phx_core::Result<()> {
    match verb {
        Verb::Apply => stage::not_implemented(TOOL, "apply", true),
        Verb::Plan => stage::not_implemented(TOOL, "plan", true),
        Verb::Destroy => stage::not_implemented(TOOL, "destroy", true),
        Verb::Status => stage::not_implemented(TOOL, "status", true),
    }
}
