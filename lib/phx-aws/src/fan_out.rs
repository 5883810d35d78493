//! Calls that scale with the cluster (instances, targets, tags, deletes)
//! run side by side, but never more than [`in_flight`] at once: a
//! 100-worker cluster must not throttle itself.

use std::future::Future;

/// At most this many calls of one fan-out in flight
/// (`PHX_AWS_IN_FLIGHT`, default 16).
pub fn in_flight() -> usize {
    std::env::var("PHX_AWS_IN_FLIGHT")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(16)
}

/// Run `calls` with at most [`in_flight`] at once; their results in order.
pub async fn fan_out<F: Future>(calls: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    use futures::StreamExt;
    futures::stream::iter(calls).buffered(in_flight()).collect().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn no_more_than_the_limit_run_at_once_and_results_keep_their_order() {
        let (now, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let calls = (0..50).map(|i| {
            let (now, most) = (&now, &most);
            async move {
                let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(n, Ordering::SeqCst);
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
                now.fetch_sub(1, Ordering::SeqCst);
                i
            }
        });
        let out = fan_out(calls).await;
        assert_eq!(out, (0..50).collect::<Vec<_>>());
        assert_eq!(most.load(Ordering::SeqCst), in_flight());
    }
}
