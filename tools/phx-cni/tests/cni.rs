//! phx-cni against the Kubernetes API stand-in (`phx-kubetest`) with the
//! real upstream calico.yaml served from the shared test mirror. Contract
//! tests: they check what phx asks of the API, not that Calico runs.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use phx_kubetest::FakeApi;
use phx_testkit::{mirror, ok};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Output;

const NODES: [&str; 4] = [
    "ip-10-0-0-5.ec2.internal",
    "ip-10-0-1-5.ec2.internal",
    "ip-10-0-2-5.ec2.internal",
    "ip-10-0-0-6.ec2.internal",
];

fn doc(api: &FakeApi) -> Value {
    json!({"apiVersion": "phx/v1", "kind": "Cluster", "metadata": {"name": "phoenix"},
           "spec": {"kubernetes": {"podCidr": "10.244.0.0/16"}},
           "status": {"kubeadm": api.kubeadm_status()}})
}

fn cni(args: &[&str], doc: &Value, mirror: &Path, cache: &Path) -> Output {
    assert_cmd::Command::cargo_bin("phx-cni")
        .unwrap()
        .env("PHX_ARTIFACT_MIRROR", mirror)
        .env("PHX_CACHE_DIR", cache)
        .env_remove("KUBECONFIG")
        .args(args)
        .write_stdin(doc.to_string())
        .output()
        .unwrap()
}

fn ours(api: &FakeApi) -> Vec<Value> {
    api.lock()
        .objects
        .values()
        .filter(|s| s.value["metadata"]["labels"]["phx.dev/tool"] == "phx-cni")
        .map(|s| s.value.clone())
        .collect()
}

#[test]
fn apply_puts_crds_first_sets_the_pod_cidr_waits_and_a_second_apply_changes_nothing() {
    let api = FakeApi::start(Some(2));
    api.add_nodes(&NODES);
    let cache = tempfile::tempdir().unwrap();
    let out = ok(&cni(
        &["apply", "--timeout", "60s"],
        &doc(&api),
        &mirror(),
        cache.path(),
    ));

    let objects = ours(&api);
    assert_eq!(objects.len(), 38, "every object of calico.yaml");
    let crds: Vec<_> = objects
        .iter()
        .filter(|o| o["kind"] == "CustomResourceDefinition")
        .collect();
    assert_eq!(crds.len(), 23);
    assert!(objects
        .iter()
        .all(|o| o["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "phx"));

    // Order: every CRD before anything else.
    let patches: Vec<String> = api
        .writes()
        .into_iter()
        .filter(|r| r.starts_with("PATCH"))
        .collect();
    let last_crd = patches
        .iter()
        .rposition(|r| r.contains("/customresourcedefinitions/"))
        .unwrap();
    let first_other = patches
        .iter()
        .position(|r| !r.contains("/customresourcedefinitions/"))
        .unwrap();
    assert!(last_crd < first_other, "CRDs first: {patches:#?}");
    assert!(
        patches.iter().all(|r| r.contains("fieldManager=phx")),
        "{patches:#?}"
    );

    let ds = api
        .get("apps", "daemonsets", "kube-system", "calico-node")
        .unwrap();
    let env = ds["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .unwrap();
    let cidr: Vec<_> = env
        .iter()
        .filter(|e| e["name"] == "CALICO_IPV4POOL_CIDR")
        .collect();
    assert_eq!(
        cidr,
        [&json!({"name": "CALICO_IPV4POOL_CIDR", "value": "10.244.0.0/16"})]
    );
    assert_eq!(out["status"]["cni"]["ready"], true);
    assert_eq!(out["status"]["cni"]["version"], "v3.32.1");
    assert_eq!(out["status"]["cni"]["podCidr"], "10.244.0.0/16");

    let before: Vec<Value> = ours(&api);
    ok(&cni(
        &["apply", "--timeout", "60s"],
        &out,
        &mirror(),
        cache.path(),
    ));
    let strip = |v: &[Value]| -> Vec<Value> {
        v.iter()
            .map(|o| {
                let mut o = o.clone();
                o.as_object_mut().unwrap().remove("status");
                o
            })
            .collect()
    };
    let after = strip(&ours(&api));
    let before = strip(&before);
    assert_eq!(after.len(), before.len());
    for (a, b) in after.iter().zip(&before) {
        assert!(
            a == b,
            "a second apply changed {}: resourceVersion {} -> {}",
            a["metadata"]["name"],
            b["metadata"]["resourceVersion"],
            a["metadata"]["resourceVersion"]
        );
    }
}

#[test]
fn plan_lists_every_object_and_writes_nothing() {
    let api = FakeApi::start(Some(1));
    let cache = tempfile::tempdir().unwrap();
    let out = cni(&["plan"], &doc(&api), &mirror(), cache.path());
    let planned = ok(&out);
    assert!(api.writes().is_empty(), "{:?}", api.writes());
    // The same list in status.cni.plan; nothing applied, nothing ready.
    assert_eq!(planned["status"]["cni"]["plan"].as_array().unwrap().len(), 38);
    assert_eq!(planned["status"]["cni"]["ready"], false);
    assert!(planned["status"]["cni"].get("version").is_none(), "{planned}");
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("38 to create"), "{text}");
    assert!(
        text.contains("CustomResourceDefinition") && text.contains("kube-system/calico-node"),
        "{text}"
    );
}

#[test]
fn a_timeout_names_what_is_not_ready_and_why() {
    let api = FakeApi::start(None);
    api.add_nodes(&NODES[..2]);
    let cache = tempfile::tempdir().unwrap();
    let out = cni(&["apply", "--timeout", "2s"], &doc(&api), &mirror(), cache.path());
    assert_eq!(out.status.code(), Some(1));
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(msg.contains("timed out after 2s"), "{msg}");
    assert!(
        msg.contains("DaemonSet kube-system/calico-node 0/2 pods ready"),
        "{msg}"
    );
    assert!(
        msg.contains("Deployment kube-system/calico-kube-controllers 0/1 ready (MinimumReplicasUnavailable"),
        "{msg}"
    );
    assert!(
        msg.contains("Node ip-10-0-0-5.ec2.internal not Ready (KubeletNotReady"),
        "{msg}"
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["error"]["tool"], "phx-cni");
    assert_eq!(
        doc["status"]["cni"]["ready"], false,
        "what was applied is recorded"
    );
}

/// An apply on one ready node whose API server loses its answers to the
/// requests that start with `lost` (one per entry, in order).
fn losing_answers<const N: usize>(lost: [&str; N]) -> (FakeApi, std::process::Output) {
    let api = FakeApi::start(Some(1));
    api.add_nodes(&NODES[..1]);
    api.lock().lose_answers = lost.map(String::from).to_vec();
    let cache = tempfile::tempdir().unwrap();
    let out = cni(
        &["apply", "--timeout", "60s"],
        &doc(&api),
        &mirror(),
        cache.path(),
    );
    (api, out)
}

#[test]
fn requests_whose_answers_are_lost_are_sent_again_and_the_apply_completes() {
    // The load balancer dropping a leaving control plane's sessions: the
    // API server did the work, the answer never came.
    let (api, out) = losing_answers(["GET /api", "PATCH", "PATCH", "GET /apis/apps/v1/namespaces"]);
    let out = ok(&out);
    assert_eq!(out["status"]["cni"]["ready"], true);
    assert_eq!(ours(&api).len(), 38);
    assert!(api.lock().lose_answers.is_empty(), "every fault was hit");
    // The two PATCHes whose answers were lost were handled twice (CRDs go
    // out together, so which two is not fixed); sent again, an apply
    // changes nothing.
    let patches: Vec<String> = api
        .writes()
        .into_iter()
        .filter(|r| r.starts_with("PATCH"))
        .collect();
    let distinct: std::collections::BTreeSet<_> = patches.iter().collect();
    assert_eq!(patches.len(), distinct.len() + 2, "{patches:#?}");
}

#[test]
fn an_api_server_that_never_answers_is_a_clear_error_not_a_hang() {
    let crd = "PATCH /apis/apiextensions.k8s.io/v1/customresourcedefinitions/bgpconfigurations.";
    let (api, out) = losing_answers([crd; 5]);
    assert_eq!(out.status.code(), Some(1));
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(msg.contains("no answer from the API server"), "{msg}");
    assert!(!msg.contains("ERROR"), "one error, said once by the tool: {msg}");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["error"]["tool"], "phx-cni");
    let sent = api.writes().into_iter().filter(|r| r.starts_with(crd)).count();
    assert_eq!(sent, 5, "sent once and again four times");
}

#[test]
fn a_long_wait_says_every_ten_seconds_what_it_waits_for() {
    let api = FakeApi::start(None);
    api.add_nodes(&NODES[..1]);
    let cache = tempfile::tempdir().unwrap();
    let out = cni(
        &["apply", "--timeout", "11s"],
        &doc(&api),
        &mirror(),
        cache.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    let msg = String::from_utf8_lossy(&out.stderr);
    let said: Vec<&str> = msg.lines().filter(|l| l.contains("waiting for")).collect();
    assert_eq!(said.len(), 1, "once, at 10 s: {msg}");
    assert!(said[0].ends_with("(10 s)"), "{msg}");
    assert!(
        said[0].contains("DaemonSet kube-system/calico-node 0/1 pods ready"),
        "{msg}"
    );
}

#[test]
fn a_mirror_file_with_the_wrong_digest_is_refused_before_any_write() {
    let api = FakeApi::start(Some(1));
    let bad = tempfile::tempdir().unwrap();
    let name = "calico-v3.32.1-calico.yaml";
    let mut text = std::fs::read_to_string(mirror().join(name)).unwrap();
    text.push_str("\n# tampered\n");
    std::fs::write(bad.path().join(name), text).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let out = cni(&["apply"], &doc(&api), bad.path(), cache.path());
    assert_eq!(out.status.code(), Some(1));
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(msg.contains("sha256") && msg.contains(name), "{msg}");
    assert!(api.writes().is_empty());
}

#[test]
fn destroy_deletes_exactly_what_was_applied() {
    let api = FakeApi::start(Some(1));
    api.add_nodes(&NODES[..1]);
    let cache = tempfile::tempdir().unwrap();
    let up = ok(&cni(&["apply"], &doc(&api), &mirror(), cache.path()));
    let down = ok(&cni(&["destroy"], &up, &mirror(), cache.path()));
    assert!(ours(&api).is_empty());
    assert!(down["status"].get("cni").is_none());
    assert_eq!(api.all("", "nodes").len(), 1, "nodes are not phx-cni's");
    assert!(api.get("", "namespaces", "", "kube-system").is_some());
}
