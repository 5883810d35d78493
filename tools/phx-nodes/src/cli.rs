//! The command line of `phx-nodes`.

use clap::Subcommand;
use phx_core::cli::Docs;
use std::time::Duration;

/// The man page's extras.
pub const DOCS: Docs = Docs {
    files: &[(
        phx_core::home::SSH_PUBLIC_KEYS_TEXT,
        "the public key imported as <name>-key, unless spec.nodes.ssh.publicKeyFile",
    )],
    ..Docs::AWS
};

/// The command line: the verbs below and the global flags.
pub type Cli = phx_core::cli::Cli<Verb>;

/// `phx-nodes`'s command, for parsing and for its man page.
pub fn command() -> clap::Command {
    Cli::command_for(
        "phx-nodes",
        "Machines for the cluster: key pair, image and EC2 instances.\n\n\
        Imports spec.nodes.ssh.publicKeyFile as the key pair <name>-key and launches \
        <name>-control-plane-N and <name>-worker-N round-robin over the public subnets of \
        status.network, with the instance profiles of status.iam, IMDSv2 required and encrypted gp3 \
        root volumes. Each node has a stable name: a re-run reuses what exists and launches only what \
        is missing. The image is spec.nodes.image.id, else the cluster's current image, else the \
        newest Canonical Ubuntu 24.04 LTS amd64 image.",
    )
}

#[derive(Debug, Subcommand)]
pub enum Verb {
    /// Launch what is missing and wait until every node is running (status.nodes.instances)
    #[command(
        after_help = "Lowering a count removes the highest-numbered workers only with \
        --allow-remove; drain them first (kubectl drain NODE --ignore-daemonsets). Control \
        planes beyond the count are terminated (and deregistered from the API load balancer) \
        with --allow-remove only once they have left the cluster (phx-kubeadm apply \
        --allow-remove).\n\n\
        Example:\n  phx-state lock < cluster.json | phx-net apply | phx-iam apply | phx-nodes apply \
        | phx-state push --unlock"
    )]
    Apply(ApplyArgs),
    /// Show what apply would launch, start or terminate; changes nothing
    #[command(
        after_help = "The table goes to stderr; the same list is in status.nodes.plan.\n\n\
        Example:\n  phx-state pull < cluster.json | phx-nodes plan | jq .status.nodes.plan"
    )]
    Plan(ApplyArgs),
    /// Terminate the cluster's instances, wait until they are gone, delete the key pair
    #[command(
        after_help = "Example:\n  phx-state lock < cluster.json | phx-nodes destroy | phx-state push --unlock"
    )]
    Destroy(WaitArgs),
    /// Print the instances found and what apply would change (JSON); changes nothing
    #[command(after_help = "Example:\n  phx-state pull < cluster.json | phx-nodes status | jq .inSync")]
    Status(ApplyArgs),
    /// List the cluster's instances: a table on a terminal, a JSON array otherwise
    #[command(after_help = "Example:\n  phx-state pull < cluster.json | phx-nodes list\n  \
        phx-state pull < cluster.json | phx-nodes list | jq -r '.[] | select(.role == \"worker\") | .publicIp'")]
    List,
}

#[derive(Debug, clap::Args)]
pub struct ApplyArgs {
    /// Terminate workers beyond spec.nodes.workers.count (highest-numbered first), and control
    /// planes beyond spec.nodes.controlPlane.count that have left the cluster
    #[arg(long)]
    pub allow_remove: bool,
    /// Launch new nodes from the newest Ubuntu image instead of the cluster's current one
    #[arg(long)]
    pub newest_image: bool,
    #[command(flatten)]
    pub wait: WaitArgs,
}

#[derive(Debug, Clone, clap::Args)]
pub struct WaitArgs {
    /// How long to wait for instances to be running (or terminated)
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = phx_core::time::parse_duration)]
    pub timeout: Duration,
}
