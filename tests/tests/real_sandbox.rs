//! End to end on the real-Kubernetes sandbox (`scripts/sandbox.sh up
//! --real`): the pipelines users run, against the real kubeadm, etcd, API
//! server, controller manager, scheduler and AWS cloud controller manager
//! (built from the Go module proxy at the pinned versions), the sandbox
//! kubelet, moto, and nodes with networks of their own. Everything is read
//! back with the built kubectl, the emulator's inventory and the nodes'
//! process tables, never from the tools' word for it.

#![allow(clippy::unwrap_used)]

use phx_testkit::{success, LocalSandbox};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

fn items(v: &Value) -> Vec<Value> {
    v["items"].as_array().cloned().unwrap_or_default()
}

/// Every object `kubectl get all` lists, with its resourceVersion.
fn versions(sb: &LocalSandbox) -> BTreeMap<String, String> {
    items(&sb.kubectl_json(&["get", "all,configmaps,serviceaccounts,roles,rolebindings", "-A"]))
        .iter()
        .map(|o| {
            let m = &o["metadata"];
            (
                format!("{}/{}/{}", o["kind"], m["namespace"], m["name"]),
                m["resourceVersion"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "{what}: not within {secs} s");
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn deploy_on_real_kubernetes_then_destroy_leaves_nothing() {
    let t = Instant::now();
    let sb = LocalSandbox::up_real(4);
    let up = t.elapsed();
    let t = Instant::now();
    success("deploy.sh", &sb.run("scripts/deploy.sh", &["cluster.json"]));
    let deployed = t.elapsed();
    let doc = sb.stored();

    // Four nodes, Ready, named by their instances' private DNS names and
    // carrying their providerIDs (set by the real cloud controller manager
    // from the emulator's instances).
    let nodes = items(&sb.kubectl_json(&["get", "nodes"]));
    assert_eq!(nodes.len(), 4, "{nodes:?}");
    for n in doc["status"]["nodes"]["instances"].as_array().unwrap() {
        let name = n["privateDns"].as_str().unwrap();
        let node = nodes
            .iter()
            .find(|x| x["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("no Node {name}"));
        let ready = node["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True");
        assert!(ready, "{name} not Ready");
        assert_eq!(
            node["spec"]["providerID"],
            json!(format!(
                "aws:///{}/{}",
                n["zone"].as_str().unwrap(),
                n["instanceId"].as_str().unwrap()
            )),
            "{name}"
        );
        assert_eq!(
            node["metadata"]["labels"]["node.kubernetes.io/instance-type"],
            n["instanceType"]
        );
        let addr = node["status"]["addresses"].as_array().unwrap();
        assert!(
            addr.iter()
                .any(|a| a["type"] == "InternalIP" && a["address"] == n["privateIp"]),
            "{addr:?}"
        );
    }

    // The pinned server version, and the kubelets' client certificates
    // approved and issued by the real controller manager.
    let version = sb.kubectl_json(&["version"]);
    assert_eq!(
        version["serverVersion"]["gitVersion"],
        json!(phx_testkit::pinned("KUBERNETES_VERSION"))
    );
    let csrs = items(&sb.kubectl_json(&["get", "csr"]));
    let kubelet_csrs: Vec<&Value> = csrs
        .iter()
        .filter(|c| c["spec"]["signerName"] == "kubernetes.io/kube-apiserver-client-kubelet")
        .collect();
    assert!(
        kubelet_csrs.len() >= 3,
        "the three workers bootstrapped: {csrs:?}"
    );
    for c in &kubelet_csrs {
        let conds = c["status"]["conditions"].as_array().unwrap();
        assert!(conds.iter().any(|x| x["type"] == "Approved"), "{c}");
        assert!(c["status"]["certificate"].is_string(), "not issued: {c}");
    }

    // The control plane's static pods run as processes, with mirror pods.
    let cp = doc["status"]["nodes"]["instances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["role"] == "control-plane")
        .unwrap()["privateDns"]
        .as_str()
        .unwrap()
        .to_string();
    let pods = items(&sb.kubectl_json(&["get", "pods", "-A"]));
    for c in [
        "etcd",
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
    ] {
        let name = format!("{c}-{cp}");
        let p = pods
            .iter()
            .find(|p| p["metadata"]["name"] == name.as_str())
            .unwrap_or_else(|| panic!("no mirror pod {name}"));
        assert!(
            p["metadata"]["annotations"]["kubernetes.io/config.mirror"].is_string(),
            "{p}"
        );
        assert_eq!(p["status"]["phase"], "Running", "{name}");
    }
    let procs = sb.node_processes(1);
    for c in [
        "etcd",
        "kube-apiserver",
        "kube-controller",
        "kube-scheduler",
        "cloud-controll",
    ] {
        assert!(
            procs.iter().any(|p| p.starts_with(c)),
            "{c} not running on the control plane: {procs:?}"
        );
    }

    // CoreDNS available (the real deployment controller computed it), the
    // add-ons' objects accepted; simulated pods say so, the CCM ran.
    let coredns = sb.kubectl_json(&["get", "deployment", "-n", "kube-system", "coredns"]);
    assert!(
        coredns["status"]["availableReplicas"].as_i64().unwrap_or(0) >= 1,
        "{coredns}"
    );
    for (kind, ns, name) in [
        ("daemonset", "kube-system", "calico-node"),
        ("daemonset", "kube-system", "aws-cloud-controller-manager"),
        ("deployment", "argocd", "argocd-server"),
    ] {
        success(
            &format!("kubectl get {kind} {name}"),
            &sb.kubectl(&["get", kind, "-n", ns, name]),
        );
    }
    let simulated = |p: &Value| p["metadata"]["annotations"]["sandbox.phx.dev/simulated"].is_string();
    let ccm = pods
        .iter()
        .find(|p| {
            p["metadata"]["name"]
                .as_str()
                .unwrap()
                .starts_with("aws-cloud-controller-manager-")
        })
        .unwrap();
    assert!(!simulated(ccm), "the CCM runs for real: {ccm}");
    let calico = pods
        .iter()
        .find(|p| {
            p["metadata"]["name"]
                .as_str()
                .unwrap()
                .starts_with("calico-node-")
        })
        .unwrap();
    assert!(simulated(calico), "{calico}");

    // The real API server validates Calico's CRDs: a malformed IPPool is refused.
    let pool = json!({"apiVersion": "crd.projectcalico.org/v1", "kind": "IPPool",
                      "metadata": {"name": "bad"}, "spec": {"cidr": 42, "blockSize": "x"}});
    let file = sb.dir().join("bad-pool.json");
    std::fs::write(&file, pool.to_string()).unwrap();
    let out = sb.kubectl(&["create", "--dry-run=server", "-f", file.to_str().unwrap()]);
    assert!(!out.status.success(), "a malformed IPPool was accepted");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Invalid value"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A second deploy changes nothing: no object's resourceVersion, no kubeadm run.
    let before = versions(&sb);
    let kubeadm_runs = |sb: &LocalSandbox| -> usize {
        (1..=4)
            .map(|i| sb.count(i, "kubeadm init") + sb.count(i, "kubeadm join"))
            .sum()
    };
    assert_eq!(kubeadm_runs(&sb), 4, "one init, three joins");
    let t = Instant::now();
    success(
        "second deploy.sh",
        &sb.run("scripts/deploy.sh", &["cluster.json"]),
    );
    let redeployed = t.elapsed();
    assert_eq!(kubeadm_runs(&sb), 4, "kubeadm ran again");
    let after = versions(&sb);
    let moved: Vec<&String> = before
        .keys()
        .filter(|k| before.get(*k) != after.get(*k))
        .collect();
    assert!(moved.is_empty(), "resourceVersions moved: {moved:?}");

    // A LoadBalancer Service: the real CCM makes a load balancer in the emulator.
    let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "front", "namespace": "default",
                     "annotations": {"service.beta.kubernetes.io/aws-load-balancer-type": "nlb"}},
                     "spec": {"type": "LoadBalancer", "selector": {"app": "front"},
                              "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}]}});
    let file = sb.dir().join("front.json");
    std::fs::write(&file, svc.to_string()).unwrap();
    success(
        "kubectl create service",
        &sb.kubectl(&["create", "-f", file.to_str().unwrap()]),
    );
    wait_for("the load balancer", 90, || {
        sb.kubectl_json(&["get", "service", "-n", "default", "front"])["status"]["loadBalancer"]["ingress"][0]
            ["hostname"]
            .is_string()
    });
    // Beside the two API load balancers phx-net made (internet-facing,
    // and the internal endpoint).
    assert_eq!(
        sb.inventory()["load-balancer"].as_object().map(|o| o.len()),
        Some(3)
    );

    // destroy.sh: nothing left in the emulator, nothing running on the nodes.
    let t = Instant::now();
    success(
        "destroy.sh",
        &sb.run("scripts/destroy.sh", &["--yes", "cluster.json"]),
    );
    let destroyed = t.elapsed();
    assert_eq!(sb.inventory(), json!({}));
    wait_for("the nodes powered off", 30, || {
        (1..=4).all(|i| sb.node_processes(i).iter().all(|p| p == "sshd"))
    });

    // The network namespaces go with the sandbox.
    let prefix = sb.netns_prefix();
    drop(sb);
    let out = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains(&prefix),
        "namespaces left: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    println!(
        "real sandbox figures: up {:.1} s, deploy {:.1} s, second deploy {:.1} s, destroy {:.1} s",
        up.as_secs_f64(),
        deployed.as_secs_f64(),
        redeployed.as_secs_f64(),
        destroyed.as_secs_f64()
    );
}

/// The sandbox never shadows the host's network: a VPC CIDR that overlaps
/// an address the host has (here its loopback) is refused before anything
/// starts, and no namespace is made.
#[test]
fn a_vpc_cidr_the_host_uses_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("sandbox");
    let out = std::process::Command::new(phx_testkit::workspace_root().join("scripts/sandbox.sh"))
        .args(["up", "--real", "--nodes", "2"])
        .env("PHX_SANDBOX_DIR", &dir)
        .env("PHX_SANDBOX_VPC_CIDR", "127.0.0.0/16")
        .env("PHX_NO_INSTALL", "1")
        .env("PATH", phx_testkit::path_with_bins())
        .current_dir(tmp.path())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "an overlapping VPC was accepted: {err}");
    assert!(
        err.contains("127.0.0.0/16 overlaps an address or route of the host"),
        "{err}"
    );
    let prefix = std::process::Command::new("bash")
        .args([
            "-c",
            r#"printf 'phxsb-%s' "$(printf '%s' "$1" | sha256sum | cut -c1-6)""#,
            "_",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    let prefix = String::from_utf8_lossy(&prefix.stdout).into_owned();
    let list = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&list.stdout).contains(&prefix),
        "a namespace was made"
    );
    assert!(!dir.join("moto.pid").exists(), "the emulator was started");
}
