//! Ctrl-C and SIGTERM, caught rather than fatal: a stage killed by the
//! default action would write nothing, and the state would lose what it
//! made. [`listen`] (started by [`crate::cli::run`]) takes both signals for
//! the whole run; a stage waits on [`interrupted`] beside its work and
//! stops cleanly. A tool that never asks (`phx-state push`) simply
//! finishes: the signal then no longer kills the step that saves the state.

use std::sync::OnceLock;
use tokio::sync::watch;

static SIGNAL: OnceLock<watch::Sender<Option<&'static str>>> = OnceLock::new();

fn sender() -> &'static watch::Sender<Option<&'static str>> {
    SIGNAL.get_or_init(|| watch::channel(None).0)
}

/// Catch SIGINT and SIGTERM from now on (inside a tokio runtime).
pub fn listen() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate()))
    else {
        tracing::warn!("could not catch SIGINT/SIGTERM: Ctrl-C will stop this tool without a word");
        return;
    };
    tokio::spawn(async move {
        loop {
            let name = tokio::select! {
                _ = int.recv() => "Ctrl-C",
                _ = term.recv() => "SIGTERM",
            };
            tracing::warn!("{name}: stopping");
            sender().send_replace(Some(name));
        }
    });
}

/// Resolves, with the signal's name, once SIGINT or SIGTERM has arrived.
pub async fn interrupted() -> &'static str {
    let mut rx = sender().subscribe();
    loop {
        if let Some(name) = *rx.borrow_and_update() {
            return name;
        }
        if rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
