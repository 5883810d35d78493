//! The add-ons: each a Helm chart at a pinned version, delivered as an
//! Argo CD `Application` with a Helm source, so no helm binary is needed
//! anywhere; values come from the document.
//!
//! The add-ons come up in waves, the lesson of the reference platform
//! (Vault's pods crash-looped and its volumes stayed Pending because it
//! started before the EBS CSI driver and the cloud controller): first what
//! talks to the cloud and issues certificates, then the mesh one piece at a
//! time, then what needs volumes or certificates, then the booking
//! services. Each Application carries its wave as
//! `argocd.argoproj.io/sync-wave`, and phx-platform applies a wave only
//! once the one before is Synced and Healthy (Argo CD orders waves only
//! within one sync, and these Applications are not one).

use phx_core::spec::{Mtls, Spec};
use phx_core::status::{keys, NetworkStatus};
use phx_core::{Document, Error, Result};
use serde_json::{json, Value};

/// One chart of an add-on.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// The Application's name.
    pub app: &'static str,
    pub repo: &'static str,
    pub chart: &'static str,
    pub version: &'static str,
    pub namespace: &'static str,
    /// Its sync wave ([`WAVES`]).
    pub wave: u8,
}

const fn chart(
    app: &'static str,
    repo: &'static str,
    chart: &'static str,
    version: &'static str,
    namespace: &'static str,
    wave: u8,
) -> Chart {
    Chart {
        app,
        repo,
        chart,
        version,
        namespace,
        wave,
    }
}

/// What each wave is for, by number. The gp3 StorageClass and Argo CD
/// come before all of them.
pub const WAVES: &[&str] = &[
    "cloud and storage",
    "mesh base",
    "mesh control plane",
    "mesh gateway",
    "what needs volumes or certificates",
    "booking services",
];
/// The app-of-apps' wave: after every add-on.
pub const GITOPS_WAVE: u8 = 5;
/// Mesh-wide mTLS needs the CRDs of istio-base (wave 1) and goes with istiod.
pub const MTLS_WAVE: u8 = 2;

const ISTIO: &str = "https://istio-release.storage.googleapis.com/charts";

/// Add-on name (as in `spec.platform.addons`) to its charts, in order.
pub const ADDONS: &[(&str, &[Chart])] = &[
    (
        "aws-load-balancer-controller",
        &[chart(
            "aws-load-balancer-controller",
            "https://aws.github.io/eks-charts",
            "aws-load-balancer-controller",
            "3.5.0",
            "kube-system",
            0,
        )],
    ),
    (
        "aws-ebs-csi-driver",
        &[chart(
            "aws-ebs-csi-driver",
            "https://kubernetes-sigs.github.io/aws-ebs-csi-driver",
            "aws-ebs-csi-driver",
            "2.53.0",
            "kube-system",
            0,
        )],
    ),
    (
        "istio",
        &[
            chart("istio-base", ISTIO, "base", "1.28.0", "istio-system", 1),
            chart("istiod", ISTIO, "istiod", "1.28.0", "istio-system", 2),
            chart(
                "istio-ingressgateway",
                ISTIO,
                "gateway",
                "1.28.0",
                "istio-ingress",
                3,
            ),
        ],
    ),
    (
        "cert-manager",
        &[chart(
            "cert-manager",
            "https://charts.jetstack.io",
            "cert-manager",
            "v1.19.1",
            "cert-manager",
            0,
        )],
    ),
    (
        "kube-prometheus-stack",
        &[chart(
            "kube-prometheus-stack",
            "https://prometheus-community.github.io/helm-charts",
            "kube-prometheus-stack",
            "79.5.0",
            "monitoring",
            4,
        )],
    ),
    (
        "fluent-bit",
        &[chart(
            "fluent-bit",
            "https://fluent.github.io/helm-charts",
            "fluent-bit",
            "0.54.0",
            "logging",
            4,
        )],
    ),
    (
        "opensearch",
        &[chart(
            "opensearch",
            "https://opensearch-project.github.io/helm-charts",
            "opensearch",
            "3.3.0",
            "logging",
            4,
        )],
    ),
    (
        "vault",
        &[chart(
            "vault",
            "https://helm.releases.hashicorp.com",
            "vault",
            "0.31.0",
            "vault",
            4,
        )],
    ),
    (
        "external-secrets",
        &[chart(
            "external-secrets",
            "https://charts.external-secrets.io",
            "external-secrets",
            "1.0.0",
            "external-secrets",
            4,
        )],
    ),
    (
        "harbor",
        &[chart(
            "harbor",
            "https://helm.goharbor.io",
            "harbor",
            "1.18.0",
            "harbor",
            4,
        )],
    ),
];

/// Argo CD itself is installed from its manifest, not as an Application.
pub const ARGOCD: &str = "argocd";
pub const ARGOCD_NAMESPACE: &str = "argocd";
pub const GITOPS_APP: &str = "phoenix-booking-apps";
const SYNC_WAVE: &str = "argocd.argoproj.io/sync-wave";

/// The enabled add-ons' charts; an unknown name is refused.
pub fn enabled(spec: &Spec) -> Result<Vec<&'static Chart>> {
    check_gitops(spec)?;
    let mut out = Vec::new();
    for (name, on) in &spec.platform.addons {
        let known = name == ARGOCD || ADDONS.iter().any(|(n, _)| n == name);
        if !known {
            let all: Vec<&str> = ADDONS.iter().map(|(n, _)| *n).collect();
            return Err(Error::invalid(format!(
                "spec.platform.addons: unknown add-on {name:?} (known: argocd, {})",
                all.join(", ")
            )));
        }
        if name == ARGOCD && !on {
            return Err(Error::invalid(
                "spec.platform.addons.argocd: Argo CD delivers every other add-on and cannot be off",
            ));
        }
    }
    for (name, charts) in ADDONS {
        if spec.platform.addons.get(*name).copied().unwrap_or(false) {
            out.extend(charts.iter());
        }
    }
    out.sort_by_key(|c| c.wave);
    Ok(out)
}

/// Whether an add-on is on.
pub fn is_on(spec: &Spec, name: &str) -> bool {
    spec.platform.addons.get(name).copied().unwrap_or(false)
}

/// Mesh-wide mutual TLS: the root namespace's `default` PeerAuthentication,
/// STRICT unless `spec.platform.istio.mtls` says permissive; none without
/// Istio.
pub fn mesh_mtls(spec: &Spec) -> Option<Value> {
    if !is_on(spec, "istio") {
        return None;
    }
    let mode = match spec.platform.istio.mtls {
        Mtls::Strict => "STRICT",
        Mtls::Permissive => "PERMISSIVE",
    };
    Some(json!({
        "apiVersion": "security.istio.io/v1",
        "kind": "PeerAuthentication",
        "metadata": {"name": "default", "namespace": "istio-system"},
        "spec": {"mtls": {"mode": mode}}
    }))
}

/// The booking services' namespace (the app-of-apps' destination), made by
/// phx so it carries Istio's sidecar injection label from the start.
pub fn workload_namespace(spec: &Spec) -> Option<Value> {
    let g = spec.platform.gitops.as_ref()?;
    let mut ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": g.namespace}});
    if is_on(spec, "istio") {
        ns["metadata"]["labels"] = json!({"istio-injection": "enabled"});
    }
    Some(ns)
}

/// Helm values from the document for a chart.
pub fn values(c: &Chart, doc: &Document) -> Result<Value> {
    Ok(match c.app {
        "aws-load-balancer-controller" => {
            let vpc = match doc.status::<NetworkStatus>(keys::NETWORK)?.and_then(|n| n.vpc_id) {
                Some(v) => v,
                // A fresh cluster's plan: the VPC is planned, not made.
                None if phx_kube::client::before_cluster(doc, None)? => "(new VPC)".into(),
                None => {
                    return Err(Error::invalid(
                        "status.network.vpcId is missing: the load balancer controller needs the VPC id",
                    ))
                }
            };
            let region = doc.spec().region.clone().ok_or_else(|| {
                Error::invalid("spec.region is missing: the load balancer controller needs it")
            })?;
            json!({"clusterName": doc.name(), "region": region, "vpcId": vpc})
        }
        "aws-ebs-csi-driver" => json!({"controller": {"region": doc.spec().region}}),
        "istiod" => json!({"global": {"istioNamespace": "istio-system"}}),
        "istio-ingressgateway" => json!({"service": {"type": "LoadBalancer", "annotations": {
            "service.beta.kubernetes.io/aws-load-balancer-type": "external",
            "service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing",
            "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip"}}}),
        "cert-manager" => json!({"crds": {"enabled": true}}),
        "kube-prometheus-stack" => json!({"grafana": {"enabled": true}}),
        _ => json!({}),
    })
}

/// The Argo CD Application for a chart: Helm source at the pinned version,
/// automated sync, and a finalizer so deleting it deletes what it made.
pub fn application(c: &Chart, values: &Value) -> Value {
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": c.app, "namespace": ARGOCD_NAMESPACE,
                     "annotations": {SYNC_WAVE: c.wave.to_string()},
                     "finalizers": ["resources-finalizer.argocd.argoproj.io"]},
        "spec": {
            "project": "default",
            "source": {"repoURL": c.repo, "chart": c.chart, "targetRevision": c.version,
                       "helm": {"releaseName": c.app, "valuesObject": values}},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": c.namespace},
            "syncPolicy": {"automated": {"prune": true, "selfHeal": true},
                           "syncOptions": ["CreateNamespace=true", "ServerSideApply=true"]}
        }
    })
}

/// `spec.platform.gitops`: a repository Argo CD can clone, a path inside
/// it, a revision; refused before anything is applied.
fn check_gitops(spec: &Spec) -> Result<()> {
    let Some(g) = &spec.platform.gitops else {
        return Ok(());
    };
    let bad = |field: &str, v: &str, want: &str| {
        Err(Error::invalid(format!(
            "spec.platform.gitops.{field}: {v:?} is not {want}"
        )))
    };
    let url = &g.repo_url;
    let scheme = ["https://", "http://", "ssh://", "git@"]
        .iter()
        .any(|p| url.starts_with(p));
    if !scheme || url.len() < 10 || url.chars().any(char::is_whitespace) {
        return bad("repoURL", url, "a Git repository URL (https://, ssh:// or git@)");
    }
    if g.path.starts_with('/') || g.path.split('/').any(|p| p == "..") || g.path.chars().any(char::is_control)
    {
        return bad("path", &g.path, "a path inside the repository");
    }
    if g.target_revision.is_empty() || g.target_revision.chars().any(char::is_whitespace) {
        return bad("targetRevision", &g.target_revision, "a branch, tag or commit");
    }
    let label = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
    let ns = &g.namespace;
    if ns.is_empty() || ns.len() > 63 || !ns.chars().all(label) || ns.starts_with('-') || ns.ends_with('-') {
        return bad("namespace", ns, "a namespace name (a-z, 0-9 and -, at most 63)");
    }
    Ok(())
}

/// The app-of-apps for the booking services' config repository.
pub fn gitops(spec: &Spec) -> Option<Value> {
    let g = spec.platform.gitops.as_ref()?;
    Some(json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": GITOPS_APP, "namespace": ARGOCD_NAMESPACE,
                     "annotations": {SYNC_WAVE: GITOPS_WAVE.to_string()},
                     "finalizers": ["resources-finalizer.argocd.argoproj.io"]},
        "spec": {
            "project": "default",
            "source": {"repoURL": g.repo_url, "path": g.path, "targetRevision": g.target_revision},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": g.namespace},
            "syncPolicy": {"automated": {"prune": true, "selfHeal": true}}
        }
    }))
}

/// The default StorageClass: EBS gp3 through the CSI driver, encrypted,
/// bound where the pod lands, expandable.
pub fn storage_class() -> Value {
    json!({
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": "gp3", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
        "provisioner": "ebs.csi.aws.com",
        "parameters": {"type": "gp3", "encrypted": "true"},
        "volumeBindingMode": "WaitForFirstConsumer",
        "allowVolumeExpansion": true,
        "reclaimPolicy": "Delete"
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The README's wave table says what the code does: each wave's row
    /// names every add-on of that wave, the mTLS default and the sysctl.
    #[test]
    fn the_readme_tells_the_waves_mtls_and_sysctl_as_built() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md");
        let readme = std::fs::read_to_string(path).unwrap();
        for (n, purpose) in WAVES.iter().enumerate() {
            let row = readme
                .lines()
                .find(|l| l.starts_with(&format!("| {n} | {purpose}")))
                .unwrap_or_else(|| panic!("no README row for wave {n} ({purpose})"));
            for c in ADDONS
                .iter()
                .flat_map(|(_, cs)| cs.iter())
                .filter(|c| c.wave as usize == n)
            {
                assert!(row.contains(c.app), "README wave {n} lacks {}: {row}", c.app);
            }
        }
        assert!(readme.contains("| 5 | booking services | the app-of-apps |"));
        assert!(readme.contains("`mtls.mode: STRICT`"));
        assert!(readme.contains("`vm.max_map_count = 262144`"));
    }

    #[test]
    fn mesh_mtls_is_strict_by_default_permissive_on_request_and_absent_without_istio() {
        let mut spec = Spec::default();
        assert_eq!(mesh_mtls(&spec).unwrap()["spec"]["mtls"]["mode"], "STRICT");
        spec.platform.istio.mtls = Mtls::Permissive;
        assert_eq!(mesh_mtls(&spec).unwrap()["spec"]["mtls"]["mode"], "PERMISSIVE");
        spec.platform.addons.insert("istio".into(), false);
        assert_eq!(mesh_mtls(&spec), None);
    }

    #[test]
    fn defaults_are_the_reference_add_ons_and_unknown_names_are_refused() {
        let spec = Spec::default();
        let apps: Vec<&str> = enabled(&spec).unwrap().iter().map(|c| c.app).collect();
        assert_eq!(
            apps,
            [
                "aws-load-balancer-controller",
                "aws-ebs-csi-driver",
                "istio-base",
                "istiod",
                "istio-ingressgateway"
            ]
        );
        let mut all = Spec::default();
        for on in all.platform.addons.values_mut() {
            *on = true;
        }
        let waves: Vec<(u8, &str)> = enabled(&all).unwrap().iter().map(|c| (c.wave, c.app)).collect();
        assert_eq!(
            waves,
            [
                (0, "aws-load-balancer-controller"),
                (0, "aws-ebs-csi-driver"),
                (0, "cert-manager"),
                (1, "istio-base"),
                (2, "istiod"),
                (3, "istio-ingressgateway"),
                (4, "kube-prometheus-stack"),
                (4, "fluent-bit"),
                (4, "opensearch"),
                (4, "vault"),
                (4, "external-secrets"),
                (4, "harbor"),
            ],
            "the cloud and storage first, the mesh piece by piece, then what needs volumes"
        );
        let mut bad = Spec::default();
        bad.platform.addons.insert("nginx".into(), true);
        assert_eq!(
            enabled(&bad).unwrap_err().kind(),
            phx_core::ExitKind::InvalidInput
        );
        let mut off = Spec::default();
        off.platform.addons.insert("argocd".into(), false);
        assert!(enabled(&off).is_err());
    }
}
