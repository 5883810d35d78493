//! The simulated controllers: what kubelets, the scheduler, the cloud
//! controller manager and Argo CD would do, reduced to status. An object
//! turns ready on its Nth GET (`ready_after`), never with `None`; until
//! then its status says why not, as the real one would.

use crate::state::State;
use crate::store::Key;
use serde_json::{json, Value};

pub fn step(state: &mut State, key: &Key, polls: u32) {
    let ready = state.ready_after.is_some_and(|n| polls >= n) && !state.stuck.contains(&key.3);
    let nodes = state
        .objects
        .keys()
        .filter(|(_, p, _, _)| p == "nodes")
        .count()
        .max(1);
    let ccm_present = state
        .objects
        .keys()
        .any(|(g, p, _, n)| g == "apps" && p == "daemonsets" && n.contains("cloud-controller-manager"));
    let Some(obj) = state.objects.get_mut(key) else {
        return;
    };
    let v = &mut obj.value;
    let generation = v["metadata"]["generation"].clone();
    match key.1.as_str() {
        "deployments" | "statefulsets" => {
            let want = v["spec"]["replicas"].as_i64().unwrap_or(1);
            let have = if ready { want } else { 0 };
            v["status"] = json!({"observedGeneration": generation, "replicas": want, "readyReplicas": have,
            "availableReplicas": have, "updatedReplicas": have,
            "conditions": [if ready {
                json!({"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"})
            } else {
                json!({"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable",
                       "message": "Deployment does not have minimum availability."})
            }]});
        }
        "daemonsets" => {
            let have = if ready { nodes } else { 0 };
            v["status"] = json!({"observedGeneration": generation, "desiredNumberScheduled": nodes,
                "currentNumberScheduled": nodes, "numberReady": have, "updatedNumberScheduled": have,
                "numberAvailable": have, "numberUnavailable": nodes - have});
        }
        "nodes" => {
            v["status"]["conditions"] = json!([if ready {
                json!({"type": "Ready", "status": "True", "reason": "KubeletReady"})
            } else {
                json!({"type": "Ready", "status": "False", "reason": "KubeletNotReady",
                       "message": "container runtime network not ready: cni plugin not initialized"})
            }]);
            if ready && ccm_present {
                let name = v["metadata"]["name"].as_str().unwrap_or_default().to_string();
                v["spec"]["providerID"] = json!(format!("aws:///us-east-1a/i-{:0>17}", name.len()));
                if let Some(t) = v["spec"]["taints"].as_array_mut() {
                    t.retain(|t| t["key"] != "node.cloudprovider.kubernetes.io/uninitialized");
                }
            }
        }
        "applications" => {
            // Syncing Istio's base chart installs the mesh's CRDs, as Argo
            // CD would; what comes after it may use them.
            let istio_base = ready
                && v["status"]["health"]["status"] != "Healthy"
                && v["spec"]["source"]["chart"] == "base"
                && v["spec"]["source"]["repoURL"]
                    .as_str()
                    .is_some_and(|u| u.contains("istio"));
            // A sync with CreateNamespace=true makes the destination namespace.
            let creates_ns = v["spec"]["syncPolicy"]["syncOptions"]
                .as_array()
                .is_some_and(|o| o.iter().any(|x| x == "CreateNamespace=true"));
            let dest = v["spec"]["destination"]["namespace"].as_str().map(str::to_string);
            if istio_base {
                state.put(istio_peer_authentication_crd(), "argocd-controller");
            }
            if let (true, true, Some(ns)) = (ready, creates_ns, dest) {
                if state.get("", "namespaces", "", &ns).is_none() {
                    state.put(
                        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
                        "argocd-controller",
                    );
                }
            }
            let Some(obj) = state.objects.get_mut(key) else {
                return;
            };
            let v = &mut obj.value;
            v["status"] = if ready {
                json!({"sync": {"status": "Synced", "revision": v["spec"]["source"]["targetRevision"].clone()},
                       "health": {"status": "Healthy"}})
            } else {
                json!({"sync": {"status": "OutOfSync"}, "health": {"status": "Progressing",
                       "message": "waiting for rollout to finish"}})
            };
        }
        _ => {}
    }
}

/// The one Istio CRD phx uses (PeerAuthentication), as istio-base has it,
/// reduced to what the stand-in serves.
fn istio_peer_authentication_crd() -> Value {
    json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "peerauthentications.security.istio.io"},
           "spec": {"group": "security.istio.io", "scope": "Namespaced",
                    "names": {"kind": "PeerAuthentication", "plural": "peerauthentications",
                              "singular": "peerauthentication", "listKind": "PeerAuthenticationList"},
                    "versions": [{"name": "v1", "served": true, "storage": true}]}})
}
