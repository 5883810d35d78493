//! phx-ccm against the Kubernetes API stand-in, whose simulated cloud
//! controller gives nodes a providerID and lifts their `uninitialized`
//! taint once a cloud-controller-manager DaemonSet runs.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use phx_kubetest::FakeApi;
use phx_testkit::ok;
use serde_json::{json, Value};
use std::process::Output;

fn doc(api: &FakeApi, version: &str) -> Value {
    json!({"apiVersion": "phx/v1", "kind": "Cluster", "metadata": {"name": "phoenix"},
           "spec": {"kubernetes": {"version": version}},
           "status": {"kubeadm": api.kubeadm_status()}})
}

fn ccm(args: &[&str], doc: &Value) -> Output {
    assert_cmd::Command::cargo_bin("phx-ccm")
        .unwrap()
        .env_remove("KUBECONFIG")
        .args(args)
        .write_stdin(doc.to_string())
        .output()
        .unwrap()
}

#[test]
fn apply_runs_the_controller_on_the_control_plane_and_waits_for_initialized_nodes() {
    let api = FakeApi::start(Some(2));
    api.add_nodes(&["ip-10-0-0-5.ec2.internal", "ip-10-0-1-5.ec2.internal"]);
    let out = ok(&ccm(&["apply", "--timeout", "30s"], &doc(&api, "1.34")));

    let ds = api
        .get(
            "apps",
            "daemonsets",
            "kube-system",
            "aws-cloud-controller-manager",
        )
        .unwrap();
    let pod = &ds["spec"]["template"]["spec"];
    assert_eq!(
        pod["containers"][0]["image"], "registry.k8s.io/provider-aws/cloud-controller-manager:v1.34.0",
        "the image follows the Kubernetes minor, not upstream's stale example"
    );
    let args: Vec<&str> = pod["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(
        args.contains(&"--cloud-provider=aws") && args.contains(&"--cluster-name=phoenix"),
        "{args:?}"
    );
    assert_eq!(
        pod["nodeSelector"],
        json!({"node-role.kubernetes.io/control-plane": ""})
    );
    let tolerated: Vec<&str> = pod["tolerations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["key"].as_str().unwrap())
        .collect();
    assert!(
        tolerated.contains(&"node.cloudprovider.kubernetes.io/uninitialized"),
        "{tolerated:?}"
    );
    assert!(
        tolerated.contains(&"node-role.kubernetes.io/control-plane"),
        "{tolerated:?}"
    );
    assert_eq!(pod["serviceAccountName"], "cloud-controller-manager");
    assert!(api
        .get(
            "rbac.authorization.k8s.io",
            "clusterroles",
            "",
            "system:cloud-controller-manager"
        )
        .is_some());
    assert!(api
        .get(
            "rbac.authorization.k8s.io",
            "rolebindings",
            "kube-system",
            "cloud-controller-manager:apiserver-authentication-reader"
        )
        .is_some());
    for n in api.all("", "nodes") {
        assert!(
            n["spec"]["providerID"].as_str().unwrap().starts_with("aws:///"),
            "{n}"
        );
        assert_eq!(n["spec"]["taints"], json!([]), "{n}");
    }
    assert_eq!(out["status"]["ccm"]["ready"], true);
    assert_eq!(
        out["status"]["ccm"]["image"],
        "registry.k8s.io/provider-aws/cloud-controller-manager:v1.34.0"
    );
}

#[test]
fn another_minor_gets_its_own_release_and_an_unknown_one_is_refused() {
    let api = FakeApi::start(Some(1));
    api.add_nodes(&["n1"]);
    ok(&ccm(&["apply"], &doc(&api, "1.36.2")));
    let ds = api
        .get(
            "apps",
            "daemonsets",
            "kube-system",
            "aws-cloud-controller-manager",
        )
        .unwrap();
    assert_eq!(
        ds["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.k8s.io/provider-aws/cloud-controller-manager:v1.36.1"
    );
    let writes = api.writes().len();
    let out = ccm(&["apply"], &doc(&api, "1.20"));
    assert_eq!(out.status.code(), Some(65));
    assert!(String::from_utf8_lossy(&out.stderr).contains("spec.cloudProvider.image"));
    assert_eq!(api.writes().len(), writes, "refused before any write");
}

#[test]
fn nodes_that_stay_uninitialized_time_out_with_the_reason() {
    let api = FakeApi::start(None);
    api.add_nodes(&["ip-10-0-0-5.ec2.internal"]);
    let out = ccm(&["apply", "--timeout", "1s"], &doc(&api, "1.34"));
    assert_eq!(out.status.code(), Some(1));
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(
        msg.contains("Node ip-10-0-0-5.ec2.internal has no providerID"),
        "{msg}"
    );
    assert!(
        msg.contains("DaemonSet kube-system/aws-cloud-controller-manager 0/1 pods ready"),
        "{msg}"
    );
}
