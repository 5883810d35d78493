//! SDK errors as one-line phx errors.
//!
//! A service error reads `Code: message`; anything else (no connection, a
//! timeout, an emulator answering HTML) keeps the SDK's whole source chain,
//! folded onto one line by [`phx_core::Error`].

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use phx_core::Error;

/// Conversion of any SDK operation error into a phx error (exit 1).
pub trait AwsError {
    fn into_phx(self) -> Error;
}

impl<E> AwsError for SdkError<E, HttpResponse>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    fn into_phx(self) -> Error {
        match (self.code(), self.message()) {
            (Some(code), Some(msg)) => Error::failed(format!("{code}: {msg}")).with_code(code),
            (Some(code), None) => Error::failed(code).with_code(code),
            _ if matches!(self, SdkError::TimeoutError(_)) => Error::failed(timed_out()),
            _ => {
                let status = self
                    .raw_response()
                    .map(|r| r.status())
                    .filter(|s| !s.is_success())
                    .map(|s| format!(" (HTTP {})", s.as_u16()))
                    .unwrap_or_default();
                Error::failed(format!("{}{status}", source_chain(&self)))
            }
        }
    }
}

/// A request that outlasted the tool's `--timeout`, with why, when AWS
/// was holding the run back.
fn timed_out() -> String {
    match phx_core::progress::last_failure() {
        Some(why) => format!(
            "gave up at --timeout: AWS held the run back ({} requests sent again, the last failure: {why}); \
             re-run, or raise --timeout",
            phx_core::progress::retries()
        ),
        None => "gave up at --timeout: no answer".to_string(),
    }
}

/// Display of an error and its sources, skipping repeats. (The SDK's own
/// `DisplayErrorContext` appends Debug output, far from one readable line.)
fn source_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut next = e.source();
    while let Some(s) = next {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = s.source();
    }
    parts.join(": ")
}

/// Whether the error carries one of these codes.
pub fn is_code<E, R>(e: &SdkError<E, R>, codes: &[&str]) -> bool
where
    E: ProvideErrorMetadata,
{
    e.code().is_some_and(|c| codes.contains(&c))
}

/// An SDK call's result as phx's, at the call: `.send().await.phx()?`;
/// `phx_in("listing X")` adds what was being done, `phx_done()` drops an
/// output nobody reads. One spelling for the hundred-odd calls the tools
/// make, instead of a `map_err` closure at each.
pub trait Sent<T> {
    fn phx(self) -> Result<T, Error>;
    fn phx_in(self, doing: impl std::fmt::Display) -> Result<T, Error>;
    fn phx_done(self) -> Result<(), Error>;
}

impl<T, E> Sent<T> for Result<T, SdkError<E, HttpResponse>>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    fn phx(self) -> Result<T, Error> {
        self.map_err(AwsError::into_phx)
    }

    fn phx_in(self, doing: impl std::fmt::Display) -> Result<T, Error> {
        self.map_err(|e| e.into_phx().context(doing))
    }

    fn phx_done(self) -> Result<(), Error> {
        self.map(|_| ()).map_err(AwsError::into_phx)
    }
}
