//! The API's network load balancers: their names, how they are found, and
//! the calls that make them (target group, load balancer, listener).
//!
//! The spec's load balancer (`Role::Admin`, `<cluster>-api`) is what admins
//! and the kubeconfig reach. When it is internet-facing, a second, internal
//! one (`Role::Nodes`, `<cluster>-api-int`) carries everything inside the
//! cluster and its name is kubeadm's `controlPlaneEndpoint`: on AWS a public
//! load balancer's name resolves to public addresses inside the VPC too, so
//! a node reaching it leaves through the internet gateway and the load
//! balancer's group sees the node's public IP, which it does not allow
//! (only the VPC and `adminCidrs`). Cluster API AWS does the same (an
//! internal load balancer beside the internet-facing one); kOps resolves an
//! `api.internal` name to private addresses. When the spec's load balancer
//! is internal, it serves both.
//!
//! The endpoint's name is fixed at the first init, so control planes can be
//! added and replaced behind it (kubeadm cannot move a cluster to a new
//! endpoint later). Targets are IP targets, which turns client IP
//! preservation off: a control plane reaching the API through the load
//! balancer and landing on itself (the NLB hairpin, kubeadm #1685) then
//! works, and the control planes see the load balancer's private
//! addresses, which their group already allows (the VPC). Who reaches a
//! load balancer is its security group's business (`sg/api-lb`). The
//! health check is HTTPS `/readyz`, so an API server that listens but is
//! not ready leaves the rotation.
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
use std::collections::HashMap;

/// The API server's port, on the listeners and the targets.
pub const PORT: i32 = 6443;
/// The health check: the API server's own readiness, over TLS.
pub const HEALTH_PATH: &str = "/readyz";

/// Which of the API's load balancers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// The spec's (`spec.kubernetes.apiLoadBalancer`): admins and the
    /// kubeconfig; the cluster's endpoint too when internal.
    Admin,
    /// The internal one beside an internet-facing `Admin`: the nodes'
    /// endpoint.
    Nodes,
}

impl Role {
    fn suffix(self) -> &'static str {
        match self {
            Role::Admin => "api",
            Role::Nodes => "api-int",
        }
    }

    /// Components in the plan and the registry.
    pub fn lb(self) -> &'static str {
        match self {
            Role::Admin => "nlb/api",
            Role::Nodes => "nlb/api-int",
        }
    }

    pub fn target_group(self) -> &'static str {
        match self {
            Role::Admin => "tg/api",
            Role::Nodes => "tg/api-int",
        }
    }

    /// Not an id: the load balancer's DNS name, for the status.
    pub fn dns(self) -> &'static str {
        match self {
            Role::Admin => "nlb/api/dns",
            Role::Nodes => "nlb/api-int/dns",
        }
    }
}

/// The name of a load balancer and of its target group: `<cluster>-api` or
/// `<cluster>-api-int`, shortened with a hash of the cluster name where that
/// passes elbv2's 32 characters (a cluster name may be 32 itself).
pub fn name(cluster: &str, role: Role) -> String {
    let suffix = role.suffix();
    let plain = format!("{cluster}-{suffix}");
    if plain.len() <= 32 {
        return plain;
    }
    let hash = cluster.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let head = cluster[..32 - suffix.len() - 6].trim_end_matches('-');
    format!("{head}-{:04x}-{suffix}", hash & 0xffff)
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
    /// The health check is HTTPS `/readyz` on the traffic port.
    pub checks_readyz: bool,
    /// Load balancers with a listener forwarding here: the listener exists
    /// when ours is among them (no DescribeListeners on a no-op).
    pub load_balancers: Vec<String>,
}

/// What exists of the API's load balancers (and their target groups).
pub type Found = (HashMap<Role, LoadBalancer>, HashMap<Role, TargetGroup>);

/// The load balancers and target groups of `roles` named for the cluster in
/// `vpc_id`; with `prove_by_tag` (a VPC the user brought), only those that
/// carry the cluster's tag too. On a converged cluster that is one call for
/// the load balancers and one for the target groups, whatever the roles
/// (elbv2 fails a whole call for one missing name: then one call a name).
pub async fn observe(
    elbv2: &Client,
    tags: &ClusterTags,
    vpc_id: &str,
    prove_by_tag: bool,
    roles: &[Role],
) -> Result<Found> {
    if roles.is_empty() {
        return Ok(Default::default());
    }
    let named: Vec<(Role, String)> = roles.iter().map(|r| (*r, name(tags.cluster(), *r))).collect();
    let names: Vec<String> = named.iter().map(|(_, n)| n.clone()).collect();
    let role_of = |n: Option<&str>| named.iter().find(|(_, x)| Some(x.as_str()) == n).map(|(r, _)| *r);
    let lbs = async {
        let describe = |names: Vec<String>| async move {
            match elbv2
                .describe_load_balancers()
                .set_names(Some(names))
                .send()
                .await
                .phx()
            {
                Ok(out) => Ok(Some(out.load_balancers().to_vec())),
                Err(e) if e.has_code(&["LoadBalancerNotFound"]) => Ok(None),
                Err(e) => Err(e.context("describing the API load balancers")),
            }
        };
        let all = by_names(&names, describe).await?;
        Ok::<_, phx_core::Error>(
            all.iter()
                .filter(|l| l.vpc_id() == Some(vpc_id))
                .filter_map(|l| {
                    Some((
                        role_of(l.load_balancer_name())?,
                        LoadBalancer {
                            arn: l.load_balancer_arn().unwrap_or_default().to_string(),
                            dns_name: l.dns_name().unwrap_or_default().to_string(),
                            scheme: l.scheme().map(|s| s.as_str().to_string()).unwrap_or_default(),
                        },
                    ))
                })
                .collect::<HashMap<_, _>>(),
        )
    };
    let tgs = async {
        let describe = |names: Vec<String>| async move {
            match elbv2
                .describe_target_groups()
                .set_names(Some(names))
                .send()
                .await
                .phx()
            {
                Ok(out) => Ok(Some(out.target_groups().to_vec())),
                Err(e) if e.has_code(&["TargetGroupNotFound"]) => Ok(None),
                Err(e) => Err(e.context("describing the API target groups")),
            }
        };
        let all = by_names(&names, describe).await?;
        Ok::<_, phx_core::Error>(
            all.iter()
                .filter(|t| t.vpc_id() == Some(vpc_id))
                .filter_map(|t| {
                    Some((
                        role_of(t.target_group_name())?,
                        TargetGroup {
                            arn: t.target_group_arn().unwrap_or_default().to_string(),
                            checks_readyz: checks_readyz(
                                t.health_check_protocol(),
                                t.health_check_path(),
                                t.health_check_port(),
                            ),
                            load_balancers: t.load_balancer_arns().to_vec(),
                        },
                    ))
                })
                .collect::<HashMap<_, _>>(),
        )
    };
    let (mut lbs, mut tgs) = tokio::try_join!(lbs, tgs)?;
    if prove_by_tag {
        let arns: Vec<String> = lbs
            .values()
            .map(|l| l.arn.clone())
            .chain(tgs.values().map(|t| t.arn.clone()))
            .collect();
        if !arns.is_empty() {
            let out = elbv2
                .describe_tags()
                .set_resource_arns(Some(arns))
                .send()
                .await
                .phx_in("describing the API load balancers' tags")?;
            let key = tags.cluster_key();
            let ours = |arn: &str| {
                out.tag_descriptions().iter().any(|d| {
                    d.resource_arn() == Some(arn) && d.tags().iter().any(|t| t.key() == Some(key.as_str()))
                })
            };
            lbs.retain(|_, l| ours(&l.arn));
            tgs.retain(|_, t| ours(&t.arn));
        }
    }
    Ok((lbs, tgs))
}

/// `describe(names)`, or where one is missing (`None`), `describe` of each.
async fn by_names<T, F, Fut>(names: &[String], describe: F) -> Result<Vec<T>>
where
    F: Fn(Vec<String>) -> Fut,
    Fut: std::future::Future<Output = Result<Option<Vec<T>>>>,
{
    if let Some(all) = describe(names.to_vec()).await? {
        return Ok(all);
    }
    if names.len() < 2 {
        return Ok(vec![]);
    }
    let each = futures::future::try_join_all(names.iter().map(|n| describe(vec![n.clone()]))).await?;
    Ok(each.into_iter().flatten().flatten().collect())
}

fn checks_readyz(protocol: Option<&ProtocolEnum>, path: Option<&str>, port: Option<&str>) -> bool {
    protocol == Some(&ProtocolEnum::Https)
        && path == Some(HEALTH_PATH)
        && port.is_none_or(|p| p == "traffic-port" || p == PORT.to_string())
}

fn elb_tags(tags: &ClusterTags, component: &str) -> Vec<Tag> {
    tags.owned(component, "api")
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// The target group: TCP 6443, IP targets, an HTTPS `/readyz` health check
/// on the traffic port (a TCP connect would keep an API server that
/// listens but is not ready in the rotation).
pub async fn create_target_group(
    elbv2: &Client,
    tags: &ClusterTags,
    vpc_id: &str,
    role: Role,
) -> Result<String> {
    let out = elbv2
        .create_target_group()
        .name(name(tags.cluster(), role))
        .protocol(ProtocolEnum::Tcp)
        .port(PORT)
        .vpc_id(vpc_id)
        .target_type(TargetTypeEnum::Ip)
        .health_check_protocol(ProtocolEnum::Https)
        .health_check_path(HEALTH_PATH)
        .health_check_port("traffic-port")
        .health_check_interval_seconds(10)
        .healthy_threshold_count(2)
        .unhealthy_threshold_count(2)
        .set_tags(Some(elb_tags(tags, role.target_group())))
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

/// A target group made before the health check was `/readyz` gets it.
pub async fn check_readyz(elbv2: &Client, tg: &str) -> Result<()> {
    elbv2
        .modify_target_group()
        .target_group_arn(tg)
        .health_check_protocol(ProtocolEnum::Https)
        .health_check_path(HEALTH_PATH)
        .health_check_port("traffic-port")
        .send()
        .await
        .phx_done()
}

/// The load balancer, in one subnet per zone, behind `group`. Returns its
/// ARN and DNS name.
pub async fn create_load_balancer(
    elbv2: &Client,
    tags: &ClusterTags,
    role: Role,
    scheme: &str,
    subnets: Vec<String>,
    group: &str,
) -> Result<(String, String)> {
    let out = elbv2
        .create_load_balancer()
        .name(name(tags.cluster(), role))
        .r#type(phx_aws::elbv2::types::LoadBalancerTypeEnum::Network)
        .scheme(LoadBalancerSchemeEnum::from(scheme))
        .set_subnets(Some(subnets))
        .security_groups(group)
        .set_tags(Some(elb_tags(tags, role.lb())))
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
pub async fn create_listener(
    elbv2: &Client,
    tags: &ClusterTags,
    role: Role,
    lb: &str,
    tg: &str,
) -> Result<()> {
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
        .set_tags(Some(elb_tags(tags, &format!("listener/{}", role.suffix()))))
        .send()
        .await
        .phx_done()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_elbv2s_32_characters() {
        assert_eq!(name("phoenix", Role::Admin), "phoenix-api");
        assert_eq!(name("phoenix", Role::Nodes), "phoenix-api-int");
        let long = "a".repeat(28);
        assert_eq!(name(&long, Role::Admin), format!("{long}-api"));
        for role in [Role::Admin, Role::Nodes] {
            let longer = "b".repeat(32);
            let n = name(&longer, role);
            assert_eq!(n.len(), 32, "{n}");
            assert!(
                n.starts_with("bbbbbbbbbbbbbbbbb") && n.ends_with(role.suffix()),
                "{n}"
            );
            assert_ne!(name(&"c".repeat(32), role), n, "the hash tells clusters apart");
            // No double dash where the head ends in one.
            let head = 32 - role.suffix().len() - 6;
            let dashed = format!("{}-{}", "d".repeat(head - 1), "e".repeat(32 - head));
            assert!(!name(&dashed, role).contains("--"), "{}", name(&dashed, role));
        }
        assert_ne!(
            name(&"f".repeat(30), Role::Admin),
            name(&"f".repeat(30), Role::Nodes)
        );
    }

    #[test]
    fn the_health_check_is_readyz_over_https() {
        assert!(checks_readyz(
            Some(&ProtocolEnum::Https),
            Some("/readyz"),
            Some("traffic-port")
        ));
        assert!(checks_readyz(
            Some(&ProtocolEnum::Https),
            Some("/readyz"),
            Some("6443")
        ));
        assert!(!checks_readyz(
            Some(&ProtocolEnum::Tcp),
            None,
            Some("traffic-port")
        ));
        assert!(!checks_readyz(Some(&ProtocolEnum::Https), Some("/healthz"), None));
    }
}
