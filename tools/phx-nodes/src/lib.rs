//! `phx-nodes`: machines for the cluster: key pair, image and EC2 instances.
//!
//! Its verbs arrive with issue #4. Until then each one says plainly
//! that it is not implemented and exits 1, and a document it is handed flows
//! on marked with `.error`, so a pipeline's `phx-state push` still stores it.

use clap::{Parser, Subcommand};
use phx_core::cli::{GlobalArgs, AFTER_HELP};
use phx_core::stage;
use std::process::ExitCode;

pub const TOOL: &str = "phx-nodes";

#[derive(Debug, Parser)]
#[command(name = "phx-nodes", version, about = "Machines for the cluster: key pair, image and EC2 instances", after_help = AFTER_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub verb: Verb,
    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Subcommand)]
pub enum Verb {
    /// Launch or converge the cluster's instances (status.nodes)
    #[command(
        after_help = "Example:\n  phx-state lock < cluster.json | phx-nodes apply | phx-state push --unlock"
    )]
    Apply,
    /// Show what would be launched or terminated
    #[command(after_help = "Example:\n  phx-state pull < cluster.json | phx-nodes plan")]
    Plan,
    /// Terminate the cluster's instances and delete its key pair
    #[command(
        after_help = "Example:\n  phx-state lock < cluster.json | phx-nodes destroy | phx-state push --unlock"
    )]
    Destroy,
    /// List the cluster's nodes
    #[command(after_help = "Example:\n  phx-state pull < cluster.json | phx-nodes list")]
    List,
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
        Verb::List => stage::not_implemented(TOOL, "list", true),
    }
}
