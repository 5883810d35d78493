//! The Kubernetes tools against the real upstream API server (etcd,
//! kube-apiserver and kube-controller-manager at the pinned versions; see
//! `phx_testkit::ControlPlane`): what phx applies is accepted, validated,
//! defaulted and stored by Kubernetes itself, not by the project's
//! stand-in. No kubelet runs, so nothing phx waits for that needs running
//! pods becomes ready: those waits time out here, by design, and the tests
//! check what the API server holds.

#![allow(clippy::unwrap_used)]

use phx_testkit::{bin, mirror, run_with_stdin, ControlPlane};
use serde_json::{json, Value};
use std::process::{Command, Output};

fn doc(cp: &ControlPlane) -> Value {
    json!({"apiVersion": "phx/v1", "kind": "Cluster", "metadata": {"name": "phoenix"},
           "spec": {"region": "eu-west-1", "kubernetes": {"version": "1.34", "podCidr": "10.244.0.0/16"}},
           "status": {"network": {"vpcId": "vpc-0abc12345def67890", "vpcCidr": "10.0.0.0/16", "owned": true,
                                  "zones": [], "subnets": [], "securityGroups": {}},
                      "kubeadm": cp.kubeadm_status()}})
}

fn run(tool: &str, args: &[&str], doc: &Value, cache: &std::path::Path) -> Output {
    let mut cmd = Command::new(bin(tool));
    cmd.args(args)
        .env("PHX_ARTIFACT_MIRROR", mirror())
        .env("PHX_CACHE_DIR", cache)
        .env_remove("KUBECONFIG")
        .env_remove("PHX_KUBECONFIG");
    run_with_stdin(cmd, doc.to_string().as_bytes())
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Of everything `tool` applied: `kind/namespace/name`, its generation
/// and the time of phx's last server-side apply that changed it. (Not the
/// resourceVersion: the real controllers write status, which moves it.)
fn writes(cp: &ControlPlane, tool: &str, kinds: &str) -> Vec<(String, Value, Value)> {
    let list = cp.get(&[
        kinds,
        "-A",
        "--show-managed-fields",
        "-l",
        &format!("phx.dev/tool={tool}"),
    ]);
    let mut out: Vec<(String, Value, Value)> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            let m = &o["metadata"];
            let applied = m["managedFields"]
                .as_array()
                .unwrap()
                .iter()
                .find(|f| f["manager"] == "phx" && f["operation"] == "Apply")
                .map(|f| f["time"].clone())
                .unwrap_or(Value::Null);
            (
                format!(
                    "{}/{}/{}",
                    o["kind"],
                    m["namespace"].as_str().unwrap_or(""),
                    m["name"]
                ),
                m["generation"].clone(),
                applied,
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn calico_is_accepted_by_the_real_api_server_which_rejects_a_malformed_ippool() {
    let cp = ControlPlane::start();
    let cache = tempfile::tempdir().unwrap();
    let d = doc(&cp);

    // Applied, then the wait for calico-node times out: no kubelet runs.
    let out = run("phx-cni", &["apply", "--timeout", "3s"], &d, cache.path());
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("calico-node"), "{}", stderr(&out));
    let written: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(written["status"]["cni"]["objects"], 38, "{written}");
    // The timeout is in .error; the next run starts without it (as the
    // pipeline's next lock does), or it would pass through untouched.
    let mut again = written.clone();
    again.as_object_mut().unwrap().remove("error");

    // The real apiextensions server established Calico's CRDs.
    let crd = cp.get(&["crd", "ippools.crd.projectcalico.org"]);
    let established = crd["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["type"] == "Established" && c["status"] == "True");
    assert!(established, "{crd}");
    assert_eq!(
        cp.get(&["crd", "-l", "phx.dev/tool=phx-cni"])["items"]
            .as_array()
            .unwrap()
            .len(),
        23
    );
    // The pod CIDR as the real server stored it, defaults filled in by it.
    let ds = cp.get(&["daemonset", "-n", "kube-system", "calico-node"]);
    let env = ds["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .unwrap();
    assert!(
        env.iter()
            .any(|e| e["name"] == "CALICO_IPV4POOL_CIDR" && e["value"] == "10.244.0.0/16"),
        "{env:?}"
    );
    assert_eq!(ds["spec"]["updateStrategy"]["type"], "RollingUpdate");

    // A second apply changes nothing: no spec moves (generation), and the
    // real server records no new apply by phx.
    let kinds = "daemonsets,deployments,serviceaccounts,configmaps,clusterroles,clusterrolebindings,crd";
    let before = writes(&cp, "phx-cni", kinds);
    assert!(before.len() >= 30, "{before:?}");
    assert!(
        before.iter().all(|(_, _, t)| t.is_string()),
        "each applied by phx: {before:?}"
    );
    std::thread::sleep(std::time::Duration::from_millis(1100)); // managedFields times are in seconds
    let out = run("phx-cni", &["apply", "--timeout", "2s"], &again, cache.path());
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("timed out"),
        "it ran, and waited: {}",
        stderr(&out)
    );
    assert_eq!(
        writes(&cp, "phx-cni", kinds),
        before,
        "the second apply changed an object"
    );

    // Calico's own schema, enforced by the real API server: a well-formed
    // pool is accepted, a malformed one refused.
    let pool = |spec: &str| {
        format!("apiVersion: crd.projectcalico.org/v1\nkind: IPPool\nmetadata:\n  name: p\nspec:\n{spec}")
    };
    let bad = cp.kubectl(
        &["apply", "-f", "-"],
        pool("  cidr: 10.244.0.0/16\n  blockSize: large\n").as_bytes(),
    );
    assert!(!bad.status.success(), "a malformed IPPool was accepted");
    let msg = String::from_utf8_lossy(&bad.stderr);
    assert!(
        msg.contains("is invalid") && msg.contains("spec.blockSize") && msg.contains("integer"),
        "{msg}"
    );
    let good = cp.kubectl(
        &["apply", "-f", "-"],
        pool("  cidr: 10.244.0.0/16\n  blockSize: 26\n").as_bytes(),
    );
    assert!(good.status.success(), "{}", String::from_utf8_lossy(&good.stderr));
    assert!(cp.kubectl(&["delete", "ippool", "p"], b"").status.success());

    // destroy: everything phx-cni applied is gone from the real server.
    let out = run("phx-cni", &["destroy", "--timeout", "60s"], &again, cache.path());
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(writes(&cp, "phx-cni", kinds).is_empty());
    let gone = cp.kubectl(&["get", "crd", "ippools.crd.projectcalico.org"], b"");
    assert!(String::from_utf8_lossy(&gone.stderr).contains("NotFound"));
}

#[test]
fn the_cloud_controller_and_the_platform_are_accepted_by_the_real_api_server() {
    let cp = ControlPlane::start();
    let cache = tempfile::tempdir().unwrap();
    let d = doc(&cp);

    let _ = run("phx-ccm", &["apply", "--timeout", "3s"], &d, cache.path());
    let ds = cp.get(&["daemonset", "-n", "kube-system", "aws-cloud-controller-manager"]);
    let args = ds["spec"]["template"]["spec"]["containers"][0]["args"].to_string();
    assert!(
        args.contains("--cloud-provider=aws") && args.contains("--cluster-name=phoenix"),
        "{args}"
    );
    assert_eq!(
        ds["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.k8s.io/provider-aws/cloud-controller-manager:v1.34.0"
    );
    // Its RBAC, as the real RBAC API stores it.
    let roles = cp.get(&["clusterrole", "-l", "phx.dev/tool=phx-ccm"]);
    assert!(!roles["items"].as_array().unwrap().is_empty(), "{roles}");

    // The platform: Argo CD's install.yaml, the storage class and the
    // add-ons as Applications, validated against Argo CD's real CRD schema.
    let out = run("phx-platform", &["apply", "--timeout", "3s"], &d, cache.path());
    assert_eq!(
        out.status.code(),
        Some(1),
        "Argo CD never runs here: {}",
        stderr(&out)
    );
    let apps = cp.get(&["applications.argoproj.io", "-n", "argocd"]);
    let names: Vec<&str> = apps["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 5, "{names:?}");
    assert!(names.contains(&"aws-load-balancer-controller"), "{names:?}");
    let sc = cp.get(&["storageclass", "gp3"]);
    assert_eq!(sc["provisioner"], "ebs.csi.aws.com");
    assert_eq!(
        sc["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"],
        "true"
    );
    let argocd = cp.get(&["deployment", "-n", "argocd", "argocd-server"]);
    assert_eq!(argocd["metadata"]["labels"]["phx.dev/tool"], "phx-platform");
}
