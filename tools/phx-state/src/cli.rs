//! The command line of `phx-state`, kept apart from the logic so man pages
//! and completions are generated from the same definitions.

use crate::config::{BackendArgs, BackendKind};
use clap::Subcommand;
use phx_core::cli::Docs;
use std::time::Duration;

/// The man page's extras.
pub const DOCS: Docs = Docs {
    files: &[
        (
            "cluster.json",
            "your cluster document (by convention; read on stdin)",
        ),
        (
            ".phx-state/<name>.json",
            "the local backend's state (mode 0600), with <name>.json.history/ and <name>.json.lock",
        ),
        (
            "./phx-errored-<name>-<time>-<id>.json",
            "a document push could not store (mode 0600): push it again once fixed",
        ),
    ],
    ..Docs::AWS
};

/// The command line: the verbs below and the global flags.
pub type Cli = phx_core::cli::Cli<Verb>;

/// `phx-state`'s command, for parsing and for its man page.
pub fn command() -> clap::Command {
    Cli::command_for(
        "phx-state",
        "Store, lock and version the phx cluster document.\n\n\
        The state lives in S3 (locking in DynamoDB, or S3 itself with --lock s3) when \
        spec.state.bucket is set, otherwise in a local directory (.phx-state). Every verb but \
        `new`, `schema` and `view` reads the cluster document on stdin to learn which state it is about.",
    )
}

const VIEW_HELP: &str = "deploy.sh and destroy.sh run it when stderr is a terminal: one line per \
stage, waiting, then running with a spinner, its elapsed time and what it is doing, then \
done (what it created, changed, deleted; its time), failed (its one-line error) or skipped; a \
closing table with each stage's result and time and the failed stage's last lines; the log \
file's path. Reads the stages' stderr on stdin, each line as INDEX<TAB>TEXT (INDEX from 1 in \
the order the stages are given; other lines are logged only) until it ends. Every line goes to \
the log file with a UTC timestamp and its stage's name.\n\n\
Example:\n  { phx-net apply < doc.json 2>&1 >/dev/null | sed 's/^/1\\t/'; } | phx-state view --log /tmp/net.log 'phx-net apply'";

#[derive(Debug, Subcommand)]
pub enum Verb {
    /// Print a new cluster document with the reference topology
    #[command(after_help = "Example:\n  phx-state new --name phoenix --region eu-west-1 > cluster.json")]
    New {
        /// Cluster name (a-z, 0-9 and -, at most 32)
        #[arg(long)]
        name: String,
        /// AWS region of the cluster [default: AWS_REGION, else us-east-1]
        #[arg(long)]
        region: Option<String>,
    },
    /// Print the JSON Schema of the cluster document
    #[command(after_help = "Example:\n  phx-state schema > cluster.schema.json")]
    Schema,
    /// Print the AWS account and identity the credentials belong to
    #[command(
        after_help = "Reads no document. deploy.sh runs it before anything else.\n\nExample:\n  \
        phx-state whoami | jq -r .arn"
    )]
    Whoami {
        /// AWS region to ask in [default: AWS_REGION, profile]
        #[arg(long)]
        region: Option<String>,
    },
    /// Create the S3 bucket and DynamoDB lock table (idempotent)
    #[command(
        after_help = "Creates a versioned, encrypted bucket with all public access blocked (default \
        phx-state-<account-id>)\nand an on-demand lock table (default phx-locks), then prints the document with \
        spec.state\nnaming them. A second run changes nothing.\n\nExample:\n  \
        phx-state init < cluster.json > cluster.new && mv cluster.new cluster.json"
    )]
    Init {
        #[command(flatten)]
        backend: BackendArgs,
    },
    /// Take the state lock and print your spec joined with the stored status
    #[command(
        after_help = "Held by someone else: exit 1 naming holder, operation and age.\n\nExample:\n  \
        phx-state lock --wait 5m --reason 'scale workers' < cluster.json | phx-net apply | ... | phx-state push --unlock"
    )]
    Lock {
        #[command(flatten)]
        backend: BackendArgs,
        /// Keep trying (with backoff) for this long, e.g. 30s, 5m
        #[arg(long, value_parser = phx_core::time::parse_duration, value_name = "DURATION")]
        wait: Option<Duration>,
        /// Why the lock is taken, shown to anyone who finds it held
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
        /// Operation recorded in the lock
        #[arg(long, default_value = "apply", value_name = "NAME")]
        operation: String,
    },
    /// Store the document from stdin as the next serial
    #[command(
        after_help = "A document based on an older serial, or of another lineage, is refused and nothing \
        is written.\nA document carrying .error is stored (and unlocked) all the same, then exit 1.\n\nExample:\n  \
        ... | phx-state push --unlock"
    )]
    Push {
        #[command(flatten)]
        backend: BackendArgs,
        /// Release the lock afterwards (only the lock this document holds)
        #[arg(long)]
        unlock: bool,
        /// Store even when serial, lineage or lock do not match
        #[arg(long)]
        force: bool,
    },
    /// Print the stored document
    #[command(after_help = "Example:\n  phx-state pull < cluster.json | jq .status.nodes.instances")]
    Pull {
        #[command(flatten)]
        backend: BackendArgs,
        /// A stored version (S3 version id, or serial for the local backend)
        #[arg(long, value_name = "V")]
        version: Option<String>,
    },
    /// List stored versions (a table on a terminal, JSON otherwise)
    #[command(after_help = "Example:\n  phx-state history < cluster.json")]
    History {
        #[command(flatten)]
        backend: BackendArgs,
    },
    /// Release the lock held by the document on stdin
    #[command(
        after_help = "Example:\n  phx-state lock < cluster.json > locked.json && phx-state unlock < locked.json"
    )]
    Unlock {
        #[command(flatten)]
        backend: BackendArgs,
    },
    /// Release a lock by id, whoever holds it (as terraform force-unlock)
    #[command(
        after_help = "Use when a pipeline died holding the lock; the id is in the lock-held message.\n\n\
        Example:\n  phx-state force-unlock 6f1c2d3e-... < cluster.json"
    )]
    ForceUnlock {
        #[command(flatten)]
        backend: BackendArgs,
        /// The id of the lock to release
        lock_id: String,
    },
    /// Join the documents of stages that ran side by side on the document on stdin
    #[command(
        after_help = "Takes from each copy the status keys its stage changed and the first .error in \
        the order given,\nand prints the joined document (deploy.sh runs phx-net and phx-iam this way). \
        A copy that is\nmissing, or that changed anything but status and .error, or a status key two \
        copies changed\ndifferently, marks the joined document failed (exit 1); every status a copy \
        made is kept.\n\nExample:\n  \
        phx-net apply < in.json > net/phx-net & phx-iam apply < in.json > iam/phx-iam; wait\n  \
        phx-state join net/phx-net iam/phx-iam < in.json"
    )]
    Join {
        /// One stage's copy each; the file name names the stage in messages
        #[arg(required = true, value_name = "FILE")]
        copies: Vec<std::path::PathBuf>,
    },
    /// Show a pipeline's stages on the terminal, every line they print in a log file
    #[command(after_help = VIEW_HELP)]
    View {
        /// The log file: created (mode 0600, its directory 0700) or appended to
        #[arg(long, value_name = "FILE")]
        log: std::path::PathBuf,
        /// Draw nothing: the log file only
        #[arg(long)]
        quiet: bool,
        /// The stages, as the pipeline runs them (`phx-net apply & phx-iam apply`)
        #[arg(required = true, value_name = "STAGE")]
        stages: Vec<String>,
    },
    /// Move the state to another backend, keeping a backup of the old one
    #[command(
        after_help = "Prints the document with spec.state describing the new backend.\n\nExample:\n  \
        phx-state init < cluster.json | phx-state migrate --to s3 > cluster.new"
    )]
    Migrate {
        #[command(flatten)]
        backend: BackendArgs,
        /// The backend to move to
        #[arg(long, value_enum)]
        to: BackendKind,
        /// Overwrite state already at the destination
        #[arg(long)]
        force: bool,
    },
}
