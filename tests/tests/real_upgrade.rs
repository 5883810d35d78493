//! Rolling Kubernetes upgrades (#18) on the real-Kubernetes sandbox: the
//! built 1.34 binaries upgraded to the built 1.35 ones by the real kubeadm
//! (`upgrade plan`, `apply`, `node`), the package stand-in switching a
//! node's kubeadm, kubectl and kubelet version, the sandbox kubelet
//! restarting static pods whose manifests kubeadm rewrote. Drains are real
//! evictions against the real API server, held back by a real
//! PodDisruptionBudget that the real controller manager keeps.
//! Everything is read back with kubectl, never from phx's word for it.

#![allow(clippy::unwrap_used)]

mod common;

use common::wait_for;
use phx_testkit::{success, LocalSandbox};
use serde_json::json;
use std::collections::BTreeSet;
use std::time::Instant;

const FROM: &str = "v1.34.4";
const TO: &str = "v1.35.4";

fn set_version(sb: &LocalSandbox, v: &str) {
    let mut spec = sb.read_cluster();
    spec["spec"]["kubernetes"]["version"] = json!(v);
    sb.write_cluster(&spec);
}

fn server_version(sb: &LocalSandbox) -> String {
    sb.kubectl_json(&["version"])["serverVersion"]["gitVersion"]
        .as_str()
        .unwrap()
        .to_string()
}

fn kubelets(sb: &LocalSandbox) -> Vec<String> {
    sb.kubectl_json(&["get", "nodes"])["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            n["status"]["nodeInfo"]["kubeletVersion"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

const WORKLOAD: &str = r#"{"apiVersion": "v1", "kind": "List", "items": [
 {"apiVersion": "apps/v1", "kind": "Deployment",
  "metadata": {"name": "web", "namespace": "default"},
  "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
           "template": {"metadata": {"labels": {"app": "web"}},
                        "spec": {"containers": [{"name": "web", "image": "registry.example/phoenix/web:1"}]}}}},
 {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
  "metadata": {"name": "web", "namespace": "default"},
  "spec": {"minAvailable": 3, "selector": {"matchLabels": {"app": "web"}}}}]}"#;

/// A watcher, while the upgrade runs: every quarter second, how many
/// healthy pods the budget counts and which nodes are cordoned, as lines
/// in `watch.log`, until `watch.stop` exists.
fn watch(sb: &LocalSandbox) -> std::process::Child {
    let k = format!(
        "{} --kubeconfig {}",
        phx_testkit::k8s_bin("kubectl").display(),
        sb.dir().join("kubeconfig").display()
    );
    sb.spawn_shell(&format!(
        r#"while [[ ! -f watch.stop ]]; do
             {k} get pdb web -o jsonpath='healthy {{.status.currentHealthy}}{{"\n"}}' 2>/dev/null
             {k} get nodes -o jsonpath='{{range .items[?(@.spec.unschedulable==true)]}}cordoned {{.metadata.name}}{{"\n"}}{{end}}' 2>/dev/null
             sleep 0.25
           done >> watch.log"#
    ))
}

/// What the watcher saw: the fewest healthy pods, every node cordoned.
fn seen(sb: &LocalSandbox) -> (i64, BTreeSet<String>) {
    let log = std::fs::read_to_string(sb.dir().join("watch.log")).unwrap();
    let healthy = log
        .lines()
        .filter_map(|l| l.strip_prefix("healthy ")?.trim().parse::<i64>().ok())
        .min()
        .expect("the watcher saw the budget");
    let cordoned = log
        .lines()
        .filter_map(|l| Some(l.strip_prefix("cordoned ")?.trim().to_string()))
        .collect();
    (healthy, cordoned)
}

/// 1.34 -> 1.35 on one control plane and three workers, a Deployment of 3
/// behind a PodDisruptionBudget: refusals first (1.36, 1.33: nothing
/// touched); a roll stopped by the budget (minAvailable 3) at the first
/// worker's drain; with minAvailable 2, stopped at the second worker's
/// kubeadm; then the same deploy finishing it, two workers at a time.
#[test]
fn a_cluster_upgrades_one_minor_node_by_node_within_its_disruption_budget() {
    let sb = LocalSandbox::up_real(4);
    success("deploy.sh", &sb.run("scripts/deploy.sh", &["cluster.json"]));
    assert_eq!(server_version(&sb), FROM);
    assert_eq!(sb.stored()["status"]["kubeadm"]["version"], FROM);

    // Refused before anything changes: no upgrade call, no backup.
    for (v, says) in [("1.36", "one minor at a time"), ("1.33", "cannot downgrade")] {
        set_version(&sb, v);
        let out = sb.run("scripts/deploy.sh", &["cluster.json"]);
        assert!(!out.status.success(), "{v}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{v}: {err}");
        assert!(err.contains("phx-kubeadm"), "{err}");
    }
    for i in 1..=4 {
        assert_eq!(sb.count(i, "kubeadm upgrade"), 0, "node {i} untouched");
    }
    assert_eq!(server_version(&sb), FROM);
    assert!(kubelets(&sb).iter().all(|k| k == FROM));

    std::fs::write(sb.dir().join("web.json"), WORKLOAD).unwrap();
    success(
        "kubectl apply",
        &sb.kubectl(&["apply", "-f", sb.dir().join("web.json").to_str().unwrap()]),
    );
    wait_for("3 web pods ready", 120, || {
        sb.kubectl_json(&["get", "deployment", "web"])["status"]["readyReplicas"] == 3
    });
    wait_for("the budget counts 3 healthy", 60, || {
        sb.kubectl_json(&["get", "pdb", "web"])["status"]["currentHealthy"] == 3
    });

    let mut watcher = watch(&sb);
    set_version(&sb, "1.35.4");

    // A budget that allows no eviction (3 of 3): the first worker's drain
    // waits out PHX_DRAIN_TIMEOUT, then the roll stops naming the budget
    // and its pods, the worker left cordoned, nothing forced.
    let t = Instant::now();
    let out = sb.shell(r#"PHX_DRAIN_TIMEOUT=10s "$PHX_ROOT"/scripts/deploy.sh cluster.json"#);
    let blocked_run = t.elapsed();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "PodDisruptionBudget default/web allows no disruption (minAvailable 3) for pods default/web-"
        ),
        "{err}"
    );
    assert!(err.contains("--force-drain"), "{err}");
    let up = &sb.stored()["status"]["kubeadm"]["upgrade"];
    assert_eq!(
        up["nodes"]["sandbox-control-plane-1"]["step"], "uncordoned",
        "{up}"
    );
    assert_eq!(up["nodes"]["sandbox-worker-1"]["step"], "kubeadm", "{up}");
    assert_eq!(
        sb.kubectl_json(&["get", "deployment", "web"])["status"]["readyReplicas"],
        3
    );
    let cordoned: Vec<String> = sb.kubectl_json(&["get", "nodes"])["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["spec"]["unschedulable"] == true)
        .map(|n| n["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(cordoned.len(), 1, "the first worker stays cordoned: {cordoned:?}");

    // The budget allows one: the second worker's kubeadm fails, the roll
    // stops there, the first worker done and recorded.
    success(
        "kubectl patch pdb",
        &sb.kubectl(&[
            "patch",
            "pdb",
            "web",
            "--type",
            "merge",
            "-p",
            r#"{"spec":{"minAvailable":2}}"#,
        ]),
    );
    wait_for("the budget allows one disruption", 60, || {
        sb.kubectl_json(&["get", "pdb", "web"])["status"]["disruptionsAllowed"] == 1
    });
    sb.fail(3, "kubeadm upgrade node");
    let t = Instant::now();
    let out = sb.run("scripts/deploy.sh", &["cluster.json"]);
    let stopped_run = t.elapsed();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("the same command resumes it"), "{err}");
    let up = &sb.stored()["status"]["kubeadm"]["upgrade"];
    assert_eq!(up["from"], FROM);
    assert_eq!(up["to"], TO);
    assert_eq!(
        up["nodes"]["sandbox-control-plane-1"]["step"], "uncordoned",
        "{up}"
    );
    assert_eq!(
        up["nodes"]["sandbox-worker-1"],
        json!({"version": TO, "step": "uncordoned"})
    );
    assert!(
        up["nodes"]["sandbox-worker-2"]
            .get("step")
            .is_none_or(|s| s == ""),
        "{up}"
    );
    assert_eq!(server_version(&sb), TO, "the control plane is upgraded");

    // Resumed, the last two workers at once.
    sb.heal(3);
    let t = Instant::now();
    success(
        "deploy.sh (resumed)",
        &sb.shell(r#"PHX_MAX_UNAVAILABLE=2 "$PHX_ROOT"/scripts/deploy.sh cluster.json"#),
    );
    let resumed_run = t.elapsed();
    std::fs::write(sb.dir().join("watch.stop"), "").unwrap();
    watcher.wait().unwrap();

    assert_eq!(server_version(&sb), TO);
    assert_eq!(kubelets(&sb), vec![TO.to_string(); 4], "every node reports 1.35");
    let doc = sb.stored();
    // kubeadm rewrote the control plane's manifests and the kubelet runs
    // them: each mirror pod names the new image and is Ready.
    let cp = doc["status"]["nodes"]["instances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["role"] == "control-plane")
        .and_then(|n| n["privateDns"].as_str())
        .unwrap()
        .to_string();
    for c in ["kube-apiserver", "kube-controller-manager", "kube-scheduler"] {
        let pod = sb.kubectl_json(&["get", "pod", "-n", "kube-system", &format!("{c}-{cp}")]);
        assert_eq!(
            pod["spec"]["containers"][0]["image"],
            format!("registry.k8s.io/{c}:{TO}")
        );
        let ready = pod["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True");
        assert!(ready, "{c} Ready");
    }
    assert_eq!(sb.count(1, "kubeadm upgrade plan"), 1);
    assert_eq!(doc["status"]["kubeadm"]["version"], TO);
    assert!(doc["status"]["kubeadm"]["upgrade"]["finished"].is_string());
    // Done once each: the resumed roll skipped what was done.
    assert_eq!(sb.count(1, "kubeadm upgrade apply"), 1);
    assert_eq!(
        sb.count(2, "kubeadm upgrade node"),
        1,
        "the first worker not again"
    );
    // A backup before the roll, in the bucket.
    assert!(!doc["status"]["kubeadm"]["backups"].as_array().unwrap().is_empty());

    let (fewest, cordoned) = seen(&sb);
    assert!(
        fewest >= 2,
        "the budget held: at least 2 healthy throughout, saw {fewest}"
    );
    let names: BTreeSet<String> = sb.kubectl_json(&["get", "nodes"])["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(cordoned, names, "every node was cordoned");
    assert!(
        sb.kubectl_json(&["get", "nodes"])["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["spec"]["unschedulable"] != true),
        "and uncordoned"
    );
    assert_eq!(
        sb.kubectl_json(&["get", "deployment", "web"])["status"]["readyReplicas"],
        3
    );

    // Nothing left to do: the next deploy asks no node about versions.
    success(
        "deploy.sh (again)",
        &sb.run("scripts/deploy.sh", &["cluster.json"]),
    );
    assert_eq!(sb.count(1, "kubeadm upgrade"), 2, "plan and apply, once");

    // And back to 1.34 is refused, nothing touched.
    set_version(&sb, "1.34");
    let out = sb.run("scripts/deploy.sh", &["cluster.json"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot downgrade"), "{err}");
    assert_eq!(sb.count(1, "kubeadm upgrade"), 2);
    assert_eq!(server_version(&sb), TO);

    println!(
        "upgrade figures: 4 nodes 1.34 -> 1.35: stopped by the budget at the first worker's drain \
         after {:.1} s (10 s of it the drain timeout), at the second worker's kubeadm after {:.1} s, \
         resumed with two workers at a time and finished in {:.1} s; fewest healthy pods under the \
         budget {fewest}",
        blocked_run.as_secs_f64(),
        stopped_run.as_secs_f64(),
        resumed_run.as_secs_f64(),
    );
}
