//! The Node and its heartbeat: registration with the machine's capacity
//! (the instance type's vCPUs and memory, as the sandbox's EC2 side wrote
//! them for this machine), the `uninitialized` taint when the cloud
//! provider is external (the cloud controller manager removes it), a Lease
//! renewed every 10 s, and the Ready condition.

use std::collections::BTreeMap;
use std::path::Path;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, OwnerReference};
use kube::api::{ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::{json, Value};

use crate::Result;

/// The machine the kubelet runs on.
#[derive(Debug, Clone)]
pub struct Machine {
    pub name: String,
    pub ip: String,
    pub cpu: u64,
    pub memory_mib: u64,
}

impl Machine {
    /// `machine.json` in the sandbox node's directory, if the sandbox wrote
    /// one (the instance type's size); a small default otherwise.
    pub fn read(name: String, ip: String, sandbox_dir: Option<&Path>) -> Machine {
        let m: Value = sandbox_dir
            .and_then(|d| std::fs::read_to_string(d.join("machine.json")).ok())
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null);
        Machine {
            name,
            ip,
            cpu: m["cpu"].as_u64().unwrap_or(2),
            memory_mib: m["memoryMiB"].as_u64().unwrap_or(4096),
        }
    }
}

pub fn now() -> String {
    k8s_openapi::jiff::Timestamp::now().to_string()
}

fn conditions(ready: bool) -> Value {
    let t = now();
    let c = |ty: &str, status: &str, reason: &str, msg: &str| {
        json!({"type": ty, "status": status, "reason": reason, "message": msg,
               "lastHeartbeatTime": t, "lastTransitionTime": t})
    };
    json!([
        c(
            "MemoryPressure",
            "False",
            "KubeletHasSufficientMemory",
            "kubelet has sufficient memory available"
        ),
        c(
            "DiskPressure",
            "False",
            "KubeletHasNoDiskPressure",
            "kubelet has no disk pressure"
        ),
        c(
            "PIDPressure",
            "False",
            "KubeletHasSufficientPID",
            "kubelet has sufficient PID available"
        ),
        if ready {
            c(
                "Ready",
                "True",
                "KubeletReady",
                "kubelet is posting ready status (phx sandbox kubelet)",
            )
        } else {
            c("Ready", "False", "KubeletNotReady", "starting")
        },
    ])
}

/// Only the heartbeat moves: each condition's transition time stays.
fn heartbeat_conditions() -> Value {
    let t = now();
    let types = [
        ("MemoryPressure", "False"),
        ("DiskPressure", "False"),
        ("PIDPressure", "False"),
        ("Ready", "True"),
    ];
    Value::Array(
        types
            .iter()
            .map(|(ty, st)| json!({"type": ty, "status": st, "lastHeartbeatTime": t}))
            .collect(),
    )
}

fn status(m: &Machine, version: &str) -> Value {
    let cap = json!({"cpu": m.cpu.to_string(), "memory": format!("{}Mi", m.memory_mib),
                     "pods": "110", "ephemeral-storage": "20Gi", "hugepages-2Mi": "0"});
    let alloc = json!({"cpu": m.cpu.to_string(), "memory": format!("{}Mi", m.memory_mib.saturating_sub(100)),
                       "pods": "110", "ephemeral-storage": "18Gi", "hugepages-2Mi": "0"});
    json!({
        "capacity": cap,
        "allocatable": alloc,
        "conditions": conditions(true),
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        "nodeInfo": {
            "machineID": "", "systemUUID": "", "bootID": "",
            "kernelVersion": "", "osImage": "Ubuntu 24.04 LTS (phx sandbox)",
            "containerRuntimeVersion": "phx-sandbox://0 (processes; other pods simulated)",
            "kubeletVersion": version, "kubeProxyVersion": "",
            "operatingSystem": "linux", "architecture": "amd64"
        }
    })
}

/// Register the Node (or find it registered) and post its status.
pub async fn register(client: &Client, m: &Machine, f: &crate::flags::Flags, version: &str) -> Result<Node> {
    let nodes: Api<Node> = Api::all(client.clone());
    if nodes.get_opt(&m.name).await?.is_none() {
        let mut labels: BTreeMap<String, String> = [
            ("kubernetes.io/hostname", m.name.as_str()),
            ("kubernetes.io/os", "linux"),
            ("kubernetes.io/arch", "amd64"),
            ("beta.kubernetes.io/os", "linux"),
            ("beta.kubernetes.io/arch", "amd64"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        labels.extend(f.node_labels.iter().cloned());
        let mut taints: Vec<Value> = Vec::new();
        if f.external_cloud {
            taints.push(json!({"key": "node.cloudprovider.kubernetes.io/uninitialized", "value": "true", "effect": "NoSchedule"}));
        }
        for t in &f.register_with_taints {
            // key[=value]:effect
            let (kv, effect) = t.rsplit_once(':').unwrap_or((t, "NoSchedule"));
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            taints.push(json!({"key": k, "value": v, "effect": effect}));
        }
        let node: Node = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": m.name, "labels": labels, "annotations": {
                "alpha.kubernetes.io/provided-node-ip": m.ip,
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
            "spec": {"taints": taints},
        }))?;
        match nodes.create(&PostParams::default(), &node).await {
            Ok(_) => tracing::info!(node = %m.name, "registered"),
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(e) => return Err(e.into()),
        }
    }
    let mut st = status(m, version);
    let current = nodes.get(&m.name).await?;
    if current
        .status
        .and_then(|s| s.addresses)
        .unwrap_or_default()
        .is_empty()
    {
        // Until a cloud controller manager sets them: what the kubelet knows.
        st["addresses"] =
            json!([{"type": "InternalIP", "address": m.ip}, {"type": "Hostname", "address": m.name}]);
    }
    Ok(nodes
        .patch_status(
            &m.name,
            &PatchParams::default(),
            &Patch::Strategic(json!({"status": st})),
        )
        .await?)
}

/// One heartbeat: the Lease renewed, the Ready condition refreshed.
pub async fn heartbeat(client: &Client, node: &Node, status_too: bool) -> Result<()> {
    let name = node.metadata.name.clone().unwrap_or_default();
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    let spec = LeaseSpec {
        holder_identity: Some(name.clone()),
        lease_duration_seconds: Some(40),
        renew_time: Some(MicroTime(k8s_openapi::jiff::Timestamp::now())),
        ..Default::default()
    };
    match leases.get_opt(&name).await? {
        Some(mut l) => {
            l.spec = Some(spec);
            leases.replace(&name, &PostParams::default(), &l).await?;
        }
        None => {
            let l = Lease {
                metadata: ObjectMeta {
                    name: Some(name.clone()),
                    owner_references: Some(vec![OwnerReference {
                        api_version: "v1".into(),
                        kind: "Node".into(),
                        name: name.clone(),
                        uid: node.metadata.uid.clone().unwrap_or_default(),
                        ..Default::default()
                    }]),
                    ..Default::default()
                },
                spec: Some(spec),
            };
            leases.create(&PostParams::default(), &l).await?;
        }
    }
    if status_too {
        let nodes: Api<Node> = Api::all(client.clone());
        nodes
            .patch_status(
                &name,
                &PatchParams::default(),
                &Patch::Strategic(json!({"status": {"conditions": heartbeat_conditions()}})),
            )
            .await?;
    }
    Ok(())
}
