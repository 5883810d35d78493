//! Control planes beyond `spec.nodes.controlPlane.count` leaving the
//! cluster (`apply --allow-remove`). Each takes an etcd member with it, so
//! without the flag they are refused, and with it they go one at a time,
//! highest-numbered first, after the control planes that stay have
//! converged: its etcd member removed on the leader, `kubeadm reset` on
//! the node, its Node deleted. phx-nodes then terminates them.

use crate::{apply, etcd, remote};
use phx_core::status::{Node, NodeProgress, NodeRole};
use phx_core::{Error, Result};
use phx_ssh::{Connector, Session, Target};

/// The nodes that stay, and the control planes beyond the count
/// (highest-numbered first). A control plane whose name is not phx's stays.
pub fn split(cluster: &str, count: u32, nodes: Vec<Node>) -> (Vec<Node>, Vec<Node>) {
    let index = |n: &Node| match NodeRole::parse_name(cluster, &n.name) {
        Some((NodeRole::ControlPlane, i)) if n.role == NodeRole::ControlPlane => Some(i),
        _ => None,
    };
    let (mut leaving, staying): (Vec<Node>, Vec<Node>) = nodes
        .into_iter()
        .partition(|n| index(n).is_some_and(|i| i > count));
    leaving.sort_by_key(|n| std::cmp::Reverse(index(n)));
    (staying, leaving)
}

/// Without `--allow-remove` (exit 65, before any node is touched).
pub fn refused(count: u32, leaving: &[Node]) -> Error {
    let names: Vec<&str> = leaving.iter().map(|n| n.name.as_str()).collect();
    Error::invalid(format!(
        "spec.nodes.controlPlane.count is {count} but {} {} control planes too: each takes an etcd \
         member with it; re-run with --allow-remove to have them leave the cluster one at a time",
        names.join(", "),
        if names.len() == 1 { "is" } else { "are" }
    ))
}

/// `node` leaves the cluster `leader` holds.
pub async fn leave(
    leader: &Session,
    connector: &Connector,
    node: &Node,
    target: &Target,
    width: usize,
) -> NodeProgress {
    let mut progress = NodeProgress::default();
    if let Err(e) = steps(leader, connector, node, target, width).await {
        progress.error = Some(e.to_string());
    }
    progress
}

/// Its etcd member first, through the leader, while it still runs: etcd
/// then shrinks by one with quorum kept at every step (kubeadm reset's
/// own removal needs the cluster's configuration, which it may fail to
/// read, and a member whose data is gone but which is still counted takes
/// quorum with it).
async fn steps(
    leader: &Session,
    connector: &Connector,
    node: &Node,
    target: &Target,
    width: usize,
) -> Result<()> {
    tracing::info!("{}: leaving the cluster", node.name);
    etcd::remove_own(leader, &apply::peer(node))
        .await
        .map_err(|e| e.context("removing its etcd member"))?;
    match connector.connect(target).await {
        Ok((session, _)) => {
            apply::run(
                &session,
                width,
                "leave",
                remote::RUN_AS_ROOT,
                remote::RESET.as_bytes(),
            )
            .await?;
            session.close().await;
        }
        // A machine that no longer answers cannot reset; the cluster has
        // forgotten it all the same.
        Err(e) => tracing::warn!("{}: kubeadm reset skipped: {e}", node.name),
    }
    apply::delete_node(leader, node).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn node(name: &str, role: NodeRole) -> Node {
        serde_json::from_value(serde_json::json!({
            "name": name, "role": role, "ssh": {"host": "127.0.0.1", "port": 22, "user": "u"}
        }))
        .unwrap()
    }

    #[test]
    fn control_planes_beyond_the_count_leave_highest_first() {
        let nodes = vec![
            node("p-control-plane-1", NodeRole::ControlPlane),
            node("p-control-plane-2", NodeRole::ControlPlane),
            node("p-control-plane-3", NodeRole::ControlPlane),
            node("p-worker-7", NodeRole::Worker),
            node("other-control-plane-9", NodeRole::ControlPlane),
        ];
        let (staying, leaving) = split("p", 1, nodes.clone());
        let names = |v: &[Node]| v.iter().map(|n| n.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&leaving), ["p-control-plane-3", "p-control-plane-2"]);
        assert_eq!(
            names(&staying),
            ["p-control-plane-1", "p-worker-7", "other-control-plane-9"],
            "workers are phx-nodes' to remove; a name not phx's is never inferred"
        );
        assert!(split("p", 3, nodes).1.is_empty());
        let e = refused(1, &leaving).to_string();
        assert!(
            e.contains("p-control-plane-3, p-control-plane-2 are control planes too"),
            "{e}"
        );
    }
}
