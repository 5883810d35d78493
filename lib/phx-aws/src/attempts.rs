//! The SDK's own retries, made visible. Every AWS client phx makes carries
//! [`Attempts`]: when the SDK sends a request again (throttling, a 5xx, a
//! connection reset, a timeout) it says what and why at `-v`, counts it
//! for the stage's done line, and says at most every 10 s on the default
//! level that AWS is holding it back (`backing off: ...`), which the
//! terminal views show as the stage's activity.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};

#[derive(Debug, Default)]
pub(crate) struct Attempts;

/// Why the last attempt failed, kept for the retry that follows.
#[derive(Debug, Clone)]
struct Failed(String);

impl Storable for Failed {
    type Storer = StoreReplace<Self>;
}

impl Intercept for Attempts {
    fn name(&self) -> &'static str {
        "phx-attempts"
    }

    fn read_after_attempt(
        &self,
        ctx: &FinalizerInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let why = match (ctx.response(), ctx.output_or_error()) {
            (_, Some(Ok(_))) => None,
            (Some(r), _) => {
                let code = r.body().bytes().and_then(error_code);
                Some(match code {
                    Some(c) => format!("{c} (HTTP {})", r.status().as_u16()),
                    None => format!("HTTP {}", r.status().as_u16()),
                })
            }
            (None, Some(Err(e))) if e.is_timeout_error() => Some("no answer in time".into()),
            (None, Some(Err(e))) if e.is_connector_error() => Some("connection failed".into()),
            (None, _) => Some("no response".into()),
        };
        if let Some(why) = why {
            phx_core::progress::attempt_failed(&format!("AWS answered {why}"));
            cfg.interceptor_state().store_put(Failed(why));
        }
        Ok(())
    }

    fn read_before_attempt(
        &self,
        _ctx: &BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let attempt = cfg.load::<RequestAttempts>().map_or(1, |a| a.attempts());
        if attempt < 2 {
            return Ok(());
        }
        let why = cfg
            .load::<Failed>()
            .map_or_else(|| "failed".into(), |f| f.0.clone());
        let (service, operation) = cfg
            .load::<Metadata>()
            .map_or(("AWS", "call"), |m| (m.service(), m.name()));
        tracing::debug!("{service} {operation}: {why}; attempt {attempt}");
        phx_core::progress::retried(&format!("AWS answered {why}"));
        Ok(())
    }
}

/// The error code in an AWS error body: `<Code>X</Code>` (query and XML
/// protocols) or `"__type": "...#X"` (JSON protocols).
fn error_code(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    if let Some(rest) = text.split("<Code>").nth(1) {
        return rest.split("</Code>").next().map(str::to_string);
    }
    let rest = text.split("\"__type\"").nth(1)?;
    let value = rest.split('"').nth(1)?;
    Some(value.rsplit('#').next().unwrap_or(value).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_are_read_from_each_protocol() {
        let ec2 = b"<Response><Errors><Error><Code>RequestLimitExceeded</Code></Error></Errors></Response>";
        assert_eq!(error_code(ec2).as_deref(), Some("RequestLimitExceeded"));
        let ddb = br#"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"x"}"#;
        assert_eq!(error_code(ddb).as_deref(), Some("ThrottlingException"));
        assert_eq!(error_code(b"<html>oops</html>"), None);
    }
}
