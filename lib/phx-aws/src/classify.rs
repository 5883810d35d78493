//! What is worth sending again. The SDK's classifiers retry throttling,
//! 5xx and errors modeled as retryable, and also every connection error;
//! [`Transient`] runs after them and forbids a retry of a connection that
//! could not be made (refused, no such host, a TLS failure): that is a
//! wrong endpoint or a service that is down, and 25 attempts with backoff
//! would turn a one-line error into minutes of waiting. What stays
//! retried on the wire is a connection that was dropped (reset, aborted,
//! closed before the answer) and a timeout.

use aws_smithy_runtime_api::client::interceptors::context::InterceptorContext;
use aws_smithy_runtime_api::client::retries::classifiers::{
    ClassifyRetry, RetryAction, RetryClassifierPriority,
};
use std::error::Error as StdError;
use std::io::ErrorKind;

#[derive(Debug, Default)]
pub(crate) struct Transient;

impl ClassifyRetry for Transient {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        let Some(Err(e)) = ctx.output_or_error() else {
            return RetryAction::NoActionIndicated;
        };
        match e.as_connector_error() {
            Some(c) if c.is_timeout() || dropped(c) => RetryAction::NoActionIndicated,
            Some(_) => RetryAction::RetryForbidden,
            None => RetryAction::NoActionIndicated,
        }
    }

    fn name(&self) -> &'static str {
        "phx-transient"
    }

    fn priority(&self) -> RetryClassifierPriority {
        RetryClassifierPriority::run_after(RetryClassifierPriority::transient_error_classifier())
    }
}

/// Whether the error is a connection that was made and then lost: an I/O
/// error of that kind anywhere in its sources, or hyper's "connection
/// closed before message completed" (a server dropping a kept-alive
/// connection).
fn dropped(e: &(dyn StdError + 'static)) -> bool {
    std::iter::successors(Some(e), |&err| err.source()).any(|err| {
        let io = err.downcast_ref::<std::io::Error>().is_some_and(|io| {
            matches!(
                io.kind(),
                ErrorKind::ConnectionReset
                    | ErrorKind::ConnectionAborted
                    | ErrorKind::BrokenPipe
                    | ErrorKind::UnexpectedEof
                    | ErrorKind::TimedOut
            )
        });
        let hyper = err
            .downcast_ref::<hyper::Error>()
            .is_some_and(|h| h.is_incomplete_message() || h.is_canceled() || h.is_timeout());
        io || hyper
    })
}

#[cfg(test)]
mod tests {
    //! Against real sockets on loopback: a port nobody listens on, and a
    //! listener that takes each request and drops the connection.
    use crate::config::load_with;
    use aws_config::retry::RetryConfig;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    fn three_quick_attempts() -> RetryConfig {
        RetryConfig::standard()
            .with_max_attempts(3)
            .with_initial_backoff(Duration::from_millis(10))
    }

    /// The retry counter is the process's: one test at a time.
    static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

    async fn describe_vpcs(endpoint: &str) -> String {
        let aws = load_with(endpoint, "eu-west-1", Some(three_quick_attempts())).await;
        let e = aws.ec2().describe_vpcs().send().await.unwrap_err();
        crate::AwsError::into_phx(e).to_string()
    }

    #[tokio::test]
    async fn a_refused_connection_is_not_sent_again() {
        let _one = ONE_AT_A_TIME.lock().await;
        // A port that was just free: bound, then closed.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let before = phx_core::progress::retries();
        let start = Instant::now();
        let msg = describe_vpcs(&format!("http://127.0.0.1:{port}")).await;
        assert!(msg.contains("refused"), "{msg}");
        assert_eq!(phx_core::progress::retries(), before, "retried: {msg}");
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn a_dropped_connection_is_sent_again() {
        let _one = ONE_AT_A_TIME.lock().await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            use tokio::io::AsyncReadExt;
            while let Ok((mut s, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                drop(s);
            }
        });
        let before = phx_core::progress::retries();
        let msg = describe_vpcs(&format!("http://127.0.0.1:{port}")).await;
        assert_eq!(accepted.load(Ordering::SeqCst), 3, "{msg}");
        assert_eq!(phx_core::progress::retries(), before + 2, "{msg}");
    }
}
