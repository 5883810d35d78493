//! What the network should be, computed from the spec alone and validated
//! before any call is made: a bad spec is an input error (exit 65) that
//! changes nothing anywhere.

use crate::api_lb::Role;
use crate::rules::{Rule, Source};
use ipnet::Ipv4Net;
use phx_core::spec::{ApiLoadBalancer, NetworkSpec};
use phx_core::{Error, Result};

/// The security groups phx-net manages: the nodes' two, and the API load
/// balancer's when there is one.
pub const SG_CONTROL_PLANE: &str = "sg/control-plane";
pub const SG_WORKERS: &str = "sg/workers";
pub const SG_API_LB: &str = "sg/api-lb";

#[derive(Debug, Clone)]
pub struct Desired {
    pub vpc_cidr: Ipv4Net,
    pub admin_cidrs: Vec<Ipv4Net>,
    pub node_port_cidrs: Vec<Ipv4Net>,
    /// Fixed zones, or `None` to take the region's first `zone_count`.
    pub zones: Option<Vec<String>>,
    pub zone_count: usize,
    pub nat_gateway: bool,
    /// Bring your own VPC: its id and subnets; only the groups (and the
    /// API load balancer) are made.
    pub byo: Option<Byo>,
    /// The API load balancer's scheme (`spec.kubernetes.apiLoadBalancer`),
    /// or `None` for none.
    pub api_lb: Option<&'static str>,
}

#[derive(Debug, Clone)]
pub struct Byo {
    pub vpc_id: String,
    pub subnet_ids: Vec<String>,
}

/// One subnet to have: its component tag, zone and CIDR.
#[derive(Debug, Clone, PartialEq)]
pub struct SubnetWant {
    pub component: String,
    pub zone: String,
    pub cidr: Ipv4Net,
    pub public: bool,
}

impl Desired {
    /// `region`: `spec.region` when set (zones must be in it).
    pub fn from_spec(net: &NetworkSpec, region: Option<&str>) -> Result<Desired> {
        let bad = |field: &str, msg: String| Error::invalid(format!("spec.network.{field}: {msg}"));
        let vpc_cidr: Ipv4Net = net
            .vpc_cidr
            .parse()
            .map_err(|e| bad("vpcCidr", format!("{:?} is not an IPv4 CIDR ({e})", net.vpc_cidr)))?;
        if vpc_cidr.prefix_len() > 24 {
            return Err(bad("vpcCidr", format!("{vpc_cidr} is too small (at most /24)")));
        }
        if net.admin_cidrs.is_empty() {
            return Err(bad(
                "adminCidrs",
                "required: the CIDRs allowed to reach SSH and the Kubernetes API (e.g. [\"203.0.113.7/32\"])"
                    .into(),
            ));
        }
        let admin_cidrs = parse_cidrs("adminCidrs", &net.admin_cidrs)?;
        if admin_cidrs.iter().any(|c| c.prefix_len() == 0) {
            if !net.allow_world_ssh {
                return Err(bad(
                    "adminCidrs",
                    "0.0.0.0/0 opens SSH and the API to the whole internet; name your own CIDRs, or set \
                     spec.network.allowWorldSsh: true if you really mean it"
                        .into(),
                ));
            }
            tracing::warn!("SSH and the Kubernetes API are open to 0.0.0.0/0 (spec.network.allowWorldSsh)");
        }
        let node_port_cidrs = if net.node_port_cidrs.is_empty() {
            let mut v = vec![vpc_cidr];
            v.extend(admin_cidrs.iter().copied());
            v
        } else {
            parse_cidrs("nodePortCidrs", &net.node_port_cidrs)?
        };
        let zone_count = usize::from(net.zone_count);
        if !(1..=8).contains(&zone_count) && net.zones.is_empty() {
            return Err(bad("zoneCount", format!("{zone_count} is not between 1 and 8")));
        }
        if net.zones.len() > 8 {
            return Err(bad("zones", "at most 8 zones".into()));
        }
        for z in &net.zones {
            // An availability zone: its region and one letter (us-east-1a).
            let (r, letter) = z.split_at(z.len().saturating_sub(1));
            let ok = phx_core::spec::is_region(r)
                && letter.bytes().all(|b| b.is_ascii_lowercase())
                && region.is_none_or(|want| want == r);
            if !ok {
                let want = region.map_or("a zone like us-east-1a".to_string(), |r| {
                    format!("a zone of {r} (like {r}a)")
                });
                return Err(bad("zones", format!("{z:?} is not {want}")));
            }
        }
        let id_ok = |prefix: &str, id: &str| {
            id.strip_prefix(prefix)
                .is_some_and(|h| (8..=17).contains(&h.len()) && h.bytes().all(|b| b.is_ascii_hexdigit()))
        };
        if let Some(id) = net.vpc_id.as_deref().filter(|id| !id_ok("vpc-", id)) {
            return Err(bad(
                "vpcId",
                format!("{id:?} is not a VPC id (like vpc-0abc12345def67890)"),
            ));
        }
        if let Some(id) = net.subnet_ids.iter().find(|id| !id_ok("subnet-", id)) {
            return Err(bad(
                "subnetIds",
                format!("{id:?} is not a subnet id (like subnet-0abc12345def67890)"),
            ));
        }
        let byo = match (&net.vpc_id, net.subnet_ids.is_empty()) {
            (Some(id), false) => Some(Byo {
                vpc_id: id.clone(),
                subnet_ids: net.subnet_ids.clone(),
            }),
            (Some(_), true) => {
                return Err(bad(
                    "subnetIds",
                    "required with vpcId (the subnets the nodes use)".into(),
                ))
            }
            (None, false) => return Err(bad("subnetIds", "given without vpcId".into())),
            (None, true) => None,
        };
        Ok(Desired {
            vpc_cidr,
            admin_cidrs,
            node_port_cidrs,
            zones: (!net.zones.is_empty()).then(|| net.zones.clone()),
            zone_count: if net.zones.is_empty() {
                zone_count
            } else {
                net.zones.len()
            },
            nat_gateway: net.nat_gateway,
            byo,
            api_lb: None,
        })
    }

    /// With the API load balancer of `spec.kubernetes.apiLoadBalancer`.
    pub fn with_api_lb(self, lb: ApiLoadBalancer) -> Desired {
        Desired {
            api_lb: lb.scheme(),
            ..self
        }
    }

    /// The API load balancers to have, with their schemes: the spec's, and
    /// an internal one for the nodes beside an internet-facing one
    /// (`api_lb`'s header says why).
    pub fn api_lbs(&self) -> Vec<(Role, &'static str)> {
        match self.api_lb {
            None => vec![],
            Some("internet-facing") => vec![(Role::Admin, "internet-facing"), (Role::Nodes, "internal")],
            Some(scheme) => vec![(Role::Admin, scheme)],
        }
    }

    /// The load balancers to look for: those to have, and the spec's role
    /// even without one (a load balancer the spec would drop is refused).
    pub fn api_lb_roles(&self) -> Vec<Role> {
        let roles: Vec<Role> = self.api_lbs().into_iter().map(|(r, _)| r).collect();
        if roles.is_empty() {
            vec![Role::Admin]
        } else {
            roles
        }
    }

    /// The security groups to have.
    pub fn groups(&self) -> Vec<&'static str> {
        let mut g = vec![SG_CONTROL_PLANE, SG_WORKERS];
        if self.api_lb.is_some() {
            g.push(SG_API_LB);
        }
        g
    }

    /// The subnets for these zones: public ones in the first blocks of the
    /// VPC (each 1/16 of it), private ones from the ninth block on.
    pub fn subnets(&self, zones: &[String]) -> Vec<SubnetWant> {
        let blocks: Vec<Ipv4Net> = self
            .vpc_cidr
            .subnets(self.vpc_cidr.prefix_len() + 4)
            .map(|s| s.collect())
            .unwrap_or_default();
        let mut out = Vec::new();
        for (i, zone) in zones.iter().enumerate() {
            out.push(SubnetWant {
                component: format!("subnet/public/{zone}"),
                zone: zone.clone(),
                cidr: blocks[i],
                public: true,
            });
            if self.nat_gateway {
                out.push(SubnetWant {
                    component: format!("subnet/private/{zone}"),
                    zone: zone.clone(),
                    cidr: blocks[8 + i],
                    public: false,
                });
            }
        }
        out
    }

    /// Ingress rules of each group. Protocol 4 (IP-in-IP) carries ports -1,
    /// which AWS accepts and moto needs.
    pub fn rules(&self, group: &str) -> Vec<Rule> {
        let cidr = |c: &Ipv4Net| Source::Cidr(c.to_string());
        // The API from inside the VPC (the load balancers' private
        // addresses among them), and from the admins: on the load
        // balancer's group, or on the control planes' without one.
        let from_vpc = Rule::tcp(6443, 6443, cidr(&self.vpc_cidr), "Kubernetes API from the VPC");
        let from_admins = self
            .admin_cidrs
            .iter()
            .map(|c| Rule::tcp(6443, 6443, cidr(c), "Kubernetes API from admins"));
        if group == SG_API_LB {
            let mut api: Vec<Rule> = std::iter::once(from_vpc).chain(from_admins).collect();
            api.sort();
            api.dedup();
            return api;
        }
        let peers = [SG_CONTROL_PLANE, SG_WORKERS].map(|g| Source::Group(g.to_string()));
        let mut rules = Vec::new();
        for c in &self.admin_cidrs {
            rules.push(Rule::tcp(22, 22, cidr(c), "SSH from admins"));
        }
        if group == SG_CONTROL_PLANE {
            rules.push(from_vpc);
            if self.api_lb.is_none() {
                rules.extend(from_admins);
            }
        }
        for c in &self.node_port_cidrs {
            rules.push(Rule::tcp(30000, 32767, cidr(c), "NodePorts"));
        }
        for p in &peers {
            rules.push(Rule::tcp(179, 179, p.clone(), "Calico BGP"));
            rules.push(Rule::proto("4", Some((-1, -1)), p.clone(), "Calico IP-in-IP"));
            rules.push(Rule::proto("-1", None, p.clone(), "node to node"));
        }
        rules.sort();
        rules.dedup();
        rules
    }
}

fn parse_cidrs(field: &str, cidrs: &[String]) -> Result<Vec<Ipv4Net>> {
    cidrs
        .iter()
        .map(|c| {
            c.parse::<Ipv4Net>()
                .map(|n| n.trunc())
                .map_err(|e| Error::invalid(format!("spec.network.{field}: {c:?} is not an IPv4 CIDR ({e})")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(admin: &[&str]) -> NetworkSpec {
        NetworkSpec {
            admin_cidrs: admin.iter().map(|s| s.to_string()).collect(),
            ..NetworkSpec::default()
        }
    }

    #[test]
    fn subnets_split_the_vpc_without_overlap() {
        let d = Desired::from_spec(&spec(&["203.0.113.7/32"]), None).unwrap();
        let zones: Vec<String> = ["a", "b", "c"].iter().map(|z| format!("us-east-1{z}")).collect();
        let s = d.subnets(&zones);
        let cidrs: Vec<String> = s.iter().map(|s| s.cidr.to_string()).collect();
        assert_eq!(
            cidrs,
            [
                "10.0.0.0/20",
                "10.0.128.0/20",
                "10.0.16.0/20",
                "10.0.144.0/20",
                "10.0.32.0/20",
                "10.0.160.0/20"
            ]
        );
        assert_eq!(s[1].component, "subnet/private/us-east-1a");
    }

    #[test]
    fn admin_cidrs_are_required_and_the_world_is_refused() {
        let e = Desired::from_spec(&spec(&[]), None).unwrap_err();
        assert_eq!(e.kind().code(), 65);
        assert!(
            e.to_string().starts_with("spec.network.adminCidrs: required"),
            "{e}"
        );
        let e = Desired::from_spec(&spec(&["0.0.0.0/0"]), None).unwrap_err();
        assert!(e.to_string().contains("allowWorldSsh"), "{e}");
        let mut s = spec(&["0.0.0.0/0"]);
        s.allow_world_ssh = true;
        assert!(Desired::from_spec(&s, None).is_ok());
        assert!(Desired::from_spec(&spec(&["not-a-cidr"]), None).is_err());
    }

    #[test]
    fn ssh_only_from_admins_and_the_api_only_on_the_control_plane() {
        let d = Desired::from_spec(&spec(&["203.0.113.7/32"]), None).unwrap();
        for g in [SG_CONTROL_PLANE, SG_WORKERS] {
            let ssh: Vec<_> = d.rules(g).into_iter().filter(|r| r.from == Some(22)).collect();
            assert_eq!(ssh.len(), 1);
            assert_eq!(ssh[0].source, Source::Cidr("203.0.113.7/32".into()));
        }
        assert!(d.rules(SG_WORKERS).iter().all(|r| r.from != Some(6443)));
        let api = |d: &Desired| -> Vec<Source> {
            d.rules(SG_CONTROL_PLANE)
                .into_iter()
                .filter(|r| r.from == Some(6443))
                .map(|r| r.source)
                .collect()
        };
        // No load balancer: the admins reach the control plane itself.
        assert_eq!(
            api(&d),
            [
                Source::Cidr("10.0.0.0/16".into()),
                Source::Cidr("203.0.113.7/32".into())
            ]
        );
        // Behind load balancers: the VPC only (their private addresses);
        // the admins are the load balancer's group's business.
        let behind = d
            .clone()
            .with_api_lb(phx_core::spec::ApiLoadBalancer::InternetFacing);
        assert_eq!(api(&behind), [Source::Cidr("10.0.0.0/16".into())]);
        assert!(behind.rules(SG_API_LB).contains(&Rule::tcp(
            6443,
            6443,
            Source::Cidr("203.0.113.7/32".into()),
            ""
        )));
    }
}
