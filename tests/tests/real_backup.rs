//! etcd snapshots and restore (#17) on the real-Kubernetes sandbox: the
//! snapshot made by the built etcdctl/etcdutl against the real etcd (the
//! etcd image's tools, run by the ctr stand-in: no container runtime
//! here), stored in the emulator's state bucket, restored into the real
//! etcd. Read back with the built kubectl, the bucket and the nodes
//! themselves, never from the tools' word for it.

#![allow(clippy::unwrap_used)]

mod common;

use common::backup::{
    backup_then_restore, doc_ip, healthy_cluster, kubeadm, listed, on_control_planes, stderr,
};
use phx_testkit::{success, LocalSandbox};
use serde_json::{json, Value};
use std::time::Duration;

#[test]
fn a_snapshot_restored_brings_back_what_it_held() {
    let sb = LocalSandbox::up_real(2);
    let mut doc = sb.read_cluster();
    doc["spec"]["nodes"]["workers"]["count"] = json!(1);
    sb.write_cluster(&doc);
    success("deploy.sh", &sb.run("scripts/deploy.sh", &["cluster.json"]));
    assert!(listed(&sb).is_empty(), "one control plane: no backup was needed");

    // etcd hung on the only control plane (its process stopped, found by
    // its own address: the host's other sandboxes' etcds are left alone):
    // a clear failure, nothing uploaded.
    let ip = doc_ip(&sb);
    let etcd = |signal: &str| {
        // Anchored at the binary: the commands carrying the pattern are
        // not etcd.
        let cmd = format!("pkill -{signal} -f '^[^ ]*/etcd .*--advertise-client-urls=https://{ip}:2379'");
        success("exec", &on_control_planes(&sb, &cmd));
    };
    etcd("STOP");
    let out = kubeadm(&sb, &["backup"]);
    etcd("CONT");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let e = stderr(&out);
    assert!(
        e.contains("no control plane has a healthy etcd, nothing was uploaded"),
        "{e}"
    );
    assert!(e.contains("etcd is not healthy"), "{e}");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(doc["error"]["message"].is_string(), "the document says it failed");
    assert!(listed(&sb).is_empty());
    healthy_cluster(&sb);

    // No room in RAM for the snapshot (the node's own /dev/shm made 1 MiB,
    // etcd's database is larger): refused before any is made.
    success(
        "exec",
        &on_control_planes(&sb, "mount -o remount,size=1m /dev/shm"),
    );
    let out = kubeadm(&sb, &["backup"]);
    success(
        "exec",
        &on_control_planes(&sb, "mount -o remount,size=50% /dev/shm"),
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let e = stderr(&out);
    assert!(e.contains("no room for it in RAM"), "{e}");
    assert!(listed(&sb).is_empty());

    backup_then_restore(&sb);

    // Retention: the two newest of three, in the bucket and the document.
    let mut stored = sb.stored();
    stored["spec"]["backup"] = json!({"keep": {"last": 2, "hourly": 0, "daily": 0}});
    // An earlier stage's failure (cron pulls what the last deploy stored)
    // does not stop backups, and stays recorded.
    let failed = json!({"tool": "phx-cni", "message": "timed out", "at": "2026-12-01T00:00:00Z"});
    stored["error"] = failed.clone();
    let mut keys = Vec::new();
    let mut last = Value::Null;
    for i in 0..3 {
        success(
            "kubectl",
            &sb.kubectl(&["create", "configmap", &format!("r{i}"), "-n", "default"]),
        );
        let out = sb.tool("phx-kubeadm", &["backup"], stored.to_string().as_bytes());
        success("backup", &out);
        last = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(last["error"], failed);
        keys.push(last["status"]["kubeadm"]["backups"][0]["key"].clone());
        std::thread::sleep(Duration::from_millis(1100));
    }
    let all = listed(&sb);
    let left: Vec<&Value> = all.iter().map(|b| &b["key"]).collect();
    assert_eq!(left, [&keys[2], &keys[1]], "exactly the two newest");
    assert_eq!(last["status"]["kubeadm"]["backups"], json!(all));
}
