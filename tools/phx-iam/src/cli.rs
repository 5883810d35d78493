//! The command line of `phx-iam`.

use clap::Subcommand;
use phx_core::cli::Docs;

/// The man page's extras.
pub const DOCS: Docs = Docs {
    environment: phx_artifacts::DOC_ENVIRONMENT,
    files: &[phx_artifacts::DOC_FILE],
    ..Docs::AWS
};

/// The command line: the verbs below and the global flags.
pub type Cli = phx_core::cli::Cli<Verb>;

/// `phx-iam`'s command, for parsing and for its man page.
pub fn command() -> clap::Command {
    Cli::command_for(
        "phx-iam",
        "IAM for the cluster: node roles and instance profiles.\n\n\
        Roles <name>-control-plane and <name>-worker, each with an instance profile of the same name, \
        carrying cloud-provider-aws's policies, the AWS Load Balancer Controller's policy, the EBS CSI \
        driver's AWS-managed policy and ECR read-only. Upstream policy documents are downloaded from \
        pinned URLs, checked against pinned sha256 digests and cached; PHX_ARTIFACT_MIRROR (a base URL \
        or a directory) replaces upstream for air-gapped use.",
    )
}

#[derive(Debug, Subcommand)]
pub enum Verb {
    /// Create what is missing and correct what differs (status.iam)
    #[command(
        after_help = "Waits until the instance profiles are readable with their roles.\n\n\
        Example:\n  phx-state lock < cluster.json | phx-iam apply | phx-state push --unlock"
    )]
    Apply {
        /// Give up on a request AWS keeps throttling after this long
        #[arg(long, default_value = "10m", value_parser = phx_core::time::parse_duration, value_name = "DURATION")]
        timeout: std::time::Duration,
    },
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
