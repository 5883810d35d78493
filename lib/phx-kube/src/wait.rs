//! Waiting until things are ready, all of them polled together, with a
//! timeout whose message names what is not ready and why (from its
//! conditions), as `kubectl describe` would tell you.

use crate::err;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ApiResource, DynamicObject, ListParams};
use kube::Client;
use phx_core::backoff::Backoff;
use phx_core::{Error, Result};
use serde_json::Value;
use std::time::Duration;

/// What to wait for.
#[derive(Debug, Clone)]
pub enum Check {
    /// A Deployment, StatefulSet or DaemonSet rolled out and ready.
    Workload {
        resource: ApiResource,
        namespace: String,
        name: String,
    },
    /// An Argo CD Application Synced and Healthy.
    Application {
        resource: ApiResource,
        namespace: String,
        name: String,
    },
    /// Every node Ready.
    NodesReady,
    /// Every node has a providerID and no `uninitialized` taint (the cloud
    /// controller manager initialized it).
    NodesInitialized,
}

pub async fn until_ready(client: &Client, checks: &[Check], timeout: Duration) -> Result<()> {
    let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(5), timeout);
    let progress = phx_core::progress::Waiting::start("the cluster's objects to be ready");
    loop {
        let mut waiting = Vec::new();
        for c in checks {
            if let Some(why) = check(client, c).await? {
                waiting.push(why);
            }
        }
        if waiting.is_empty() {
            return Ok(());
        }
        progress.set(waiting.join("; "));
        if !backoff.wait().await {
            return Err(Error::failed(format!(
                "timed out after {}: {}",
                phx_core::time::format_duration(timeout),
                waiting.join("; ")
            )));
        }
    }
}

/// `None` when ready, else why not.
async fn check(client: &Client, c: &Check) -> Result<Option<String>> {
    match c {
        Check::Workload {
            resource,
            namespace,
            name,
        }
        | Check::Application {
            resource,
            namespace,
            name,
        } => {
            let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, resource);
            let what = format!("{} {namespace}/{name}", resource.kind);
            let Some(o) = api.get_opt(name).await.map_err(|e| err(&what, e))? else {
                return Ok(Some(format!("{what} does not exist")));
            };
            let v = serde_json::to_value(&o).unwrap_or_default();
            let why = match c {
                Check::Application { .. } => application(&v),
                _ => workload(&resource.kind, &v),
            };
            Ok(why.map(|w| format!("{what} {w}")))
        }
        Check::NodesReady | Check::NodesInitialized => {
            let nodes: Api<Node> = Api::all(client.clone());
            let list = nodes
                .list(&ListParams::default())
                .await
                .map_err(|e| err("listing nodes", e))?;
            if list.items.is_empty() {
                return Ok(Some("no node has registered".into()));
            }
            let mut not = Vec::new();
            for n in &list.items {
                let v = serde_json::to_value(n).unwrap_or_default();
                let name = n.metadata.name.clone().unwrap_or_default();
                let why = match c {
                    Check::NodesReady => node_ready(&v),
                    _ => node_initialized(&v),
                };
                if let Some(w) = why {
                    not.push(format!("Node {name} {w}"));
                }
            }
            Ok((!not.is_empty()).then(|| not.join(", ")))
        }
    }
}

fn condition<'a>(v: &'a Value, kind: &str) -> Option<&'a Value> {
    v["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind)
}

fn reason(c: &Value) -> String {
    let r = c["reason"].as_str().unwrap_or_default();
    match c["message"].as_str() {
        Some(m) if !m.is_empty() => format!("{r}: {m}"),
        _ => r.to_string(),
    }
}

pub fn workload(kind: &str, v: &Value) -> Option<String> {
    let s = &v["status"];
    let generation = v["metadata"]["generation"].as_i64().unwrap_or(0);
    if s["observedGeneration"].as_i64().unwrap_or(0) < generation {
        return Some("not yet observed by its controller".into());
    }
    if kind == "DaemonSet" {
        let want = s["desiredNumberScheduled"].as_i64().unwrap_or(0);
        let ready = s["numberReady"].as_i64().unwrap_or(0);
        let updated = s["updatedNumberScheduled"].as_i64().unwrap_or(0);
        return (want == 0 || ready < want || updated < want).then(|| format!("{ready}/{want} pods ready"));
    }
    let want = v["spec"]["replicas"].as_i64().unwrap_or(1);
    let ready = s["readyReplicas"].as_i64().unwrap_or(0);
    if ready >= want {
        return None;
    }
    let why = condition(v, "Available")
        .filter(|c| c["status"] != "True")
        .map(reason);
    Some(match why {
        Some(w) => format!("{ready}/{want} ready ({w})"),
        None => format!("{ready}/{want} ready"),
    })
}

pub fn application(v: &Value) -> Option<String> {
    let sync = v["status"]["sync"]["status"].as_str().unwrap_or("Unknown");
    let health = v["status"]["health"]["status"].as_str().unwrap_or("Unknown");
    if sync == "Synced" && health == "Healthy" {
        return None;
    }
    let msg = v["status"]["health"]["message"]
        .as_str()
        .or(v["status"]["conditions"][0]["message"].as_str());
    Some(match msg {
        Some(m) => format!("{sync}, {health} ({m})"),
        None => format!("{sync}, {health}"),
    })
}

fn node_ready(v: &Value) -> Option<String> {
    match condition(v, "Ready") {
        Some(c) if c["status"] == "True" => None,
        Some(c) => Some(format!("not Ready ({})", reason(c))),
        None => Some("not Ready (no status yet)".into()),
    }
}

fn node_initialized(v: &Value) -> Option<String> {
    let tainted = v["spec"]["taints"].as_array().is_some_and(|t| {
        t.iter()
            .any(|t| t["key"] == "node.cloudprovider.kubernetes.io/uninitialized")
    });
    let provider = v["spec"]["providerID"].as_str().is_some_and(|p| !p.is_empty());
    match (provider, tainted) {
        (true, false) => None,
        (false, _) => Some("has no providerID".into()),
        (true, true) => Some("still tainted node.cloudprovider.kubernetes.io/uninitialized".into()),
    }
}

/// The least a CRD gets to become Established, whatever `--timeout` says:
/// the API server establishes it itself, usually within a second, but a
/// loaded one takes longer for a large schema (Argo CD's ApplicationSet
/// took over 3 s on a busy 2-core CI machine), and a short `--timeout` is
/// meant for rollouts, not for this.
const CRD_FLOOR: Duration = Duration::from_secs(30);

/// Every named CRD reports Established (within `timeout`, at least
/// [`CRD_FLOOR`]).
pub async fn crds_established(client: &Client, names: &[String], timeout: Duration) -> Result<()> {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let mut backoff = Backoff::new(
        Duration::from_millis(100),
        Duration::from_secs(2),
        timeout.max(CRD_FLOOR),
    );
    let progress = phx_core::progress::Waiting::start("CRDs to be Established");
    loop {
        let mut waiting = Vec::new();
        for n in names {
            let crd = api.get_opt(n).await.map_err(|e| err(format!("CRD {n}"), e))?;
            let ok = crd
                .and_then(|c| c.status)
                .and_then(|s| s.conditions)
                .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Established" && c.status == "True"));
            if !ok {
                waiting.push(n.clone());
            }
        }
        if waiting.is_empty() {
            return Ok(());
        }
        progress.set(format!("CRDs to be Established: {}", waiting.join(", ")));
        if !backoff.wait().await {
            return Err(Error::failed(format!(
                "CRDs not Established: {}",
                waiting.join(", ")
            )));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reasons_come_from_the_status() {
        let d = json!({"metadata": {"generation": 2}, "spec": {"replicas": 2},
            "status": {"observedGeneration": 2, "readyReplicas": 1, "conditions": [
              {"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable", "message": "no"}]}});
        assert_eq!(
            workload("Deployment", &d).unwrap(),
            "1/2 ready (MinimumReplicasUnavailable: no)"
        );
        let ds = json!({"metadata": {"generation": 1}, "status": {"observedGeneration": 1,
            "desiredNumberScheduled": 4, "numberReady": 4, "updatedNumberScheduled": 4}});
        assert_eq!(workload("DaemonSet", &ds), None);
        let app = json!({"status": {"sync": {"status": "OutOfSync"}, "health": {"status": "Degraded", "message": "crash"}}});
        assert_eq!(application(&app).unwrap(), "OutOfSync, Degraded (crash)");
    }
}
