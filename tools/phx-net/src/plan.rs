//! The plan: the steps that take the network from what exists to what the
//! spec wants. `plan` prints them; `apply` runs exactly these, so the two
//! never disagree. On a converged network the plan is empty and apply makes
//! no mutating call.

use crate::api_lb::Role;
use crate::desired::{Desired, SubnetWant, SG_API_LB, SG_CONTROL_PLANE, SG_WORKERS};
use crate::observed::Observed;
use crate::rules::{diff, Rule};

/// One change. `needs` are the components whose ids must exist first.
#[derive(Debug, Clone)]
pub enum Step {
    CreateVpc,
    SetVpcDns,
    CreateIgw,
    AttachIgw,
    CreateSubnet(SubnetWant),
    SetMapPublicIp {
        subnet: String,
    },
    AllocateEip,
    CreateNat {
        subnet: String,
    },
    /// A NAT gateway found pending: wait until it is available.
    WaitNat,
    CreateRouteTable {
        table: String,
    },
    CreateRoute {
        table: String,
        target: String,
    },
    ReplaceRoute {
        table: String,
        target: String,
    },
    Associate {
        table: String,
        subnet: String,
    },
    CreateGroup {
        group: String,
    },
    Authorize {
        group: String,
        rules: Vec<Rule>,
    },
    Revoke {
        group: String,
        rules: Vec<Rule>,
    },
    TagShared {
        what: String,
        id: String,
    },
    CreateTargetGroup(Role),
    /// A target group made with another health check gets `/readyz`.
    CheckReadyz(Role),
    /// In these subnets (components), one per zone.
    CreateLoadBalancer {
        role: Role,
        scheme: &'static str,
        subnets: Vec<String>,
    },
    CreateListener(Role),
}

/// The default route every table has.
pub const DEFAULT_ROUTE: &str = "0.0.0.0/0";

/// Pseudo-components that mark a step done rather than a resource made.
pub const IGW_ATTACHED: &str = "igw/attached";
pub const NAT_AVAILABLE: &str = "nat/available";
/// Not an id: the Elastic IP's address, for the status.
pub const EIP_ADDRESS: &str = "eip/nat/address";

/// A step as shown to people and stored in the document.
pub use phx_core::status::PlannedChange as Change;

impl Step {
    /// Components that must exist before this step runs.
    pub fn needs(&self) -> Vec<String> {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect();
        match self {
            Step::CreateVpc | Step::CreateIgw | Step::AllocateEip | Step::TagShared { .. } => vec![],
            Step::SetVpcDns
            | Step::CreateSubnet(_)
            | Step::CreateRouteTable { .. }
            | Step::CreateGroup { .. }
            | Step::CreateTargetGroup(_) => v(&["vpc"]),
            Step::CheckReadyz(role) => v(&[role.target_group()]),
            Step::CreateLoadBalancer { subnets, .. } => {
                let mut n = subnets.clone();
                n.push(SG_API_LB.into());
                n
            }
            Step::CreateListener(role) => v(&[role.lb(), role.target_group()]),
            Step::AttachIgw => v(&["igw", "vpc"]),
            Step::SetMapPublicIp { subnet } => vec![subnet.clone()],
            Step::CreateNat { subnet } => vec!["eip/nat".into(), subnet.clone()],
            Step::WaitNat => vec!["nat".into()],
            Step::CreateRoute { table, target } | Step::ReplaceRoute { table, target } => {
                let ready = if target == "igw" {
                    IGW_ATTACHED
                } else {
                    NAT_AVAILABLE
                };
                vec![table.clone(), ready.into(), target.clone()]
            }
            Step::Associate { table, subnet } => vec![table.clone(), subnet.clone()],
            // Rules may name the nodes' groups.
            Step::Authorize { group, .. } | Step::Revoke { group, .. } => {
                let mut n = v(&[SG_CONTROL_PLANE, SG_WORKERS]);
                if !n.contains(group) {
                    n.push(group.clone());
                }
                n
            }
        }
    }

    /// The component this step makes (its id becomes known to others).
    pub fn provides(&self) -> Option<String> {
        match self {
            Step::CreateVpc => Some("vpc".into()),
            Step::CreateIgw => Some("igw".into()),
            Step::AttachIgw => Some(IGW_ATTACHED.into()),
            Step::WaitNat => Some(NAT_AVAILABLE.into()),
            Step::CreateSubnet(s) => Some(s.component.clone()),
            Step::AllocateEip => Some("eip/nat".into()),
            Step::CreateNat { .. } => Some("nat".into()),
            Step::CreateRouteTable { table } => Some(table.clone()),
            Step::CreateGroup { group } => Some(group.clone()),
            Step::CreateTargetGroup(role) => Some(role.target_group().into()),
            Step::CreateLoadBalancer { role, .. } => Some(role.lb().into()),
            _ => None,
        }
    }

    pub fn change(&self) -> Change {
        let c =
            |action: &str, kind: &str, name: &str, detail: String| Change::new(action, kind, name, detail);
        match self {
            Step::CreateVpc => c("create", "vpc", "vpc", String::new()),
            Step::SetVpcDns => c("change", "vpc", "vpc", "enable DNS support and hostnames".into()),
            Step::CreateIgw => c("create", "internet-gateway", "igw", String::new()),
            Step::AttachIgw => c("change", "internet-gateway", "igw", "attach to the VPC".into()),
            Step::CreateSubnet(s) => c(
                "create",
                "subnet",
                &s.component,
                format!("{} in {}", s.cidr, s.zone),
            ),
            Step::SetMapPublicIp { subnet } => c("change", "subnet", subnet, "public IPs on launch".into()),
            Step::AllocateEip => c("create", "elastic-ip", "eip/nat", String::new()),
            Step::CreateNat { subnet } => c("create", "nat-gateway", "nat", format!("in {subnet}")),
            Step::WaitNat => c("wait", "nat-gateway", "nat", "until available".into()),
            Step::CreateRouteTable { table } => c("create", "route-table", table, String::new()),
            Step::CreateRoute { table, target } => c(
                "change",
                "route-table",
                table,
                format!("route {DEFAULT_ROUTE} via {target}"),
            ),
            Step::ReplaceRoute { table, target } => c(
                "change",
                "route-table",
                table,
                format!("reroute {DEFAULT_ROUTE} via {target}"),
            ),
            Step::Associate { table, subnet } => {
                c("change", "route-table", table, format!("associate {subnet}"))
            }
            Step::CreateGroup { group } => c("create", "security-group", group, String::new()),
            Step::Authorize { group, rules } => c(
                "change",
                "security-group",
                group,
                format!(
                    "allow {}",
                    rules.iter().map(Rule::describe).collect::<Vec<_>>().join(", ")
                ),
            ),
            Step::Revoke { group, rules } => c(
                "change",
                "security-group",
                group,
                format!(
                    "revoke {}",
                    rules.iter().map(Rule::describe).collect::<Vec<_>>().join(", ")
                ),
            ),
            Step::TagShared { what, id } => c("change", "tag", what, format!("tag {id} as shared")),
            Step::CreateTargetGroup(role) => c(
                "create",
                "target-group",
                role.target_group(),
                "TCP 6443, IP targets, HTTPS /readyz health check".into(),
            ),
            Step::CheckReadyz(role) => c(
                "change",
                "target-group",
                role.target_group(),
                "health check HTTPS /readyz".into(),
            ),
            Step::CreateLoadBalancer {
                role,
                scheme,
                subnets,
            } => c(
                "create",
                "load-balancer",
                role.lb(),
                format!("network, {scheme}, in {}", subnets.join(" ")),
            ),
            Step::CreateListener(role) => c(
                "create",
                "listener",
                role.lb(),
                format!("TCP 6443 to {}", role.target_group()),
            ),
        }
    }
}

/// The steps from `obs` to `want` with the network in `zones`.
pub fn plan(want: &Desired, obs: &Observed, zones: &[String]) -> Vec<Step> {
    let mut steps = Vec::new();
    if want.byo.is_some() {
        plan_byo(obs, &mut steps);
    } else {
        plan_network(want, obs, zones, &mut steps);
    }
    for group in want.groups() {
        let have = obs.groups.get(group);
        if have.is_none() {
            steps.push(Step::CreateGroup { group: group.into() });
        }
        let (add, remove) = diff(
            &want.rules(group),
            have.map(|g| g.rules.as_slice()).unwrap_or(&[]),
        );
        if !add.is_empty() {
            steps.push(Step::Authorize {
                group: group.into(),
                rules: add,
            });
        }
        if !remove.is_empty() {
            steps.push(Step::Revoke {
                group: group.into(),
                rules: remove,
            });
        }
    }
    plan_api_lb(want, obs, zones, &mut steps);
    steps
}

/// The API load balancers, their target groups and the listeners between
/// them (found by the target group naming the load balancer). An
/// internet-facing load balancer goes in the public subnets, an internal one
/// in the private ones when there are any; in a VPC the user brought, in its
/// subnets, one per zone.
fn plan_api_lb(want: &Desired, obs: &Observed, zones: &[String], steps: &mut Vec<Step>) {
    for (role, scheme) in want.api_lbs() {
        let (lb, tg) = (obs.api_lbs.get(&role), obs.api_tgs.get(&role));
        match tg {
            None => steps.push(Step::CreateTargetGroup(role)),
            Some(t) if !t.checks_readyz => steps.push(Step::CheckReadyz(role)),
            Some(_) => {}
        }
        if lb.is_none() {
            let subnets = match &want.byo {
                Some(b) => {
                    // The first of the user's subnets in each zone.
                    let mut zones_taken = std::collections::HashSet::new();
                    let mut first_per_zone = Vec::new();
                    for id in &b.subnet_ids {
                        let component = format!("byo/{id}");
                        if let Some(s) = obs.subnets.get(&component) {
                            if zones_taken.insert(s.zone.clone()) {
                                first_per_zone.push(component);
                            }
                        }
                    }
                    first_per_zone
                }
                None => {
                    let all = want.subnets(zones);
                    let private = scheme == "internal" && all.iter().any(|s| !s.public);
                    all.into_iter()
                        .filter(|s| s.public != private)
                        .map(|s| s.component)
                        .collect()
                }
            };
            steps.push(Step::CreateLoadBalancer {
                role,
                scheme,
                subnets,
            });
        }
        let listening = match (lb, tg) {
            (Some(lb), Some(tg)) => tg.load_balancers.contains(&lb.arn),
            _ => false,
        };
        if !listening {
            steps.push(Step::CreateListener(role));
        }
    }
}

fn plan_byo(obs: &Observed, steps: &mut Vec<Step>) {
    let shared = Some(phx_aws::tags::SHARED.to_string());
    if let Some(v) = obs.vpc.as_ref().filter(|v| v.cluster_tag != shared) {
        steps.push(Step::TagShared {
            what: "vpc".into(),
            id: v.id.clone(),
        });
    }
    let mut subnets: Vec<_> = obs
        .subnets
        .iter()
        .filter(|(_, s)| s.cluster_tag != shared)
        .collect();
    subnets.sort_by_key(|(c, _)| c.as_str());
    for (c, s) in subnets {
        steps.push(Step::TagShared {
            what: c.clone(),
            id: s.id.clone(),
        });
    }
}

fn plan_network(want: &Desired, obs: &Observed, zones: &[String], steps: &mut Vec<Step>) {
    match &obs.vpc {
        None => steps.extend([Step::CreateVpc, Step::SetVpcDns]),
        Some(v) if !(v.dns_support && v.dns_hostnames) => steps.push(Step::SetVpcDns),
        Some(_) => {}
    }
    let vpc_id = obs.vpc.as_ref().map(|v| v.id.as_str());
    match &obs.igw {
        None => steps.extend([Step::CreateIgw, Step::AttachIgw]),
        Some(g) if g.attached_to.as_deref() != vpc_id || vpc_id.is_none() => steps.push(Step::AttachIgw),
        Some(_) => {}
    }
    let subnets = want.subnets(zones);
    for s in &subnets {
        match obs.subnets.get(&s.component) {
            None => {
                steps.push(Step::CreateSubnet(s.clone()));
                if s.public {
                    steps.push(Step::SetMapPublicIp {
                        subnet: s.component.clone(),
                    });
                }
            }
            Some(have) if s.public && !have.map_public_ip => steps.push(Step::SetMapPublicIp {
                subnet: s.component.clone(),
            }),
            Some(_) => {}
        }
    }
    let mut tables = vec![("rtb/public", "igw", true)];
    if want.nat_gateway {
        if obs.nat.as_ref().is_some_and(|n| n.state != "available") {
            steps.push(Step::WaitNat);
        }
        if obs.nat.is_none() {
            if obs.eip.is_none() {
                steps.push(Step::AllocateEip);
            }
            let first = subnets
                .iter()
                .find(|s| s.public)
                .map(|s| s.component.clone())
                .unwrap_or_default();
            steps.push(Step::CreateNat { subnet: first });
        }
        tables.push(("rtb/private", "nat", false));
    }
    for (table, target, public) in tables {
        let have = obs.route_tables.get(table);
        if have.is_none() {
            steps.push(Step::CreateRouteTable { table: table.into() });
        }
        let target_id = match target {
            "igw" => obs.igw.as_ref().map(|g| g.id.as_str()),
            _ => obs.nat.as_ref().map(|n| n.id.as_str()),
        };
        match have.and_then(|t| t.routes.get(DEFAULT_ROUTE)) {
            None => steps.push(Step::CreateRoute {
                table: table.into(),
                target: target.into(),
            }),
            Some(via) if Some(via.as_str()) != target_id => steps.push(Step::ReplaceRoute {
                table: table.into(),
                target: target.into(),
            }),
            Some(_) => {}
        }
        for s in subnets.iter().filter(|s| s.public == public) {
            let associated = match (have, obs.subnets.get(&s.component)) {
                (Some(t), Some(sub)) => t.associations.contains_key(&sub.id),
                _ => false,
            };
            if !associated {
                steps.push(Step::Associate {
                    table: table.into(),
                    subnet: s.component.clone(),
                });
            }
        }
    }
}
