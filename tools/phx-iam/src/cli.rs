//! The command line of `phx-iam`.

use clap::{Parser, Subcommand};
use phx_core::cli::{Docs, GlobalArgs, AFTER_HELP};

/// The man page's extras.
pub const DOCS: Docs = Docs {
    aws: true,
    environment: phx_artifacts::DOC_ENVIRONMENT,
    files: &[phx_artifacts::DOC_FILE],
    exit_status: &[],
};

#[derive(Debug, Parser)]
#[command(
    name = "phx-iam",
    version,
    about = "IAM for the cluster: node roles and instance profiles",
    long_about = "IAM for the cluster: node roles and instance profiles.\n\n\
        Roles <name>-control-plane and <name>-worker, each with an instance profile of the same name, \
        carrying cloud-provider-aws's policies, the AWS Load Balancer Controller's policy, the EBS CSI \
        driver's AWS-managed policy and ECR read-only. Upstream policy documents are downloaded from \
        pinned URLs, checked against pinned sha256 digests and cached; PHX_ARTIFACT_MIRROR (a base URL \
        or a directory) replaces upstream for air-gapped use.",
    after_help = AFTER_HELP.as_str()
)]
pub struct Cli {
    #[command(subcommand)]
    pub verb: Verb,
    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Subcommand)]
pub enum Verb {
    /// Create what is missing and correct what differs (status.iam)
    #[command(
        after_help = "Waits until the instance profiles are readable with their roles.\n\n\
        Example:\n  phx-state lock < cluster.json | phx-iam apply | phx-state push --unlock"
    )]
    Apply,
    /// Show what apply would create or change; changes nothing
    #[command(after_help = "Example:\n  phx-state pull < cluster.json | phx-iam plan > /dev/null")]
    Plan,
    /// Delete the cluster's roles and instance profiles
    #[command(
        after_help = "Example:\n  phx-state lock < cluster.json | phx-iam destroy | phx-state push --unlock"
    )]
    Destroy,
    /// Print which roles exist and what apply would change (JSON); changes nothing
    #[command(after_help = "Example:\n  phx-state pull < cluster.json | phx-iam status | jq .inSync")]
    Status,
}
