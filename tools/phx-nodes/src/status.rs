//! `status.nodes`: the cluster's instances as later stages need them,
//! control plane first, each with its SSH endpoint. Host keys already known
//! for an instance (from its console, or pinned by phx-kubeadm) are kept.

use crate::desired::parse_name;
use crate::observed::Have;
use phx_core::status::{Node, SshEndpoint};

pub fn build(cluster: &str, user: &str, previous: &[Node], haves: &[Have]) -> Vec<Node> {
    let mut nodes: Vec<(u8, u32, Node)> = haves
        .iter()
        .filter(|h| h.is_alive())
        .filter_map(|h| {
            let (role, index) = parse_name(cluster, &h.name)?;
            let known = previous
                .iter()
                .find(|n| n.instance_id.as_deref() == Some(h.instance_id.as_str()))
                .map(|n| n.ssh.host_keys.clone())
                .unwrap_or_default();
            let host = h
                .public_ip
                .clone()
                .or_else(|| h.private_ip.clone())
                .unwrap_or_default();
            let node = Node {
                name: h.name.clone(),
                role,
                instance_id: Some(h.instance_id.clone()),
                zone: h.zone.clone(),
                private_ip: h.private_ip.clone(),
                private_dns: h.private_dns.clone(),
                public_ip: h.public_ip.clone(),
                image_id: h.image_id.clone(),
                instance_type: h.instance_type.clone(),
                ssh: SshEndpoint {
                    host,
                    port: 22,
                    user: user.to_string(),
                    host_keys: known,
                },
            };
            Some((
                u8::from(role != phx_core::status::NodeRole::ControlPlane),
                index,
                node,
            ))
        })
        .collect();
    nodes.sort_by_key(|a| (a.0, a.1));
    // One entry per name: the oldest instance (haves come oldest first).
    let mut seen = std::collections::BTreeSet::new();
    nodes
        .into_iter()
        .map(|(_, _, n)| n)
        .filter(|n| seen.insert(n.name.clone()))
        .collect()
}
