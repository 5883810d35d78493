//! `phx-platform`: the platform on the cluster. A default `gp3`
//! StorageClass; Argo CD from its pinned `install.yaml` into `argocd`
//! (namespace first; the file has none); then every enabled add-on as an
//! Argo CD Application with a Helm source at a pinned chart version
//! ([`addons`]), and the app-of-apps for the booking services. `apply`
//! waits until Argo CD runs and every Application is Synced and Healthy.
//! `destroy` deletes the Applications, then every LoadBalancer Service and
//! Ingress in the cluster, and waits until they are gone, so the cloud load
//! balancers are released before phx-net removes the network.

pub mod addons;

use clap::{Parser, Subcommand};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use phx_core::cli::{GlobalArgs, AFTER_HELP};
use phx_core::status::keys;
use phx_core::{io, stage, Document, Error, Result};
use phx_kube::cli::KubeArgs;
use phx_kube::wait::Check;
use phx_kube::{apply, client, destroy, err, manifest, wait, Applier, TOOL_LABEL};
use serde_json::{json, Value};
use std::process::ExitCode;

pub const TOOL: &str = "phx-platform";

#[derive(Debug, Parser)]
#[command(name = "phx-platform", version,
    about = "The platform: storage class, Argo CD, and the add-ons as Argo CD Applications",
    long_about = "The platform: storage class, Argo CD, and the add-ons as Argo CD Applications.\n\n\
        A default gp3 StorageClass (EBS CSI, encrypted, WaitForFirstConsumer, expandable); Argo CD \
        from its pinned install.yaml into namespace argocd; each enabled add-on of \
        spec.platform.addons as an Application with a Helm source at a pinned chart version (no helm \
        binary needed); the app-of-apps of spec.platform.gitops. Writes status.platform.",
    after_help = AFTER_HELP.as_str())]
pub struct Cli {
    #[command(subcommand)]
    pub verb: Verb,
    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Subcommand)]
pub enum Verb {
    /// Apply and wait until Argo CD runs and every Application is Synced and Healthy
    #[command(
        after_help = "Example:\n  phx-state lock < cluster.json | phx-ccm apply | phx-platform apply | phx-state push --unlock"
    )]
    Apply(KubeArgs),
    /// Show the objects apply would create or change (server-side dry run)
    #[command(after_help = "Example:\n  phx-state pull < cluster.json | phx-platform plan > /dev/null")]
    Plan(KubeArgs),
    /// Delete the Applications, every LoadBalancer Service and Ingress, then Argo CD
    #[command(
        after_help = "Run before phx-net destroy: cloud load balancers made for Services \
        would otherwise keep the network's subnets in use.\n\n\
        Example:\n  phx-state lock < cluster.json | phx-platform destroy | phx-nodes destroy | phx-state push --unlock"
    )]
    Destroy(KubeArgs),
    /// The add-ons with sync, health and version: a table on a terminal, JSON otherwise
    #[command(after_help = "Example:\n  phx-state pull < cluster.json | phx-platform status")]
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
        Verb::Destroy(args) => teardown(doc, &args).await,
        Verb::Status(_) => Ok(()),
    })
    .await
}

pub fn application_resource() -> ApiResource {
    ApiResource {
        group: "argoproj.io".into(),
        version: "v1alpha1".into(),
        api_version: "argoproj.io/v1alpha1".into(),
        kind: "Application".into(),
        plural: "applications".into(),
    }
}

fn dynamic(v: Value) -> Result<DynamicObject> {
    serde_json::from_value(v).map_err(|e| Error::failed(format!("building an object: {e}")))
}

/// Everything apply applies, in the order of the document.
async fn objects(doc: &Document) -> Result<(Vec<DynamicObject>, Vec<String>)> {
    let charts = addons::enabled(doc.spec())?;
    let mut apps = Vec::new();
    let mut objs = vec![
        dynamic(
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": addons::ARGOCD_NAMESPACE}}),
        )?,
        dynamic(addons::storage_class())?,
    ];
    for c in &charts {
        objs.push(dynamic(addons::application(c, &addons::values(c, doc)?))?);
        apps.push(c.app.to_string());
    }
    if let Some(g) = addons::gitops(doc.spec()) {
        objs.push(dynamic(g)?);
        apps.push(addons::GITOPS_APP.to_string());
    }
    let bytes = phx_artifacts::fetch(phx_artifacts::ARGOCD_INSTALL).await?;
    let text = String::from_utf8(bytes).map_err(|e| Error::failed(format!("Argo CD install.yaml: {e}")))?;
    objs.extend(manifest::parse(phx_artifacts::ARGOCD_INSTALL.name, &text)?);
    Ok((objs, apps))
}

fn argocd_version() -> &'static str {
    phx_artifacts::ARGOCD_INSTALL
        .name
        .split('-')
        .nth(1)
        .unwrap_or_default()
}

fn checks(apps: &[String]) -> Vec<Check> {
    let ns = addons::ARGOCD_NAMESPACE.to_string();
    let mut checks: Vec<Check> = [
        "argocd-server",
        "argocd-repo-server",
        "argocd-redis",
        "argocd-dex-server",
        "argocd-applicationset-controller",
        "argocd-notifications-controller",
    ]
    .iter()
    .map(|d| Check::Workload {
        resource: ApiResource::erase::<Deployment>(&()),
        namespace: ns.clone(),
        name: d.to_string(),
    })
    .collect();
    checks.push(Check::Workload {
        resource: ApiResource::erase::<StatefulSet>(&()),
        namespace: ns.clone(),
        name: "argocd-application-controller".into(),
    });
    checks.extend(apps.iter().map(|a| Check::Application {
        resource: application_resource(),
        namespace: ns.clone(),
        name: a.clone(),
    }));
    checks
}

async fn converge(doc: &mut Document, args: &KubeArgs, dry_run: bool) -> Result<()> {
    let (objs, apps) = objects(doc).await?;
    if dry_run && client::before_cluster(doc, args.kubeconfig.as_deref())? {
        let changes = apply::changes(&apply::all_created(&objs));
        eprint!("{}", phx_core::plan::render(&changes, "the platform"));
        return Ok(());
    }
    let client = client::connect(doc, args.kubeconfig.as_deref()).await?;
    let mut applier = Applier::new(client.clone(), TOOL, addons::ARGOCD_NAMESPACE).await?;
    let applied = applier.apply(objs, dry_run, args.timeout).await?;
    if dry_run {
        eprint!(
            "{}",
            phx_core::plan::render(&apply::changes(&applied), "the platform")
        );
        return Ok(());
    }
    tracing::info!("platform: {}", apply::summary(&applied));
    let charts = addons::enabled(doc.spec())?;
    let addons: serde_json::Map<String, Value> = charts
        .iter()
        .map(|c| {
            (
                c.app.to_string(),
                json!({"chart": c.chart, "version": c.version, "namespace": c.namespace}),
            )
        })
        .collect();
    let mut st =
        json!({"storageClass": "gp3", "argocd": argocd_version(), "applications": addons, "ready": false});
    if let Some(g) = &doc.spec().platform.gitops {
        st["gitops"] = json!({"application": addons::GITOPS_APP, "repoURL": g.repo_url});
    }
    doc.set_status(keys::PLATFORM, &st);
    wait::until_ready(&client, &checks(&apps), args.timeout).await?;
    st["ready"] = json!(true);
    doc.set_status(keys::PLATFORM, &st);
    Ok(())
}

/// Applications first (their finalizer lets Argo CD remove what they
/// made), then every LoadBalancer Service and Ingress of the cluster, so no
/// cloud load balancer outlives the cluster; then the rest of phx's.
async fn teardown(doc: &mut Document, args: &KubeArgs) -> Result<()> {
    let Some(client) = destroy::client_or_skip(doc, args.kubeconfig.as_deref(), keys::PLATFORM).await? else {
        return Ok(());
    };
    let lp = ListParams::default().labels(&format!("{TOOL_LABEL}={TOOL}"));
    let apps_all: Api<DynamicObject> = Api::all_with(client.clone(), &application_resource());
    let mut doomed = Vec::new();
    // No Application type yet (Argo CD never installed) is nothing to delete.
    if let Ok(list) = apps_all.list(&lp).await {
        for a in list.items {
            let ns = a
                .metadata
                .namespace
                .clone()
                .unwrap_or_else(|| addons::ARGOCD_NAMESPACE.into());
            let name = a.metadata.name.clone().unwrap_or_default();
            let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, &application_resource());
            delete(&api, &name).await?;
            doomed.push((api, name));
        }
    }
    applications_gone(&client, &doomed, args.timeout).await?;

    let mut doomed = Vec::new();
    let services: Api<Service> = Api::all(client.clone());
    let list = services
        .list(&ListParams::default())
        .await
        .map_err(|e| err("listing services", e))?;
    let svc = ApiResource::erase::<Service>(&());
    for s in list.items {
        let lb = s.spec.as_ref().and_then(|x| x.type_.as_deref()) == Some("LoadBalancer");
        if lb {
            let ns = s.metadata.namespace.clone().unwrap_or_default();
            let name = s.metadata.name.clone().unwrap_or_default();
            tracing::info!("deleting LoadBalancer Service {ns}/{name}");
            let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, &svc);
            delete(&api, &name).await?;
            doomed.push((api, name));
        }
    }
    let ingresses: Api<Ingress> = Api::all(client.clone());
    let list = ingresses
        .list(&ListParams::default())
        .await
        .map_err(|e| err("listing ingresses", e))?;
    let ing = ApiResource::erase::<Ingress>(&());
    for i in list.items {
        let ns = i.metadata.namespace.clone().unwrap_or_default();
        let name = i.metadata.name.clone().unwrap_or_default();
        tracing::info!("deleting Ingress {ns}/{name}");
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, &ing);
        delete(&api, &name).await?;
        doomed.push((api, name));
    }
    destroy::gone(&doomed, args.timeout).await?;
    destroy::by_tool(&client, TOOL, args.timeout).await?;
    doc.remove_status(keys::PLATFORM);
    Ok(())
}

/// Argo CD deletes what an Application made, then drops its finalizer.
/// With no application controller running (crashed, or never started)
/// nothing would, and destroy would wait its whole timeout: after a third
/// of it (at most a minute) the finalizers are removed, with a warning.
/// What the Applications made stays to Kubernetes' garbage collection and
/// to the load balancer sweep that follows.
async fn applications_gone(
    client: &kube::Client,
    apps: &[(Api<DynamicObject>, String)],
    timeout: std::time::Duration,
) -> Result<()> {
    let grace = (timeout / 3).min(std::time::Duration::from_secs(60));
    if destroy::gone(apps, grace).await.is_ok() {
        return Ok(());
    }
    if argocd_running(client).await {
        return destroy::gone(apps, timeout.saturating_sub(grace)).await;
    }
    let names: Vec<&str> = apps.iter().map(|(_, n)| n.as_str()).collect();
    tracing::warn!(
        "Argo CD's application controller is not running: removing the finalizers of {} so they can go",
        names.join(", ")
    );
    let unfinalized = json!({"metadata": {"finalizers": null}});
    for (api, name) in apps {
        match api
            .patch(name, &PatchParams::default(), &Patch::Merge(&unfinalized))
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(err(format!("removing the finalizer of Application {name}"), e)),
        }
    }
    destroy::gone(apps, timeout.saturating_sub(grace)).await
}

/// Whether Argo CD's application controller has a ready replica.
async fn argocd_running(client: &kube::Client) -> bool {
    let sts: Api<StatefulSet> = Api::namespaced(client.clone(), addons::ARGOCD_NAMESPACE);
    sts.get_opt("argocd-application-controller")
        .await
        .ok()
        .flatten()
        .and_then(|s| s.status)
        .and_then(|s| s.ready_replicas)
        .is_some_and(|r| r > 0)
}

async fn delete(api: &Api<DynamicObject>, name: &str) -> Result<()> {
    match api.delete(name, &DeleteParams::foreground()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(err(format!("deleting {name}"), e)),
    }
}

/// `status`: the Applications as Argo CD reports them.
async fn status(args: &KubeArgs) -> Result<()> {
    let doc = io::read_stdin()?;
    let client = client::connect(&doc, args.kubeconfig.as_deref()).await?;
    let api: Api<DynamicObject> =
        Api::namespaced_with(client, addons::ARGOCD_NAMESPACE, &application_resource());
    let lp = ListParams::default().labels(&format!("{TOOL_LABEL}={TOOL}"));
    let list = api.list(&lp).await.map_err(|e| err("listing Applications", e))?;
    let mut rows: Vec<Value> = list
        .items
        .iter()
        .map(|a| {
            let v = serde_json::to_value(a).unwrap_or_default();
            json!({"name": a.metadata.name, "sync": v["status"]["sync"]["status"].as_str().unwrap_or("Unknown"),
                   "health": v["status"]["health"]["status"].as_str().unwrap_or("Unknown"),
                   "chart": v["spec"]["source"]["chart"], "version": v["spec"]["source"]["targetRevision"],
                   "namespace": v["spec"]["destination"]["namespace"]})
        })
        .collect();
    rows.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    if !io::stdout_is_terminal() {
        return io::write_json(&Value::Array(rows));
    }
    let cell = |v: &Value| v.as_str().unwrap_or("-").to_string();
    let lines: Vec<[String; 4]> = rows
        .iter()
        .map(|r| {
            [
                cell(&r["name"]),
                cell(&r["sync"]),
                cell(&r["health"]),
                cell(&r["version"]),
            ]
        })
        .collect();
    let head = ["ADD-ON", "SYNC", "HEALTH", "VERSION"].map(String::from);
    let mut w = head.clone().map(|h| h.len());
    for l in &lines {
        for (i, c) in l.iter().enumerate() {
            w[i] = w[i].max(c.len());
        }
    }
    let mut out = String::new();
    for l in std::iter::once(&head).chain(&lines) {
        out.push_str(&format!(
            "{:<a$}  {:<b$}  {:<c$}  {}\n",
            l[0],
            l[1],
            l[2],
            l[3],
            a = w[0],
            b = w[1],
            c = w[2]
        ));
    }
    io::write_bytes(out.as_bytes())
}
