//! Requests that die in transit are sent again.
//!
//! A connection to the API server can break under a request through no
//! fault of the request: the load balancer drops the sessions of a control
//! plane that phx-kubeadm has just removed, or one that reboots, and a
//! connection to a machine that is gone can hang without a reset. kube
//! already retries 429/503/504 answers; this policy sends again the
//! requests that got no answer at all (a transport error or the read
//! timeout), a few times and quickly, since the next connection is
//! balanced to a healthy control plane. Every request phx makes is safe
//! to send twice: server-side apply and reads are idempotent, and a
//! repeated delete answers 404, which the callers take as gone.

use http::{Request, Response};
use kube::client::Body;
use std::time::Duration;
use tower::retry::Policy;
use tower::BoxError;

/// How many times a request is sent again, and the first pause (doubled
/// each time): 0.25 + 0.5 + 1 + 2 s, enough for a load balancer's health
/// check to take a dead control plane out.
const AGAIN: u32 = 4;
/// Sends of a request at most, the first included.
pub const TRIES: u32 = AGAIN + 1;
const FIRST_PAUSE: Duration = Duration::from_millis(250);

#[derive(Clone, Debug)]
pub struct OnNoAnswer {
    left: u32,
    pause: Duration,
}

impl Default for OnNoAnswer {
    fn default() -> Self {
        Self {
            left: AGAIN,
            pause: FIRST_PAUSE,
        }
    }
}

impl<B> Policy<Request<Body>, Response<B>, BoxError> for OnNoAnswer {
    type Future = tokio::time::Sleep;

    fn retry(
        &mut self,
        req: &mut Request<Body>,
        result: &mut Result<Response<B>, BoxError>,
    ) -> Option<Self::Future> {
        // An answer, whatever its status, is the API server's word.
        let error = result.as_ref().err()?;
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        tracing::debug!(
            "{} {}: no answer ({error}); sending it again in {:?}",
            req.method(),
            req.uri().path(),
            self.pause
        );
        let pause = self.pause;
        self.pause *= 2;
        Some(tokio::time::sleep(pause))
    }

    fn clone_request(&mut self, req: &Request<Body>) -> Option<Request<Body>> {
        // Only a body held in memory can be sent twice; a streamed one
        // (none of phx's requests) is sent once.
        let body = req.body().try_clone()?;
        let mut again = Request::new(body);
        *again.method_mut() = req.method().clone();
        *again.uri_mut() = req.uri().clone();
        *again.version_mut() = req.version();
        *again.headers_mut() = req.headers().clone();
        *again.extensions_mut() = req.extensions().clone();
        Some(again)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> Request<Body> {
        Request::builder()
            .method("PATCH")
            .uri("https://api:6443/apis/apps/v1/daemonsets")
            .header("content-type", "application/apply-patch+yaml")
            .body(Body::from(b"{}".to_vec()))
            .unwrap()
    }

    #[tokio::test]
    async fn a_transport_error_is_retried_four_times_with_growing_pauses() {
        let mut p = OnNoAnswer::default();
        let mut req = request();
        let mut pauses = Vec::new();
        loop {
            let mut r: Result<Response<()>, BoxError> = Err("connection closed".into());
            let Some(sleep) = p.retry(&mut req, &mut r) else {
                break;
            };
            pauses.push(sleep.deadline() - tokio::time::Instant::now());
        }
        assert_eq!(pauses.len(), 4);
        assert!(pauses.windows(2).all(|w| w[1] > w[0]), "{pauses:?}");
        assert!(pauses[3] <= Duration::from_secs(2), "{pauses:?}");
    }

    #[test]
    fn an_answer_is_never_retried_whatever_its_status() {
        let mut p = OnNoAnswer::default();
        let mut req = request();
        for status in [200, 409, 500, 503] {
            let mut r: Result<Response<()>, BoxError> =
                Ok(Response::builder().status(status).body(()).unwrap());
            assert!(p.retry(&mut req, &mut r).is_none(), "{status}");
        }
    }

    #[test]
    fn the_copy_is_the_same_request() {
        let mut p = OnNoAnswer::default();
        let req = request();
        let again = Policy::<_, Response<()>, BoxError>::clone_request(&mut p, &req)
            .expect("an in-memory body can be copied");
        assert_eq!(again.method(), req.method());
        assert_eq!(again.uri(), req.uri());
        assert_eq!(again.headers(), req.headers());
    }
}
