//! Stacked etcd's membership, for a control plane that joins again.
//!
//! A control plane whose machine was replaced comes back empty, but etcd
//! still counts its old member (same name, same peer URL). kubeadm's join
//! then skips adding the member ("already exists") and starts an etcd with
//! an empty log under the old identity, which the leader's next heartbeat
//! makes panic. And a machine that was replaced under a new name leaves a
//! member that counts against quorum forever. So before a control plane
//! joins, such members are removed, asked of the leading control plane's
//! own etcd (`scripts/etcd-api.sh`).

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

/// A control plane as the document knows it: its kubelet name (kubeadm
/// names its member so) and private IP (its peer URL `https://IP:2380`).
#[derive(Debug, Clone, PartialEq)]
pub struct Peer {
    pub name: String,
    pub ip: Option<String>,
}

impl Peer {
    pub fn owns(&self, m: &Member) -> bool {
        let peer = self.ip.as_ref().map(|ip| format!("https://{ip}:2380"));
        (!self.name.is_empty() && m.name == self.name) || peer.is_some_and(|p| m.peer_urls.contains(&p))
    }
}

/// The members to remove before `joining` joins: its own earlier one, and
/// any that belongs to no control plane the document lists (a machine
/// since replaced or terminated, which would count against quorum forever).
pub fn stale<'a>(members: &'a [Member], joining: &Peer, control_planes: &[Peer]) -> Vec<&'a Member> {
    members
        .iter()
        .filter(|m| joining.owns(m) || !control_planes.iter().any(|p| p.owns(m)))
        .collect()
}

/// The revision etcd on `node` serves (`maintenance/status`).
pub async fn revision(node: &Session) -> Result<u64> {
    let answer = call(node, "maintenance/status", "{}").await?;
    let v: Value = serde_json::from_str(&answer)
        .map_err(|e| Error::failed(format!("etcd's status is not JSON: {e}")))?;
    // uint64 as a string in the gateway's JSON.
    v["header"]["revision"]
        .as_str()
        .and_then(|r| r.parse().ok())
        .ok_or_else(|| Error::failed(format!("etcd's status has no revision: {answer}")))
}

async fn call(leader: &Session, call: &str, body: &str) -> Result<String> {
    let script = remote::with_vars(
        remote::ETCD_API,
        &[("PHX_ETCD_CALL", call), ("PHX_ETCD_BODY", body)],
    );
    leader.capture(remote::RUN_AS_ROOT, &script).await
}

/// Before `joining` joins as a control plane: the stale members
/// (`stale`) removed on `leader`, one at a time.
pub async fn remove_stale(leader: &Session, joining: &Peer, control_planes: &[Peer]) -> Result<()> {
    let members = list(leader).await?;
    remove(leader, stale(&members, joining, control_planes)).await
}

/// When `peer` leaves: its own member removed on `leader` (only its own:
/// another control plane's, still running, is not this step's to remove).
pub async fn remove_own(leader: &Session, peer: &Peer) -> Result<()> {
    let members = list(leader).await?;
    remove(leader, members.iter().filter(|m| peer.owns(m)).collect()).await
}

pub async fn list(leader: &Session) -> Result<Vec<Member>> {
    parse(&call(leader, "cluster/member/list", "{}").await?)
}

async fn remove(leader: &Session, members: Vec<&Member>) -> Result<()> {
    for m in members {
        tracing::info!(
            "etcd member {} ({} {}): removing it",
            m.id,
            m.name,
            m.peer_urls.join(","),
        );
        let body = serde_json::json!({ "ID": m.id }).to_string();
        call(leader, "cluster/member/remove", &body).await?;
    }
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

    fn peer(name: &str, ip: &str) -> Peer {
        Peer {
            name: name.into(),
            ip: Some(ip.into()),
        }
    }

    #[test]
    fn the_joining_nodes_earlier_member_and_members_of_no_control_plane() {
        let m = parse(LIST).unwrap();
        let ids = |v: Vec<&Member>| v.into_iter().map(|m| m.id.clone()).collect::<Vec<_>>();
        let all = [
            peer("ip-10-0-0-5.ec2.internal", "10.0.0.5"),
            peer("ip-10-0-16-5.ec2.internal", "10.0.16.5"),
            peer("ip-10-0-32-5.ec2.internal", "10.0.32.5"),
        ];
        // By name, and (the unstarted one has none) by peer URL.
        assert_eq!(ids(stale(&m, &all[0], &all)), ["11857714448295288924"]);
        assert_eq!(ids(stale(&m, &all[1], &all)), ["13165641254652421808"]);
        // A new control plane: nothing of it in etcd, every member owned.
        assert!(stale(&m, &peer("ip-10-0-48-5.ec2.internal", "10.0.48.5"), &all).is_empty());
        // The machine at 10.0.32.5 was replaced by one with another name
        // and address: its member goes, the others stay.
        let now = [
            all[0].clone(),
            all[1].clone(),
            peer("ip-10-0-33-9.ec2.internal", "10.0.33.9"),
        ];
        assert_eq!(ids(stale(&m, &now[2], &now)), ["949732870781840173"]);
        // 10.0.0.5 is not 10.0.0.50, and an empty name matches nothing.
        let odd = [all[1].clone(), all[2].clone(), peer("", "10.0.0.50")];
        assert_eq!(ids(stale(&m, &odd[2], &odd)), ["11857714448295288924"]);
    }

    #[test]
    fn anything_else_is_an_error() {
        assert!(parse("curl: (7) Failed to connect").is_err());
        assert!(parse(r#"{"members":[{"name":"x"}]}"#).is_err());
        assert!(parse(r#"{"error":"etcdserver: no leader"}"#).is_err());
    }
}
