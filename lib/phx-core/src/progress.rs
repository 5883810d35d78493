//! Saying where a long run is: what a wait is waiting for, every
//! [`EVERY`] while it waits, and (under deploy.sh and destroy.sh) when each
//! stage starts and ends.
//!
//! A silent minute on real AWS (a NAT gateway becoming available, Argo CD
//! syncing) looks like a hang. A [`Waiting`] guard, held for as long as a
//! wait lasts, logs `waiting for WHAT (N s)` every ten seconds; short waits
//! say nothing. What it waits for can change as the wait goes
//! ([`Waiting::set`]: "2/3 ready, waiting for istiod").
//!
//! Stage lines (`phx-net: started`, `phx-net: done in 3.1 s (4 joined)`)
//! are logged when `PHX_STAGE_LINES` is set, as the pipeline scripts set
//! it, or when the tool draws its own line on a terminal ([`view`]): a
//! tool's own stderr stays one line for bad input, as every tool promises.
//! A stage says where it is ([`activity`]: `nodes: 4/4 prepared, control
//! plane up, 2/3 joined`) and what it did ([`result`]: `1 initialized, 3
//! joined`), which its done line carries for the views to show.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How often a wait says it is still waiting.
pub const EVERY: Duration = Duration::from_secs(10);

/// A wait in progress, reported every [`EVERY`] until dropped.
#[derive(Debug)]
pub struct Waiting {
    what: Arc<Mutex<String>>,
    task: tokio::task::JoinHandle<()>,
}

impl Waiting {
    /// Start reporting `what` ("NAT gateway nat-0ab to be available").
    pub fn start(what: impl Into<String>) -> Waiting {
        Waiting::every(what, EVERY)
    }

    fn every(what: impl Into<String>, every: Duration) -> Waiting {
        let what = Arc::new(Mutex::new(what.into()));
        let shared = what.clone();
        let started = tokio::time::Instant::now();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            loop {
                tick.tick().await;
                let what = shared.lock().map(|w| w.clone()).unwrap_or_default();
                tracing::info!("waiting for {what} ({} s)", started.elapsed().as_secs());
            }
        });
        Waiting { what, task }
    }

    /// What the wait waits for now.
    pub fn set(&self, what: impl Into<String>) {
        if let Ok(mut w) = self.what.lock() {
            *w = what.into();
        }
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Whether stage lines are wanted (`PHX_STAGE_LINES` set and not empty,
/// or the tool's own view on).
pub fn stage_lines() -> bool {
    view().is_some() || std::env::var_os("PHX_STAGE_LINES").is_some_and(|v| !v.is_empty())
}

/// `tool: done in 3.1 s`, with the stage's [`result`] when it said one
/// (`tool: done in 3.1 s (1 initialized, 3 joined)`), or `tool: failed
/// after 3.1 s`; either with the requests sent again when there were
/// (`; 12 retries`).
pub fn finished_line(tool: &str, ok: bool, took: Duration) -> String {
    let s = took.as_secs_f64();
    let said = RESULT.lock().ok().and_then(|mut r| r.take());
    let line = match (ok, said) {
        (true, Some(r)) => format!("{tool}: done in {s:.1} s ({r})"),
        (true, None) => format!("{tool}: done in {s:.1} s"),
        (false, _) => format!("{tool}: failed after {s:.1} s"),
    };
    match retries() {
        0 => line,
        1 => format!("{line}; 1 retry"),
        n => format!("{line}; {n} retries"),
    }
}

/// Requests sent again this run (the AWS SDK's retries).
static RETRIES: AtomicU64 = AtomicU64::new(0);
/// When [`retried`] last said so.
static BACKING_OFF_SAID: Mutex<Option<Instant>> = Mutex::new(None);

/// A request is sent again (`why`: `AWS answered RequestLimitExceeded
/// (HTTP 503)`): counted for the done line, and said (`backing off: WHY;
/// N retries so far`) at most every [`EVERY`], which the views show as
/// the stage's activity.
pub fn retried(why: &str) {
    let n = RETRIES.fetch_add(1, Ordering::Relaxed) + 1;
    let Ok(mut said) = BACKING_OFF_SAID.lock() else {
        return;
    };
    if said.is_none_or(|t| t.elapsed() >= EVERY) {
        *said = Some(Instant::now());
        tracing::info!("backing off: {why}; {n} retries so far");
    }
}

/// Why the last failed attempt of a request failed.
static LAST_FAILURE: Mutex<Option<String>> = Mutex::new(None);

/// An attempt of a request failed (`why`), whether or not it is sent
/// again: what a request that then runs out of time reports.
pub fn attempt_failed(why: &str) {
    if let Ok(mut last) = LAST_FAILURE.lock() {
        *last = Some(why.to_string());
    }
}

pub fn last_failure() -> Option<String> {
    LAST_FAILURE.lock().ok().and_then(|l| l.clone())
}

/// How many requests were sent again this run.
pub fn retries() -> u64 {
    RETRIES.load(Ordering::Relaxed)
}

/// The running stage's tool, for [`activity`] lines.
static TOOL: OnceLock<String> = OnceLock::new();
/// What the running stage did, for its done line.
static RESULT: Mutex<Option<String>> = Mutex::new(None);

/// A stage of `tool` starts (once per process: a process runs one stage).
pub fn stage_started(tool: &str) {
    let _ = TOOL.set(tool.to_string());
}

/// Where the stage is, in one line the views keep showing until the next
/// (`nodes: 4/4 prepared, control plane up, 2/3 joined`): logged as
/// `tool: WHAT`, which the views tell from the details it sits among.
pub fn activity(what: &str) {
    match TOOL.get() {
        Some(tool) => tracing::info!("{tool}: {what}"),
        None => tracing::info!("{what}"),
    }
}

/// What the stage did, for its done line (`1 initialized, 3 joined`;
/// without one the views count the AWS changes it announced).
pub fn result(what: impl Into<String>) {
    if let Ok(mut r) = RESULT.lock() {
        *r = Some(what.into());
    }
}

/// The tool's own line on a terminal, when it draws one
/// ([`crate::cli`] turns it on: stderr a terminal, no -v/-q/RUST_LOG, not
/// under deploy.sh).
static VIEW: OnceLock<phx_view::solo::Solo> = OnceLock::new();

pub fn view() -> Option<&'static phx_view::solo::Solo> {
    VIEW.get()
}

pub(crate) fn set_view(view: phx_view::solo::Solo) {
    let _ = VIEW.set(view);
}

/// Write `text` to stderr (a plan's table, a question's context) above
/// the tool's line, if drawn.
pub fn eprint(text: &str) {
    suspend(|| eprint!("{text}"))
}

/// Run `f` (a question on the terminal) with the tool's line, if drawn,
/// out of the way.
pub fn suspend<R>(f: impl FnOnce() -> R) -> R {
    match view() {
        Some(v) => v.suspend(f),
        None => f(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// Log lines written while `f` runs, on a paused clock.
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);
    impl Write for Lines {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_wait_says_what_it_waits_for_at_each_period_and_nothing_when_short() {
        let lines = Lines::default();
        let out = lines.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || out.clone())
            .with_ansi(false)
            .without_time()
            .with_target(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let said = || String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();

        // Shorter than the period: nothing, then or after.
        let short = Waiting::every("something quick", Duration::from_secs(1));
        tokio::time::sleep(Duration::from_millis(100)).await;
        drop(short);
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(said(), "", "a wait shorter than the period says nothing");

        let w = Waiting::every("NAT gateway nat-1 to be available", Duration::from_millis(100));
        tokio::time::sleep(Duration::from_millis(250)).await;
        w.set("DaemonSet kube-system/calico-node 2/3 pods ready");
        tokio::time::sleep(Duration::from_millis(250)).await;
        drop(w);
        let at_drop = said();
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(said(), at_drop, "nothing once dropped");
        let lines: Vec<&str> = at_drop.lines().map(str::trim).collect();
        assert!(lines.len() >= 3, "{at_drop}");
        assert!(
            lines[0].starts_with("INFO waiting for NAT gateway nat-1 to be available ("),
            "{at_drop}"
        );
        assert!(lines[0].ends_with(" s)"), "{at_drop}");
        let last = lines.last().unwrap();
        assert!(
            last.starts_with("INFO waiting for DaemonSet kube-system/calico-node 2/3 pods ready ("),
            "{at_drop}"
        );
    }

    #[test]
    fn stage_lines_say_the_time_taken_and_the_result_once() {
        assert_eq!(
            finished_line("phx-net", true, Duration::from_millis(3140)),
            "phx-net: done in 3.1 s"
        );
        assert_eq!(
            finished_line("phx-ccm", false, Duration::from_secs(12)),
            "phx-ccm: failed after 12.0 s"
        );
        result("1 initialized, 3 joined");
        assert_eq!(
            finished_line("phx-kubeadm", true, Duration::from_secs(2)),
            "phx-kubeadm: done in 2.0 s (1 initialized, 3 joined)"
        );
        assert_eq!(
            finished_line("phx-kubeadm", true, Duration::from_secs(2)),
            "phx-kubeadm: done in 2.0 s",
            "said once"
        );
    }
}
