//! The SDK configuration: the standard credential and region chain (env,
//! profiles, SSO, IMDS), an explicit region when the document names one, and
//! `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>` honoured by the SDK
//! itself. S3 goes path-style whenever the endpoint is overridden, because
//! emulators and S3-compatible stores do not resolve bucket subdomains.
//!
//! One retry policy for every client: the SDK's standard mode (exponential
//! backoff with jitter, a retry quota) with [`MAX_ATTEMPTS`] attempts,
//! enough to ride out a burst of throttling (the SDK's default of 3 is
//! not: at a fifth of the requests throttled, half of the fresh network +
//! IAM runs failed). Throttling, 5xx, a dropped connection and a timeout
//! are retried, nothing else: [`crate::classify`] forbids the SDK to retry
//! a connection that could not be made at all.
//! `AWS_MAX_ATTEMPTS` / `AWS_RETRY_MODE` override it, as for every AWS
//! tool. Not the adaptive mode: its client-side rate limiter, fed by the
//! low send rate a short run measures, held a fresh network + IAM + nodes
//! at a fifth of the requests throttled to 80–261 s against 16–25 s in
//! standard mode (the same ten seeded trials;
//! `AWS_RETRY_MODE=adaptive` still asks for it). Every client carries
//! [`crate::attempts`], which makes the retries visible.

use crate::attempts::Attempts;
use crate::classify::Transient;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use phx_core::{Error, Result};
use std::time::Duration;

/// Attempts per request (Terraform's AWS provider makes 25).
pub const MAX_ATTEMPTS: u32 = 25;

/// phx's retry policy, unless the environment sets one.
fn retry_config() -> Option<RetryConfig> {
    let set = |k: &str| std::env::var_os(k).is_some_and(|v| !v.is_empty());
    if set("AWS_MAX_ATTEMPTS") || set("AWS_RETRY_MODE") {
        return None;
    }
    Some(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
}

/// A service's client from its config builder, with phx's retry
/// classifier and the interceptor that makes retries visible.
macro_rules! client {
    ($sdk:ident, $builder:expr) => {
        $sdk::Client::from_conf($builder.interceptor(Attempts).retry_classifier(Transient).build())
    };
}

/// A loaded configuration, from which clients are made.
#[derive(Debug, Clone)]
pub struct Aws {
    sdk: SdkConfig,
}

/// Load the configuration; `region` (from the document or a flag) wins over
/// the chain. Fails when no region can be found at all.
pub async fn load(region: Option<&str>) -> Result<Aws> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(retry) = retry_config() {
        loader = loader.retry_config(retry);
    }
    if let Some(r) = region {
        loader = loader.region(Region::new(r.to_string()));
    }
    let sdk = loader.load().await;
    if sdk.region().is_none() {
        return Err(Error::usage(
            "no AWS region: set spec.region, --region or AWS_REGION",
        ));
    }
    tracing::debug!(region = ?sdk.region(), endpoint = ?sdk.endpoint_url(), "aws configuration loaded");
    Ok(Aws { sdk })
}

/// A configuration for an emulator at `endpoint` with dummy credentials,
/// ignoring the environment (tests talk to several emulators at once).
pub async fn load_for_endpoint(endpoint: &str, region: &str) -> Aws {
    load_with(endpoint, region, retry_config()).await
}

/// [`load_for_endpoint`] with a retry policy of the caller's (`None`: the
/// environment's).
pub(crate) async fn load_with(endpoint: &str, region: &str, retry: Option<RetryConfig>) -> Aws {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(retry) = retry {
        loader = loader.retry_config(retry);
    }
    let sdk = loader
        .endpoint_url(endpoint)
        .region(Region::new(region.to_string()))
        .test_credentials()
        .load()
        .await;
    Aws { sdk }
}

impl Aws {
    /// No request, its retries included, outlasts `timeout` (a tool's
    /// `--timeout`; `None`: no cap): a run that AWS throttles beyond it
    /// fails, saying so.
    pub fn capped(self, timeout: impl Into<Option<Duration>>) -> Aws {
        let Some(timeout) = timeout.into() else {
            return self;
        };
        let sdk = self
            .sdk
            .to_builder()
            .timeout_config(TimeoutConfig::builder().operation_timeout(timeout).build())
            .build();
        Aws { sdk }
    }

    pub fn region(&self) -> &str {
        self.sdk.region().map(|r| r.as_ref()).unwrap_or_default()
    }

    /// Whether requests go somewhere other than AWS's own endpoints.
    pub fn endpoint_overridden(&self, service_env: &str) -> bool {
        self.sdk.endpoint_url().is_some()
            || std::env::var_os("AWS_ENDPOINT_URL").is_some()
            || std::env::var_os(format!("AWS_ENDPOINT_URL_{service_env}")).is_some()
    }

    #[cfg(feature = "s3")]
    pub fn s3(&self) -> aws_sdk_s3::Client {
        let conf =
            aws_sdk_s3::config::Builder::from(&self.sdk).force_path_style(self.endpoint_overridden("S3"));
        client!(aws_sdk_s3, conf)
    }

    #[cfg(feature = "dynamodb")]
    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        client!(
            aws_sdk_dynamodb,
            aws_sdk_dynamodb::config::Builder::from(&self.sdk)
        )
    }

    #[cfg(feature = "ec2")]
    pub fn ec2(&self) -> aws_sdk_ec2::Client {
        client!(aws_sdk_ec2, aws_sdk_ec2::config::Builder::from(&self.sdk))
    }

    #[cfg(feature = "iam")]
    pub fn iam(&self) -> aws_sdk_iam::Client {
        client!(aws_sdk_iam, aws_sdk_iam::config::Builder::from(&self.sdk))
    }

    #[cfg(feature = "elb")]
    pub fn elb(&self) -> aws_sdk_elasticloadbalancing::Client {
        let conf = aws_sdk_elasticloadbalancing::config::Builder::from(&self.sdk);
        client!(aws_sdk_elasticloadbalancing, conf)
    }

    #[cfg(feature = "elb")]
    pub fn elbv2(&self) -> aws_sdk_elasticloadbalancingv2::Client {
        let conf = aws_sdk_elasticloadbalancingv2::config::Builder::from(&self.sdk);
        client!(aws_sdk_elasticloadbalancingv2, conf)
    }

    #[cfg(feature = "sts")]
    pub fn sts(&self) -> aws_sdk_sts::Client {
        client!(aws_sdk_sts, aws_sdk_sts::config::Builder::from(&self.sdk))
    }

    /// The partition (`aws`, `aws-cn`, `aws-us-gov`) for ARNs.
    pub fn partition(&self) -> &'static str {
        let r = self.region();
        if r.starts_with("cn-") {
            "aws-cn"
        } else if r.starts_with("us-gov-") {
            "aws-us-gov"
        } else {
            "aws"
        }
    }
}
