//! The AWS cloud controller manager as typed objects, after upstream's
//! `examples/existing-cluster/base` (cloud-provider-aws), with an image
//! matching the cluster's Kubernetes minor (upstream's example pins a
//! stale one) and the cluster name for the resources it tags.

use k8s_openapi::api::apps::v1::{DaemonSet, DaemonSetSpec, DaemonSetUpdateStrategy};
use k8s_openapi::api::core::v1::{
    Container, PodSpec, PodTemplateSpec, ResourceRequirements, ServiceAccount, Toleration,
};
use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, RoleBinding, RoleRef, Subject,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use kube::api::DynamicObject;
use kube::Resource;
use phx_core::{Error, Result};
use std::collections::BTreeMap;

pub const NAMESPACE: &str = "kube-system";
pub const NAME: &str = "aws-cloud-controller-manager";
const SA: &str = "cloud-controller-manager";
const ROLE: &str = "system:cloud-controller-manager";

/// The cloud-provider-aws release for each Kubernetes minor (the project
/// releases one line per minor; a newer patch goes in
/// `spec.cloudProvider.image`).
pub const RELEASES: &[(&str, &str)] = &[
    ("1.31", "v1.31.0"),
    ("1.32", "v1.32.0"),
    ("1.33", "v1.33.0"),
    ("1.34", "v1.34.0"),
    ("1.35", "v1.35.0"),
    ("1.36", "v1.36.1"),
];

pub fn image(k8s_version: &str, configured: Option<&str>) -> Result<String> {
    if let Some(i) = configured {
        // An image reference: registry/path:tag or @digest, nothing a
        // YAML value or a shell would read differently.
        let ok = !i.is_empty()
            && !i.starts_with(['-', '/', ':', '@'])
            && i.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"./:_@-".contains(&b));
        if !ok {
            return Err(Error::invalid(format!(
                "spec.cloudProvider.image: {i:?} is not an image reference (like \
                 registry.k8s.io/provider-aws/cloud-controller-manager:v1.34.0)"
            )));
        }
        return Ok(i.to_string());
    }
    let v = k8s_version.trim_start_matches('v');
    let minor: String = v.split('.').take(2).collect::<Vec<_>>().join(".");
    RELEASES
        .iter()
        .find(|(m, _)| *m == minor)
        .map(|(_, tag)| format!("registry.k8s.io/provider-aws/cloud-controller-manager:{tag}"))
        .ok_or_else(|| {
            Error::invalid(format!(
                "spec.kubernetes.version {k8s_version}: no known cloud-controller-manager release for \
                 Kubernetes {minor}; set spec.cloudProvider.image"
            ))
        })
}

fn meta(name: &str, namespace: Option<&str>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: namespace.map(String::from),
        ..Default::default()
    }
}

fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> PolicyRule {
    let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    PolicyRule {
        api_groups: Some(v(groups)),
        resources: Some(v(resources)),
        verbs: v(verbs),
        ..Default::default()
    }
}

fn sa_subject() -> Subject {
    Subject {
        api_group: Some(String::new()),
        kind: "ServiceAccount".into(),
        name: SA.into(),
        namespace: Some(NAMESPACE.into()),
    }
}

fn dynamic<K: Resource<DynamicType = ()> + serde::Serialize>(obj: K) -> Result<DynamicObject> {
    let mut v =
        serde_json::to_value(&obj).map_err(|e| Error::failed(format!("encoding {}: {e}", K::kind(&()))))?;
    v["apiVersion"] = K::api_version(&()).as_ref().into();
    v["kind"] = K::kind(&()).as_ref().into();
    serde_json::from_value(v).map_err(|e| Error::failed(format!("encoding {}: {e}", K::kind(&()))))
}

pub fn all(cluster: &str, image: &str) -> Result<Vec<DynamicObject>> {
    let labels = BTreeMap::from([("k8s-app".to_string(), NAME.to_string())]);
    let toleration = |key: &str, value: Option<&str>| Toleration {
        key: Some(key.into()),
        value: value.map(String::from),
        effect: Some("NoSchedule".into()),
        ..Default::default()
    };
    let ds = DaemonSet {
        metadata: ObjectMeta {
            labels: Some(labels.clone()),
            ..meta(NAME, Some(NAMESPACE))
        },
        spec: Some(DaemonSetSpec {
            selector: LabelSelector {
                match_labels: Some(labels.clone()),
                ..Default::default()
            },
            update_strategy: Some(DaemonSetUpdateStrategy {
                type_: Some("RollingUpdate".into()),
                ..Default::default()
            }),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    node_selector: Some(BTreeMap::from([(
                        "node-role.kubernetes.io/control-plane".to_string(),
                        String::new(),
                    )])),
                    tolerations: Some(vec![
                        // It is what removes this taint, so it must tolerate it.
                        toleration("node.cloudprovider.kubernetes.io/uninitialized", Some("true")),
                        toleration("node-role.kubernetes.io/control-plane", None),
                        toleration("node.kubernetes.io/not-ready", None),
                    ]),
                    service_account_name: Some(SA.into()),
                    priority_class_name: Some("system-node-critical".into()),
                    host_network: Some(true),
                    containers: vec![Container {
                        name: NAME.into(),
                        image: Some(image.into()),
                        args: Some(vec![
                            "--v=2".into(),
                            "--cloud-provider=aws".into(),
                            format!("--cluster-name={cluster}"),
                            "--use-service-account-credentials=true".into(),
                            // Calico routes pods itself.
                            "--configure-cloud-routes=false".into(),
                        ]),
                        resources: Some(ResourceRequirements {
                            requests: Some(BTreeMap::from([("cpu".to_string(), Quantity("200m".into()))])),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        ..Default::default()
    };
    let everything = &["create", "get", "list", "watch", "update", "patch"];
    let role = ClusterRole {
        metadata: meta(ROLE, None),
        rules: Some(vec![
            rule(&[""], &["events"], &["create", "patch", "update"]),
            rule(&[""], &["nodes"], &["*"]),
            rule(&[""], &["nodes/status"], &["patch"]),
            rule(&[""], &["services"], &["list", "patch", "update", "watch"]),
            rule(&[""], &["services/status"], &["list", "patch", "update", "watch"]),
            rule(&[""], &["serviceaccounts"], &["create", "get", "list", "watch"]),
            rule(&[""], &["persistentvolumes"], &["get", "list", "update", "watch"]),
            rule(
                &[""],
                &["endpoints"],
                &["create", "get", "list", "watch", "update"],
            ),
            rule(&["coordination.k8s.io"], &["leases"], &everything[..5]),
            rule(&[""], &["serviceaccounts/token"], &["create"]),
        ]),
        ..Default::default()
    };
    let binding = ClusterRoleBinding {
        metadata: meta(ROLE, None),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "ClusterRole".into(),
            name: ROLE.into(),
        },
        subjects: Some(vec![sa_subject()]),
    };
    let reader = RoleBinding {
        metadata: meta(
            "cloud-controller-manager:apiserver-authentication-reader",
            Some(NAMESPACE),
        ),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "Role".into(),
            name: "extension-apiserver-authentication-reader".into(),
        },
        subjects: Some(vec![sa_subject()]),
    };
    let sa = ServiceAccount {
        metadata: meta(SA, Some(NAMESPACE)),
        ..Default::default()
    };
    Ok(vec![
        dynamic(sa)?,
        dynamic(role)?,
        dynamic(binding)?,
        dynamic(reader)?,
        dynamic(ds)?,
    ])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_image_follows_the_kubernetes_minor() {
        assert_eq!(
            image("1.34", None).unwrap(),
            "registry.k8s.io/provider-aws/cloud-controller-manager:v1.34.0"
        );
        assert_eq!(
            image("v1.36.2", None).unwrap(),
            "registry.k8s.io/provider-aws/cloud-controller-manager:v1.36.1"
        );
        assert_eq!(image("1.34", Some("my/ccm:x")).unwrap(), "my/ccm:x");
        let e = image("1.20", None).unwrap_err();
        assert_eq!(e.kind(), phx_core::ExitKind::InvalidInput);
    }
}
