//! `phx-platform`: the platform: storage class, Argo CD and add-ons as Argo CD Applications.
//!
//! Its verbs arrive with issue #6. Until then each one says plainly
//! that it is not implemented and exits 1, and a document it is handed flows
//! on marked with `.error`, so a pipeline's `phx-state push` still stores it.

use clap::{Parser, Subcommand};
use phx_core::cli::{GlobalArgs, AFTER_HELP};
use phx_core::stage;
use std::process::ExitCode;

pub const TOOL: &str = "phx-platform";

#[derive(Debug, Parser)]
#[command(name = "phx-platform", version, about = "The platform: storage class, Argo CD and add-ons as Argo CD Applications", after_help = AFTER_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub verb: Verb,
    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Subcommand)]
pub enum Verb {
    /// Install or converge the platform (status.platform)
    #[command(
        after_help = "Example:\n  phx-state lock < cluster.json | phx-platform apply | phx-state push --unlock"
    )]
    Apply,
    /// Show the objects apply would create or change
    #[command(after_help = "Example:\n  phx-state pull < cluster.json | phx-platform plan")]
    Plan,
    /// Remove the add-ons and their load balancers
    #[command(
        after_help = "Example:\n  phx-state lock < cluster.json | phx-platform destroy | phx-state push --unlock"
    )]
    Destroy,
    /// Show add-ons with sync, health and version
    #[command(after_help = "Example:\n  phx-state pull < cluster.json | phx-platform status")]
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
