//! Tearing the network down so that nothing is left behind.
//!
//! First what Kubernetes controllers made for the cluster and Terraform
//! never knew about, which otherwise blocks the VPC's deletion: classic and
//! v2 load balancers, their target groups, their security groups; then
//! leftover network interfaces, the NAT gateway (waited for), Elastic IPs,
//! route tables, subnets, the internet gateway, phx's security groups and
//! the VPC. `DependencyViolation` and the like are retried with backoff
//! until a deadline; then the error lists exactly what is left and why.
//! A bring-your-own VPC and its subnets are never deleted, and EBS volumes
//! (data) only with `--delete-volumes`.

use crate::desired::Byo;
use crate::observed::{observe, Observed};
use crate::rules::Source;
use phx_aws::ec2::types::Filter;
use phx_aws::{ClusterTags, Sent};
use phx_core::backoff::Backoff;
use phx_core::stage::Mine;
use phx_core::status::key;
use phx_core::{Error, Result};
use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, Instant};

/// Codes that mean "not yet: something still depends on it".
const WAIT_CODES: &[&str] = &[
    "DependencyViolation",
    "ResourceInUse",
    "InvalidParameterValue",
    "InvalidIPAddress.InUse",
];
/// Codes that mean it is already gone.
const GONE_CODES: &[&str] = &[
    "InvalidVpcID.NotFound",
    "InvalidSubnetID.NotFound",
    "InvalidGroup.NotFound",
    "InvalidRouteTableID.NotFound",
    "InvalidInternetGatewayID.NotFound",
    "InvalidAllocationID.NotFound",
    "InvalidNetworkInterfaceID.NotFound",
    "InvalidAssociationID.NotFound",
    "NatGatewayNotFound",
    "LoadBalancerNotFound",
    "TargetGroupNotFound",
];

struct Teardown {
    deadline: Instant,
    left: std::sync::Mutex<Vec<String>>,
}

impl Teardown {
    /// Delete one thing, retrying while something still depends on it.
    async fn delete<F, Fut>(&self, what: String, mut op: F) -> bool
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<()>>,
    {
        let total = self.deadline.saturating_duration_since(Instant::now());
        let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(10), total);
        let _waiting = phx_core::progress::Waiting::start(format!("{what} to be deletable"));
        loop {
            match op().await {
                Ok(()) => {
                    tracing::info!("deleted {what}");
                    return true;
                }
                Err(e) if e.has_code(GONE_CODES) => return true,
                Err(e) if e.has_code(WAIT_CODES) && backoff.wait().await => {
                    tracing::debug!("{what}: {e}; retrying");
                }
                Err(e) => {
                    self.left.lock().expect("left list").push(format!("{what} ({e})"));
                    return false;
                }
            }
        }
    }
}

pub async fn destroy(
    doc: &mut Mine<'_, key::Network>,
    delete_volumes: bool,
    timeout: Duration,
) -> Result<()> {
    let net = &doc.spec().network;
    let byo = net.vpc_id.clone().map(|vpc_id| Byo {
        vpc_id,
        subnet_ids: net.subnet_ids.clone(),
    });
    let aws = phx_aws::load(doc.spec().region.as_deref()).await?;
    let (ec2, elb, elbv2) = (aws.ec2(), aws.elb(), aws.elbv2());
    let tags = ClusterTags::new(doc.name());
    let obs = observe(&ec2, None, &tags, byo.as_ref(), None, true).await?;
    let owned_vpc = if byo.is_none() {
        obs.vpc.as_ref().map(|v| v.id.clone())
    } else {
        None
    };
    let t = Teardown {
        deadline: Instant::now() + timeout,
        left: Default::default(),
    };

    // The teardown, pass by pass: a pass starts once the one before is
    // done, and what one pass names goes at once.
    //
    //   1  load balancers, then their target groups | volumes (listed; deleted with --delete-volumes)
    //   2  security groups that controllers made
    //   3  leftover network interfaces               (phx's VPC only)
    //   4  NAT gateway, waited out | route tables | phx's security groups
    //   5  Elastic IP | internet gateway | subnets   (phx's VPC only)
    //   6  the VPC                                   (phx's; a brought one is untagged instead)
    let vpc = owned_vpc.as_deref();
    tokio::try_join!(
        load_balancers(&elb, &elbv2, &tags, vpc, &t),
        volumes(&ec2, &tags, delete_volumes, &t)
    )?;
    controller_groups(&ec2, &tags, vpc, &obs, &t).await?;
    if let Some(vpc) = vpc {
        interfaces(&ec2, vpc, &t).await?;
    }
    tokio::join!(
        nat_gateway(&ec2, &obs, &t),
        route_tables(&ec2, &obs, &t),
        own_groups(&ec2, &obs, &t)
    );
    tokio::join!(
        elastic_ip(&ec2, &obs, &t),
        internet_gateway(&ec2, &obs, &t),
        subnets(&ec2, &obs, vpc, &t)
    );
    match (vpc, &byo) {
        (Some(vpc), _) => the_vpc(&ec2, vpc, &t).await,
        (None, Some(b)) => untag_shared(&ec2, &tags, b, &t).await,
        (None, None) => {}
    }

    let left = t.left.into_inner().expect("left list");
    if left.is_empty() {
        doc.clear();
        return Ok(());
    }
    Err(Error::failed(format!(
        "destroy incomplete after {}; left: {}",
        phx_core::time::format_duration(timeout),
        left.join("; ")
    )))
}

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

/// Classic and v2 load balancers of the cluster: tagged for it, or (in a
/// VPC phx owns) anywhere in the VPC; then the v2 target groups.
async fn load_balancers(
    elb: &phx_aws::elb::Client,
    elbv2: &phx_aws::elbv2::Client,
    tags: &ClusterTags,
    owned_vpc: Option<&str>,
    t: &Teardown,
) -> Result<()> {
    let key = tags.cluster_key();
    let ours = |tag_list: &[(String, String)], vpc: Option<&str>| {
        owned_vpc.is_some() && vpc == owned_vpc
            || tag_list
                .iter()
                .any(|(k, v)| k == &key || (k == "elbv2.k8s.aws/cluster" && v == tags.cluster()))
    };
    tokio::try_join!(
        classic_load_balancers(elb, &ours, t),
        v2_load_balancers(elbv2, &ours, t)
    )?;
    Ok(())
}

type Tags = Vec<(String, String)>;

async fn classic_load_balancers(
    elb: &phx_aws::elb::Client,
    ours: &impl Fn(&[(String, String)], Option<&str>) -> bool,
    t: &Teardown,
) -> Result<()> {
    let classic = elb
        .describe_load_balancers()
        .send()
        .await
        .phx_in("listing classic load balancers")?;
    let names: Vec<(String, Option<String>)> = classic
        .load_balancer_descriptions()
        .iter()
        .filter_map(|d| {
            Some((
                d.load_balancer_name()?.to_string(),
                d.vpc_id().map(str::to_string),
            ))
        })
        .collect();
    let mut tags: HashMap<String, Tags> = HashMap::new();
    for chunk in names.chunks(20) {
        let out = elb
            .describe_tags()
            .set_load_balancer_names(Some(chunk.iter().map(|(n, _)| n.clone()).collect()))
            .send()
            .await
            .phx_in("reading classic load balancer tags")?;
        for d in out.tag_descriptions() {
            let kv = d
                .tags()
                .iter()
                .map(|t| (t.key().to_string(), t.value().unwrap_or_default().to_string()));
            tags.insert(
                d.load_balancer_name().unwrap_or_default().to_string(),
                kv.collect(),
            );
        }
    }
    let deletions = names
        .iter()
        .filter(|(name, vpc)| {
            ours(
                tags.get(name).map(Vec::as_slice).unwrap_or_default(),
                vpc.as_deref(),
            )
        })
        .map(|(name, _)| {
            t.delete(format!("classic load balancer {name}"), move || async move {
                elb.delete_load_balancer()
                    .load_balancer_name(name)
                    .send()
                    .await
                    .phx_done()
            })
        });
    phx_aws::fan_out(deletions).await;
    Ok(())
}

async fn v2_load_balancers(
    elbv2: &phx_aws::elbv2::Client,
    ours: &impl Fn(&[(String, String)], Option<&str>) -> bool,
    t: &Teardown,
) -> Result<()> {
    let (lbs, tgs) = tokio::try_join!(
        async {
            elbv2
                .describe_load_balancers()
                .send()
                .await
                .phx_in("listing load balancers")
        },
        async {
            elbv2
                .describe_target_groups()
                .send()
                .await
                .phx_in("listing target groups")
        }
    )?;
    let lbs: Vec<(String, Option<String>)> = lbs
        .load_balancers()
        .iter()
        .filter_map(|l| Some((l.load_balancer_arn()?.to_string(), l.vpc_id().map(str::to_string))))
        .collect();
    let groups: Vec<(String, Option<String>)> = tgs
        .target_groups()
        .iter()
        .filter_map(|g| Some((g.target_group_arn()?.to_string(), g.vpc_id().map(str::to_string))))
        .collect();
    let mut tags: HashMap<String, Tags> = HashMap::new();
    let arns: Vec<String> = lbs.iter().chain(&groups).map(|(a, _)| a.clone()).collect();
    for chunk in arns.chunks(20) {
        let out = elbv2
            .describe_tags()
            .set_resource_arns(Some(chunk.to_vec()))
            .send()
            .await
            .phx_in("reading load balancer tags")?;
        for d in out.tag_descriptions() {
            let kv = d.tags().iter().map(|t| {
                (
                    t.key().unwrap_or_default().to_string(),
                    t.value().unwrap_or_default().to_string(),
                )
            });
            tags.insert(d.resource_arn().unwrap_or_default().to_string(), kv.collect());
        }
    }
    let mine = |(arn, vpc): &&(String, Option<String>)| {
        ours(
            tags.get(arn).map(Vec::as_slice).unwrap_or_default(),
            vpc.as_deref(),
        )
    };
    let deletions = lbs.iter().filter(mine).map(|(arn, _)| {
        t.delete(format!("load balancer {arn}"), move || async move {
            elbv2
                .delete_load_balancer()
                .load_balancer_arn(arn)
                .send()
                .await
                .phx_done()
        })
    });
    phx_aws::fan_out(deletions).await;
    // Target groups can go once no listener of a deleted load balancer uses them.
    let deletions = groups.iter().filter(mine).map(|(arn, _)| {
        t.delete(format!("target group {arn}"), move || async move {
            elbv2
                .delete_target_group()
                .target_group_arn(arn)
                .send()
                .await
                .phx_done()
        })
    });
    phx_aws::fan_out(deletions).await;
    Ok(())
}

/// Security groups that controllers made for the cluster (not phx's own,
/// not a VPC's default): tagged for the cluster, or in phx's VPC.
async fn controller_groups(
    ec2: &phx_aws::ec2::Client,
    tags: &ClusterTags,
    owned_vpc: Option<&str>,
    obs: &Observed,
    t: &Teardown,
) -> Result<()> {
    let mut found = Vec::new();
    let tagged = ec2
        .describe_security_groups()
        .filters(filter("tag-key", &tags.cluster_key()))
        .send();
    found.extend(
        tagged
            .await
            .phx_in("describing security groups")?
            .security_groups()
            .to_vec(),
    );
    if let Some(vpc) = owned_vpc {
        let in_vpc = ec2
            .describe_security_groups()
            .filters(filter("vpc-id", vpc))
            .send();
        found.extend(
            in_vpc
                .await
                .phx_in("describing security groups")?
                .security_groups()
                .to_vec(),
        );
    }
    let ours: Vec<&str> = obs.groups.values().map(|g| g.id.as_str()).collect();
    let mut ids: Vec<String> = found
        .iter()
        .filter(|g| g.group_name() != Some("default"))
        .filter_map(|g| g.group_id())
        .filter(|id| !ours.contains(id))
        .map(str::to_string)
        .collect();
    ids.sort();
    ids.dedup();
    let deletions = ids.iter().map(|id| {
        t.delete(
            format!("security group {id} (made by a controller)"),
            move || async move { ec2.delete_security_group().group_id(id).send().await.phx_done() },
        )
    });
    phx_aws::fan_out(deletions).await;
    Ok(())
}

/// EBS volumes the cluster's CSI driver made: listed, kept unless asked.
async fn volumes(ec2: &phx_aws::ec2::Client, tags: &ClusterTags, delete: bool, t: &Teardown) -> Result<()> {
    let out = ec2
        .describe_volumes()
        .filters(filter("tag-key", &tags.cluster_key()))
        .send()
        .await
        .phx_in("describing volumes")?;
    for v in out.volumes() {
        let id = v.volume_id().unwrap_or_default().to_string();
        let size = v.size().unwrap_or_default();
        if !delete {
            tracing::warn!("kept EBS volume {id} ({size} GiB) of the cluster; --delete-volumes deletes it");
            continue;
        }
        let id = &id;
        t.delete(format!("volume {id}"), move || async move {
            ec2.delete_volume().volume_id(id).send().await.phx_done()
        })
        .await;
    }
    Ok(())
}

/// Network interfaces left behind (by load balancers, the CNI) in the VPC.
async fn interfaces(ec2: &phx_aws::ec2::Client, vpc: &str, t: &Teardown) -> Result<()> {
    let out = ec2
        .describe_network_interfaces()
        .filters(filter("vpc-id", vpc))
        .filters(filter("status", "available"))
        .send()
        .await
        .phx_in("describing network interfaces")?;
    let ids: Vec<String> = out
        .network_interfaces()
        .iter()
        .filter_map(|n| n.network_interface_id().map(str::to_string))
        .collect();
    let deletions = ids.iter().map(|id| {
        t.delete(format!("network interface {id}"), move || async move {
            ec2.delete_network_interface()
                .network_interface_id(id)
                .send()
                .await
                .phx_done()
        })
    });
    phx_aws::fan_out(deletions).await;
    Ok(())
}

/// The NAT gateway, and its deletion waited out (its address is in use till then).
async fn nat_gateway(ec2: &phx_aws::ec2::Client, obs: &Observed, t: &Teardown) {
    let Some(nat) = &obs.nat else { return };
    let id = nat.id.as_str();
    if t.delete(format!("NAT gateway {id}"), || async {
        ec2.delete_nat_gateway()
            .nat_gateway_id(id)
            .send()
            .await
            .phx_done()
    })
    .await
    {
        wait_nat_deleted(ec2, id, t).await;
    }
}

/// phx's route tables, their subnet associations first.
async fn route_tables(ec2: &phx_aws::ec2::Client, obs: &Observed, t: &Teardown) {
    let deletions = obs.route_tables.values().map(|rt| async move {
        let detach = rt.associations.values().map(|assoc| {
            t.delete(format!("route table association {assoc}"), move || async move {
                ec2.disassociate_route_table()
                    .association_id(assoc)
                    .send()
                    .await
                    .phx_done()
            })
        });
        phx_aws::fan_out(detach).await;
        t.delete(format!("route table {}", rt.id), || async {
            ec2.delete_route_table()
                .route_table_id(&rt.id)
                .send()
                .await
                .phx_done()
        })
        .await;
    });
    phx_aws::fan_out(deletions).await;
}

/// phx's security groups; each one's rules name the other, so those go first.
async fn own_groups(ec2: &phx_aws::ec2::Client, obs: &Observed, t: &Teardown) {
    // Each group's rules name the other group; revoke them first.
    for g in obs.groups.values() {
        let peers: Vec<_> = g
            .rules
            .iter()
            .filter(|r| matches!(r.source, Source::Group(_)))
            .collect();
        if peers.is_empty() {
            continue;
        }
        let ids = obs
            .groups
            .iter()
            .map(|(c, g)| (c.clone(), g.id.clone()))
            .collect();
        let perms: Vec<_> = peers.iter().map(|r| r.to_permission(&ids)).collect();
        t.delete(format!("cross-group rules of {}", g.id), || async {
            ec2.revoke_security_group_ingress()
                .group_id(&g.id)
                .set_ip_permissions(Some(perms.clone()))
                .send()
                .await
                .phx_done()
        })
        .await;
    }
    let deletions = obs.groups.values().map(|g| {
        t.delete(format!("security group {}", g.id), || async {
            ec2.delete_security_group()
                .group_id(&g.id)
                .send()
                .await
                .phx_done()
        })
    });
    phx_aws::fan_out(deletions).await;
}

async fn elastic_ip(ec2: &phx_aws::ec2::Client, obs: &Observed, t: &Teardown) {
    if let Some(e) = &obs.eip {
        t.delete(format!("Elastic IP {}", e.allocation_id), || async {
            ec2.release_address()
                .allocation_id(&e.allocation_id)
                .send()
                .await
                .phx_done()
        })
        .await;
    }
}

/// The internet gateway, detached first.
async fn internet_gateway(ec2: &phx_aws::ec2::Client, obs: &Observed, t: &Teardown) {
    let Some(g) = &obs.igw else { return };
    if let Some(vpc) = &g.attached_to {
        t.delete(format!("internet gateway attachment {}", g.id), || async {
            ec2.detach_internet_gateway()
                .internet_gateway_id(&g.id)
                .vpc_id(vpc)
                .send()
                .await
                .phx_done()
        })
        .await;
    }
    t.delete(format!("internet gateway {}", g.id), || async {
        ec2.delete_internet_gateway()
            .internet_gateway_id(&g.id)
            .send()
            .await
            .phx_done()
    })
    .await;
}

async fn subnets(ec2: &phx_aws::ec2::Client, obs: &Observed, owned_vpc: Option<&str>, t: &Teardown) {
    if owned_vpc.is_none() {
        return; // a bring-your-own VPC's subnets are the user's
    }
    let deletions = obs.subnets.values().map(|s| {
        t.delete(format!("subnet {}", s.id), || async {
            ec2.delete_subnet().subnet_id(&s.id).send().await.phx_done()
        })
    });
    phx_aws::fan_out(deletions).await;
}

async fn the_vpc(ec2: &phx_aws::ec2::Client, vpc: &str, t: &Teardown) {
    t.delete(format!("VPC {vpc}"), || async {
        ec2.delete_vpc().vpc_id(vpc).send().await.phx_done()
    })
    .await;
}

async fn wait_nat_deleted(ec2: &phx_aws::ec2::Client, id: &str, t: &Teardown) {
    let total = t.deadline.saturating_duration_since(Instant::now());
    let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(10), total);
    let _waiting = phx_core::progress::Waiting::start(format!("NAT gateway {id} to be deleted"));
    loop {
        let state = ec2
            .describe_nat_gateways()
            .nat_gateway_ids(id)
            .send()
            .await
            .ok()
            .and_then(|o| {
                o.nat_gateways()
                    .first()
                    .and_then(|n| n.state().map(|s| s.as_str().to_string()))
            });
        if state.as_deref().is_none_or(|s| s == "deleted") {
            return;
        }
        if !backoff.wait().await {
            t.left
                .lock()
                .expect("left list")
                .push(format!("NAT gateway {id} (still {})", state.unwrap_or_default()));
            return;
        }
    }
}

/// Take the `shared` cluster tag off a bring-your-own VPC and its subnets.
async fn untag_shared(ec2: &phx_aws::ec2::Client, tags: &ClusterTags, byo: &Byo, t: &Teardown) {
    let mut ids = vec![byo.vpc_id.clone()];
    ids.extend(byo.subnet_ids.iter().cloned());
    let key = tags.cluster_key();
    t.delete(format!("cluster tag of {}", ids.join(", ")), || async {
        ec2.delete_tags()
            .set_resources(Some(ids.clone()))
            .tags(phx_aws::ec2::types::Tag::builder().key(&key).build())
            .send()
            .await
            .phx_done()
    })
    .await;
}
