//! From what was observed and made to `status.network`, and the zones the
//! network spans.

use crate::api_lb::Role;
use crate::apply::Registry;
use crate::desired::{Desired, SG_API_LB, SG_CONTROL_PLANE, SG_WORKERS};
use crate::observed::Observed;
use crate::plan::{EIP_ADDRESS, IGW_ATTACHED, NAT_AVAILABLE};
use ipnet::Ipv4Net;
use phx_core::status::{ApiLoadBalancerStatus, NetworkStatus, SecurityGroups, SubnetStatus};
use phx_core::{Error, Result};

/// The zones: as the spec names them, else those of the subnets that
/// exist (in address order, the order they were made in), else the
/// region's first `zoneCount` available zones.
pub fn zones(want: &Desired, obs: &Observed) -> Result<Vec<String>> {
    if let Some(z) = &want.zones {
        return Ok(z.clone());
    }
    if want.byo.is_some() {
        let mut z: Vec<String> = obs.subnets.values().map(|s| s.zone.clone()).collect();
        z.sort();
        z.dedup();
        return Ok(z);
    }
    let mut public: Vec<_> = obs
        .subnets
        .iter()
        .filter(|(c, _)| c.starts_with("subnet/public/"))
        .filter_map(|(_, s)| Some((s.cidr.parse::<Ipv4Net>().ok()?, s.zone.clone())))
        .collect();
    if public.len() == want.zone_count {
        public.sort();
        return Ok(public.into_iter().map(|(_, z)| z).collect());
    }
    let names = obs.region_zones.clone().unwrap_or_default();
    if names.len() < want.zone_count {
        return Err(Error::failed(format!(
            "the region has {} available zones, spec.network.zoneCount asks for {}",
            names.len(),
            want.zone_count
        )));
    }
    Ok(names[..want.zone_count].to_vec())
}

/// Put what exists into the registry, so steps find their dependencies.
pub fn seed(registry: &Registry, obs: &Observed) {
    if let Some(v) = &obs.vpc {
        registry.set("vpc", &v.id);
    }
    if let Some(g) = &obs.igw {
        registry.set("igw", &g.id);
        if g.attached_to.is_some() && g.attached_to == obs.vpc.as_ref().map(|v| v.id.clone()) {
            registry.set(IGW_ATTACHED, &g.id);
        }
    }
    for (c, s) in &obs.subnets {
        registry.set(c, &s.id);
    }
    for (c, t) in &obs.route_tables {
        registry.set(c, &t.id);
    }
    for (c, g) in &obs.groups {
        registry.set(c, &g.id);
    }
    if let Some(e) = &obs.eip {
        registry.set("eip/nat", &e.allocation_id);
        if let Some(ip) = &e.public_ip {
            registry.set(EIP_ADDRESS, ip);
        }
    }
    for (role, lb) in &obs.api_lbs {
        registry.set(role.lb(), &lb.arn);
        registry.set(role.dns(), &lb.dns_name);
    }
    for (role, tg) in &obs.api_tgs {
        registry.set(role.target_group(), &tg.arn);
    }
    if let Some(n) = &obs.nat {
        registry.set("nat", &n.id);
        if let Some(ip) = &n.public_ip {
            registry.set(EIP_ADDRESS, ip);
        }
        if n.state == "available" {
            registry.set(NAT_AVAILABLE, &n.id);
        }
    }
}

/// `status.network` from what exists now.
pub fn build(
    cluster: &str,
    want: &Desired,
    obs: &Observed,
    zones: &[String],
    registry: &Registry,
) -> NetworkStatus {
    let subnets = match &want.byo {
        Some(b) => b
            .subnet_ids
            .iter()
            .filter_map(|id| obs.subnets.get(&format!("byo/{id}")))
            .map(|s| SubnetStatus {
                id: s.id.clone(),
                zone: s.zone.clone(),
                cidr: s.cidr.clone(),
                public: s.map_public_ip,
            })
            .collect(),
        None => want
            .subnets(zones)
            .into_iter()
            .filter_map(|s| {
                Some(SubnetStatus {
                    id: registry.get(&s.component)?,
                    zone: s.zone,
                    cidr: s.cidr.to_string(),
                    public: s.public,
                })
            })
            .collect(),
    };
    let lb_status = |role: Role| {
        let (_, scheme) = want.api_lbs().into_iter().find(|(r, _)| *r == role)?;
        Some(ApiLoadBalancerStatus {
            name: crate::api_lb::name(cluster, role),
            scheme: scheme.to_string(),
            arn: registry.get(role.lb()),
            dns_name: registry.get(role.dns()),
            target_group_arn: registry.get(role.target_group()),
        })
    };
    let route_tables = ["rtb/public", "rtb/private"]
        .into_iter()
        .filter_map(|t| Some((t.trim_start_matches("rtb/").to_string(), registry.get(t)?)))
        .collect();
    NetworkStatus {
        vpc_id: registry.get("vpc"),
        vpc_cidr: obs
            .vpc
            .as_ref()
            .map(|v| v.cidr.clone())
            .unwrap_or_else(|| want.vpc_cidr.to_string()),
        owned: want.byo.is_none(),
        zones: zones.to_vec(),
        subnets,
        internet_gateway_id: registry.get("igw"),
        nat_gateway_id: registry.get("nat"),
        nat_public_ip: registry.get(EIP_ADDRESS),
        route_tables,
        security_groups: SecurityGroups {
            control_plane: registry.get(SG_CONTROL_PLANE),
            workers: registry.get(SG_WORKERS),
            api_load_balancer: registry.get(SG_API_LB),
        },
        api_load_balancer: lb_status(Role::Admin),
        api_internal_load_balancer: lb_status(Role::Nodes),
        plan: None,
    }
}
