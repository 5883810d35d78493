//! Exponential backoff with jitter and a deadline, for waiting on a lock
//! and on eventually consistent APIs.

use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
    max: Duration,
    deadline: Instant,
}

impl Backoff {
    /// Start at `first`, double up to `max`, give up after `total`.
    pub fn new(first: Duration, max: Duration, total: Duration) -> Backoff {
        Backoff {
            next: first,
            max,
            deadline: Instant::now() + total,
        }
    }

    /// Sleep before the next attempt; `false` when the deadline has passed.
    pub async fn wait(&mut self) -> bool {
        let now = Instant::now();
        if now >= self.deadline {
            return false;
        }
        let delay = jitter(self.next).min(self.deadline - now);
        tokio::time::sleep(delay).await;
        self.next = (self.next * 2).min(self.max);
        true
    }
}

/// Between 50% and 100% of `d`, so racing processes spread out.
fn jitter(d: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|t| t.subsec_nanos())
        .unwrap_or(0)
        ^ std::process::id().wrapping_mul(2_654_435_761);
    let frac = 0.5 + f64::from(nanos % 1000) / 2000.0;
    d.mul_f64(frac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn gives_up_at_the_deadline() {
        let start = Instant::now();
        let mut b = Backoff::new(
            Duration::from_millis(5),
            Duration::from_millis(20),
            Duration::from_millis(60),
        );
        let mut tries = 0;
        while b.wait().await {
            tries += 1;
        }
        assert!(tries >= 3, "{tries}");
        assert!(start.elapsed() >= Duration::from_millis(60));
        assert!(start.elapsed() < Duration::from_secs(1));
    }
}
