//! The nodes the spec asks for, each with a stable name, a zone and
//! everything needed to launch it, from `spec.nodes` and what phx-net and
//! phx-iam recorded. Pure: no AWS call, so bad input fails before any.

use phx_core::spec::{NodeGroupSpec, NodesSpec};
use phx_core::status::{IamStatus, NetworkStatus, NodeRole};
use phx_core::{Error, Result};

#[derive(Debug, Clone, PartialEq)]
pub struct NodeWant {
    pub name: String,
    pub role: NodeRole,
    /// 1-based number within the role (`worker-3` is 3).
    pub index: u32,
    pub zone: String,
    pub subnet_id: String,
    pub instance_type: String,
    pub disk_gib: u32,
    pub security_group: String,
    pub instance_profile_arn: String,
}

/// What phx-net and phx-iam made, as much as launching needs.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// Public subnets in zone order: nodes go round-robin over them.
    pub subnets: Vec<(String, String)>,
    pub vpc_id: String,
    pub sg: [String; 2],
    pub profile: [String; 2],
}

impl Inputs {
    pub fn from_status(net: Option<NetworkStatus>, iam: Option<IamStatus>) -> Result<Inputs> {
        let net = net.ok_or_else(|| Error::invalid("status.network is missing: run phx-net apply first"))?;
        let iam = iam.ok_or_else(|| Error::invalid("status.iam is missing: run phx-iam apply first"))?;
        let mut subnets: Vec<(String, String)> = net
            .subnets
            .iter()
            .filter(|s| s.public)
            .map(|s| (s.zone.clone(), s.id.clone()))
            .collect();
        let order = |z: &str| net.zones.iter().position(|x| x == z).unwrap_or(usize::MAX);
        subnets.sort_by(|a, b| order(&a.0).cmp(&order(&b.0)).then(a.0.cmp(&b.0)));
        if subnets.is_empty() {
            return Err(Error::invalid(
                "status.network has no public subnet: run phx-net apply first",
            ));
        }
        let missing = |what: &str| Error::invalid(format!("{what} is missing: run phx-net apply first"));
        let sg_cp = net
            .security_groups
            .control_plane
            .ok_or_else(|| missing("status.network.securityGroups.controlPlane"))?;
        let sg_w = net
            .security_groups
            .workers
            .ok_or_else(|| missing("status.network.securityGroups.workers"))?;
        let vpc_id = net.vpc_id.ok_or_else(|| missing("status.network.vpcId"))?;
        let profile = |id: Option<phx_core::status::NodeIdentity>, what: &str| {
            id.map(|i| i.instance_profile_arn).ok_or_else(|| {
                Error::invalid(format!("status.iam.{what} is missing: run phx-iam apply first"))
            })
        };
        Ok(Inputs {
            subnets,
            vpc_id,
            sg: [sg_cp, sg_w],
            profile: [
                profile(iam.control_plane, "controlPlane")?,
                profile(iam.workers, "workers")?,
            ],
        })
    }
}

impl Inputs {
    /// Stand-ins for what phx-net and phx-iam have not made yet, so a plan
    /// of a fresh cluster can say which nodes would be launched where.
    pub fn to_be_made(net: &phx_core::spec::NetworkSpec) -> Inputs {
        let zones: Vec<String> = match net.zones.is_empty() {
            false => net.zones.clone(),
            true => (1..=net.zone_count).map(|i| format!("zone {i}")).collect(),
        };
        let new = |what: &str| format!("(new {what})");
        Inputs {
            subnets: zones.into_iter().map(|z| (z, new("subnet"))).collect(),
            vpc_id: new("VPC"),
            sg: [new("security group"), new("security group")],
            profile: [new("instance profile"), new("instance profile")],
        }
    }
}

/// Every node the spec asks for, control plane first.
pub fn nodes(cluster: &str, spec: &NodesSpec, inputs: &Inputs) -> Result<Vec<NodeWant>> {
    check_group("spec.nodes.controlPlane", &spec.control_plane)?;
    check_group("spec.nodes.workers", &spec.workers)?;
    if spec.control_plane.count == 0 {
        return Err(Error::invalid(
            "spec.nodes.controlPlane.count: at least one control plane node",
        ));
    }
    let mut out = Vec::new();
    for (role, group, slot) in [
        (NodeRole::ControlPlane, &spec.control_plane, 0),
        (NodeRole::Worker, &spec.workers, 1),
    ] {
        for index in 1..=group.count {
            let (zone, subnet) = &inputs.subnets[(index as usize - 1) % inputs.subnets.len()];
            out.push(NodeWant {
                name: role.node_name(cluster, index),
                role,
                index,
                zone: zone.clone(),
                subnet_id: subnet.clone(),
                instance_type: group.instance_type.clone(),
                disk_gib: group.disk_gib,
                security_group: inputs.sg[slot].clone(),
                instance_profile_arn: inputs.profile[slot].clone(),
            });
        }
    }
    Ok(out)
}

/// The fields that reach AWS or the nodes as text: an AMI id of AMI's
/// form, an SSH user name a shell and sshd read as one plain word.
pub fn check_fields(spec: &NodesSpec) -> Result<()> {
    if let Some(id) = &spec.image.id {
        let hex = id.strip_prefix("ami-").unwrap_or_default();
        if !(8..=17).contains(&hex.len()) || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::invalid(format!(
                "spec.nodes.image.id: {id:?} is not an AMI id (like ami-0abcdef1234567890)"
            )));
        }
    }
    let user = &spec.ssh.user;
    let plain = user.len() <= 32
        && user
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
        && user
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if !plain {
        return Err(Error::invalid(format!(
            "spec.nodes.ssh.user: {user:?} is not a user name (like ubuntu)"
        )));
    }
    Ok(())
}

/// Instance types look like `t3.large`; AWS itself is asked before any
/// launch, this only catches what cannot be one.
fn check_group(path: &str, g: &NodeGroupSpec) -> Result<()> {
    let t = &g.instance_type;
    let ok = t.split_once('.').is_some_and(|(family, size)| {
        !family.is_empty()
            && !size.is_empty()
            && t.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
    });
    if !ok {
        return Err(Error::invalid(format!(
            "{path}.instanceType: {t:?} is not an EC2 instance type (like t3.large)"
        )));
    }
    if !(8..=16384).contains(&g.disk_gib) {
        return Err(Error::invalid(format!(
            "{path}.diskGiB: {} is outside 8..16384 (gp3 limits; Ubuntu needs 8)",
            g.disk_gib
        )));
    }
    if g.count > 200 {
        return Err(Error::invalid(format!(
            "{path}.count: {} is more than 200",
            g.count
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn inputs() -> Inputs {
        Inputs {
            subnets: ["a", "b", "c"]
                .iter()
                .map(|z| (format!("us-east-1{z}"), format!("subnet-{z}")))
                .collect(),
            vpc_id: "vpc-1".into(),
            sg: ["sg-cp".into(), "sg-w".into()],
            profile: ["arn:cp".into(), "arn:w".into()],
        }
    }

    #[test]
    fn nodes_go_round_robin_over_the_zones_with_stable_names() {
        let spec = NodesSpec::default();
        let n = nodes("phoenix", &spec, &inputs()).unwrap();
        let got: Vec<_> = n.iter().map(|n| (n.name.as_str(), n.zone.as_str())).collect();
        assert_eq!(
            got,
            [
                ("phoenix-control-plane-1", "us-east-1a"),
                ("phoenix-worker-1", "us-east-1a"),
                ("phoenix-worker-2", "us-east-1b"),
                ("phoenix-worker-3", "us-east-1c"),
            ]
        );
        assert_eq!(n[0].security_group, "sg-cp");
        assert_eq!(n[3].instance_profile_arn, "arn:w");
    }

    #[test]
    fn garbage_instance_types_and_disks_are_refused() {
        let mut spec = NodesSpec::default();
        spec.workers.instance_type = "large".into();
        let e = nodes("p", &spec, &inputs()).unwrap_err();
        assert!(e.to_string().contains("spec.nodes.workers.instanceType"), "{e}");
        let mut spec = NodesSpec::default();
        spec.control_plane.disk_gib = 4;
        assert!(nodes("p", &spec, &inputs()).is_err());
    }
}
