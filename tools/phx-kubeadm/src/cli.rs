//! The command line of `phx-kubeadm`.

use clap::Subcommand;
use phx_core::cli::Docs;
use phx_core::status::NodeRole;
use std::path::PathBuf;
use std::time::Duration;

/// The man page's extras.
pub const DOCS: Docs = Docs {
    files: &[
        (
            phx_core::home::SSH_PRIVATE_KEYS_TEXT,
            "the SSH key when no ssh-agent offers one, unless spec.nodes.ssh.privateKeyFile",
        ),
        (
            "~/.ssh/known_hosts",
            "host keys of nodes without recorded ones (--known-hosts, PHX_KNOWN_HOSTS)",
        ),
        (
            "~/.kube/phx-<name>.conf",
            "the admin kubeconfig written, mode 0600 (--kubeconfig-out, PHX_KUBECONFIG_OUT)",
        ),
    ],
    exit_status: &[(
        "exec",
        &[
            (
                "0\u{2013}255",
                "the worst exit status of the command on the chosen nodes",
            ),
            ("255", "a node could not be reached"),
            ("1", "stdout was closed by its reader (quietly)"),
            ("2", "usage error"),
            ("65", "the input document is invalid; nothing was run"),
        ],
    )],
    ..Docs::LOCAL
};

/// The command line: the verbs below and the global flags.
pub type Cli = phx_core::cli::Cli<Verb>;

/// `phx-kubeadm`'s command, for parsing and for its man page.
pub fn command() -> clap::Command {
    Cli::command_for(
        "phx-kubeadm",
        "Kubernetes on the nodes over SSH: prepare, kubeadm init and join.\n\n\
        Reads status.nodes.instances (phx-nodes) and writes status.kubeadm. One SSH connection per node, \
        host keys verified against status.nodes.instances[].ssh.hostKeys or known_hosts. Every node is \
        prepared in parallel (swap, kernel modules, sysctls, containerd, the pkgs.k8s.io packages); \
        the control plane runs kubeadm init as soon as it is prepared, each worker joins as soon as \
        it is prepared and the control plane is up. Steps already done are detected and skipped.",
    )
}

#[derive(Debug, Subcommand)]
pub enum Verb {
    /// Prepare every node, init the control plane, join the workers (status.kubeadm)
    #[command(
        after_help = "Example:\n  phx-state lock < cluster.json | phx-nodes apply | phx-kubeadm apply \
        | phx-state push --unlock"
    )]
    Apply(ApplyArgs),
    /// Show which steps would run on which node; changes nothing
    #[command(
        after_help = "The table goes to stderr; the same list is in status.kubeadm.plan.\n\n\
        Example:\n  phx-state pull < cluster.json | phx-kubeadm plan > /dev/null"
    )]
    Plan(SshArgs),
    /// Run kubeadm reset on every node (workers first), for a redo
    #[command(
        after_help = "Example:\n  phx-state lock < cluster.json | phx-kubeadm reset | phx-state push --unlock"
    )]
    Reset(SshArgs),
    /// Take the cluster down: reset every node (workers first), delete the admin kubeconfig
    #[command(
        after_help = "The machines stay (phx-nodes destroy removes them, and with them what ran on them).\n\n\
        Example:\n  phx-state lock < cluster.json | phx-kubeadm destroy | phx-state push --unlock"
    )]
    Destroy(SshArgs),
    /// Print each node's membership as the node itself reports it (JSON); changes nothing
    #[command(
        after_help = "Example:\n  phx-state pull < cluster.json | phx-kubeadm status | jq '.[] | select(.member | not)'"
    )]
    Status(SshArgs),
    /// Snapshot etcd into the state bucket, then apply spec.backup.keep (status.kubeadm.backups)
    #[command(after_help = BACKUP_HELP)]
    Backup(SshArgs),
    /// List the etcd snapshots in the state bucket (a table on a terminal, else JSON)
    #[command(
        after_help = "Example:\n  phx-state pull < cluster.json | phx-kubeadm backups | jq -r '.[0].key'"
    )]
    Backups,
    /// Put the cluster's etcd back to a snapshot on every control plane; asks first
    #[command(after_help = RESTORE_HELP)]
    Restore(RestoreArgs),
    /// Upgrade the cluster to spec.kubernetes.version, one node at a time (status.kubeadm.upgrade)
    #[command(after_help = UPGRADE_HELP)]
    Upgrade(UpgradeArgs),
    /// Run a command on nodes in parallel; output prefixed by node, exit status the worst
    #[command(
        after_help = "The document is read from stdin; the nodes' output goes to stdout.\n\n\
        Examples:\n  phx-state pull < cluster.json | phx-kubeadm exec -- uptime\n  \
        phx-state pull < cluster.json | phx-kubeadm exec --role worker -- sudo systemctl status kubelet\n  \
        phx-state pull < cluster.json | phx-kubeadm exec -- sh -c 'df -h / | tail -1'"
    )]
    Exec(ExecArgs),
}

const BACKUP_HELP: &str = "A control plane whose etcd is healthy (the leading one first) makes the \
snapshot in RAM with the etcdctl and etcdutl of its etcd image, checks it (etcdutl snapshot status) \
and streams it over SSH into spec.state.bucket as <name>/etcd/<UTC time>-rev<revision>.db, \
encrypted at rest. Nothing is left on the node, and no AWS credential goes to it: the bucket is \
written from here. A backup that fails uploads nothing. Then the snapshots beyond \
spec.backup.keep are deleted (every version): the `last` newest, the newest of each of the \
`hourly` most recent hours and of the `daily` most recent days are kept, and always the newest.\n\n\
apply takes one by itself before control planes join an existing cluster or leave it.\n\n\
Every 15 minutes from cron on an admin host or a CI runner with the state's credentials:\n  \
*/15 * * * * phx-state pull < /etc/phx/cluster.json | phx-kubeadm backup > /dev/null\n\n\
AWS permissions: s3:PutObject, s3:ListBucket, s3:ListBucketVersions, s3:DeleteObject and \
s3:DeleteObjectVersion on <name>/etcd/*; s3:AbortMultipartUpload.";

const RESTORE_HELP: &str = "On every control plane at once, step by step: etcd and the API server \
stop (their static pod manifests moved aside), the snapshot is restored as that member of the \
whole cluster with a new cluster token and etcd's revision bumped by 1000000000 and marked \
compacted (so controllers and kubelets start their watches over), the old data kept as \
/var/lib/etcd.before-phx-restore; they start; then every member must be healthy, etcd must \
serve the restored revision and each API server's /readyz must answer ok. \
status.kubeadm.restore records the last step done: the same command resumes an interrupted \
restore. Nothing stops unless the snapshot exists and every control plane answers.\n\n\
Exit status: 65 when --from names no snapshot (nothing was stopped); 2 when not confirmed.\n\n\
Example:\n  phx-state lock < cluster.json | phx-kubeadm restore --from latest | phx-state push --unlock";

const UPGRADE_HELP: &str = "Before anything changes: one minor at a time (1.34 -> 1.35; 1.34 -> 1.36 is \
refused with the way), no downgrade, every node Ready, every kubelet within the version skew \
policy, every node answering, and an etcd backup in the state bucket. Then the control planes, \
the leading one first (kubeadm upgrade plan and apply; the others kubeadm upgrade node), then \
the workers. Each node: the pkgs.k8s.io repository moved to the new minor and kubeadm upgraded \
and run; drained by eviction (PodDisruptionBudgets respected; DaemonSet pods stay); kubelet and \
kubectl upgraded, the kubelet restarted, the Node Ready at the new version; uncordoned; then \
every Node and control-plane pod must be Ready and /readyz ok before the next. \
status.kubeadm.upgrade records each node's version and last step: the same command resumes a \
roll that stopped. A cluster already at the version is left alone (status.kubeadm.version); \
nodes not yet in the cluster are left to apply. deploy.sh runs it before apply.\n\n\
Exit status: 65 when the pre-flight refuses (nothing was changed).\n\n\
Example:\n  jq '.spec.kubernetes.version = \"1.35\"' cluster.json | phx-state lock | phx-kubeadm upgrade \
| phx-state push --unlock";

#[derive(Debug, Clone, clap::Args)]
pub struct SshArgs {
    /// OpenSSH known_hosts file for nodes without recorded host keys
    #[arg(
        long,
        value_name = "FILE",
        env = "PHX_KNOWN_HOSTS",
        default_value = "~/.ssh/known_hosts"
    )]
    pub known_hosts: String,
    /// Accept a host key seen for the first time and pin it into the document
    #[arg(long, env = "PHX_ACCEPT_NEW_HOST_KEYS")]
    pub accept_new_host_keys: bool,
    /// How long to wait for a node's SSH handshake
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = phx_core::time::parse_duration)]
    pub connect_timeout: Duration,
}

#[derive(Debug, clap::Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub ssh: SshArgs,
    /// Where to write the admin kubeconfig (mode 0600); default ~/.kube/phx-<name>.conf
    #[arg(long, value_name = "FILE", env = "PHX_KUBECONFIG_OUT")]
    pub kubeconfig_out: Option<PathBuf>,
    /// Let control planes beyond spec.nodes.controlPlane.count leave the cluster, one at a
    /// time, highest-numbered first: kubeadm reset on each, its etcd member removed, its Node
    /// deleted (phx-nodes apply --allow-remove then terminates them). Without it they are
    /// refused: each takes an etcd member with it
    #[arg(long)]
    pub allow_remove: bool,
}

#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    #[command(flatten)]
    pub ssh: SshArgs,
    /// The snapshot: `latest`, or its key (as `phx-kubeadm backups` lists it, with or
    /// without the `<name>/etcd/` prefix)
    #[arg(long, value_name = "KEY")]
    pub from: String,
    /// Do not ask (the cluster's API goes down meanwhile, and what it stored since the
    /// snapshot is lost)
    #[arg(long)]
    pub yes: bool,
}

#[derive(Debug, clap::Args)]
pub struct UpgradeArgs {
    #[command(flatten)]
    pub ssh: SshArgs,
    /// Workers upgraded at once (control planes always one at a time)
    #[arg(long, value_name = "N", env = "PHX_MAX_UNAVAILABLE", default_value_t = 1,
          value_parser = clap::value_parser!(u16).range(1..))]
    pub max_unavailable: u16,
    /// How long a node's drain may take; a drain blocked longer (a PodDisruptionBudget
    /// allowing no eviction) stops the upgrade, naming the budget and its pods
    #[arg(long, value_name = "DURATION", env = "PHX_DRAIN_TIMEOUT", default_value = "5m",
          value_parser = phx_core::time::parse_duration)]
    pub drain_timeout: Duration,
    /// Delete the pods a drain cannot evict (PodDisruptionBudgets ignored)
    #[arg(long, env = "PHX_FORCE_DRAIN")]
    pub force_drain: bool,
    /// How long a node gets to be Ready at the new version, and the cluster to be whole
    /// again after each node
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = phx_core::time::parse_duration)]
    pub node_timeout: Duration,
}

#[derive(Debug, clap::Args)]
pub struct ExecArgs {
    #[command(flatten)]
    pub ssh: SshArgs,
    /// Only nodes of this role
    #[arg(long, value_enum)]
    pub role: Option<Role>,
    /// Only this node (repeatable)
    #[arg(long = "node", value_name = "NAME")]
    pub nodes: Vec<String>,
    /// The command and its arguments, each passed as one word (as kubectl exec does); for
    /// pipes, globs or variables of the node's shell: -- sh -c '...'

    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    ControlPlane,
    Worker,
}

impl Role {
    pub fn matches(self, r: NodeRole) -> bool {
        matches!(
            (self, r),
            (Role::ControlPlane, NodeRole::ControlPlane) | (Role::Worker, NodeRole::Worker)
        )
    }
}
