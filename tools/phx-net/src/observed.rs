//! What exists: everything the cluster owns, found by its tags (stored ids
//! are only hints), in two concurrent rounds of Describe calls.
//!
//! Round one looks up by tag what can exist before the VPC does (an
//! interrupted apply may have left an internet gateway or an Elastic IP);
//! round two, by VPC id, what moto cannot filter by tag (NAT gateways) and
//! the VPC's DNS attributes. A fresh network has no VPC, so it needs no
//! round two: every round trip here is on the critical path of a deploy
//! (the AWS benchmark counts them).

use crate::desired::Byo;
use crate::rules::{flatten, Rule};
use phx_aws::ec2::types::{Filter, Tag, VpcAttributeName};
use phx_aws::ec2::Client;
use phx_aws::tags::COMPONENT;
use phx_aws::{ClusterTags, Sent};
use phx_core::Result;
use std::collections::HashMap;

#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub vpc: Option<Vpc>,
    pub igw: Option<Igw>,
    pub subnets: HashMap<String, Subnet>,
    pub route_tables: HashMap<String, RouteTable>,
    /// Component to group; rules are filled once all groups are known.
    pub groups: HashMap<String, Group>,
    pub nat: Option<Nat>,
    pub eip: Option<Eip>,
    /// The region's available zones, when they were needed.
    pub region_zones: Option<Vec<String>>,
    /// The API load balancers and their target groups (looked up only when
    /// asked, with an elbv2 client).
    pub api_lbs: HashMap<crate::api_lb::Role, crate::api_lb::LoadBalancer>,
    pub api_tgs: HashMap<crate::api_lb::Role, crate::api_lb::TargetGroup>,
}

#[derive(Debug, Clone)]
pub struct Vpc {
    pub id: String,
    /// The value of the cluster tag (`owned`, `shared`, or none for a BYO VPC not yet tagged).
    pub cluster_tag: Option<String>,
    pub cidr: String,
    pub dns_support: bool,
    pub dns_hostnames: bool,
}

#[derive(Debug, Clone)]
pub struct Igw {
    pub id: String,
    pub attached_to: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Subnet {
    pub id: String,
    pub cluster_tag: Option<String>,
    pub zone: String,
    pub cidr: String,
    pub map_public_ip: bool,
}

#[derive(Debug, Clone)]
pub struct RouteTable {
    pub id: String,
    /// Destination CIDR to target (gateway or NAT gateway id).
    pub routes: HashMap<String, String>,
    /// Subnet id to association id.
    pub associations: HashMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct Group {
    pub id: String,
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone)]
pub struct Nat {
    pub id: String,
    pub state: String,
    pub subnet_id: String,
    pub public_ip: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Eip {
    pub allocation_id: String,
    pub public_ip: Option<String>,
}

pub fn tag<'a>(tags: &'a [Tag], key: &str) -> Option<&'a str> {
    tags.iter().find(|t| t.key() == Some(key)).and_then(|t| t.value())
}

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

/// Look up everything the cluster owns; with `byo`, the user's VPC and
/// subnets by id (stored under components `byo/<subnet-id>`). `zones_wanted`
/// is how many zones the spec asks for when it names none: the region's
/// zones are listed only if the existing public subnets do not say them;
/// when the document records no network (`recorded` false: most likely a
/// first apply) they are listed at once in round one rather than after it,
/// one read that a no-op converge, which has a record, does not make.
/// With `elbv2`, round two also looks up the API load balancers of `roles`.
pub async fn observe(
    ec2: &Client,
    elbv2: Option<(&phx_aws::elbv2::Client, &[crate::api_lb::Role])>,
    tags: &ClusterTags,
    byo: Option<&Byo>,
    zones_wanted: Option<usize>,
    recorded: bool,
) -> Result<Observed> {
    let byo_vpc = byo.map(|b| b.vpc_id.as_str());
    let owned = filter(&format!("tag:{}", tags.cluster_key()), phx_aws::tags::OWNED);
    let any_cluster = filter("tag-key", &tags.cluster_key());
    let vpcs = async {
        let mut req = ec2.describe_vpcs();
        req = match byo_vpc {
            Some(id) => req.vpc_ids(id),
            None => req.filters(owned.clone()),
        };
        req.send().await.phx_in("describing VPCs")
    };
    let igws = async {
        if byo_vpc.is_some() {
            return Ok(None);
        }
        ec2.describe_internet_gateways()
            .filters(owned.clone())
            .send()
            .await
            .map(Some)
            .phx_in("describing internet gateways")
    };
    let subnets = async {
        let req = match byo {
            Some(b) => ec2.describe_subnets().set_subnet_ids(Some(b.subnet_ids.clone())),
            None => ec2.describe_subnets().filters(owned.clone()),
        };
        req.send().await.phx_in("describing subnets")
    };
    let rtbs = async {
        if byo_vpc.is_some() {
            return Ok(None);
        }
        ec2.describe_route_tables()
            .filters(owned.clone())
            .send()
            .await
            .map(Some)
            .phx_in("describing route tables")
    };
    let sgs = async {
        ec2.describe_security_groups()
            .filters(any_cluster.clone())
            .send()
            .await
            .phx_in("describing security groups")
    };
    let eip = async {
        if byo.is_some() {
            return Ok(None);
        }
        observe_eip(ec2, tags).await
    };
    let zones_at_once = byo.is_none() && zones_wanted.is_some() && !recorded;
    let zones = async {
        if !zones_at_once {
            return Ok(None);
        }
        region_zones(ec2).await.map(Some)
    };
    let (vpcs, igws, subnets, rtbs, sgs, eip, zones) =
        tokio::try_join!(vpcs, igws, subnets, rtbs, sgs, eip, zones)?;

    let mut obs = Observed {
        eip,
        region_zones: zones,
        ..Observed::default()
    };
    let vpc = vpcs
        .vpcs()
        .iter()
        .find(|v| byo_vpc.is_some() || tag(v.tags(), COMPONENT) == Some("vpc"));
    if let Some(v) = vpc {
        obs.vpc = Some(Vpc {
            id: v.vpc_id().unwrap_or_default().to_string(),
            cluster_tag: tag(v.tags(), &tags.cluster_key()).map(str::to_string),
            cidr: v.cidr_block().unwrap_or_default().to_string(),
            dns_support: true,
            dns_hostnames: true,
        });
    }
    if let Some(igws) = igws {
        if let Some(g) = igws
            .internet_gateways()
            .iter()
            .find(|g| tag(g.tags(), COMPONENT) == Some("igw"))
        {
            obs.igw = Some(Igw {
                id: g.internet_gateway_id().unwrap_or_default().to_string(),
                attached_to: g
                    .attachments()
                    .first()
                    .and_then(|a| a.vpc_id())
                    .map(str::to_string),
            });
        }
    }
    for s in subnets.subnets() {
        let component = match byo {
            Some(_) => s.subnet_id().map(|id| format!("byo/{id}")),
            None => tag(s.tags(), COMPONENT).map(str::to_string),
        };
        if let Some(c) = component {
            obs.subnets.insert(
                c,
                Subnet {
                    id: s.subnet_id().unwrap_or_default().to_string(),
                    cluster_tag: tag(s.tags(), &tags.cluster_key()).map(str::to_string),
                    zone: s.availability_zone().unwrap_or_default().to_string(),
                    cidr: s.cidr_block().unwrap_or_default().to_string(),
                    map_public_ip: s.map_public_ip_on_launch().unwrap_or(false),
                },
            );
        }
    }
    if let Some(rtbs) = rtbs {
        for t in rtbs.route_tables() {
            let Some(c) = tag(t.tags(), COMPONENT) else {
                continue;
            };
            let routes = t
                .routes()
                .iter()
                .filter_map(|r| {
                    let target = r.gateway_id().or(r.nat_gateway_id())?;
                    Some((r.destination_cidr_block()?.to_string(), target.to_string()))
                })
                .collect();
            let associations = t
                .associations()
                .iter()
                .filter_map(|a| {
                    Some((
                        a.subnet_id()?.to_string(),
                        a.route_table_association_id()?.to_string(),
                    ))
                })
                .collect();
            obs.route_tables.insert(
                c.to_string(),
                RouteTable {
                    id: t.route_table_id().unwrap_or_default().to_string(),
                    routes,
                    associations,
                },
            );
        }
    }
    let ours: Vec<_> = sgs
        .security_groups()
        .iter()
        .filter(|g| tag(g.tags(), COMPONENT).is_some_and(|c| c.starts_with("sg/")))
        .filter(|g| tag(g.tags(), &tags.cluster_key()) == Some(phx_aws::tags::OWNED))
        .collect();
    let components: HashMap<String, String> = ours
        .iter()
        .filter_map(|g| Some((g.group_id()?.to_string(), tag(g.tags(), COMPONENT)?.to_string())))
        .collect();
    for g in ours {
        let (Some(id), Some(c)) = (g.group_id(), tag(g.tags(), COMPONENT)) else {
            continue;
        };
        obs.groups.insert(
            c.to_string(),
            Group {
                id: id.to_string(),
                rules: flatten(g.ip_permissions(), &components),
            },
        );
    }

    // Round two: what needs the VPC id, and the region's zones if the
    // subnets found do not say them after all.
    let public = obs
        .subnets
        .keys()
        .filter(|c| c.starts_with("subnet/public/"))
        .count();
    let need_zones = byo.is_none() && obs.region_zones.is_none() && zones_wanted.is_some_and(|n| n != public);
    let vpc_id = obs.vpc.as_ref().filter(|_| byo.is_none()).map(|v| v.id.clone());
    let attr = |name: VpcAttributeName| {
        let id = vpc_id.clone();
        async move {
            let Some(id) = id else { return Ok(None) };
            ec2.describe_vpc_attribute()
                .vpc_id(id)
                .attribute(name)
                .send()
                .await
                .map(Some)
                .phx_in("describing VPC attributes")
        }
    };
    let nats = async {
        let Some(id) = &vpc_id else { return Ok(None) };
        // moto ignores tag filters for NAT gateways: filter by VPC, check tags here.
        ec2.describe_nat_gateways()
            .filter(filter("vpc-id", id))
            .send()
            .await
            .map(Some)
            .phx_in("describing NAT gateways")
    };
    let zones = async {
        if !need_zones {
            return Ok(None);
        }
        region_zones(ec2).await.map(Some)
    };
    let lb = async {
        match (elbv2, &obs.vpc) {
            (Some((elbv2, roles)), Some(v)) => {
                crate::api_lb::observe(elbv2, tags, &v.id, byo.is_some(), roles).await
            }
            _ => Ok(Default::default()),
        }
    };
    let (support, hostnames, nats, zones, (api_lbs, api_tgs)) = tokio::try_join!(
        attr(VpcAttributeName::EnableDnsSupport),
        attr(VpcAttributeName::EnableDnsHostnames),
        nats,
        zones,
        lb
    )?;
    if zones.is_some() {
        obs.region_zones = zones;
    }
    obs.api_lbs = api_lbs;
    obs.api_tgs = api_tgs;
    if let Some(vpc) = obs.vpc.as_mut() {
        if let Some(s) = support {
            vpc.dns_support = s.enable_dns_support().and_then(|v| v.value()).unwrap_or(false);
        }
        if let Some(h) = hostnames {
            vpc.dns_hostnames = h.enable_dns_hostnames().and_then(|v| v.value()).unwrap_or(false);
        }
    }
    let live = |s: &str| !matches!(s, "deleted" | "deleting" | "failed");
    if let Some(nats) = nats {
        obs.nat = nats
            .nat_gateways()
            .iter()
            .filter(|n| tag(n.tags(), COMPONENT) == Some("nat"))
            .find(|n| n.state().is_some_and(|s| live(s.as_str())))
            .map(|n| Nat {
                id: n.nat_gateway_id().unwrap_or_default().to_string(),
                state: n.state().map(|s| s.as_str().to_string()).unwrap_or_default(),
                subnet_id: n.subnet_id().unwrap_or_default().to_string(),
                public_ip: n
                    .nat_gateway_addresses()
                    .first()
                    .and_then(|a| a.public_ip())
                    .map(str::to_string),
            });
    }
    Ok(obs)
}

/// The region's available zones, sorted by name.
async fn region_zones(ec2: &Client) -> Result<Vec<String>> {
    let out = ec2
        .describe_availability_zones()
        .filters(filter("state", "available"))
        .filters(filter("zone-type", "availability-zone"))
        .send()
        .await
        .phx_in("listing availability zones")?;
    let mut names: Vec<String> = out
        .availability_zones()
        .iter()
        .filter_map(|z| z.zone_name().map(str::to_string))
        .collect();
    names.sort();
    Ok(names)
}

/// The cluster's Elastic IP.
async fn observe_eip(ec2: &Client, tags: &ClusterTags) -> Result<Option<Eip>> {
    let out = ec2
        .describe_addresses()
        .filters(filter(
            &format!("tag:{}", tags.cluster_key()),
            phx_aws::tags::OWNED,
        ))
        .send()
        .await
        .phx_in("describing Elastic IPs")?;
    Ok(out
        .addresses()
        .iter()
        .find(|a| tag(a.tags(), COMPONENT) == Some("eip/nat"))
        .map(|a| Eip {
            allocation_id: a.allocation_id().unwrap_or_default().to_string(),
            public_ip: a.public_ip().map(str::to_string),
        }))
}
