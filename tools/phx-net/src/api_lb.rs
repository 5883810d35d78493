//! The API's network load balancer: its name, how it is found, and the
//! three calls that make it (target group, load balancer, listener).
//!
//! Its DNS name is kubeadm's `controlPlaneEndpoint` from the first init, so
//! control planes can be added and replaced behind it (kubeadm cannot move
//! a cluster to a new endpoint later). Targets are IP targets, which turns
//! client IP preservation off: a control plane reaching the API through the
//! load balancer and landing on itself (the NLB hairpin, kubeadm #1685)
//! then works, and the control planes see the load balancer's private
//! addresses, which their group already allows (the VPC). Who reaches the
//! load balancer is its own security group's business (`sg/api-lb`).
//!
//! A load balancer needs subnets and a target group a VPC, so neither can
//! exist without the VPC: they are looked up in round two of the
//! observation, by name, and proven the cluster's by their VPC (ours by
//! tag); in a VPC the user brought, by their cluster tag as well.

use phx_aws::elbv2::types::{
    Action, ActionTypeEnum, LoadBalancerSchemeEnum, ProtocolEnum, Tag, TargetTypeEnum,
};
use phx_aws::elbv2::Client;
use phx_aws::{ClusterTags, Sent};
use phx_core::Result;

/// Components in the plan and the registry.
pub const LB: &str = "nlb/api";
pub const TARGET_GROUP: &str = "tg/api";
/// Not an id: the load balancer's DNS name, for the status.
pub const LB_DNS: &str = "nlb/api/dns";
/// The API server's port, on the listener and the targets.
pub const PORT: i32 = 6443;

/// The name of the load balancer and of its target group: `<cluster>-api`,
/// shortened with a hash of the cluster name where that passes elbv2's 32
/// characters (a cluster name may be 32 itself).
pub fn name(cluster: &str) -> String {
    let plain = format!("{cluster}-api");
    if plain.len() <= 32 {
        return plain;
    }
    let hash = cluster.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let head = cluster[..23].trim_end_matches('-');
    format!("{head}-{:04x}-api", hash & 0xffff)
}

#[derive(Debug, Clone)]
pub struct LoadBalancer {
    pub arn: String,
    pub dns_name: String,
    pub scheme: String,
}

#[derive(Debug, Clone)]
pub struct TargetGroup {
    pub arn: String,
    /// Load balancers with a listener forwarding here: the listener exists
    /// when ours is among them (no DescribeListeners on a no-op).
    pub load_balancers: Vec<String>,
}

/// The load balancer and target group named for the cluster in `vpc_id`;
/// with `prove_by_tag` (a VPC the user brought), only if they carry the
/// cluster's tag too.
pub async fn observe(
    elbv2: &Client,
    tags: &ClusterTags,
    vpc_id: &str,
    prove_by_tag: bool,
) -> Result<(Option<LoadBalancer>, Option<TargetGroup>)> {
    let name = name(tags.cluster());
    let lb = async {
        match elbv2.describe_load_balancers().names(&name).send().await.phx() {
            Ok(out) => Ok(out
                .load_balancers()
                .iter()
                .find(|l| l.vpc_id() == Some(vpc_id))
                .map(|l| LoadBalancer {
                    arn: l.load_balancer_arn().unwrap_or_default().to_string(),
                    dns_name: l.dns_name().unwrap_or_default().to_string(),
                    scheme: l.scheme().map(|s| s.as_str().to_string()).unwrap_or_default(),
                })),
            Err(e) if e.has_code(&["LoadBalancerNotFound"]) => Ok(None),
            Err(e) => Err(e.context("describing the API load balancer")),
        }
    };
    let tg = async {
        match elbv2.describe_target_groups().names(&name).send().await.phx() {
            Ok(out) => Ok(out
                .target_groups()
                .iter()
                .find(|t| t.vpc_id() == Some(vpc_id))
                .map(|t| TargetGroup {
                    arn: t.target_group_arn().unwrap_or_default().to_string(),
                    load_balancers: t.load_balancer_arns().to_vec(),
                })),
            Err(e) if e.has_code(&["TargetGroupNotFound"]) => Ok(None),
            Err(e) => Err(e.context("describing the API target group")),
        }
    };
    let (mut lb, mut tg) = tokio::try_join!(lb, tg)?;
    if prove_by_tag {
        let arns: Vec<String> = lb
            .iter()
            .map(|l| l.arn.clone())
            .chain(tg.iter().map(|t| t.arn.clone()))
            .collect();
        if !arns.is_empty() {
            let out = elbv2
                .describe_tags()
                .set_resource_arns(Some(arns))
                .send()
                .await
                .phx_in("describing the API load balancer's tags")?;
            let key = tags.cluster_key();
            let ours = |arn: &str| {
                out.tag_descriptions().iter().any(|d| {
                    d.resource_arn() == Some(arn) && d.tags().iter().any(|t| t.key() == Some(key.as_str()))
                })
            };
            lb = lb.filter(|l| ours(&l.arn));
            tg = tg.filter(|t| ours(&t.arn));
        }
    }
    Ok((lb, tg))
}

fn elb_tags(tags: &ClusterTags, component: &str) -> Vec<Tag> {
    tags.owned(component, "api")
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// The target group: TCP 6443, IP targets, a TCP health check on the
/// traffic port (the API server's TLS port answers a TCP connect as soon
/// as it listens).
pub async fn create_target_group(elbv2: &Client, tags: &ClusterTags, vpc_id: &str) -> Result<String> {
    let out = elbv2
        .create_target_group()
        .name(name(tags.cluster()))
        .protocol(ProtocolEnum::Tcp)
        .port(PORT)
        .vpc_id(vpc_id)
        .target_type(TargetTypeEnum::Ip)
        .health_check_protocol(ProtocolEnum::Tcp)
        .health_check_port("traffic-port")
        .health_check_interval_seconds(10)
        .healthy_threshold_count(2)
        .unhealthy_threshold_count(2)
        .set_tags(Some(elb_tags(tags, TARGET_GROUP)))
        .send()
        .await
        .phx()?;
    Ok(out
        .target_groups()
        .first()
        .and_then(|t| t.target_group_arn())
        .unwrap_or_default()
        .to_string())
}

/// The load balancer, in one subnet per zone, behind `group`. Returns its
/// ARN and DNS name.
pub async fn create_load_balancer(
    elbv2: &Client,
    tags: &ClusterTags,
    scheme: &str,
    subnets: Vec<String>,
    group: &str,
) -> Result<(String, String)> {
    let out = elbv2
        .create_load_balancer()
        .name(name(tags.cluster()))
        .r#type(phx_aws::elbv2::types::LoadBalancerTypeEnum::Network)
        .scheme(LoadBalancerSchemeEnum::from(scheme))
        .set_subnets(Some(subnets))
        .security_groups(group)
        .set_tags(Some(elb_tags(tags, LB)))
        .send()
        .await
        .phx()?;
    let lb = out.load_balancers().first();
    Ok((
        lb.and_then(|l| l.load_balancer_arn())
            .unwrap_or_default()
            .to_string(),
        lb.and_then(|l| l.dns_name()).unwrap_or_default().to_string(),
    ))
}

/// TCP 6443 on the load balancer, forwarded to the target group.
pub async fn create_listener(elbv2: &Client, tags: &ClusterTags, lb: &str, tg: &str) -> Result<()> {
    let forward = Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .target_group_arn(tg)
        .build();
    elbv2
        .create_listener()
        .load_balancer_arn(lb)
        .protocol(ProtocolEnum::Tcp)
        .port(PORT)
        .default_actions(forward)
        .set_tags(Some(elb_tags(tags, "listener/api")))
        .send()
        .await
        .phx_done()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_elbv2s_32_characters() {
        assert_eq!(name("phoenix"), "phoenix-api");
        let long = "a".repeat(28);
        assert_eq!(name(&long), format!("{long}-api"));
        let longer = "b".repeat(32);
        let n = name(&longer);
        assert_eq!(n.len(), 32, "{n}");
        assert!(n.starts_with(&"b".repeat(23)) && n.ends_with("-api"), "{n}");
        assert_ne!(name(&"c".repeat(32)), n, "the hash tells clusters apart");
        // No double dash where the head ends in one.
        let dashed = format!("{}-{}", "d".repeat(22), "e".repeat(9));
        assert!(!name(&dashed).contains("--"), "{}", name(&dashed));
    }
}
