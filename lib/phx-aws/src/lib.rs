//! AWS for phx tools: loading the SDK configuration through the standard
//! chain, building clients, and turning SDK errors into one-line phx errors.
//!
//! Each service client sits behind a cargo feature of the same name, so a
//! tool that only talks to S3 and DynamoDB never compiles the EC2 client.

mod attempts;
mod classify;
mod config;
mod error;
pub mod fan_out;
pub mod retry;
pub mod tags;

pub use config::{load, load_for_endpoint, Aws, MAX_ATTEMPTS};
pub use error::{is_code, AwsError, Sent};
pub use fan_out::fan_out;
pub use tags::ClusterTags;

/// Base64 as the SDK spells it (console output, user data).
pub use aws_smithy_types::base64;

#[cfg(feature = "dynamodb")]
pub use aws_sdk_dynamodb as dynamodb;
#[cfg(feature = "ec2")]
pub use aws_sdk_ec2 as ec2;
#[cfg(feature = "elb")]
pub use aws_sdk_elasticloadbalancing as elb;
#[cfg(feature = "elb")]
pub use aws_sdk_elasticloadbalancingv2 as elbv2;
#[cfg(feature = "iam")]
pub use aws_sdk_iam as iam;
#[cfg(feature = "s3")]
pub use aws_sdk_s3 as s3;
#[cfg(feature = "sts")]
pub use aws_sdk_sts as sts;
