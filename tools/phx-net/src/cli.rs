//! The command line of `phx-net`.

use clap::Subcommand;
use phx_core::cli::Docs;
use std::time::Duration;

/// The man page's extras.
pub const DOCS: Docs = Docs::AWS;

/// The command line: the verbs below and the global flags.
pub type Cli = phx_core::cli::Cli<Verb>;

/// `phx-net`'s command, for parsing and for its man page.
pub fn command() -> clap::Command {
    Cli::command_for(
        "phx-net",
        "Network for the cluster: VPC, subnets, gateways, routes, security groups, the API load balancers.\n\n\
        Reads the cluster document on stdin and writes it on stdout with status.network. Every \
        resource is tagged kubernetes.io/cluster/<name>=owned and found again by its tags, so a \
        re-run creates only what is missing and a converged network makes no mutating call. The \
        API load balancer (spec.kubernetes.apiLoadBalancer: internet-facing, internal or none) is a \
        network load balancer <name>-api with a TCP 6443 listener, IP targets and an HTTPS /readyz \
        health check. Beside an internet-facing one (for adminCidrs and the kubeconfig) an internal \
        one, <name>-api-int, is the cluster's control-plane endpoint: on AWS nodes cannot use the \
        public one, whose group sees their public IPs. The endpoint cannot change once made, so \
        neither can the scheme.",
    )
}

#[derive(Debug, Subcommand)]
pub enum Verb {
    /// Create what is missing and correct what differs (status.network)
    #[command(
        after_help = "Example:\n  phx-state lock < cluster.json | phx-net apply | phx-state push --unlock"
    )]
    Apply {
        /// Give up on a request AWS keeps throttling, or on a NAT gateway that is not available,
        /// after this long
        #[arg(long, default_value = "10m", value_parser = phx_core::time::parse_duration, value_name = "DURATION")]
        timeout: Duration,
    },
    /// Show what apply would create, change or delete; changes nothing
    #[command(
        after_help = "The table goes to stderr; the same list is in status.network.plan.\n\n\
        Example:\n  phx-state pull < cluster.json | phx-net plan > /dev/null"
    )]
    Plan,
    /// Delete everything the cluster owns in the network, load balancers first
    #[command(
        after_help = "Deletes, in order: load balancers, target groups and security groups that \
        Kubernetes controllers made for the cluster; leftover network interfaces; the NAT gateway; Elastic \
        IPs; route tables; subnets; the internet gateway; the security groups; the VPC. A bring-your-own \
        VPC and its subnets are never deleted. EBS volumes of the cluster are listed and kept.\n\n\
        Example:\n  phx-state lock < cluster.json | phx-net destroy | phx-state push --unlock"
    )]
    Destroy {
        /// Also delete the cluster's detached EBS volumes (its persistent data)
        #[arg(long)]
        delete_volumes: bool,
        /// Give up on what still will not delete after this long
        #[arg(long, default_value = "10m", value_parser = phx_core::time::parse_duration, value_name = "DURATION")]
        timeout: Duration,
    },
    /// Print what exists and what apply would change (JSON); changes nothing
    #[command(after_help = "Example:\n  phx-state pull < cluster.json | phx-net status | jq .inSync")]
    Status,
}
