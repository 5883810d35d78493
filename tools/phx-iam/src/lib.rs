//! `phx-iam`: iAM for the cluster: node roles and instance profiles.
//!
//! Its verbs arrive with issue #3. Until then each one says plainly
//! that it is not implemented and exits 1, and a document it is handed flows
//! on marked with `.error`, so a pipeline's `phx-state push` still stores it.

use clap::{Parser, Subcommand};
use phx_core::cli::{GlobalArgs, AFTER_HELP};
use phx_core::stage;
use std::process::ExitCode;

pub const TOOL: &str = "phx-iam";

#[derive(Debug, Parser)]
#[command(name = "phx-iam", version, about = "IAM for the cluster: node roles and instance profiles", after_help = AFTER_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub verb: Verb,
    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Subcommand)]
pub enum Verb {
    /// Create or converge roles and instance profiles (status.iam)
    #[command(
        after_help = "Example:\n  phx-state lock < cluster.json | phx-iam apply | phx-state push --unlock"
    )]
    Apply,
    /// Show what apply would change, without changing anything
    #[command(after_help = "Example:\n  phx-state pull < cluster.json | phx-iam plan")]
    Plan,
    /// Delete the cluster's roles and instance profiles
    #[command(
        after_help = "Example:\n  phx-state lock < cluster.json | phx-iam destroy | phx-state push --unlock"
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
