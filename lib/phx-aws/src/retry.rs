//! Retrying what AWS's eventual consistency makes fail for a while:
//! `InvalidVpcID.NotFound` right after CreateVpc, `DependencyViolation`
//! while a deleted resource lets go, an instance profile not yet visible.

use phx_core::backoff::Backoff;
use phx_core::Result;
use std::future::Future;
use std::time::Duration;

/// Run `op` until it succeeds, fails with an error `retryable` rejects, or
/// `total` has passed (then the last error is returned).
pub async fn retry<T, F, Fut>(
    what: &str,
    total: Duration,
    retryable: impl Fn(&phx_core::Error) -> bool,
    mut op: F,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut backoff = Backoff::new(Duration::from_millis(250), Duration::from_secs(5), total);
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) if retryable(&e) => {
                tracing::debug!("{what}: {e}; retrying");
                if !backoff.wait().await {
                    return Err(e);
                }
            }
            Err(e) => return Err(e),
        }
    }
}
