//! `phx-platform`: the platform on the cluster. A default `gp3`
//! StorageClass; Argo CD from its pinned `install.yaml` into `argocd`
//! (namespace first; the file has none); then every enabled add-on as an
//! Argo CD Application with a Helm source at a pinned chart version
//! ([`addons`]), wave by wave, each waited for until Synced and Healthy
//! before the next, with mesh-wide mTLS once Istio's CRDs exist; and the
//! app-of-apps for the booking services last.
//! `destroy` deletes the Applications, then every LoadBalancer Service and
//! Ingress in the cluster, and waits until they are gone, so the cloud load
//! balancers are released before phx-net removes the network.

pub mod addons;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::Client;
use phx_core::status::{key, GitopsStatus, PlatformApplication, PlatformStatus};
use phx_core::{io, Document, Error, Result};
use phx_kube::addon::{Addon, Wave};
use phx_kube::wait::Check;
use phx_kube::{destroy, err, manifest, Applied, TOOL_LABEL};
use serde_json::{json, Value};
use std::process::ExitCode;
use std::time::Duration;

pub const TOOL: &str = "phx-platform";

/// The man page's extras: those of every add-on tool.
pub const DOCS: phx_core::cli::Docs = phx_kube::addon::DOCS;

/// `phx-platform`'s command, for parsing and for its man page.
pub fn command() -> clap::Command {
    phx_kube::addon::command(
        TOOL,
        "The platform: storage class, Argo CD, and the add-ons as Argo CD Applications.\n\n\
        A default gp3 StorageClass (EBS CSI, encrypted, WaitForFirstConsumer, expandable); Argo CD \
        from its pinned install.yaml into namespace argocd; each enabled add-on of \
        spec.platform.addons as an Application with a Helm source at a pinned chart version (no helm \
        binary needed), in sync waves: cloud and storage, the mesh (istio-base, istiod with mesh-wide \
        mTLS, the gateway), what needs volumes or certificates, then the app-of-apps of \
        spec.platform.gitops into its own namespace. Writes status.platform.",
        [
            (
                "apply",
                "Apply wave by wave, each waited for until its Applications are Synced and Healthy",
                "Example:\n  phx-state lock < cluster.json | phx-ccm apply | phx-platform apply | phx-state push --unlock",
            ),
            (
                "plan",
                "Show the objects apply would create or change (server-side dry run)",
                "The table goes to stderr; the same list is in status.platform.plan.\n\n\
            Example:\n  phx-state pull < cluster.json | phx-platform plan > /dev/null",
            ),
            (
                "destroy",
                "Delete the Applications, every LoadBalancer Service and Ingress, then Argo CD",
                "Run before phx-net destroy: cloud load balancers made for Services \
            would otherwise keep the network's subnets in use.\n\n\
            Example:\n  phx-state lock < cluster.json | phx-platform destroy | phx-nodes destroy | phx-state push --unlock",
            ),
            (
                "status",
                "The add-ons with sync, health and version: a table on a terminal, JSON otherwise",
                "Example:\n  phx-state pull < cluster.json | phx-platform status",
            ),
        ],
    )
}

pub fn main() -> ExitCode {
    phx_kube::addon::main(command(), &Platform)
}

/// The platform, as an add-on.
#[derive(Debug)]
pub struct Platform;

impl Addon for Platform {
    const TOOL: &'static str = TOOL;
    const SUBJECT: &'static str = "the platform";
    const NAMESPACE: &'static str = addons::ARGOCD_NAMESPACE;
    type Status = PlatformStatus;
    type Key = key::Platform;

    async fn objects(&self, doc: &Document) -> Result<Vec<DynamicObject>> {
        Ok(self
            .waves(doc)
            .await?
            .into_iter()
            .flat_map(|w| w.objects)
            .collect())
    }

    async fn waves(&self, doc: &Document) -> Result<Vec<Wave>> {
        waves(doc).await
    }

    fn checks(&self, doc: &Document) -> Result<Vec<Check>> {
        Ok(checks(&applications(doc)?))
    }

    fn status(&self, doc: &Document, _applied: &[Applied]) -> Result<PlatformStatus> {
        let applications = addons::enabled(doc.spec())?
            .iter()
            .map(|c| {
                let app = PlatformApplication {
                    chart: c.chart.to_string(),
                    version: c.version.to_string(),
                    namespace: c.namespace.to_string(),
                };
                (c.app.to_string(), app)
            })
            .collect();
        Ok(PlatformStatus {
            storage_class: "gp3".into(),
            argocd: argocd_version().into(),
            applications,
            gitops: doc.spec().platform.gitops.as_ref().map(|g| GitopsStatus {
                application: addons::GITOPS_APP.into(),
                repo_url: g.repo_url.clone(),
            }),
        })
    }

    async fn before_destroy(&self, client: &Client, timeout: Duration) -> Result<()> {
        sweep(client, timeout).await
    }

    async fn report(&self, client: &Client, _doc: &Document, _ready: Result<()>) -> Result<()> {
        report(client).await
    }
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

/// What apply applies, in order: the StorageClass, the booking services'
/// namespace and Argo CD (waited for until it runs), then the add-ons'
/// waves ([`addons::WAVES`]), each waited for until its Applications are
/// Synced and Healthy. Bad input is refused before anything is fetched.
async fn waves(doc: &Document) -> Result<Vec<Wave>> {
    let spec = doc.spec();
    let charts = addons::enabled(spec)?;
    let mut applications = Vec::new();
    for c in &charts {
        applications.push((c.wave, c.app, addons::application(c, &addons::values(c, doc)?)));
    }
    let mut first = vec![
        dynamic(
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": addons::ARGOCD_NAMESPACE}}),
        )?,
        dynamic(addons::storage_class())?,
    ];
    if let Some(ns) = addons::workload_namespace(spec) {
        first.push(dynamic(ns)?);
    }
    let bytes = phx_artifacts::fetch(phx_artifacts::ARGOCD_INSTALL).await?;
    let text = String::from_utf8(bytes).map_err(|e| Error::failed(format!("Argo CD install.yaml: {e}")))?;
    first.extend(manifest::parse(phx_artifacts::ARGOCD_INSTALL.name, &text)?);
    let mut waves = vec![Wave {
        name: format!("Argo CD {}", argocd_version()),
        objects: first,
        checks: argocd_checks(),
    }];
    for (n, purpose) in addons::WAVES.iter().enumerate() {
        let n = n as u8;
        let mut objects = Vec::new();
        let mut names = Vec::new();
        for (_, app, a) in applications.iter().filter(|(w, _, _)| *w == n) {
            objects.push(dynamic(a.clone())?);
            names.push(app.to_string());
        }
        if n == addons::GITOPS_WAVE {
            if let Some(g) = addons::gitops(spec) {
                objects.push(dynamic(g)?);
                names.push(addons::GITOPS_APP.to_string());
            }
        }
        let checks = names.iter().map(|a| application_check(a)).collect();
        let mut what = names.clone();
        if n == addons::MTLS_WAVE {
            if let Some(p) = addons::mesh_mtls(spec) {
                objects.push(dynamic(p)?);
                what.push("mesh-wide mTLS".into());
            }
        }
        if !objects.is_empty() {
            waves.push(Wave {
                name: format!("wave {n} ({purpose}: {})", what.join(", ")),
                objects,
                checks,
            });
        }
    }
    Ok(waves)
}

/// The Applications apply makes: every enabled add-on, and the app-of-apps.
fn applications(doc: &Document) -> Result<Vec<String>> {
    let mut apps: Vec<String> = addons::enabled(doc.spec())?
        .iter()
        .map(|c| c.app.to_string())
        .collect();
    if addons::gitops(doc.spec()).is_some() {
        apps.push(addons::GITOPS_APP.to_string());
    }
    Ok(apps)
}

fn argocd_version() -> &'static str {
    phx_artifacts::ARGOCD_INSTALL
        .name
        .split('-')
        .nth(1)
        .unwrap_or_default()
}

fn checks(apps: &[String]) -> Vec<Check> {
    let mut checks = argocd_checks();
    checks.extend(apps.iter().map(|a| application_check(a)));
    checks
}

fn application_check(app: &str) -> Check {
    Check::Application {
        resource: application_resource(),
        namespace: addons::ARGOCD_NAMESPACE.to_string(),
        name: app.to_string(),
    }
}

/// Argo CD runs: its Deployments and its application controller.
fn argocd_checks() -> Vec<Check> {
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
        namespace: ns,
        name: "argocd-application-controller".into(),
    });
    checks
}

/// Before phx's objects go: the Applications first (their finalizer lets
/// Argo CD remove what they made), then every LoadBalancer Service and
/// Ingress of the cluster, so no cloud load balancer outlives the cluster.
async fn sweep(client: &Client, timeout: Duration) -> Result<()> {
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
    applications_gone(client, &doomed, timeout).await?;

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
    destroy::gone(&doomed, timeout).await
}

/// Argo CD deletes what an Application made, then drops its finalizer.
/// With no application controller running (crashed, or never started)
/// nothing would, and destroy would wait its whole timeout: after a third
/// of it (at most a minute) the finalizers are removed, with a warning.
/// What the Applications made stays to Kubernetes' garbage collection and
/// to the load balancer sweep that follows.
async fn applications_gone(
    client: &Client,
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
async fn argocd_running(client: &Client) -> bool {
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
async fn report(client: &Client) -> Result<()> {
    let api: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), addons::ARGOCD_NAMESPACE, &application_resource());
    let lp = ListParams::default().labels(&format!("{TOOL_LABEL}={TOOL}"));
    let list = api.list(&lp).await.map_err(|e| err("listing Applications", e))?;
    let mut rows: Vec<Value> = list
        .items
        .iter()
        .map(|a| {
            let v = serde_json::to_value(a).unwrap_or_default();
            let wave = v["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]
                .as_str()
                .and_then(|w| w.parse::<u8>().ok());
            json!({"name": a.metadata.name, "wave": wave,
                   "sync": v["status"]["sync"]["status"].as_str().unwrap_or("Unknown"),
                   "health": v["status"]["health"]["status"].as_str().unwrap_or("Unknown"),
                   "chart": v["spec"]["source"]["chart"], "version": v["spec"]["source"]["targetRevision"],
                   "namespace": v["spec"]["destination"]["namespace"]})
        })
        .collect();
    // In the order they come up: wave, then name.
    rows.sort_by(|a, b| {
        (a["wave"].as_u64(), a["name"].as_str()).cmp(&(b["wave"].as_u64(), b["name"].as_str()))
    });
    if !io::stdout_is_terminal() {
        return io::write_json(&Value::Array(rows));
    }
    let cell = |v: &Value| v.as_str().unwrap_or("-").to_string();
    let lines: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let wave = r["wave"].as_u64().map_or("-".into(), |w| w.to_string());
            let mut row = vec![wave];
            row.extend(["name", "sync", "health", "version"].map(|k| cell(&r[k])));
            row
        })
        .collect();
    let table = phx_core::table::render(&["WAVE", "ADD-ON", "SYNC", "HEALTH", "VERSION"], &lines, 2);
    io::write_bytes(table.as_bytes())
}
