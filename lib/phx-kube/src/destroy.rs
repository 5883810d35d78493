//! Deleting what a tool applied, found by its label on every resource type
//! the server lists: custom resources first (their controllers may still
//! need the rest), then namespaced objects, then cluster-wide ones, CRDs
//! and namespaces last. Waits until they are gone.

use crate::{err, TOOL_LABEL};
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams};
use kube::discovery::{verbs, Discovery, Scope};
use kube::Client;
use phx_core::backoff::Backoff;
use phx_core::stage::Mine;
use phx_core::status::Key;
use phx_core::{Error, Result};
use std::path::Path;
use std::time::Duration;

fn rank(ar: &ApiResource, namespaced: bool) -> u8 {
    let builtin = ar.group.is_empty() || ar.group.ends_with(".k8s.io") || !ar.group.contains('.');
    match (ar.kind.as_str(), builtin, namespaced) {
        ("Namespace", _, _) => 4,
        ("CustomResourceDefinition", _, _) => 3,
        (_, false, _) => 0,
        (_, true, true) => 1,
        (_, true, false) => 2,
    }
}

/// The client for `destroy`, or `None` when this cluster's kubeconfig is
/// gone ([`crate::client::connect_if_present`]): then one line says the
/// in-cluster step is skipped and the tool's status (`status.<K>`) is
/// dropped. Nothing is lost: the cloud load balancers Services made carry
/// the cluster's tag, and phx-net destroy sweeps them.
pub async fn client_or_skip<K: Key>(doc: &mut Mine<'_, K>, flag: Option<&Path>) -> Result<Option<Client>> {
    let client = crate::client::connect_if_present(doc, flag).await?;
    if client.is_none() {
        tracing::warn!(
            "no kubeconfig for this cluster (status.kubeadm.kubeconfig is gone): skipping the in-cluster \
             step; phx-net destroy removes the cluster's load balancers by their tags"
        );
        doc.clear();
    }
    Ok(client)
}

/// Delete every object labelled `phx.dev/tool=<tool>`; returns how many.
pub async fn by_tool(client: &Client, tool: &str, timeout: Duration) -> Result<usize> {
    let discovery = Discovery::new(client.clone())
        .run()
        .await
        .map_err(|e| err("API discovery", e))?;
    let mut types: Vec<(ApiResource, bool)> = discovery
        .groups()
        .flat_map(|g| g.recommended_resources())
        .filter(|(_, caps)| caps.supports_operation(verbs::LIST) && caps.supports_operation(verbs::DELETE))
        .map(|(ar, caps)| (ar, matches!(caps.scope, Scope::Namespaced)))
        .collect();
    types.sort_by_key(|(ar, ns)| rank(ar, *ns));
    let lp = ListParams::default().labels(&format!("{TOOL_LABEL}={tool}"));
    let mut deleted = Vec::new();
    for (ar, namespaced) in &types {
        let all: Api<DynamicObject> = Api::all_with(client.clone(), ar);
        let list = all
            .list(&lp)
            .await
            .map_err(|e| err(format!("listing {}", ar.plural), e))?;
        for o in list.items {
            let name = o.metadata.name.clone().unwrap_or_default();
            let api: Api<DynamicObject> = match (&o.metadata.namespace, namespaced) {
                (Some(ns), true) => Api::namespaced_with(client.clone(), ns, ar),
                _ => Api::all_with(client.clone(), ar),
            };
            match api.delete(&name, &DeleteParams::background()).await {
                Ok(_) => deleted.push((api, name)),
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(err(format!("deleting {} {name}", ar.kind), e)),
            }
        }
    }
    let n = deleted.len();
    gone(&deleted, timeout).await?;
    Ok(n)
}

/// Wait until every `(api, name)` reads as not found.
pub async fn gone(objects: &[(Api<DynamicObject>, String)], timeout: Duration) -> Result<()> {
    let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(5), timeout);
    let progress = phx_core::progress::Waiting::start(format!("{} objects to be deleted", objects.len()));
    loop {
        let mut left = Vec::new();
        for (api, name) in objects {
            if api.get_opt(name).await.map_err(|e| err(name, e))?.is_some() {
                left.push(name.clone());
            }
        }
        if left.is_empty() {
            return Ok(());
        }
        progress.set(format!("deletion of {}", left.join(", ")));
        if !backoff.wait().await {
            return Err(Error::failed(format!(
                "timed out after {} waiting for deletion of {}",
                phx_core::time::format_duration(timeout),
                left.join(", ")
            )));
        }
    }
}
