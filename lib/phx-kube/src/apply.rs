//! Server-side apply in a safe order. Namespaces and CRDs go first; once
//! every CRD reports Established, discovery is refreshed so the custom
//! resources that follow resolve; then everything else, concurrently.
//! Each object is labelled with the tool that applies it, so `plan` and
//! `destroy` find exactly what it owns. A second apply changes nothing
//! (the resourceVersion stays), and a dry run (`plan`) says what would be
//! created or changed.

use crate::manifest::{describe, gvk, kind};
use crate::wait;
use crate::{err, MANAGED_BY, MANAGER, TOOL_LABEL};
use futures::StreamExt;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::discovery::{Discovery, Scope};
use kube::Client;
use phx_core::{Error, Result};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Created,
    Changed,
    Unchanged,
}

#[derive(Debug, Clone)]
pub struct Applied {
    /// `Kind namespace/name`.
    pub object: String,
    pub outcome: Outcome,
}

pub struct Applier {
    client: Client,
    discovery: Discovery,
    tool: String,
    /// Where namespaced objects without a namespace go.
    default_namespace: String,
}

impl std::fmt::Debug for Applier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Applier").field("tool", &self.tool).finish()
    }
}

fn first_phase(o: &DynamicObject) -> bool {
    matches!(kind(o).as_str(), "Namespace" | "CustomResourceDefinition")
}

impl Applier {
    pub async fn new(client: Client, tool: &str, default_namespace: &str) -> Result<Applier> {
        let discovery = Discovery::new(client.clone())
            .run()
            .await
            .map_err(|e| err("API discovery", e))?;
        Ok(Applier {
            client,
            discovery,
            tool: tool.to_string(),
            default_namespace: default_namespace.to_string(),
        })
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Apply `objects` (or with `dry_run`, ask the server what would change).
    pub async fn apply(
        &mut self,
        mut objects: Vec<DynamicObject>,
        dry_run: bool,
        timeout: Duration,
    ) -> Result<Vec<Applied>> {
        for o in &mut objects {
            let labels = o.metadata.labels.get_or_insert_with(Default::default);
            labels.insert(MANAGED_BY.into(), "phx".into());
            labels.insert(TOOL_LABEL.into(), self.tool.clone());
        }
        // A kind whose CRD something else installed since discovery ran
        // (Istio's, synced by Argo CD in an earlier wave): look again.
        let brings_crds = objects.iter().any(|o| kind(o) == "CustomResourceDefinition");
        if !dry_run
            && !brings_crds
            && objects
                .iter()
                .any(|o| !first_phase(o) && self.resolve(o).is_none())
        {
            self.rediscover().await?;
        }
        let (first, rest): (Vec<_>, Vec<_>) = objects.into_iter().partition(first_phase);
        let mut done = self.apply_batch(first.clone(), dry_run).await?;
        let crds: Vec<String> = first
            .iter()
            .filter(|o| kind(o) == "CustomResourceDefinition")
            .filter_map(|o| o.metadata.name.clone())
            .collect();
        if !dry_run && !crds.is_empty() {
            wait::crds_established(&self.client, &crds, timeout).await?;
            self.rediscover().await?;
        }
        done.extend(self.apply_batch(rest, dry_run).await?);
        Ok(done)
    }

    async fn rediscover(&mut self) -> Result<()> {
        self.discovery = Discovery::new(self.client.clone())
            .run()
            .await
            .map_err(|e| err("refreshing API discovery", e))?;
        Ok(())
    }

    async fn apply_batch(&self, objects: Vec<DynamicObject>, dry_run: bool) -> Result<Vec<Applied>> {
        let results: Vec<Result<Applied>> = futures::stream::iter(objects)
            .map(|o| self.apply_one(o, dry_run))
            .buffer_unordered(16)
            .collect()
            .await;
        results.into_iter().collect()
    }

    /// The resource of an object's kind, if the server serves it.
    pub fn resolve(&self, o: &DynamicObject) -> Option<(ApiResource, bool)> {
        let (api_version, kind) = gvk(o);
        let (group, version) = match api_version.split_once('/') {
            Some((g, v)) => (g.to_string(), v.to_string()),
            None => (String::new(), api_version),
        };
        let gvk = GroupVersionKind::gvk(&group, &version, &kind);
        self.discovery
            .resolve_gvk(&gvk)
            .map(|(ar, caps)| (ar, matches!(caps.scope, Scope::Namespaced)))
    }

    async fn apply_one(&self, mut o: DynamicObject, dry_run: bool) -> Result<Applied> {
        let what = describe(&o);
        let name = o
            .metadata
            .name
            .clone()
            .ok_or_else(|| Error::failed(format!("{what}: an object without a name")))?;
        let Some((ar, namespaced)) = self.resolve(&o) else {
            // In a dry run the CRD of this kind may be in the same batch.
            if dry_run {
                return Ok(Applied {
                    object: what,
                    outcome: Outcome::Created,
                });
            }
            return Err(Error::failed(format!(
                "{what}: the API server does not serve kind {}",
                kind(&o)
            )));
        };
        let api: Api<DynamicObject> = if namespaced {
            let ns = o
                .metadata
                .namespace
                .get_or_insert_with(|| self.default_namespace.clone())
                .clone();
            Api::namespaced_with(self.client.clone(), &ns, &ar)
        } else {
            o.metadata.namespace = None;
            Api::all_with(self.client.clone(), &ar)
        };
        let what = describe(&o);
        let before = api.get_opt(&name).await.map_err(|e| err(&what, e))?;
        let mut pp = PatchParams::apply(MANAGER).force();
        if dry_run {
            pp = pp.dry_run();
        }
        let after = match api.patch(&name, &pp, &Patch::Apply(&o)).await {
            Ok(a) => a,
            // A dry run of an object whose namespace is still to be made.
            Err(kube::Error::Api(s)) if dry_run && s.code == 404 && before.is_none() => {
                return Ok(Applied {
                    object: what,
                    outcome: Outcome::Created,
                });
            }
            Err(e) => return Err(err(format!("applying {what}"), e)),
        };
        let outcome = match before {
            None => Outcome::Created,
            Some(b) if b.metadata.resource_version == after.metadata.resource_version => Outcome::Unchanged,
            Some(_) => Outcome::Changed,
        };
        Ok(Applied {
            object: what,
            outcome,
        })
    }
}

/// The plan when there is no cluster yet to ask (phx-kubeadm has not run:
/// a fresh cluster's `deploy.sh --plan`): every object is to be created.
pub fn all_created(objects: &[DynamicObject]) -> Vec<Applied> {
    objects
        .iter()
        .map(|o| Applied {
            object: describe(o),
            outcome: Outcome::Created,
        })
        .collect()
}

/// Plan lines for what is not unchanged.
pub fn changes(applied: &[Applied]) -> Vec<phx_core::status::PlannedChange> {
    let mut out: Vec<_> = applied
        .iter()
        .filter(|a| a.outcome != Outcome::Unchanged)
        .map(|a| {
            let (kind, name) = a.object.split_once(' ').unwrap_or((&a.object, ""));
            let action = if a.outcome == Outcome::Created {
                "create"
            } else {
                "change"
            };
            phx_core::status::PlannedChange::new(action, kind, name, "")
        })
        .collect();
    out.sort_by(|a, b| (&a.kind, &a.name).cmp(&(&b.kind, &b.name)));
    out
}

/// `N created, M changed, K unchanged`.
pub fn summary(applied: &[Applied]) -> String {
    let n = |o: Outcome| applied.iter().filter(|a| a.outcome == o).count();
    format!(
        "{} created, {} changed, {} unchanged",
        n(Outcome::Created),
        n(Outcome::Changed),
        n(Outcome::Unchanged)
    )
}
