//! Stacked etcd's membership, for a control plane that joins again.
//!
//! A control plane whose machine was replaced comes back empty, but etcd
//! still counts its old member (same name, same peer URL). kubeadm's join
//! then skips adding the member ("already exists") and starts an etcd with
//! an empty log under the old identity, which the leader's next heartbeat
//! makes panic. So before such a join, the stale member is removed, asked
//! of a healthy control plane's own etcd (`scripts/etcd-members.sh`).

use crate::remote;
use phx_core::{Error, Result};
use phx_ssh::Session;
use serde_json::Value;

/// One etcd member, as the v3 gateway lists it (IDs are uint64 strings).
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub id: String,
    pub name: String,
    pub peer_urls: Vec<String>,
}

/// The members in `/v3/cluster/member/list`'s answer.
pub fn parse(answer: &str) -> Result<Vec<Member>> {
    let v: Value = serde_json::from_str(answer)
        .map_err(|e| Error::failed(format!("etcd's member list is not JSON: {e}")))?;
    let members = v["members"]
        .as_array()
        .ok_or_else(|| Error::failed("etcd's member list has no members"))?;
    members
        .iter()
        .map(|m| {
            let id = match &m["ID"] {
                Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => s.clone(),
                Value::Number(n) => n.to_string(),
                other => return Err(Error::failed(format!("an etcd member without an ID: {other}"))),
            };
            Ok(Member {
                id,
                // A member added but not started yet has no name.
                name: m["name"].as_str().unwrap_or_default().to_string(),
                peer_urls: m["peerURLs"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|u| u.as_str().map(str::to_string)).collect())
                    .unwrap_or_default(),
            })
        })
        .collect()
}

/// The member that was `name` (kubeadm names members for their node) or
/// listened at `ip` (kubeadm's peer URL `https://IP:2380`).
pub fn stale<'a>(members: &'a [Member], name: &str, ip: Option<&str>) -> Option<&'a Member> {
    let peer = ip.map(|ip| format!("https://{ip}:2380"));
    members.iter().find(|m| {
        (!name.is_empty() && m.name == name) || peer.as_ref().is_some_and(|p| m.peer_urls.contains(p))
    })
}

async fn call(leader: &Session, call: &str, body: &str) -> Result<String> {
    let script = remote::with_vars(
        remote::ETCD_MEMBERS,
        &[("PHX_ETCD_CALL", call), ("PHX_ETCD_BODY", body)],
    );
    leader.capture(remote::RUN_AS_ROOT, &script).await
}

/// Before `name` (at `ip`) joins as a control plane: its old member, if
/// etcd still counts one, removed on `leader`.
pub async fn remove_stale(leader: &Session, name: &str, ip: Option<&str>) -> Result<()> {
    let members = parse(&call(leader, "list", "{}").await?)?;
    let Some(m) = stale(&members, name, ip) else {
        return Ok(());
    };
    tracing::info!(
        "etcd member {} ({}) is left from {name}'s earlier machine: removing it before the join",
        m.id,
        m.peer_urls.join(",")
    );
    let body = serde_json::json!({ "ID": m.id }).to_string();
    call(leader, "remove", &body).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const LIST: &str = r#"{"header":{"cluster_id":"1","member_id":"2","raft_term":"2"},"members":[
        {"ID":"949732870781840173","name":"ip-10-0-32-5.ec2.internal","peerURLs":["https://10.0.32.5:2380"]},
        {"ID":"11857714448295288924","name":"ip-10-0-0-5.ec2.internal","peerURLs":["https://10.0.0.5:2380"]},
        {"ID":"13165641254652421808","peerURLs":["https://10.0.16.5:2380"],"isLearner":true}]}"#;

    #[test]
    fn the_gateways_list_with_uint64_ids_and_an_unstarted_member() {
        let m = parse(LIST).unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(
            m[1].id, "11857714448295288924",
            "beyond f64's precision, kept exact"
        );
        assert_eq!(m[2].name, "");
    }

    #[test]
    fn the_stale_member_by_name_or_by_peer_url() {
        let m = parse(LIST).unwrap();
        assert_eq!(
            stale(&m, "ip-10-0-0-5.ec2.internal", None).unwrap().id,
            "11857714448295288924"
        );
        assert_eq!(
            stale(&m, "other", Some("10.0.16.5")).unwrap().id,
            "13165641254652421808"
        );
        assert_eq!(stale(&m, "ip-10-0-48-5.ec2.internal", Some("10.0.48.5")), None);
        assert_eq!(
            stale(&m, "", Some("10.0.0.50")),
            None,
            "10.0.0.5 is not 10.0.0.50"
        );
    }

    #[test]
    fn anything_else_is_an_error() {
        assert!(parse("curl: (7) Failed to connect").is_err());
        assert!(parse(r#"{"members":[{"name":"x"}]}"#).is_err());
        assert!(parse(r#"{"error":"etcdserver: no leader"}"#).is_err());
    }
}
