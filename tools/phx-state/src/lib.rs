//! `phx-state`: the document's lifecycle, as Terraform's S3 backend is for
//! Terraform state: stored in S3 (or a local directory), locked in DynamoDB
//! (or S3, or a lock file), versioned by serial and lineage.
//!
//! A deploy pipeline starts with `phx-state lock`, which joins the user's
//! spec with the stored status, and ends with `phx-state push --unlock`,
//! which stores whatever the stages made, failed stages included.

pub mod backend;
pub mod cli;
pub mod config;
mod verbs;

use cli::Verb;
use std::process::ExitCode;

pub const TOOL: &str = "phx-state";
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The binary's entry point.
pub fn main() -> ExitCode {
    phx_core::cli::main(TOOL, cli::command(), run)
}

/// Run one verb.
pub async fn run(verb: Verb) -> phx_core::Result<()> {
    match verb {
        Verb::New { name, region } => verbs::new::new(&name, region),
        Verb::Schema => verbs::new::schema(),
        Verb::Whoami { region } => verbs::whoami::whoami(region).await,
        Verb::Init { backend } => verbs::init::init(&backend).await,
        Verb::Lock {
            backend,
            wait,
            reason,
            operation,
        } => verbs::lock::lock(&backend, wait, operation, reason).await,
        Verb::Push {
            backend,
            unlock,
            force,
        } => verbs::push::push(&backend, unlock, force).await,
        Verb::Pull { backend, version } => verbs::pull::pull(&backend, version.as_deref()).await,
        Verb::History { backend } => verbs::pull::history(&backend).await,
        Verb::Unlock { backend } => verbs::lock::unlock(&backend).await,
        Verb::ForceUnlock { backend, lock_id } => verbs::lock::force_unlock(&backend, &lock_id).await,
        Verb::Migrate { backend, to, force } => verbs::migrate::migrate(&backend, to, force).await,
        Verb::Join { copies } => verbs::join::join(&copies),
        Verb::View { log, quiet, stages } => verbs::view::view(&log, quiet, &stages),
    }
}
