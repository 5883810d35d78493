//! The nodes of `status.nodes` as SSH targets, and the connector that
//! reaches them: credentials, the connect timeout, the jump host. Host keys
//! accepted on first contact are pinned back into the document.

use crate::cli::SshArgs;
use phx_core::home::expand_home;
use phx_core::stage::Mine;
use phx_core::status::{key, Node};
use phx_core::{Document, Error, Result};
use phx_ssh::auth::Credentials;
use phx_ssh::{Connector, HostKeyPolicy, Target, Verdict};

pub fn nodes(doc: &Document) -> Result<Vec<Node>> {
    let nodes: Vec<Node> = doc.get::<key::Nodes>()?.unwrap_or_default().instances;
    if nodes.is_empty() {
        return Err(Error::invalid(
            "status.nodes.instances is empty: run phx-nodes apply first",
        ));
    }
    for n in &nodes {
        if n.ssh.host.is_empty() {
            return Err(Error::invalid(format!(
                "status.nodes.instances: {} has no ssh.host",
                n.name
            )));
        }
    }
    Ok(nodes)
}

pub fn target(node: &Node, args: &SshArgs) -> Target {
    Target {
        name: node.name.clone(),
        host: node.ssh.host.clone(),
        port: node.ssh.port,
        user: node.ssh.user.clone(),
        host_keys: HostKeyPolicy {
            pinned: node.ssh.host_keys.clone(),
            known_hosts: Some(expand_home(&args.known_hosts)),
            accept_new: args.accept_new_host_keys,
        },
    }
}

/// Credentials from ssh-agent and the private key file, and the jump host
/// when the spec names one.
pub async fn connector(doc: &Document, args: &SshArgs) -> Result<Connector> {
    let ssh = &doc.spec().nodes.ssh;
    let key = match &ssh.private_key_file {
        Some(p) => {
            let p = expand_home(p);
            if !p.exists() {
                return Err(Error::invalid(format!(
                    "spec.nodes.ssh.privateKeyFile: {} does not exist",
                    p.display()
                )));
            }
            Some(p)
        }
        None => phx_core::home::SSH_PRIVATE_KEYS
            .iter()
            .map(|p| expand_home(p))
            .find(|p| p.exists()),
    };
    let connector = Connector::new(Credentials::load(key.as_deref())?, args.connect_timeout);
    let Some(jump) = &ssh.jump_host else {
        return Ok(connector);
    };
    let (user, rest) = jump.split_once('@').unwrap_or((ssh.user.as_str(), jump.as_str()));
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (
            h,
            p.parse()
                .map_err(|_| Error::invalid(format!("spec.nodes.ssh.jumpHost: bad port in {jump:?}")))?,
        ),
        None => (rest, 22),
    };
    let target = Target {
        name: "jump host".into(),
        host: host.to_string(),
        port,
        user: user.to_string(),
        host_keys: HostKeyPolicy {
            pinned: Vec::new(),
            known_hosts: Some(expand_home(&args.known_hosts)),
            accept_new: args.accept_new_host_keys,
        },
    };
    connector.via_jump_host(&target).await
}

/// Record host keys accepted on first contact in `status.nodes`.
pub fn pin(doc: &mut Mine<'_, key::Kubeadm>, accepted: &[(String, Verdict)]) -> Result<()> {
    let pinned: Vec<(String, String)> = accepted
        .iter()
        .filter_map(|(name, v)| match v {
            Verdict::AcceptedNew { key } => {
                tracing::warn!(
                    "{name}: pinned new host key {}",
                    phx_ssh::session::fingerprint_of(key).unwrap_or_default()
                );
                Some((name.clone(), key.clone()))
            }
            _ => None,
        })
        .collect();
    doc.pin_host_keys(&pinned)
}
