//! `phx-net`: network for the cluster: VPC, subnets, gateways, routes, security groups.
//!
//! Its verbs arrive with issue #3. Until then each one says plainly
//! that it is not implemented and exits 1, and a document it is handed flows
//! on marked with `.error`, so a pipeline's `phx-state push` still stores it.

use clap::{Parser, Subcommand};
use phx_core::cli::{GlobalArgs, AFTER_HELP};
use phx_core::stage;
use std::process::ExitCode;

pub const TOOL: &str = "phx-net";

#[derive(Debug, Parser)]
#[command(name = "phx-net", version, about = "Network for the cluster: VPC, subnets, gateways, routes, security groups", after_help = AFTER_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub verb: Verb,
    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Subcommand)]
pub enum Verb {
    /// Create or converge the network (status.network)
    #[command(
        after_help = "Example:\n  phx-state lock < cluster.json | phx-net apply | phx-state push --unlock"
    )]
    Apply,
    /// Show what apply would change, without changing anything
    #[command(after_help = "Example:\n  phx-state pull < cluster.json | phx-net plan")]
    Plan,
    /// Delete everything the cluster owns in the network
    #[command(
        after_help = "Example:\n  phx-state lock < cluster.json | phx-net destroy | phx-state push --unlock"
    )]
    Destroy,
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
    }
}
