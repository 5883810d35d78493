//! `phx-cni`: the pod network. Calico from its pinned upstream
//! `calico.yaml` (an artifact: pinned URL and sha256, cached, mirrorable),
//! with `CALICO_IPV4POOL_CIDR` set from `spec.kubernetes.podCidr`, applied
//! server-side through the Kubernetes API; `apply` waits until calico-node
//! runs on every node and every node is Ready.

use clap::{Parser, Subcommand};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use kube::api::{ApiResource, DynamicObject};
use phx_core::cli::{GlobalArgs, AFTER_HELP};
use phx_core::status::keys;
use phx_core::{stage, Document, Error, Result};
use phx_kube::cli::KubeArgs;
use phx_kube::wait::Check;
use phx_kube::{apply, client, destroy, manifest, wait, Applier};
use serde_json::json;
use std::process::ExitCode;

pub const TOOL: &str = "phx-cni";

#[derive(Debug, Parser)]
#[command(name = "phx-cni", version, about = "The pod network: Calico, applied through the Kubernetes API",
    long_about = "The pod network: Calico, applied through the Kubernetes API.\n\n\
        Applies Calico's pinned calico.yaml (downloaded, sha256-checked and cached; PHX_ARTIFACT_MIRROR \
        replaces upstream) server-side as field manager phx, with CALICO_IPV4POOL_CIDR = \
        spec.kubernetes.podCidr, CRDs first. Writes status.cni.",
    after_help = AFTER_HELP.as_str())]
pub struct Cli {
    #[command(subcommand)]
    pub verb: Verb,
    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Subcommand)]
pub enum Verb {
    /// Apply Calico and wait until calico-node is ready on every node and every node is Ready
    #[command(
        after_help = "Example:\n  phx-state lock < cluster.json | phx-kubeadm apply | phx-cni apply | phx-state push --unlock"
    )]
    Apply(KubeArgs),
    /// Show the objects apply would create or change (server-side dry run)
    #[command(after_help = "Example:\n  phx-state pull < cluster.json | phx-cni plan > /dev/null")]
    Plan(KubeArgs),
    /// Delete everything phx-cni applied
    #[command(
        after_help = "Example:\n  phx-state lock < cluster.json | phx-cni destroy | phx-state push --unlock"
    )]
    Destroy(KubeArgs),
    /// Print whether Calico and the nodes are ready (JSON); changes nothing
    #[command(after_help = "Example:\n  phx-state pull < cluster.json | phx-cni status")]
    Status(KubeArgs),
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    phx_core::cli::run(TOOL, &cli.global, run(cli.verb))
}

pub async fn run(verb: Verb) -> Result<()> {
    if let Verb::Status(args) = &verb {
        return status(args).await;
    }
    stage::run(TOOL, async |doc| match verb {
        Verb::Apply(args) => converge(doc, &args, false).await,
        Verb::Plan(args) => converge(doc, &args, true).await,
        Verb::Destroy(args) => {
            let Some(client) = destroy::client_or_skip(doc, args.kubeconfig.as_deref(), keys::CNI).await?
            else {
                return Ok(());
            };
            let n = destroy::by_tool(&client, TOOL, args.timeout).await?;
            tracing::info!("deleted {n} objects");
            doc.remove_status(keys::CNI);
            Ok(())
        }
        Verb::Status(_) => Ok(()),
    })
    .await
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

fn checks() -> Vec<Check> {
    vec![
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
    ]
}

async fn converge(doc: &mut Document, args: &KubeArgs, dry_run: bool) -> Result<()> {
    let pod_cidr = doc.spec().kubernetes.pod_cidr.clone();
    phx_core::spec::check_ipv4_cidr("spec.kubernetes.podCidr", &pod_cidr)?;
    let objects = objects(&pod_cidr).await?;
    if dry_run && client::before_cluster(doc, args.kubeconfig.as_deref())? {
        let changes = apply::changes(&apply::all_created(&objects));
        eprint!("{}", phx_core::plan::render(&changes, "Calico"));
        return Ok(());
    }
    let client = client::connect(doc, args.kubeconfig.as_deref()).await?;
    let mut applier = Applier::new(client.clone(), TOOL, "kube-system").await?;
    let applied = applier.apply(objects, dry_run, args.timeout).await?;
    if dry_run {
        eprint!("{}", phx_core::plan::render(&apply::changes(&applied), "Calico"));
        return Ok(());
    }
    tracing::info!("Calico {}: {}", version(), apply::summary(&applied));
    let mut st = json!({"plugin": "calico", "version": version(), "podCidr": pod_cidr,
                        "objects": applied.len(), "ready": false});
    doc.set_status(keys::CNI, &st);
    wait::until_ready(&client, &checks(), args.timeout).await?;
    st["ready"] = json!(true);
    doc.set_status(keys::CNI, &st);
    Ok(())
}

fn version() -> &'static str {
    phx_artifacts::CALICO_MANIFEST
        .name
        .split('-')
        .nth(1)
        .unwrap_or_default()
}

async fn status(args: &KubeArgs) -> Result<()> {
    let doc = phx_core::io::read_stdin()?;
    let client = client::connect(&doc, args.kubeconfig.as_deref()).await?;
    let ready = wait::until_ready(&client, &checks(), std::time::Duration::ZERO).await;
    let out = json!({"plugin": "calico", "version": version(),
                     "ready": ready.is_ok(), "waitingFor": ready.err().map(|e| e.to_string())});
    phx_core::io::write_json(&out)
}
