//! `status.nodes`: the cluster's instances as later stages need them,
//! control plane first, each with its SSH endpoint. Host keys already known
//! for an instance (from its console, or pinned by phx-kubeadm) are kept.

use crate::observed::Have;
use phx_core::spec::SshSpec;
use phx_core::status::{Node, NodeRole, SshEndpoint};

pub fn build(cluster: &str, ssh: &SshSpec, previous: &[Node], haves: &[Have]) -> Vec<Node> {
    let user = ssh.user.as_str();
    let mut nodes: Vec<(u8, u32, Node)> = haves
        .iter()
        .filter(|h| h.is_alive())
        .filter_map(|h| {
            let (role, index) = NodeRole::parse_name(cluster, &h.name)?;
            let known = previous
                .iter()
                .find(|n| n.instance_id.as_deref() == Some(h.instance_id.as_str()))
                .map(|n| n.ssh.host_keys.clone())
                .unwrap_or_default();
            let default = h
                .public_ip
                .clone()
                .or_else(|| h.private_ip.clone())
                .unwrap_or_default();
            let (host, port) = match ssh.endpoints.get(&h.name).map(|e| endpoint(e)) {
                Some(Ok(hp)) => hp,
                _ => (default, 22),
            };
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
                    port,
                    user: user.to_string(),
                    host_keys: known,
                },
            };
            Some((u8::from(role != NodeRole::ControlPlane), index, node))
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

/// `host:port` (or `host`, port 22) of `spec.nodes.ssh.endpoints`.
pub fn endpoint(e: &str) -> Result<(String, u16), phx_core::Error> {
    let bad = || phx_core::Error::invalid(format!("spec.nodes.ssh.endpoints: {e:?} is not host:port"));
    let (host, port) = match e.rsplit_once(':') {
        Some((h, p)) => (h, p.parse::<u16>().map_err(|_| bad())?),
        None => (e, 22),
    };
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err(bad());
    }
    Ok((host.to_string(), port))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn have(name: &str) -> Have {
        Have {
            name: name.into(),
            instance_id: format!("i-{name}"),
            state: "running".into(),
            zone: None,
            instance_type: None,
            image_id: None,
            private_ip: Some("10.0.0.5".into()),
            private_dns: None,
            public_ip: Some("54.1.2.3".into()),
            launched: None,
            http_tokens: None,
        }
    }

    #[test]
    fn an_endpoint_override_replaces_public_ip_and_port() {
        let mut ssh = SshSpec::default();
        ssh.endpoints.insert("p-worker-1".into(), "127.0.0.3:2201".into());
        let nodes = build("p", &ssh, &[], &[have("p-worker-1"), have("p-control-plane-1")]);
        assert_eq!((nodes[0].ssh.host.as_str(), nodes[0].ssh.port), ("54.1.2.3", 22));
        assert_eq!(
            (nodes[1].ssh.host.as_str(), nodes[1].ssh.port),
            ("127.0.0.3", 2201)
        );
        assert!(endpoint("host:notaport").is_err());
        assert_eq!(
            endpoint("bastion.example.com").unwrap(),
            ("bastion.example.com".into(), 22)
        );
    }
}
