//! The Kubernetes tools against the real upstream API server (etcd,
//! kube-apiserver and kube-controller-manager at the pinned versions; see
//! `phx_testkit::ControlPlane`): what phx applies is accepted, validated,
//! defaulted and stored by Kubernetes itself, not by the project's
//! stand-in. No kubelet runs, so nothing phx waits for that needs running
//! pods becomes ready: those waits time out here, by design, and the tests
//! check what the API server holds.

#![allow(clippy::unwrap_used)]

use phx_testkit::{bin, mirror, run_with_stdin, ControlPlane, Moto};
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

    // The platform: the storage class and Argo CD's install.yaml, then a
    // wait for Argo CD to run, which it never does here: no Application is
    // made before it runs (the waves are the next test's).
    let out = run("phx-platform", &["apply", "--timeout", "3s"], &d, cache.path());
    assert_eq!(
        out.status.code(),
        Some(1),
        "Argo CD never runs here: {}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("Argo CD v3.5.1 holds up wave 0 (cloud and storage: "),
        "{}",
        stderr(&out)
    );
    let apps = cp.get(&["applications.argoproj.io", "-n", "argocd"]);
    assert_eq!(apps["items"], json!([]), "no Application before Argo CD runs");
    let sc = cp.get(&["storageclass", "gp3"]);
    assert_eq!(sc["provisioner"], "ebs.csi.aws.com");
    assert_eq!(
        sc["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"],
        "true"
    );
    let argocd = cp.get(&["deployment", "-n", "argocd", "argocd-server"]);
    assert_eq!(argocd["metadata"]["labels"]["phx.dev/tool"], "phx-platform");
}

/// Plays what cannot run here for phx-platform: the kubelet (Argo CD's
/// workloads scaled to zero replicas count as running) and Argo CD (every
/// Application marked Synced and Healthy once seen; syncing istio-base
/// installs Istio's PeerAuthentication CRD). Returns each Application's
/// name, wave annotation and the round it was first seen in.
fn play_argocd(cp: &ControlPlane, child: &mut std::process::Child) -> Vec<(String, String, usize)> {
    let mut seen: Vec<(String, String, usize)> = Vec::new();
    for round in 0.. {
        if child.try_wait().unwrap().is_some() || round > 1200 {
            break;
        }
        // (phx owns the application controller's replicas and sets them
        // back to 1 on every apply.)
        let workloads = cp.get(&["deployment,statefulset", "-n", "argocd"]);
        let running = |w: &Value| w["spec"]["replicas"] == 0;
        if !workloads["items"].as_array().unwrap().iter().all(running) {
            let out = cp.kubectl(
                &[
                    "scale",
                    "deployment,statefulset",
                    "--all",
                    "-n",
                    "argocd",
                    "--replicas=0",
                ],
                b"",
            );
            assert!(out.status.success(), "{}", stderr(&out));
        }
        // (Until Argo CD's CRDs are in, there is no such type yet.)
        let listed = cp.kubectl(
            &["get", "applications.argoproj.io", "-n", "argocd", "-o", "json"],
            b"",
        );
        let apps: Value = serde_json::from_slice(&listed.stdout).unwrap_or(json!({"items": []}));
        for a in apps["items"].as_array().unwrap() {
            let name = a["metadata"]["name"].as_str().unwrap().to_string();
            if seen.iter().any(|(n, _, _)| *n == name) {
                continue;
            }
            let wave = a["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]
                .as_str()
                .unwrap_or("none")
                .to_string();
            if a["spec"]["source"]["chart"] == "base" {
                let out = cp.kubectl(&["apply", "-f", "-"], PEER_AUTHENTICATION_CRD.as_bytes());
                assert!(out.status.success(), "{}", stderr(&out));
                let out = cp.kubectl(
                    &[
                        "wait",
                        "--for=condition=Established",
                        "crd/peerauthentications.security.istio.io",
                    ],
                    b"",
                );
                assert!(out.status.success(), "{}", stderr(&out));
            }
            // Its sync makes the destination namespace (CreateNamespace=true).
            let ns = a["spec"]["destination"]["namespace"].as_str().unwrap();
            let _ = cp.kubectl(&["create", "namespace", ns], b"");
            let healthy = json!({"status": {"sync": {"status": "Synced"}, "health": {"status": "Healthy"}}});
            let out = cp.kubectl(
                &[
                    "patch",
                    "applications.argoproj.io",
                    "-n",
                    "argocd",
                    &name,
                    "--type",
                    "merge",
                    "-p",
                    &healthy.to_string(),
                ],
                b"",
            );
            assert!(out.status.success(), "{}", stderr(&out));
            seen.push((name, wave, round));
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    seen
}

/// `phx-platform apply` with [`play_argocd`] beside it.
fn apply_with_argocd(
    cp: &ControlPlane,
    d: &Value,
    cache: &std::path::Path,
) -> (Output, Vec<(String, String, usize)>) {
    let mut cmd = Command::new(bin("phx-platform"));
    cmd.args(["apply", "--timeout", "90s"])
        .env("PHX_ARTIFACT_MIRROR", mirror())
        .env("PHX_CACHE_DIR", cache)
        .env_remove("KUBECONFIG")
        .env_remove("PHX_KUBECONFIG");
    let mut child = phx_testkit::start(cmd, d.to_string().as_bytes());
    let seen = play_argocd(cp, &mut child);
    (child.wait_with_output().unwrap(), seen)
}

/// Istio's PeerAuthentication CRD as istio-base 1.28 installs it, its
/// schema reduced to the field phx sets (the API server validates it).
const PEER_AUTHENTICATION_CRD: &str = r#"{"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
 "metadata": {"name": "peerauthentications.security.istio.io"},
 "spec": {"group": "security.istio.io", "scope": "Namespaced",
  "names": {"kind": "PeerAuthentication", "plural": "peerauthentications", "singular": "peerauthentication",
            "listKind": "PeerAuthenticationList"},
  "versions": [{"name": "v1", "served": true, "storage": true,
   "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": {"type": "object", "properties": {
     "mtls": {"type": "object", "properties": {"mode": {"type": "string",
       "enum": ["UNSET", "DISABLE", "PERMISSIVE", "STRICT"]}}}}}}}}}]}}"#;

/// The add-ons as Applications, validated against Argo CD's real CRD
/// schema, made wave by wave: a wave's Applications appear only after the
/// wave before is Synced and Healthy. With Istio, mesh-wide STRICT mTLS
/// once Istio's CRD exists, and the booking namespace labelled for sidecar
/// injection. Then destroy with Argo CD gone (the test stops playing it):
/// the finalizers would hold the Applications forever; destroy removes
/// them after a grace period, says so, and leaves nothing of phx's.
#[test]
fn the_add_ons_come_up_in_waves_with_mesh_wide_mtls() {
    let cp = ControlPlane::start();
    let cache = tempfile::tempdir().unwrap();
    let mut d = doc(&cp);
    let on = [
        "argocd",
        "aws-load-balancer-controller",
        "aws-ebs-csi-driver",
        "istio",
        "cert-manager",
        "opensearch",
    ];
    let addons: serde_json::Map<String, Value> = on.iter().map(|a| (a.to_string(), json!(true))).collect();
    d["spec"]["platform"] = json!({"addons": addons,
        "gitops": {"repoURL": "https://git.example.com/phoenix/booking-config.git", "path": "apps"}});

    let (out, seen) = apply_with_argocd(&cp, &d, cache.path());
    assert!(out.status.success(), "{}", stderr(&out));

    // Every Application carries its wave, and the waves appeared in order,
    // each in a later round than the one before (phx waited for it).
    let waves: Vec<(&str, &str)> = seen.iter().map(|(n, w, _)| (n.as_str(), w.as_str())).collect();
    let mut sorted = waves.clone();
    sorted.sort_by_key(|(n, w)| (w.parse::<u8>().unwrap(), *n));
    assert_eq!(
        sorted,
        [
            ("aws-ebs-csi-driver", "0"),
            ("aws-load-balancer-controller", "0"),
            ("cert-manager", "0"),
            ("istio-base", "1"),
            ("istiod", "2"),
            ("istio-ingressgateway", "3"),
            ("opensearch", "4"),
            ("phoenix-booking-apps", "5"),
        ]
    );
    for pair in seen.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        if a.1 != b.1 {
            assert!(
                a.1.parse::<u8>().unwrap() < b.1.parse::<u8>().unwrap() && a.2 < b.2,
                "{} (wave {}) came no earlier than {} (wave {}): {seen:?}",
                a.0,
                a.1,
                b.0,
                b.1
            );
        }
    }
    let pa = cp.get(&["peerauthentication", "-n", "istio-system", "default"]);
    assert_eq!(pa["spec"]["mtls"]["mode"], "STRICT", "{pa}");
    let ns = cp.get(&["namespace", "phoenix-booking"]);
    assert_eq!(ns["metadata"]["labels"]["istio-injection"], "enabled", "{ns}");
    let gitops = cp.get(&["applications.argoproj.io", "-n", "argocd", "phoenix-booking-apps"]);
    assert_eq!(gitops["spec"]["destination"]["namespace"], "phoenix-booking");

    // A second apply changes nothing.
    let before = writes(
        &cp,
        "phx-platform",
        "applications.argoproj.io,peerauthentications,namespaces",
    );
    let (again, _) = apply_with_argocd(&cp, &d, cache.path());
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(
        writes(
            &cp,
            "phx-platform",
            "applications.argoproj.io,peerauthentications,namespaces"
        ),
        before
    );

    let done: Value = serde_json::from_slice(&out.stdout).unwrap();
    let out = run(
        "phx-platform",
        &["destroy", "--timeout", "45s"],
        &done,
        cache.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("removing the finalizers"),
        "{}",
        stderr(&out)
    );
    let left = cp.kubectl(&["get", "namespace", "argocd"], b"");
    assert!(
        String::from_utf8_lossy(&left.stderr).contains("NotFound"),
        "{}",
        String::from_utf8_lossy(&left.stdout)
    );
    assert!(
        cp.get(&["storageclass", "-l", "phx.dev/tool=phx-platform"])["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

/// A phx tool against the emulator, `doc` on stdin.
fn aws(moto: &Moto, tool: &str, args: &[&str], doc: &Value) -> Value {
    let mut cmd = moto.process(&bin(tool), args);
    cmd.env("PHX_ARTIFACT_MIRROR", mirror());
    phx_testkit::ok(&run_with_stdin(cmd, doc.to_string().as_bytes()))
}

#[test]
fn the_real_cloud_controller_initializes_the_nodes_from_the_emulators_instances() {
    // The AWS side as phx makes it: network, roles and four instances in
    // the emulator (its Ubuntu image list is the sandbox's).
    let tmp = tempfile::tempdir().unwrap();
    let key = phx_testkit::ssh_key(&tmp.path().join("id"));
    let amis = phx_testkit::workspace_root().join("scripts/sandbox/amis.json");
    let moto = Moto::start_with(&[("MOTO_AMIS_PATH", amis.to_str().unwrap())]);
    let doc = json!({"apiVersion": "phx/v1", "kind": "Cluster", "metadata": {"name": "phoenix"},
        "spec": {"region": "us-east-1", "network": {"adminCidrs": ["203.0.113.0/24"], "natGateway": false},
                 "nodes": {"ssh": {"publicKeyFile": format!("{}.pub", key.display())}}}});
    let doc = aws(&moto, "phx-net", &["apply"], &doc);
    let doc = aws(&moto, "phx-iam", &["apply"], &doc);
    let doc = aws(&moto, "phx-nodes", &["apply"], &doc);
    let nodes = doc["status"]["nodes"]["instances"].as_array().unwrap().clone();
    assert_eq!(nodes.len(), 4);

    // The control plane, and each node registered as its kubelet would with
    // --cloud-provider=external: named by its private DNS name, tainted
    // uninitialized, no providerID.
    let mut cp = ControlPlane::start();
    for n in &nodes {
        let node = json!({"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": n["privateDns"], "labels": {"kubernetes.io/hostname": n["privateDns"]}},
            "spec": {"taints": [{"key": "node.cloudprovider.kubernetes.io/uninitialized", "value": "true",
                                 "effect": "NoSchedule"}]}});
        let out = cp.kubectl(&["create", "-f", "-"], node.to_string().as_bytes());
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }

    // The real aws-cloud-controller-manager with the arguments phx-ccm
    // writes, its EC2 endpoint pointed at the emulator. It runs outside an
    // instance, so its VPC, subnet and cluster come from the cloud config
    // instead of the metadata service (never reached: disabled).
    let subnet = doc["status"]["network"]["subnets"][0]["id"].as_str().unwrap();
    let vpc = doc["status"]["network"]["vpcId"].as_str().unwrap();
    let config = tmp.path().join("cloud.conf");
    std::fs::write(
        &config,
        format!(
            "[Global]\nRegion = us-east-1\nVPC = {vpc}\nSubnetID = {subnet}\nKubernetesClusterID = phoenix\n"
        ),
    )
    .unwrap();
    // phx-ccm applies the controller (service account, RBAC, DaemonSet);
    // the process runs with the DaemonSet's own arguments, as the sandbox
    // kubelet will run it, so phx's RBAC is what its controllers get
    // (--use-service-account-credentials).
    let mut with_cluster = doc.clone();
    with_cluster["status"]["kubeadm"] = cp.kubeadm_status();
    let cache = tempfile::tempdir().unwrap();
    let _ = run(
        "phx-ccm",
        &["apply", "--timeout", "2s"],
        &with_cluster,
        cache.path(),
    );
    let ds = cp.get(&["daemonset", "-n", "kube-system", "aws-cloud-controller-manager"]);
    let mut args: Vec<String> =
        serde_json::from_value(ds["spec"]["template"]["spec"]["containers"][0]["args"].clone()).unwrap();
    assert!(
        args.contains(&"--use-service-account-credentials=true".to_string()),
        "{args:?}"
    );
    // What a pod would have from its environment instead: the API server,
    // and no leader election or port clash between test runs.
    let kubeconfig = cp.kubeconfig().display().to_string();
    args.extend(["--leader-elect=false", "--bind-address=127.0.0.1"].map(String::from));
    args.extend([
        format!("--cloud-config={}", config.display()),
        format!("--kubeconfig={kubeconfig}"),
        format!("--authentication-kubeconfig={kubeconfig}"),
        format!("--authorization-kubeconfig={kubeconfig}"),
        format!("--secure-port={}", phx_testkit::free_port()),
    ]);
    let env = [
        ("AWS_ENDPOINT_URL", moto.endpoint()),
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
    ];
    const CCM: &str = "aws-cloud-controller-manager";
    cp.run_component(CCM, &args, &env);

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    let initialized = loop {
        let list = cp.get(&["nodes"]);
        let items = list["items"].as_array().unwrap().clone();
        let done = items.iter().all(|n| {
            n["spec"]["providerID"].is_string()
                && !n["spec"]["taints"].as_array().is_some_and(|t| {
                    t.iter()
                        .any(|t| t["key"] == "node.cloudprovider.kubernetes.io/uninitialized")
                })
        });
        if done || std::time::Instant::now() > deadline || cp.exited(CCM) {
            break items;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    };
    let tail = cp.log_tail(CCM);
    for n in &nodes {
        let name = n["privateDns"].as_str().unwrap();
        let got = initialized
            .iter()
            .find(|x| x["metadata"]["name"] == name)
            .unwrap();
        let want = format!(
            "aws:///{}/{}",
            n["zone"].as_str().unwrap(),
            n["instanceId"].as_str().unwrap()
        );
        assert_eq!(got["spec"]["providerID"], json!(want), "{name}: {tail}");
        let taints = got["spec"]["taints"].as_array().cloned().unwrap_or_default();
        assert!(
            !taints
                .iter()
                .any(|t| t["key"] == "node.cloudprovider.kubernetes.io/uninitialized"),
            "{name}: still uninitialized: {taints:?}"
        );
        let labels = &got["metadata"]["labels"];
        assert_eq!(labels["topology.kubernetes.io/zone"], n["zone"], "{labels}");
        assert_eq!(
            labels["node.kubernetes.io/instance-type"], n["instanceType"],
            "{labels}"
        );
    }

    // A Service of type LoadBalancer: the real service controller asks the
    // emulator for a classic ELB in the cluster's public subnets, for the
    // Ready nodes (marked Ready here as their kubelets would).
    for n in &nodes {
        let ready = json!({"status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                           "message": "sandbox", "lastHeartbeatTime": "2026-01-01T00:00:00Z",
                           "lastTransitionTime": "2026-01-01T00:00:00Z"}]}});
        let out = cp.kubectl(
            &[
                "patch",
                "node",
                n["privateDns"].as_str().unwrap(),
                "--subresource=status",
                "--type=merge",
                "-p",
                &ready.to_string(),
            ],
            b"",
        );
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "front", "namespace": "default",
                     "annotations": {"service.beta.kubernetes.io/aws-load-balancer-type": "nlb"}},
                     "spec": {"type": "LoadBalancer", "selector": {"app": "front"},
                              "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}]}});
    let out = cp.kubectl(&["create", "-f", "-"], svc.to_string().as_bytes());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    let ingress = loop {
        let s = cp.get(&["service", "-n", "default", "front"]);
        let ing = s["status"]["loadBalancer"]["ingress"][0]["hostname"].clone();
        if ing.is_string() || std::time::Instant::now() > deadline || cp.exited(CCM) {
            break ing;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    };
    let elbs = load_balancers(&moto);
    assert!(ingress.is_string(), "no load balancer: {}", cp.log_tail(CCM));
    assert_eq!(elbs.len(), 1, "{elbs:?}");
    assert_eq!(
        ingress,
        json!(elbs[0]),
        "the Service points at the emulator's load balancer"
    );

    // Deleting the Service (what phx-platform destroy does) releases it.
    let out = cp.kubectl(&["delete", "service", "-n", "default", "front"], b"");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !load_balancers(&moto).is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    let left = load_balancers(&moto);
    assert!(left.is_empty(), "still there: {left:?}: {}", cp.log_tail(CCM));
}

/// The (v2) load balancers the emulator holds, by DNS name.
/// The load balancers the cloud controller manager made (not phx-net's
/// API load balancers, `phoenix-api` and `phoenix-api-int`).
fn load_balancers(moto: &Moto) -> Vec<String> {
    let aws = moto.aws();
    phx_testkit::block_on(async {
        let out = aws.elbv2().describe_load_balancers().send().await.unwrap();
        out.load_balancers()
            .iter()
            // Not phx-net's API load balancers (internet-facing, internal).
            .filter(|d| !matches!(d.load_balancer_name(), Some("phoenix-api" | "phoenix-api-int")))
            .filter_map(|d| d.dns_name().map(str::to_string))
            .collect()
    })
}
