//! phx-platform against the Kubernetes API stand-in with the real Argo CD
//! install.yaml from the shared test mirror.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use phx_kubetest::FakeApi;
use phx_testkit::{mirror, ok};
use serde_json::{json, Value};

use std::process::Output;

fn doc(api: &FakeApi) -> Value {
    json!({"apiVersion": "phx/v1", "kind": "Cluster", "metadata": {"name": "phoenix"},
           "spec": {"region": "eu-west-1",
                    "platform": {"gitops": {"repoURL": "https://git.example.com/phoenix/booking-config.git", "path": "apps"}}},
           "status": {"network": {"vpcId": "vpc-0abc", "vpcCidr": "10.0.0.0/16", "owned": true, "zones": [],
                                  "subnets": [], "securityGroups": {}},
                      "kubeadm": api.kubeadm_status()}})
}

struct Env {
    cache: tempfile::TempDir,
}

impl Env {
    fn platform(&self, args: &[&str], doc: &Value) -> Output {
        assert_cmd::Command::cargo_bin("phx-platform")
            .unwrap()
            .env("PHX_ARTIFACT_MIRROR", mirror())
            .env("PHX_CACHE_DIR", self.cache.path())
            .env_remove("KUBECONFIG")
            .args(args)
            .write_stdin(doc.to_string())
            .output()
            .unwrap()
    }
}

fn env() -> Env {
    Env {
        cache: tempfile::tempdir().unwrap(),
    }
}

const APPS: [&str; 6] = [
    "aws-ebs-csi-driver",
    "aws-load-balancer-controller",
    "istio-base",
    "istio-ingressgateway",
    "istiod",
    "phoenix-booking-apps",
];

#[test]
fn apply_installs_argocd_then_the_add_ons_as_applications_and_a_second_apply_changes_nothing() {
    let api = FakeApi::start(Some(2));
    let e = env();
    let out = ok(&e.platform(&["apply", "--timeout", "60s"], &doc(&api)));

    // Argo CD: its 59 objects, in its namespace, made first.
    let argocd: Vec<Value> = api
        .lock()
        .objects
        .values()
        .filter(|s| s.value["metadata"]["labels"]["phx.dev/tool"] == "phx-platform")
        .map(|s| s.value.clone())
        .collect();
    assert_eq!(
        argocd.len(),
        59 + 1 + 1 + APPS.len(),
        "install.yaml + namespace + storage class + apps"
    );
    let writes = api.writes();
    let ns = writes
        .iter()
        .position(|w| w.starts_with("PATCH /api/v1/namespaces/argocd?"))
        .unwrap();
    let first_in_ns = writes
        .iter()
        .position(|w| w.contains("/namespaces/argocd/"))
        .unwrap();
    assert!(ns < first_in_ns, "namespace before its objects: {writes:#?}");
    let last_crd = writes
        .iter()
        .rposition(|w| w.contains("/customresourcedefinitions/"))
        .unwrap();
    let first_app = writes.iter().position(|w| w.contains("/applications/")).unwrap();
    assert!(last_crd < first_app, "CRDs before their custom resources");

    let sc = api.get("storage.k8s.io", "storageclasses", "", "gp3").unwrap();
    assert_eq!(
        sc["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"],
        "true"
    );
    assert_eq!(sc["parameters"], json!({"type": "gp3", "encrypted": "true"}));
    assert_eq!(sc["volumeBindingMode"], "WaitForFirstConsumer");
    assert_eq!(sc["allowVolumeExpansion"], true);

    let apps: Vec<String> = api
        .all("argoproj.io", "applications")
        .iter()
        .map(|a| a["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(apps, APPS);
    let lbc = api
        .get(
            "argoproj.io",
            "applications",
            "argocd",
            "aws-load-balancer-controller",
        )
        .unwrap();
    let src = &lbc["spec"]["source"];
    assert_eq!(src["repoURL"], "https://aws.github.io/eks-charts");
    assert_eq!(src["chart"], "aws-load-balancer-controller");
    assert_eq!(
        src["helm"]["valuesObject"],
        json!({"clusterName": "phoenix", "region": "eu-west-1", "vpcId": "vpc-0abc"})
    );
    let gw = api
        .get("argoproj.io", "applications", "argocd", "istio-ingressgateway")
        .unwrap();
    assert_eq!(
        gw["spec"]["source"]["helm"]["valuesObject"]["service"]["type"],
        "LoadBalancer"
    );
    let gitops = api
        .get("argoproj.io", "applications", "argocd", "phoenix-booking-apps")
        .unwrap();
    assert_eq!(
        gitops["spec"]["source"],
        json!({"repoURL": "https://git.example.com/phoenix/booking-config.git", "path": "apps", "targetRevision": "HEAD"})
    );
    assert_eq!(
        gitops["spec"]["syncPolicy"]["automated"],
        json!({"prune": true, "selfHeal": true})
    );
    assert_eq!(out["status"]["platform"]["ready"], true);
    assert_eq!(out["status"]["platform"]["argocd"], "v3.5.1");

    let before = api.writes().len();
    let rv = |a: &FakeApi| -> Vec<Value> {
        a.lock()
            .objects
            .values()
            .map(|s| s.value["metadata"]["resourceVersion"].clone())
            .collect()
    };
    let versions = rv(&api);
    ok(&e.platform(&["apply", "--timeout", "60s"], &out));
    assert!(api.writes().len() > before, "the second apply applies again");
    assert_eq!(rv(&api), versions, "and changes nothing");

    // status: the add-ons as JSON when not on a terminal.
    let listed = ok(&e.platform(&["status"], &out));
    let rows = listed.as_array().unwrap();
    assert_eq!(rows.len(), APPS.len());
    assert!(
        rows.iter()
            .all(|r| r["sync"] == "Synced" && r["health"] == "Healthy"),
        "{listed}"
    );
}

#[test]
fn an_unknown_add_on_is_refused_before_any_write() {
    let api = FakeApi::start(Some(1));
    let mut d = doc(&api);
    d["spec"]["platform"]["addons"] = json!({"nginx": true});
    let out = env().platform(&["apply"], &d);
    assert_eq!(out.status.code(), Some(65));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown add-on \"nginx\""));
    assert!(api.writes().is_empty());
}

#[test]
fn applications_that_never_sync_time_out_naming_them() {
    let api = FakeApi::start(None);
    let out = env().platform(&["apply", "--timeout", "2s"], &doc(&api));
    assert_eq!(out.status.code(), Some(1));
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(
        msg.contains("Application argocd/istiod OutOfSync, Progressing (waiting for rollout to finish)"),
        "{msg}"
    );
    assert!(
        msg.contains("StatefulSet argocd/argocd-application-controller 0/1 ready"),
        "{msg}"
    );
}

#[test]
fn destroy_removes_load_balancers_and_ingresses_before_anything_else() {
    let api = FakeApi::start(Some(1));
    let e = env();
    let up = ok(&e.platform(&["apply", "--timeout", "30s"], &doc(&api)));
    // What controllers and users made: an LB Service, an Ingress, a ClusterIP Service.
    {
        let mut st = api.lock();
        st.put(
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "gw", "namespace": "default"},
                      "spec": {"type": "LoadBalancer"}}),
            "istio",
        );
        st.put(
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                      "metadata": {"name": "web", "namespace": "default"}, "spec": {}}),
            "user",
        );
        st.put(json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "internal", "namespace": "default"},
                      "spec": {"type": "ClusterIP"}}), "user");
    }
    let before = api.requests().len();
    let down = ok(&e.platform(&["destroy", "--timeout", "30s"], &up));
    assert!(api.get("", "services", "default", "gw").is_none());
    assert!(api
        .get("networking.k8s.io", "ingresses", "default", "web")
        .is_none());
    assert!(
        api.get("", "services", "default", "internal").is_some(),
        "only load balancers"
    );
    assert!(api.all("argoproj.io", "applications").is_empty());
    assert!(api.get("", "namespaces", "", "argocd").is_none());
    assert!(down["status"].get("platform").is_none());
    let deletes: Vec<String> = api.requests()[before..]
        .iter()
        .filter(|r| r.starts_with("DELETE"))
        .cloned()
        .collect();
    assert!(deletes[0].contains("/applications/"), "{deletes:#?}");
    let lb = deletes.iter().position(|d| d.ends_with("/services/gw")).unwrap();
    let argocd_server = deletes
        .iter()
        .position(|d| d.contains("/deployments/argocd-server"))
        .unwrap();
    assert!(
        lb < argocd_server,
        "load balancers go before the platform: {deletes:#?}"
    );
}
