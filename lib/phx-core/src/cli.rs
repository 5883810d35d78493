//! What every tool's `main` shares: the verbosity flags, logging to stderr,
//! the async runtime, and turning the result of `run()` into one stderr line
//! and a documented exit status.

use crate::error::{Error, Result};
use std::future::Future;
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

/// A tool's command line: its verbs and the flags every tool accepts. The
/// struct, the version and the after-help are the same for all; each tool
/// only names and describes it ([`Cli::command_for`]).
#[derive(Debug, clap::Parser)]
#[command(version)]
pub struct Cli<V: clap::Subcommand> {
    #[command(subcommand)]
    pub verb: V,
    #[command(flatten)]
    pub global: GlobalArgs,
}

impl<V: clap::Subcommand> Cli<V> {
    /// The command `name`: `description` is `--help`'s text, and its first
    /// line (without the full stop) the one-line summary `-h` and the man
    /// page's NAME show.
    pub fn command_for(name: &'static str, description: &'static str) -> clap::Command {
        let about = description
            .lines()
            .next()
            .unwrap_or_default()
            .trim_end_matches('.');
        <Self as clap::CommandFactory>::command()
            .name(name)
            .about(about)
            .long_about(description)
            .after_help(AFTER_HELP.as_str())
    }

    /// The process's arguments parsed against `cmd` (a tool's
    /// `command()`); a usage error exits 2, `--help` 0, as clap does.
    pub fn parse_with(cmd: clap::Command) -> Self {
        let matches = cmd.get_matches();
        <Self as clap::FromArgMatches>::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
    }
}

/// A whole tool's `main`: parse against `cmd`, then [`run`] `verb`'s work.
pub fn main<V, F>(tool: &str, cmd: clap::Command, work: impl FnOnce(V) -> F) -> ExitCode
where
    V: clap::Subcommand,
    F: Future<Output = Result<()>>,
{
    let cli = Cli::<V>::parse_with(cmd);
    run(tool, &cli.global, work(cli.verb))
}

/// Flags every tool accepts.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct GlobalArgs {
    /// More log detail on stderr (-v info, -vv debug, -vvv trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
}

/// The documented exit statuses, the same for every tool: `--help` and the
/// man pages' EXIT STATUS are made from this one table.
pub const EXIT_STATUS: &[(&str, &str)] = &[
    ("0", "success"),
    (
        "1",
        "the operation failed (remote error, lock held, timeout, wrong cluster, an earlier stage failed); \
         the document written says what was made",
    ),
    ("2", "usage error"),
    (
        "65",
        "the input document is invalid; nothing was changed anywhere",
    ),
    (
        "130",
        "interrupted (Ctrl-C, SIGTERM): the document written holds what was made",
    ),
];

/// Environment variables every tool reads (the man pages' ENVIRONMENT
/// adds each tool's own).
pub const ENVIRONMENT: &[(&str, &str)] = &[
    ("RUST_LOG", "log filter (overrides -v/-q), e.g. phx_state=debug"),
    (
        "PHX_LOG_DIR",
        "where a run on a terminal keeps its details (default ~/.local/state/phx/logs)",
    ),
    (
        "PHX_VIEW",
        "plain: on a terminal too, the log lines as they come instead of one line with the details in a file",
    ),
];

/// What the tools that call AWS read besides.
pub const AWS_ENVIRONMENT: &[(&str, &str)] = &[
    ("AWS_REGION, AWS_PROFILE", "the standard AWS configuration chain"),
    (
        "AWS_ENDPOINT_URL[_<SVC>]",
        "another endpoint (an emulator, a VPC endpoint)",
    ),
    (
        "AWS_MAX_ATTEMPTS, AWS_RETRY_MODE",
        "the SDK's retries (default: standard, 25 attempts per request)",
    ),
    (
        "PHX_AWS_IN_FLIGHT",
        "calls that scale with the cluster run at most this many at once (16)",
    ),
];

/// A table of the man pages: `(name, what it is)` rows.
pub type Rows = &'static [(&'static str, &'static str)];

/// What a tool's man page says beyond its clap definition. Each tool keeps
/// its own next to its `Cli` (`pub const DOCS`), so a new file or variable
/// is documented where it is introduced; the generator (`phx-docs`) only
/// lays the pages out.
#[derive(Debug, Clone, Copy)]
pub struct Docs {
    /// Calls AWS: the AWS configuration chain applies.
    pub aws: bool,
    /// phx's own environment variables it honours (those bound to an
    /// option are listed under the option).
    pub environment: Rows,
    /// Files it reads or writes beyond the document on stdin/stdout.
    pub files: Rows,
    /// Verbs whose exit statuses are their own (`phx-kubeadm exec`).
    pub exit_status: &'static [(&'static str, Rows)],
}

impl Docs {
    /// A tool that calls AWS and has nothing else to add.
    pub const AWS: Docs = Docs {
        aws: true,
        environment: &[],
        files: &[],
        exit_status: &[],
    };
    /// A tool that calls no AWS API and has nothing else to add.
    pub const LOCAL: Docs = Docs {
        aws: false,
        ..Docs::AWS
    };
}

/// The text appended to every tool's `--help`: environment and exit codes.
pub static AFTER_HELP: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let rows = |rows: &[(&str, &str)], w: usize| -> String {
        rows.iter()
            .map(|(k, v)| format!("  {k:<w$} {v}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    format!(
        "Environment:\n{}\n{}\n\nExit status:\n{}",
        rows(ENVIRONMENT, 25),
        rows(AWS_ENVIRONMENT, 25),
        rows(EXIT_STATUS, 3)
    )
});

fn init_logging(tool: &str, global: &GlobalArgs) {
    // Targets match by prefix, so `phx_` covers every phx crate and keeps
    // the AWS SDK's own info lines out of the default view.
    // kube logs each failed request as an error, a request phx_kube sends
    // again included; the tool's own error says it once if it stays failed.
    let default = match (global.quiet, global.verbose) {
        (true, _) => "error,kube_client::client::builder=off",
        (false, 0) => "warn,phx_=info,kube_client::client::builder=off",
        (false, 1) => "info,phx_=debug,kube_client::client::builder=off",
        (false, 2) => "debug",
        _ => "trace",
    };
    let custom = std::env::var_os("RUST_LOG").is_some();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let terminal = crate::io::stderr_is_terminal();
    let view = terminal
        && !custom
        && !global.quiet
        && global.verbose == 0
        && !crate::progress::stage_lines()
        && std::env::var("PHX_VIEW").map_or(true, |v| v != "plain");
    if view {
        crate::progress::set_view(phx_view::solo::Solo::new(tool, phx_view::solo::log_path(tool)));
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| RedactedStderr(Vec::new()))
        .with_target(false)
        .without_time()
        // The view reads the lines: plain text for it and its log file.
        .with_ansi(terminal && !view)
        .try_init();
}

/// One log event on its way to stderr (or the tool's own line and its log
/// file): collected, then written through the redaction filter
/// ([`crate::redact`]) in one piece, so no log line, whatever its source
/// (a node's output, a library at debug level), can carry a token, a
/// certificate key or a private key.
struct RedactedStderr(Vec<u8>);

impl std::io::Write for RedactedStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for RedactedStderr {
    fn drop(&mut self) {
        let text = String::from_utf8_lossy(&self.0);
        let text = crate::redact::redact(&text);
        match crate::progress::view() {
            Some(view) => view.event(&text),
            None => {
                let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), text.as_bytes());
            }
        }
    }
}

/// Run a tool: logging, a tokio runtime, the tool's future, and the exit.
///
/// `tool` is the binary name (`phx-state`); errors print as
/// `phx-state: context: cause`.
pub fn run<F>(tool: &str, global: &GlobalArgs, fut: F) -> ExitCode
where
    F: Future<Output = Result<()>>,
{
    run_with_status(tool, global, async { fut.await.map(|()| 0) })
}

/// [`run`] for a verb whose success carries its own exit status (`exec`
/// passes on the worst status of the remote commands).
pub fn run_with_status<F>(tool: &str, global: &GlobalArgs, fut: F) -> ExitCode
where
    F: Future<Output = Result<u8>>,
{
    init_logging(tool, global);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return report(tool, Error::failed(e).context("starting the runtime")),
    };
    match runtime.block_on(async {
        crate::signal::listen();
        fut.await
    }) {
        Ok(code) => ExitCode::from(code),
        Err(e) => report(tool, e),
    }
}

fn report(tool: &str, e: Error) -> ExitCode {
    if !e.is_quiet() {
        eprintln!("{tool}: {e}");
    }
    ExitCode::from(e.kind().code())
}
