//! Launching one node: RunInstances with everything the node needs set at
//! launch (tags included, so an interrupted run still leaves findable
//! instances), an idempotency token, and the retry phx-iam's fresh
//! instance profiles need.

use crate::desired::NodeWant;
use crate::image::Image;
use crate::observed::Have;
use phx_aws::ec2::types::{
    BlockDeviceMapping, EbsBlockDevice, HttpTokensState, IamInstanceProfileSpecification,
    InstanceMetadataEndpointState, InstanceMetadataOptionsRequest, InstanceType, ResourceType, Tag,
    TagSpecification, VolumeType,
};
use phx_aws::ec2::Client;
use phx_aws::{ClusterTags, Sent};
use phx_core::{Error, Result};
use std::time::Duration;

/// The node's role, as a tag (what `phx-nodes list` and people filter on).
pub const ROLE_TAG: &str = "phx:node-role";

/// An instance profile made seconds ago is not yet visible to EC2.
const PROFILE_PROPAGATION: Duration = Duration::from_secs(120);

#[derive(Debug)]
pub struct Launcher<'a> {
    pub ec2: &'a Client,
    pub tags: &'a ClusterTags,
    pub image: &'a Image,
    pub key_name: &'a str,
    pub vpc_id: &'a str,
}

impl Launcher<'_> {
    pub async fn launch(&self, want: &NodeWant) -> Result<Have> {
        let token = client_token(self.tags.cluster(), self.vpc_id, &want.name);
        let have = self.run(want, &token).await?;
        if have.is_alive() {
            return Ok(have);
        }
        // AWS keeps a token's answer for a day after the instance ends: a
        // node terminated by hand is relaunched under a fresh token.
        tracing::info!(
            "{}: token answered with {} ({}); launching anew",
            want.name,
            have.instance_id,
            have.state
        );
        let fresh = format!("{token}-{}", unix_now());
        self.run(want, &fresh).await
    }

    async fn run(&self, want: &NodeWant, token: &str) -> Result<Have> {
        let what = format!("launching {}", want.name);
        let out = phx_aws::retry::retry(&what, PROFILE_PROPAGATION, profile_not_yet_visible, || async {
            self.request(want, token).send().await.phx()
        })
        .await
        .map_err(|e| e.context(&what))?;
        let inst = out
            .instances()
            .first()
            .ok_or_else(|| Error::failed(format!("{what}: RunInstances returned no instance")))?;
        let have = Have::from_instance(inst);
        tracing::info!("{}: launched {} in {}", want.name, have.instance_id, want.zone);
        Ok(have)
    }

    fn request(
        &self,
        want: &NodeWant,
        token: &str,
    ) -> phx_aws::ec2::operation::run_instances::builders::RunInstancesFluentBuilder {
        let mut tags = self.tags.owned(
            &format!("node/{}", want.role),
            &format!("{}-{}", want.role, want.index),
        );
        tags.push((ROLE_TAG.to_string(), want.role.to_string()));
        let spec = |rt: ResourceType| {
            let mut s = TagSpecification::builder().resource_type(rt);
            for (k, v) in &tags {
                s = s.tags(Tag::builder().key(k).value(v).build());
            }
            s.build()
        };
        let disk = i32::try_from(want.disk_gib).unwrap_or(i32::MAX);
        self.ec2
            .run_instances()
            .client_token(token)
            .image_id(&self.image.id)
            .instance_type(InstanceType::from(want.instance_type.as_str()))
            .min_count(1)
            .max_count(1)
            .key_name(self.key_name)
            .subnet_id(&want.subnet_id)
            .security_group_ids(&want.security_group)
            .iam_instance_profile(
                IamInstanceProfileSpecification::builder()
                    .arn(&want.instance_profile_arn)
                    .build(),
            )
            // IMDSv2 only; hop limit 2 so pods (one hop further) still reach it.
            .metadata_options(
                InstanceMetadataOptionsRequest::builder()
                    .http_endpoint(InstanceMetadataEndpointState::Enabled)
                    .http_tokens(HttpTokensState::Required)
                    .http_put_response_hop_limit(2)
                    .build(),
            )
            .block_device_mappings(
                BlockDeviceMapping::builder()
                    .device_name(&self.image.root_device)
                    .ebs(
                        EbsBlockDevice::builder()
                            .volume_size(disk)
                            .volume_type(VolumeType::Gp3)
                            .encrypted(true)
                            .delete_on_termination(true)
                            .build(),
                    )
                    .build(),
            )
            .tag_specifications(spec(ResourceType::Instance))
            .tag_specifications(spec(ResourceType::Volume))
    }
}

fn profile_not_yet_visible(e: &Error) -> bool {
    let text = e.to_string();
    e.has_code(&["InvalidParameterValue"])
        && (text.contains("Invalid IAM Instance Profile") || text.contains("iamInstanceProfile"))
}

/// Stable per cluster, network and node: a retried launch of the same node
/// returns the same instance instead of a second one. (At most 64 chars.)
pub fn client_token(cluster: &str, vpc_id: &str, node: &str) -> String {
    let digest = phx_core::digest::sha256_hex(format!("{cluster}/{vpc_id}/{node}").as_bytes());
    format!("phx-{}", &digest[..40])
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_stable_short_and_distinct_per_node() {
        let a = client_token("phoenix", "vpc-1", "phoenix-worker-1");
        assert_eq!(a, client_token("phoenix", "vpc-1", "phoenix-worker-1"));
        assert_ne!(a, client_token("phoenix", "vpc-1", "phoenix-worker-2"));
        assert_ne!(a, client_token("phoenix", "vpc-2", "phoenix-worker-1"));
        assert!(a.len() <= 64);
    }

    #[test]
    fn only_the_profile_propagation_error_is_retried() {
        let e = Error::failed("InvalidParameterValue: Value (arn:x) for parameter iamInstanceProfile.arn is invalid. Invalid IAM Instance Profile ARN")
            .with_code("InvalidParameterValue");
        assert!(profile_not_yet_visible(&e));
        let other = Error::failed("InvalidParameterValue: bad subnet").with_code("InvalidParameterValue");
        assert!(!profile_not_yet_visible(&other));
    }
}
