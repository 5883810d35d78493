//! A highly available control plane (#16) on the real-Kubernetes sandbox:
//! three control planes behind the API load balancer (the emulator's
//! network load balancer, its traffic carried by HAProxy to the targets
//! phx-nodes registered), stacked etcd with one member each. Read back
//! with the built kubectl and etcdctl, the emulator and the balancer's
//! own configuration, never from the tools' word for it.
//!
//! The two tests share the machine's two cores with nothing else: they
//! take turns (each runs up to seven control-plane processes).

#![allow(clippy::unwrap_used)]

mod common;

use common::backup::{backup_then_restore, listed};
use common::wait_for;
use phx_testkit::{success, LocalSandbox};
use serde_json::{json, Value};
use std::sync::Mutex;
use std::time::Instant;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn deploy(sb: &LocalSandbox) {
    success("deploy.sh", &sb.run("scripts/deploy.sh", &["cluster.json"]));
}

/// The control planes in the stored document: (kubelet name, private IP).
fn control_planes(doc: &Value) -> Vec<(String, String)> {
    doc["status"]["nodes"]["instances"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["role"] == "control-plane")
        .map(|n| {
            (
                n["privateDns"].as_str().unwrap().to_string(),
                n["privateIp"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn etcd_endpoints(cps: &[(String, String)]) -> Vec<String> {
    cps.iter().map(|(_, ip)| format!("https://{ip}:2379")).collect()
}

/// etcd's members' names, asked on control plane `on` (from 1).
fn members(sb: &LocalSandbox, on: usize, cps: &[(String, String)]) -> Vec<String> {
    let out = sb.etcdctl(on, &etcd_endpoints(cps), &["member", "list"]);
    let v = phx_testkit::ok(&out);
    let mut names: Vec<String> = v["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap_or_default().to_string())
        .collect();
    names.sort();
    names
}

/// How many of the members answer healthy.
fn healthy(sb: &LocalSandbox, on: usize, cps: &[(String, String)]) -> usize {
    let out = sb.etcdctl(on, &etcd_endpoints(cps), &["endpoint", "health"]);
    // Exits 1 when any is unhealthy; the JSON lists every endpoint.
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(json!([]));
    v.as_array()
        .map_or(0, |a| a.iter().filter(|e| e["health"] == true).count())
}

fn ready_nodes(sb: &LocalSandbox) -> Vec<String> {
    sb.kubectl_json(&["get", "nodes"])["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| {
            n["status"]["conditions"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
        })
        .map(|n| n["metadata"]["name"].as_str().unwrap().to_string())
        .collect()
}

/// The API servers HAProxy forwards to (the sandbox agent writes them from
/// the target group's registered targets in the emulator).
/// The targets HAProxy forwards to for the API load balancers (the
/// internet-facing one and the internal endpoint), when both have the
/// same; else a line saying they differ (which equals no list of IPs).
fn balanced(sb: &LocalSandbox) -> Vec<String> {
    let cfg = std::fs::read_to_string(sb.dir().join("haproxy.cfg")).unwrap();
    let mut per_lb: Vec<Vec<String>> = Vec::new();
    let mut in_lb = false;
    for l in cfg.lines() {
        if let Some(section) = l.strip_prefix("backend ") {
            in_lb = section
                .strip_prefix("lb")
                .is_some_and(|k| k.bytes().all(|b| b.is_ascii_digit()));
            if in_lb {
                per_lb.push(Vec::new());
            }
        } else if let (true, Some(server)) = (in_lb, l.trim().strip_prefix("server ")) {
            per_lb
                .last_mut()
                .unwrap()
                .push(server.split_whitespace().next().unwrap().to_string());
        }
    }
    let per_lb: Vec<Vec<String>> = per_lb.into_iter().map(sorted).collect();
    match per_lb.as_slice() {
        [a, b] if a == b => a.clone(),
        _ => vec![format!(
            "not two load balancers with the same targets: {per_lb:?}"
        )],
    }
}

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

/// Three control planes and three workers come up behind the endpoint;
/// losing the first control plane leaves the API answering through it and
/// etcd with two of three; starting its machine again (empty) and deploying
/// heals the cluster; destroy leaves no load balancer or target group.
#[test]
fn three_control_planes_survive_losing_one_and_heal() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let sb = LocalSandbox::up_real_ha(6, 3);
    let t = Instant::now();
    deploy(&sb);
    let deployed = t.elapsed();
    let doc = sb.stored();
    let lb = doc["status"]["network"]["apiInternalLoadBalancer"]["dnsName"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        doc["status"]["kubeadm"]["controlPlaneEndpoint"],
        json!(format!("{lb}:6443")),
        "the internal load balancer is the endpoint"
    );
    let cps = control_planes(&doc);
    assert_eq!(cps.len(), 3);
    assert_eq!(ready_nodes(&sb).len(), 6, "three control planes, three workers");
    let labelled = sb.kubectl_json(&["get", "nodes", "-l", "node-role.kubernetes.io/control-plane"]);
    let names: Vec<String> = labelled["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    let cp_names: Vec<String> = cps.iter().map(|(n, _)| n.clone()).collect();
    assert_eq!(sorted(names), sorted(cp_names.clone()));
    // The load balancer forwards to exactly the control planes.
    let cp_ips: Vec<String> = cps.iter().map(|(_, ip)| ip.clone()).collect();
    assert_eq!(balanced(&sb), sorted(cp_ips));
    assert_eq!(members(&sb, 2, &cps), sorted(cp_names.clone()));
    assert_eq!(healthy(&sb, 2, &cps), 3);

    // Control plane 1 goes down: the endpoint still answers (HAProxy's
    // checks take it out), etcd keeps quorum with two of three.
    sb.stop_node(1);
    wait_for("the API through the endpoint", 30, || {
        sb.kubectl(&["get", "--raw", "/readyz"]).status.success()
    });
    success("kubectl get nodes", &sb.kubectl(&["get", "nodes"]));
    assert_eq!(healthy(&sb, 2, &cps), 2, "two of three members answer");
    assert_eq!(members(&sb, 2, &cps).len(), 3, "the third is still counted");

    // Its machine comes back empty: deploy removes its old etcd member
    // and Node, and it joins again as a control plane.
    sb.start_node(1);
    let t = Instant::now();
    deploy(&sb);
    let healed = t.elapsed();
    assert_eq!(sb.count(1, "kubeadm join"), 1, "it joined (it had been init)");
    assert_eq!(members(&sb, 1, &cps), sorted(cp_names.clone()));
    wait_for("etcd healthy, three of three", 60, || healthy(&sb, 1, &cps) == 3);
    wait_for("six nodes Ready", 90, || ready_nodes(&sb).len() == 6);
    assert_eq!(
        sb.stored()["status"]["kubeadm"]["controlPlane"],
        "sandbox-control-plane-2",
        "the cluster its peers kept leads"
    );
    // A backup came first (the control plane joining changes etcd), made
    // on the leader: none at the first deploy, which made the cluster.
    let backups = listed(&sb);
    assert_eq!(backups.len(), 1, "{backups:?}");
    assert_eq!(sb.stored()["status"]["kubeadm"]["backups"], json!(backups));

    // Restored with three members.
    backup_then_restore(&sb);
    assert_eq!(members(&sb, 1, &cps), sorted(cp_names.clone()));
    assert_eq!(healthy(&sb, 1, &cps), 3);

    let t = Instant::now();
    success(
        "destroy.sh",
        &sb.run("scripts/destroy.sh", &["--yes", "cluster.json"]),
    );
    let destroyed = t.elapsed();
    assert_eq!(sb.inventory(), json!({}), "no load balancer, no target group");
    println!(
        "HA figures: deploy 3+3 {:.1} s, heal {:.1} s, destroy {:.1} s",
        deployed.as_secs_f64(),
        healed.as_secs_f64(),
        destroyed.as_secs_f64()
    );
}

/// A cluster made with one control plane behind the endpoint grows to
/// three (two control planes join, etcd counts three, the load balancer
/// forwards to all three) and back to one (only with --allow-remove: two
/// members leave etcd, their machines and targets go).
#[test]
fn one_control_plane_grows_to_three_and_back() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let sb = LocalSandbox::up_real_ha(5, 3);
    let mut spec = sb.read_cluster();
    spec["spec"]["nodes"]["controlPlane"]["count"] = json!(1);
    spec["spec"]["nodes"]["workers"]["count"] = json!(2);
    sb.write_cluster(&spec);
    deploy(&sb);
    let doc = sb.stored();
    let cps = control_planes(&doc);
    assert_eq!(cps.len(), 1);
    assert_eq!(members(&sb, 1, &cps).len(), 1);
    assert_eq!(balanced(&sb).len(), 1);

    spec["spec"]["nodes"]["controlPlane"]["count"] = json!(3);
    sb.write_cluster(&spec);
    let t = Instant::now();
    deploy(&sb);
    let grown = t.elapsed();
    let cps = control_planes(&sb.stored());
    assert_eq!(cps.len(), 3);
    let cp_names: Vec<String> = cps.iter().map(|(n, _)| n.clone()).collect();
    assert_eq!(members(&sb, 1, &cps), sorted(cp_names));
    wait_for("etcd healthy, three of three", 60, || healthy(&sb, 1, &cps) == 3);
    assert_eq!(sb.count(1, "kubeadm init --config"), 1, "no second init");
    assert_eq!(
        sb.count(1, "kubeadm init phase upload-certs --upload-certs"),
        1,
        "one certificate key for both joins"
    );
    for i in [2, 3] {
        assert_eq!(sb.count(i, "kubeadm join"), 1, "control plane {i} joined");
    }
    let cp_ips: Vec<String> = cps.iter().map(|(_, ip)| ip.clone()).collect();
    wait_for("the load balancer forwards to all three", 10, || {
        balanced(&sb) == sorted(cp_ips.clone())
    });
    wait_for("five nodes Ready", 90, || ready_nodes(&sb).len() == 5);
    assert_eq!(listed(&sb).len(), 1, "a backup before the control planes joined");

    // 3 -> 1: refused without the flag, nothing changed; with it control
    // planes 3 and 2 leave etcd and the cluster, then their machines go.
    spec["spec"]["nodes"]["controlPlane"]["count"] = json!(1);
    sb.write_cluster(&spec);
    let out = sb.run("scripts/deploy.sh", &["cluster.json"]);
    assert!(!out.status.success(), "3 -> 1 without --allow-remove");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("re-run with --allow-remove"), "{err}");
    assert_eq!(members(&sb, 1, &cps).len(), 3, "no member removed");
    let t = Instant::now();
    success(
        "deploy.sh --allow-remove",
        &sb.run("scripts/deploy.sh", &["--allow-remove", "cluster.json"]),
    );
    let shrunk = t.elapsed();
    assert_eq!(listed(&sb).len(), 2, "and one before they left");
    let first = &cps[..1];
    assert_eq!(members(&sb, 1, first), [first[0].0.clone()]);
    assert_eq!(healthy(&sb, 1, first), 1);
    assert_eq!(balanced(&sb), [first[0].1.clone()]);
    assert_eq!(
        sb.inventory()["instance"].as_object().map(serde_json::Map::len),
        Some(3),
        "the two control planes' machines terminated"
    );
    wait_for("three nodes, Ready", 120, || {
        ready_nodes(&sb).len() == 3
            && sb.kubectl_json(&["get", "nodes"])["items"]
                .as_array()
                .unwrap()
                .len()
                == 3
    });
    success(
        "kubectl get --raw /readyz",
        &sb.kubectl(&["get", "--raw", "/readyz"]),
    );

    success(
        "destroy.sh",
        &sb.run("scripts/destroy.sh", &["--yes", "cluster.json"]),
    );
    assert_eq!(sb.inventory(), json!({}));
    println!(
        "HA figures: 1 -> 3 control planes {:.1} s, 3 -> 1 {:.1} s",
        grown.as_secs_f64(),
        shrunk.as_secs_f64()
    );
}
