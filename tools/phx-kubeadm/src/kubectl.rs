//! The cluster as the leading control plane's kubectl sees it, over SSH:
//! versions, Nodes, draining and readiness for `phx-kubeadm upgrade`.
//! kubectl runs as root against that control plane's own API server
//! ([`crate::apply::LOCAL_API`]): no kubeconfig leaves the node and no
//! request goes through a load balancer that may still send it to a
//! control plane being restarted.

use crate::apply::LOCAL_API;
use crate::remote::quote;
use crate::skew::{NodeFacts, Semver};
use phx_core::{Error, Result};
use phx_ssh::Session;
use serde_json::Value;
use std::time::Duration;

async fn kubectl(leader: &Session, args: &str) -> Result<String> {
    leader
        .capture(&format!("sudo -n kubectl {LOCAL_API} {args}"), b"")
        .await
        .map_err(|e| e.context(format!("kubectl {args}")))
}

async fn json(leader: &Session, args: &str) -> Result<Value> {
    let out = kubectl(leader, &format!("{args} -o json")).await?;
    serde_json::from_str(&out).map_err(|e| Error::failed(format!("kubectl {args}: not JSON: {e}")))
}

/// The API server's version.
pub async fn api_version(leader: &Session) -> Result<Semver> {
    let v = json(leader, "version").await?;
    let text = v["serverVersion"]["gitVersion"].as_str().unwrap_or_default();
    Semver::parse(text).ok_or_else(|| Error::failed(format!("the API server reports version {text:?}")))
}

/// Every Node.
pub async fn nodes(leader: &Session) -> Result<Vec<NodeFacts>> {
    Ok(parse_nodes(&json(leader, "get nodes").await?))
}

fn parse_nodes(list: &Value) -> Vec<NodeFacts> {
    let items = list["items"].as_array().map(Vec::as_slice).unwrap_or_default();
    items
        .iter()
        .map(|n| NodeFacts {
            name: n["metadata"]["name"].as_str().unwrap_or_default().to_string(),
            ready: conditions(n).any(|(t, s)| t == "Ready" && s == "True"),
            kubelet: n["status"]["nodeInfo"]["kubeletVersion"]
                .as_str()
                .and_then(Semver::parse)
                .unwrap_or(Semver { minor: 0, patch: 0 }),
            unschedulable: n["spec"]["unschedulable"].as_bool().unwrap_or(false),
        })
        .collect()
}

fn conditions(o: &Value) -> impl Iterator<Item = (&str, &str)> {
    o["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            (
                c["type"].as_str().unwrap_or_default(),
                c["status"].as_str().unwrap_or_default(),
            )
        })
}

/// Cordon `node` and evict its pods (PodDisruptionBudgets respected),
/// DaemonSet pods left; `force`: delete what will not go. A drain that
/// does not finish within `timeout` is an error naming the budgets and
/// pods in the way.
pub async fn drain(leader: &Session, node: &str, timeout: Duration, force: bool) -> Result<()> {
    let mut args = format!(
        "drain {} --ignore-daemonsets --delete-emptydir-data --timeout={}s",
        quote(node),
        timeout.as_secs().max(1)
    );
    if force {
        args.push_str(" --force --disable-eviction");
    }
    let out = leader
        .exec(&format!("sudo -n kubectl {LOCAL_API} {args}"), b"", |l| {
            tracing::debug!("{node} | {l}")
        })
        .await
        .map_err(|e| e.context(format!("draining {node}")))?;
    if out.code == 0 {
        return Ok(());
    }
    let blocked = match (json(leader, "get pdb -A").await, pods_on(leader, node).await) {
        (Ok(pdbs), Ok(pods)) => blocking(&pdbs, &pods),
        _ => String::new(),
    };
    let last = out.tail.last().cloned().unwrap_or_default();
    Err(Error::failed(format!(
        "draining {node} did not finish within {} s{blocked} ({last}); it stays cordoned; fix \
         that and run again, or --force-drain (deletes its pods whatever their budgets say)",
        timeout.as_secs()
    )))
}

async fn pods_on(leader: &Session, node: &str) -> Result<Value> {
    json(
        leader,
        &format!("get pods -A --field-selector spec.nodeName={}", quote(node)),
    )
    .await
}

/// Which PodDisruptionBudgets allow no disruption now, and which of the
/// node's pods (not DaemonSets' nor static pods' mirrors) they cover:
/// `: PodDisruptionBudget ns/name allows no disruption (minAvailable 2)
/// for pods ns/a, ns/b`, or nothing when none does.
fn blocking(pdbs: &Value, pods: &Value) -> String {
    let pods: Vec<&Value> = pods["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| {
            let daemon = p["metadata"]["ownerReferences"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|o| o["kind"] == "DaemonSet");
            let mirror = p["metadata"]["annotations"]["kubernetes.io/config.mirror"].is_string();
            !daemon && !mirror
        })
        .collect();
    let mut said = Vec::new();
    for b in pdbs["items"].as_array().into_iter().flatten() {
        if b["status"]["disruptionsAllowed"].as_i64().unwrap_or(0) > 0 {
            continue;
        }
        let ns = b["metadata"]["namespace"].as_str().unwrap_or_default();
        let selector = b["spec"]["selector"]["matchLabels"].as_object();
        let covered: Vec<String> = pods
            .iter()
            .filter(|p| p["metadata"]["namespace"] == ns)
            .filter(|p| selector.is_some_and(|m| m.iter().all(|(k, v)| &p["metadata"]["labels"][k] == v)))
            .map(|p| format!("{ns}/{}", p["metadata"]["name"].as_str().unwrap_or_default()))
            .collect();
        if covered.is_empty() {
            continue;
        }
        let rule = match (&b["spec"]["minAvailable"], &b["spec"]["maxUnavailable"]) {
            (m, _) if !m.is_null() => format!("minAvailable {m}"),
            (_, m) => format!("maxUnavailable {m}"),
        };
        said.push(format!(
            "PodDisruptionBudget {ns}/{} allows no disruption ({rule}) for pods {}",
            b["metadata"]["name"].as_str().unwrap_or_default(),
            covered.join(", ")
        ));
    }
    match said.is_empty() {
        true => String::new(),
        false => format!(": {}", said.join("; ")),
    }
}

pub async fn uncordon(leader: &Session, node: &str) -> Result<()> {
    kubectl(leader, &format!("uncordon {}", quote(node)))
        .await
        .map(|_| ())
}

/// Whether the cluster is whole: every Node Ready, every control-plane
/// pod Ready, the API server's `/readyz` ok. `Err` says what is not.
pub async fn whole(leader: &Session) -> Result<()> {
    let ready = kubectl(leader, "get --raw /readyz").await?;
    if ready.trim() != "ok" {
        return Err(Error::failed(format!("/readyz said {}", ready.trim())));
    }
    let not_ready: Vec<String> = nodes(leader)
        .await?
        .into_iter()
        .filter(|n| !n.ready)
        .map(|n| n.name)
        .collect();
    if !not_ready.is_empty() {
        return Err(Error::failed(format!(
            "Nodes not Ready: {}",
            not_ready.join(", ")
        )));
    }
    let pods = json(leader, "get pods -n kube-system -l tier=control-plane").await?;
    let waiting: Vec<&str> = pods["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| !conditions(p).any(|(t, s)| t == "Ready" && s == "True"))
        .map(|p| p["metadata"]["name"].as_str().unwrap_or_default())
        .collect();
    if !waiting.is_empty() {
        return Err(Error::failed(format!(
            "control-plane pods not Ready: {}",
            waiting.join(", ")
        )));
    }
    Ok(())
}

/// Wait (polling every 2 s) until `check` passes (with what it found) or
/// `timeout` ends; the last reason when it does not.
pub async fn until<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    let progress = phx_core::progress::Waiting::start(what);
    loop {
        let why = match check().await {
            Ok(found) => return Ok(found),
            Err(e) => e.to_string(),
        };
        progress.set(format!("{what}: {why}"));
        if tokio::time::Instant::now() >= deadline {
            return Err(Error::failed(format!(
                "{what}: not within {} s: {why}",
                timeout.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nodes_read_ready_version_and_cordon() {
        let list = json!({"items": [
            {"metadata": {"name": "a"}, "spec": {"unschedulable": true},
             "status": {"conditions": [{"type": "Ready", "status": "True"}],
                        "nodeInfo": {"kubeletVersion": "v1.34.4"}}},
            {"metadata": {"name": "b"}, "spec": {},
             "status": {"conditions": [{"type": "Ready", "status": "Unknown"}],
                        "nodeInfo": {"kubeletVersion": "v1.35.4"}}}]});
        let n = parse_nodes(&list);
        assert_eq!(n.len(), 2);
        assert!(n[0].ready && n[0].unschedulable);
        assert_eq!(n[0].kubelet.to_string(), "v1.34.4");
        assert!(!n[1].ready && !n[1].unschedulable);
        assert_eq!(n[1].kubelet.minor, 35);
    }

    #[test]
    fn a_blocked_drain_names_the_budget_and_its_pods_only() {
        let pdbs = json!({"items": [
            {"metadata": {"namespace": "shop", "name": "web"},
             "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}},
             "status": {"disruptionsAllowed": 0}},
            {"metadata": {"namespace": "shop", "name": "api"},
             "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "api"}}},
             "status": {"disruptionsAllowed": 1}}]});
        let pods = json!({"items": [
            {"metadata": {"namespace": "shop", "name": "web-1", "labels": {"app": "web"}}},
            {"metadata": {"namespace": "other", "name": "web-x", "labels": {"app": "web"}}},
            {"metadata": {"namespace": "shop", "name": "api-1", "labels": {"app": "api"}}},
            {"metadata": {"namespace": "shop", "name": "agent", "labels": {"app": "web"},
                          "ownerReferences": [{"kind": "DaemonSet"}]}}]});
        assert_eq!(
            blocking(&pdbs, &pods),
            ": PodDisruptionBudget shop/web allows no disruption (minAvailable 2) for pods shop/web-1"
        );
        assert_eq!(blocking(&pdbs, &json!({"items": []})), "");
    }
}
