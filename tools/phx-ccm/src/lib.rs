//! `phx-ccm`: the AWS cloud controller manager ([`objects`]), applied
//! server-side; `apply` waits until every node has a `providerID` and has
//! lost the `node.cloudprovider.kubernetes.io/uninitialized` taint, which
//! is the cloud controller manager doing its job.

pub mod objects;

use clap::{Parser, Subcommand};
use k8s_openapi::api::apps::v1::DaemonSet;
use kube::api::ApiResource;
use phx_core::cli::{GlobalArgs, AFTER_HELP};
use phx_core::status::keys;
use phx_core::{stage, Document, Result};
use phx_kube::cli::KubeArgs;
use phx_kube::wait::Check;
use phx_kube::{apply, client, destroy, wait, Applier};
use serde_json::json;
use std::process::ExitCode;

pub const TOOL: &str = "phx-ccm";

#[derive(Debug, Parser)]
#[command(name = "phx-ccm", version, about = "The AWS cloud controller manager, as typed Kubernetes objects",
    long_about = "The AWS cloud controller manager, as typed Kubernetes objects.\n\n\
        Service account, RBAC and a DaemonSet on the control plane nodes (tolerating the taints it \
        exists to remove), image matching spec.kubernetes.version's minor (spec.cloudProvider.image \
        overrides), --cloud-provider=aws and --cluster-name=<name>. Writes status.ccm.",
    after_help = AFTER_HELP.as_str())]
pub struct Cli {
    #[command(subcommand)]
    pub verb: Verb,
    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Subcommand)]
pub enum Verb {
    /// Apply and wait until every node has a providerID and no uninitialized taint
    #[command(
        after_help = "Example:\n  phx-state lock < cluster.json | phx-kubeadm apply | phx-ccm apply | phx-state push --unlock"
    )]
    Apply(KubeArgs),
    /// Show the objects apply would create or change (server-side dry run)
    #[command(after_help = "Example:\n  phx-state pull < cluster.json | phx-ccm plan > /dev/null")]
    Plan(KubeArgs),
    /// Delete everything phx-ccm applied
    #[command(
        after_help = "Example:\n  phx-state lock < cluster.json | phx-ccm destroy | phx-state push --unlock"
    )]
    Destroy(KubeArgs),
    /// Print whether the controller runs and the nodes are initialized (JSON)
    #[command(after_help = "Example:\n  phx-state pull < cluster.json | phx-ccm status")]
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
            let Some(client) = destroy::client_or_skip(doc, args.kubeconfig.as_deref(), keys::CCM).await?
            else {
                return Ok(());
            };
            destroy::by_tool(&client, TOOL, args.timeout).await?;
            doc.remove_status(keys::CCM);
            Ok(())
        }
        Verb::Status(_) => Ok(()),
    })
    .await
}

fn checks() -> Vec<Check> {
    vec![
        Check::Workload {
            resource: ApiResource::erase::<DaemonSet>(&()),
            namespace: objects::NAMESPACE.into(),
            name: objects::NAME.into(),
        },
        Check::NodesInitialized,
    ]
}

async fn converge(doc: &mut Document, args: &KubeArgs, dry_run: bool) -> Result<()> {
    let spec = doc.spec().clone();
    let image = objects::image(&spec.kubernetes.version, spec.cloud_provider.image.as_deref())?;
    let objs = objects::all(doc.name(), &image)?;
    if dry_run && client::before_cluster(doc, args.kubeconfig.as_deref())? {
        let changes = apply::changes(&apply::all_created(&objs));
        eprint!(
            "{}",
            phx_core::plan::render(&changes, "the cloud controller manager")
        );
        return Ok(());
    }
    let client = client::connect(doc, args.kubeconfig.as_deref()).await?;
    let mut applier = Applier::new(client.clone(), TOOL, objects::NAMESPACE).await?;
    let applied = applier.apply(objs, dry_run, args.timeout).await?;
    if dry_run {
        eprint!(
            "{}",
            phx_core::plan::render(&apply::changes(&applied), "the cloud controller manager")
        );
        return Ok(());
    }
    tracing::info!("cloud controller manager {image}: {}", apply::summary(&applied));
    let mut st = json!({"image": image, "clusterName": doc.name(), "ready": false});
    doc.set_status(keys::CCM, &st);
    wait::until_ready(&client, &checks(), args.timeout).await?;
    st["ready"] = json!(true);
    doc.set_status(keys::CCM, &st);
    Ok(())
}

async fn status(args: &KubeArgs) -> Result<()> {
    let doc = phx_core::io::read_stdin()?;
    let client = client::connect(&doc, args.kubeconfig.as_deref()).await?;
    let ready = wait::until_ready(&client, &checks(), std::time::Duration::ZERO).await;
    let out = json!({"ready": ready.is_ok(), "waitingFor": ready.err().map(|e| e.to_string())});
    phx_core::io::write_json(&out)
}
