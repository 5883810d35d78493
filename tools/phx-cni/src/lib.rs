//! `phx-cni`: the pod network. Calico from its pinned upstream
//! `calico.yaml` (an artifact: pinned URL and sha256, cached, mirrorable),
//! with `CALICO_IPV4POOL_CIDR` set from `spec.kubernetes.podCidr`, applied
//! server-side through the Kubernetes API; `apply` waits until calico-node
//! runs on every node and every node is Ready. The verbs are phx-kube's
//! add-on stage ([`phx_kube::addon`]); this file is Calico.

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use kube::api::{ApiResource, DynamicObject};
use phx_core::status::{key, CniStatus};
use phx_core::{Document, Error, Result};
use phx_kube::addon::Addon;
use phx_kube::wait::Check;
use phx_kube::{manifest, Applied};
use serde_json::{json, Map, Value};
use std::process::ExitCode;

pub const TOOL: &str = "phx-cni";

/// The man page's extras: those of every add-on tool.
pub const DOCS: phx_core::cli::Docs = phx_kube::addon::DOCS;

/// `phx-cni`'s command, for parsing and for its man page.
pub fn command() -> clap::Command {
    phx_kube::addon::command(
        TOOL,
        "The pod network: Calico, applied through the Kubernetes API.\n\n\
        Applies Calico's pinned calico.yaml (downloaded, sha256-checked and cached; PHX_ARTIFACT_MIRROR \
        replaces upstream) server-side as field manager phx, with CALICO_IPV4POOL_CIDR = \
        spec.kubernetes.podCidr, CRDs first. Writes status.cni.",
        [
            (
                "apply",
                "Apply Calico and wait until calico-node is ready on every node and every node is Ready",
                "Example:\n  phx-state lock < cluster.json | phx-kubeadm apply | phx-cni apply | phx-state push --unlock",
            ),
            (
                "plan",
                "Show the objects apply would create or change (server-side dry run)",
                "The table goes to stderr; the same list is in status.cni.plan.\n\n\
            Example:\n  phx-state pull < cluster.json | phx-cni plan > /dev/null",
            ),
            (
                "destroy",
                "Delete everything phx-cni applied",
                "Example:\n  phx-state lock < cluster.json | phx-cni destroy | phx-state push --unlock",
            ),
            (
                "status",
                "Print whether Calico and the nodes are ready (JSON); changes nothing",
                "Example:\n  phx-state pull < cluster.json | phx-cni status",
            ),
        ],
    )
}

pub fn main() -> ExitCode {
    phx_kube::addon::main(command(), &Calico)
}

/// Calico, as an add-on.
#[derive(Debug)]
pub struct Calico;

impl Addon for Calico {
    const TOOL: &'static str = TOOL;
    const SUBJECT: &'static str = "Calico";
    const NAMESPACE: &'static str = "kube-system";
    type Status = CniStatus;
    type Key = key::Cni;

    async fn objects(&self, doc: &Document) -> Result<Vec<DynamicObject>> {
        let pod_cidr = &doc.spec().kubernetes.pod_cidr;
        phx_core::spec::check_ipv4_cidr("spec.kubernetes.podCidr", pod_cidr)?;
        objects(pod_cidr).await
    }

    fn checks(&self, _doc: &Document) -> Result<Vec<Check>> {
        Ok(vec![
            Check::Workload {
                resource: ApiResource::erase::<DaemonSet>(&()),
                namespace: "kube-system".into(),
                name: "calico-node".into(),
            },
            Check::Workload {
                resource: ApiResource::erase::<Deployment>(&()),
                namespace: "kube-system".into(),
                name: "calico-kube-controllers".into(),
            },
            Check::NodesReady,
        ])
    }

    fn status(&self, doc: &Document, applied: &[Applied]) -> Result<CniStatus> {
        Ok(CniStatus {
            plugin: "calico".into(),
            version: version().into(),
            pod_cidr: doc.spec().kubernetes.pod_cidr.clone(),
            objects: applied.len(),
        })
    }

    fn facts(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("plugin".into(), json!("calico"));
        m.insert("version".into(), json!(version()));
        m
    }
}

/// Calico's objects with the pod CIDR set.
pub async fn objects(pod_cidr: &str) -> Result<Vec<DynamicObject>> {
    let bytes = phx_artifacts::fetch(phx_artifacts::CALICO_MANIFEST).await?;
    let text = String::from_utf8(bytes).map_err(|e| Error::failed(format!("calico.yaml: {e}")))?;
    let mut objects = manifest::parse(phx_artifacts::CALICO_MANIFEST.name, &text)?;
    set_pod_cidr(&mut objects, pod_cidr)?;
    Ok(objects)
}

/// `CALICO_IPV4POOL_CIDR` on calico-node's container (upstream leaves it
/// commented out, which means 192.168.0.0/16 whatever kubeadm was told).
pub fn set_pod_cidr(objects: &mut [DynamicObject], cidr: &str) -> Result<()> {
    let ds = objects
        .iter_mut()
        .find(|o| manifest::kind(o) == "DaemonSet" && o.metadata.name.as_deref() == Some("calico-node"))
        .ok_or_else(|| Error::failed("calico.yaml has no calico-node DaemonSet"))?;
    let containers = ds.data["spec"]["template"]["spec"]["containers"]
        .as_array_mut()
        .ok_or_else(|| Error::failed("calico-node has no containers"))?;
    let c = containers
        .iter_mut()
        .find(|c| c["name"] == "calico-node")
        .ok_or_else(|| Error::failed("calico-node has no calico-node container"))?;
    let env = c["env"]
        .as_array_mut()
        .ok_or_else(|| Error::failed("calico-node container has no env"))?;
    env.retain(|e| e["name"] != "CALICO_IPV4POOL_CIDR");
    env.push(json!({"name": "CALICO_IPV4POOL_CIDR", "value": cidr}));
    Ok(())
}

fn version() -> &'static str {
    phx_artifacts::CALICO_MANIFEST
        .name
        .split('-')
        .nth(1)
        .unwrap_or_default()
}
