//! The backup and restore scenario, shared by the one-control-plane test
//! (real_backup) and the three-control-plane one (real_ha).

use phx_testkit::{success, LocalSandbox};
use serde_json::Value;
use std::process::Output;
use std::time::{Duration, Instant};

fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "{what}: not within {secs} s");
        std::thread::sleep(Duration::from_millis(500));
    }
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// `phx-kubeadm ARGS` on the stored document.
pub fn kubeadm(sb: &LocalSandbox, args: &[&str]) -> Output {
    let doc = sb.stored().to_string();
    sb.tool("phx-kubeadm", args, doc.as_bytes())
}

/// The bucket's snapshots, as `phx-kubeadm backups` lists them (JSON: not
/// a terminal).
pub fn listed(sb: &LocalSandbox) -> Vec<Value> {
    let out = kubeadm(sb, &["backups"]);
    phx_testkit::ok(&out).as_array().unwrap().clone()
}

/// The (only) control plane's private IP.
pub fn doc_ip(sb: &LocalSandbox) -> String {
    let doc = sb.stored();
    let cp = doc["status"]["nodes"]["instances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["role"] == "control-plane")
        .unwrap()
        .clone();
    cp["privateIp"].as_str().unwrap().to_string()
}

/// A shell command on the control planes (`phx-kubeadm exec`).
pub fn on_control_planes(sb: &LocalSandbox, cmd: &str) -> Output {
    kubeadm(sb, &["exec", "--role", "control-plane", "--", "sh", "-c", cmd])
}

pub fn configmap(sb: &LocalSandbox, name: &str) -> bool {
    sb.kubectl(&["get", "configmap", name, "-n", "default"])
        .status
        .success()
}

/// How many control planes the stored document lists.
fn control_planes(sb: &LocalSandbox) -> usize {
    sb.stored()["status"]["nodes"]["instances"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["role"] == "control-plane")
        .count()
}

/// The restore as the help shows it: under the state's lock, the
/// document (with its progress) stored whatever happens.
fn restore(sb: &LocalSandbox) -> Output {
    sb.shell(
        "set -o pipefail; phx-state lock < cluster.json \
         | phx-kubeadm restore --from latest --yes | phx-state push --unlock > /dev/null",
    )
}

/// The cluster as a user sees it after a restore: the API ready, every
/// node Ready, every Deployment available.
pub fn healthy_cluster(sb: &LocalSandbox) {
    wait_for("/readyz", 120, || {
        sb.kubectl(&["get", "--raw", "/readyz"]).stdout == b"ok"
    });
    wait_for("every node Ready", 180, || {
        let nodes = sb.kubectl_json(&["get", "nodes"]);
        nodes["items"].as_array().unwrap().iter().all(|n| {
            n["status"]["conditions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
    });
    wait_for("every Deployment available", 240, || {
        let d = sb.kubectl_json(&["get", "deployments", "-A"]);
        let items = d["items"].as_array().unwrap();
        !items.is_empty()
            && items.iter().all(|d| {
                d["status"]["availableReplicas"].as_u64().unwrap_or(0)
                    >= d["spec"]["replicas"].as_u64().unwrap_or(1)
            })
    });
}

/// ConfigMap `a`; a backup; `a` deleted and `b` made; a restore of the
/// latest: `a` back, `b` gone, the cluster healthy.
pub fn backup_then_restore(sb: &LocalSandbox) {
    success(
        "kubectl",
        &sb.kubectl(&["create", "configmap", "a", "-n", "default"]),
    );
    let before = listed(sb).len();
    let t = Instant::now();
    let out = kubeadm(sb, &["backup"]);
    success("backup", &out);
    eprintln!("backup: {:.1} s", t.elapsed().as_secs_f64());
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let all = listed(sb);
    assert_eq!(all.len(), before + 1, "{all:?}");
    let newest = &all[0];
    assert_eq!(
        doc["status"]["kubeadm"]["backups"][0], *newest,
        "recorded as listed"
    );
    let name = doc["metadata"]["name"].as_str().unwrap();
    let key = newest["key"].as_str().unwrap();
    assert!(
        key.starts_with(&format!("{name}/etcd/")) && key.ends_with(".db"),
        "{key}"
    );
    assert!(newest["revision"].as_u64().unwrap() > 1);
    assert!(newest["size"].as_u64().unwrap() > 4096);
    // Nothing of it stays on a node: RAM only, and emptied.
    let left = on_control_planes(sb, "ls -A /dev/shm; ls /var/lib | grep -c etcd.phx || true");
    success("exec", &left);
    for l in String::from_utf8_lossy(&left.stdout).lines() {
        assert!(l.ends_with("| 0"), "left on a node: {l}");
    }

    success(
        "kubectl",
        &sb.kubectl(&["delete", "configmap", "a", "-n", "default"]),
    );
    success(
        "kubectl",
        &sb.kubectl(&["create", "configmap", "b", "-n", "default"]),
    );

    // A snapshot that is not there: 65, and nothing stopped.
    let bad = kubeadm(sb, &["restore", "--from", "nope.db", "--yes"]);
    assert_eq!(bad.status.code(), Some(65), "{}", stderr(&bad));
    assert!(
        stderr(&bad).contains("--from nope.db: no such snapshot"),
        "{}",
        stderr(&bad)
    );
    // Unconfirmed (no terminal to ask on): 2, nothing stopped.
    let unasked = kubeadm(sb, &["restore", "--from", "latest"]);
    assert_eq!(unasked.status.code(), Some(2), "{}", stderr(&unasked));
    let manifests = on_control_planes(sb, "ls /etc/kubernetes/manifests | grep -c -e etcd -e apiserver");
    for l in String::from_utf8_lossy(&manifests.stdout).lines() {
        assert!(l.ends_with("| 2"), "a manifest moved: {l}");
    }
    assert!(configmap(sb, "b"), "the API still serves b");

    // Interrupted: control plane 1's restore step fails (its etcdutl,
    // through ctr). The stored document says how far it got; the API is
    // down meanwhile.
    let cps = control_planes(sb);
    sb.fail(1, "ctr -n k8s.io run");
    let out = restore(sb);
    sb.heal(1);
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("the same command resumes it"),
        "{}",
        stderr(&out)
    );
    let stored = sb.stored();
    assert_eq!(stored["status"]["kubeadm"]["restore"]["step"], "stopped");
    assert!(stored["error"]["message"].is_string());
    assert!(
        !sb.kubectl(&["get", "--raw", "/readyz"]).status.success(),
        "the API is down"
    );

    // The same command resumes it: the members restored before are not
    // restored again.
    let t = Instant::now();
    let out = restore(sb);
    success("restore", &out);
    eprintln!("restore, resumed: {:.1} s", t.elapsed().as_secs_f64());
    let said = stderr(&out);
    assert_eq!(said.matches("| already restored").count(), cps - 1, "{said}");
    let verified = said.lines().find(|l| l.contains("verified:"));
    assert!(verified.is_some(), "{said}");
    eprintln!("{}", verified.unwrap_or_default());
    let r = &sb.stored()["status"]["kubeadm"]["restore"];
    assert_eq!(r["from"], newest["key"]);
    assert_eq!(r["step"], "verified");
    assert!(r["finished"].is_string());

    healthy_cluster(sb);
    assert!(configmap(sb, "a"), "a is back");
    assert!(!configmap(sb, "b"), "b is gone");
}
