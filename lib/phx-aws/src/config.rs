//! The SDK configuration: the standard credential and region chain (env,
//! profiles, SSO, IMDS), an explicit region when the document names one, and
//! `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>` honoured by the SDK
//! itself. S3 goes path-style whenever the endpoint is overridden, because
//! emulators and S3-compatible stores do not resolve bucket subdomains.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use phx_core::{Error, Result};

/// A loaded configuration, from which clients are made.
#[derive(Debug, Clone)]
pub struct Aws {
    sdk: SdkConfig,
}

/// Load the configuration; `region` (from the document or a flag) wins over
/// the chain. Fails when no region can be found at all.
pub async fn load(region: Option<&str>) -> Result<Aws> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
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
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new(region.to_string()))
        .test_credentials()
        .load()
        .await;
    Aws { sdk }
}

impl Aws {
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
        let conf = aws_sdk_s3::config::Builder::from(&self.sdk)
            .force_path_style(self.endpoint_overridden("S3"))
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    #[cfg(feature = "dynamodb")]
    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.sdk)
    }

    #[cfg(feature = "ec2")]
    pub fn ec2(&self) -> aws_sdk_ec2::Client {
        aws_sdk_ec2::Client::new(&self.sdk)
    }

    #[cfg(feature = "iam")]
    pub fn iam(&self) -> aws_sdk_iam::Client {
        aws_sdk_iam::Client::new(&self.sdk)
    }

    #[cfg(feature = "elb")]
    pub fn elb(&self) -> aws_sdk_elasticloadbalancing::Client {
        aws_sdk_elasticloadbalancing::Client::new(&self.sdk)
    }

    #[cfg(feature = "elb")]
    pub fn elbv2(&self) -> aws_sdk_elasticloadbalancingv2::Client {
        aws_sdk_elasticloadbalancingv2::Client::new(&self.sdk)
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

    #[cfg(feature = "sts")]
    pub fn sts(&self) -> aws_sdk_sts::Client {
        aws_sdk_sts::Client::new(&self.sdk)
    }
}
