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
        self.platform_with_kubeconfig(None, args, doc)
    }

    /// With `KUBECONFIG` (and `~/.kube/config`) naming `ambient`, as on a
    /// laptop where the user last looked at another cluster.
    fn platform_with_kubeconfig(
        &self,
        ambient: Option<&std::path::Path>,
        args: &[&str],
        doc: &Value,
    ) -> Output {
        let mut cmd = assert_cmd::Command::cargo_bin("phx-platform").unwrap();
        cmd.env("PHX_ARTIFACT_MIRROR", mirror())
            .env("PHX_CACHE_DIR", self.cache.path())
            .env("HOME", self.cache.path())
            .env_remove("KUBECONFIG")
            .env_remove("PHX_KUBECONFIG");
        if let Some(k) = ambient {
            let dot_kube = self.cache.path().join(".kube");
            std::fs::create_dir_all(&dot_kube).unwrap();
            std::fs::copy(k, dot_kube.join("config")).unwrap();
            cmd.env("KUBECONFIG", k);
        }
        cmd.args(args).write_stdin(doc.to_string()).output().unwrap()
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
        59 + 1 + 1 + 1 + 1 + APPS.len(),
        "install.yaml + namespace + storage class + booking namespace + mTLS + apps"
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

    // The waves: each Application written only after the wave before it,
    // each carrying its wave; mesh-wide mTLS after istio-base (whose sync
    // brought Istio's CRDs) and with istiod.
    let pos = |needle: &str| {
        writes
            .iter()
            .position(|w| w.contains(needle))
            .unwrap_or_else(|| panic!("{needle}: {writes:#?}"))
    };
    let order = [
        ("/applications/aws-load-balancer-controller?", "0"),
        ("/applications/istio-base?", "1"),
        ("/applications/istiod?", "2"),
        ("/applications/istio-ingressgateway?", "3"),
        ("/applications/phoenix-booking-apps?", "5"),
    ];
    for pair in order.windows(2) {
        assert!(
            pos(pair[0].0) < pos(pair[1].0),
            "{} before {}: {writes:#?}",
            pair[0].0,
            pair[1].0
        );
    }
    let mtls = pos("/peerauthentications/default?");
    assert!(pos("/applications/istio-base?") < mtls && mtls < pos("/applications/istio-ingressgateway?"));
    assert!(pos("/applications/aws-ebs-csi-driver?") < pos("/applications/istio-base?"));
    assert!(pos("/storageclasses/gp3?") < pos("/applications/aws-load-balancer-controller?"));
    for (needle, wave) in order.iter().filter(|(n, _)| n.contains("/applications/")) {
        let name = needle.trim_start_matches("/applications/").trim_end_matches('?');
        let app = api.get("argoproj.io", "applications", "argocd", name).unwrap();
        assert_eq!(
            app["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"], *wave,
            "{name}"
        );
    }
    let pa = mesh_mtls(&api).unwrap();
    assert_eq!(pa["spec"], json!({"mtls": {"mode": "STRICT"}}));
    let booking = api.get("", "namespaces", "", "phoenix-booking").unwrap();
    assert_eq!(booking["metadata"]["labels"]["istio-injection"], "enabled");

    let sc = api.get("storage.k8s.io", "storageclasses", "", "gp3").unwrap();
    assert_eq!(
        sc["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"],
        "true"
    );
    assert_eq!(sc["parameters"], json!({"type": "gp3", "encrypted": "true"}));
    assert_eq!(sc["volumeBindingMode"], "WaitForFirstConsumer");
    assert_eq!(sc["allowVolumeExpansion"], true);

    let mut apps: Vec<String> = api
        .all("argoproj.io", "applications")
        .iter()
        .map(|a| a["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    apps.sort();
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
    assert_eq!(gitops["spec"]["destination"]["namespace"], "phoenix-booking");
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
    let listed_waves: Vec<u64> = rows.iter().map(|r| r["wave"].as_u64().unwrap()).collect();
    assert_eq!(
        listed_waves,
        [0, 0, 1, 2, 3, 5],
        "in the order they come up: {listed}"
    );
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
fn argocd_that_never_runs_holds_up_every_wave_and_is_named() {
    let api = FakeApi::start(None);
    let out = env().platform(&["apply", "--timeout", "2s"], &doc(&api));
    assert_eq!(out.status.code(), Some(1));
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(
        msg.contains("Argo CD v3.5.1 holds up wave 0 (cloud and storage: aws-load-balancer-controller, aws-ebs-csi-driver), wave 1"),
        "{msg}"
    );
    assert!(
        msg.contains("StatefulSet argocd/argocd-application-controller 0/1 ready"),
        "{msg}"
    );
    assert!(
        api.all("argoproj.io", "applications").is_empty(),
        "no Application before Argo CD runs"
    );
}

/// The first wave that does not get ready is named with the waves it holds
/// up; nothing of those is applied, and the document records what was.
#[test]
fn an_application_that_never_syncs_names_its_wave_and_what_it_holds_up() {
    let api = FakeApi::start(Some(1));
    api.lock().stuck.push("istiod".into());
    let out = env().platform(&["apply", "--timeout", "3s"], &doc(&api));
    assert_eq!(out.status.code(), Some(1));
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(
        msg.contains(
            "wave 2 (mesh control plane: istiod, mesh-wide mTLS) holds up wave 3 (mesh gateway: \
             istio-ingressgateway), wave 5 (booking services: phoenix-booking-apps): timed out after 3s: \
             Application argocd/istiod OutOfSync, Progressing (waiting for rollout to finish)"
        ),
        "{msg}"
    );
    let mut apps: Vec<String> = api
        .all("argoproj.io", "applications")
        .iter()
        .map(|a| a["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    apps.sort();
    assert_eq!(
        apps,
        [
            "aws-ebs-csi-driver",
            "aws-load-balancer-controller",
            "istio-base",
            "istiod"
        ]
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["status"]["platform"]["ready"], false, "{doc}");
    assert_eq!(doc["error"]["tool"], "phx-platform");
}

/// `spec.platform.istio.mtls: permissive` is PERMISSIVE; with Istio off,
/// no PeerAuthentication and no injection label.
#[test]
fn mtls_follows_the_spec_and_istio_off_means_none() {
    let api = FakeApi::start(Some(1));
    let mut d = doc(&api);
    d["spec"]["platform"]["istio"] = json!({"mtls": "permissive"});
    ok(&env().platform(&["apply", "--timeout", "60s"], &d));
    let pa = mesh_mtls(&api).unwrap();
    assert_eq!(pa["spec"], json!({"mtls": {"mode": "PERMISSIVE"}}));

    let api = FakeApi::start(Some(1));
    let mut d = doc(&api);
    d["spec"]["platform"]["addons"] = json!({"istio": false});
    ok(&env().platform(&["apply", "--timeout", "60s"], &d));
    assert_eq!(mesh_mtls(&api), None);
    let booking = api.get("", "namespaces", "", "phoenix-booking").unwrap();
    assert_eq!(
        booking["metadata"]
            .get("labels")
            .and_then(|l| l.get("istio-injection")),
        None
    );

    let mut bad = doc(&api);
    bad["spec"]["platform"]["istio"] = json!({"mtls": "sometimes"});
    let out = env().platform(&["apply"], &bad);
    assert_eq!(
        out.status.code(),
        Some(65),
        "{}",
        String::from_utf8_lossy(&out.stderr)
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

/// Another cluster, the one the ambient kubeconfig names, with a
/// LoadBalancer Service (a cloud load balancer) that must survive.
fn other_cluster() -> FakeApi {
    let other = FakeApi::start(Some(1));
    other.lock().put(
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "front", "namespace": "shop"},
               "spec": {"type": "LoadBalancer"}}),
        "user",
    );
    other
}

/// The mesh-wide PeerAuthentication, if any.
fn mesh_mtls(api: &FakeApi) -> Option<Value> {
    api.get(
        "security.istio.io",
        "peerauthentications",
        "istio-system",
        "default",
    )
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn an_ambient_kubeconfig_of_another_cluster_is_never_used() {
    let other = other_cluster();
    let e = env();
    let mut fresh = doc(&other);
    fresh["status"].as_object_mut().unwrap().remove("kubeadm");

    // destroy without this cluster's kubeconfig: one line, the in-cluster
    // step skipped, the pipeline goes on (exit 0), status.platform gone.
    fresh["status"]["platform"] = json!({"ready": true});
    let out = e.platform_with_kubeconfig(
        Some(&other.kubeconfig()),
        &["destroy", "--timeout", "10s"],
        &fresh,
    );
    let down = ok(&out);
    assert!(down["status"].get("platform").is_none(), "{down}");
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("skipping the in-cluster step") && err.contains("phx-net destroy"),
        "{err}"
    );

    // apply: refused before any request (nothing to connect to is exit 65).
    let out = e.platform_with_kubeconfig(Some(&other.kubeconfig()), &["apply", "--timeout", "10s"], &fresh);
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no kubeconfig for this cluster"),
        "{}",
        stderr(&out)
    );

    // The recorded kubeconfig file removed since: destroy skips as well.
    let mine = FakeApi::start(Some(1));
    let mut gone = doc(&mine);
    gone["status"]["kubeadm"]["kubeconfig"] = json!("/nonexistent/phx-phoenix.conf");
    let out = e.platform_with_kubeconfig(Some(&other.kubeconfig()), &["destroy", "--timeout", "10s"], &gone);
    ok(&out);

    assert!(
        other.requests().is_empty(),
        "the other cluster was asked: {:?}",
        other.requests()
    );
    assert!(other.get("", "services", "shop", "front").is_some());
}

#[test]
fn a_kubeconfig_whose_ca_is_not_this_clusters_is_refused_naming_both() {
    let other = other_cluster();
    let mine = FakeApi::start(Some(1));
    let e = env();
    // This cluster's identity, another cluster's kubeconfig (a stale path,
    // a copy-paste, --kubeconfig pointing at the wrong file).
    let mut d = doc(&mine);
    d["status"]["kubeadm"]["kubeconfig"] = json!(other.kubeconfig());
    for verb in ["apply", "destroy", "plan"] {
        let out = e.platform(&[verb, "--timeout", "10s"], &d);
        assert_eq!(out.status.code(), Some(1), "{verb}: {}", stderr(&out));
        let err = stderr(&out);
        let err = err
            .lines()
            .filter(|l| l.starts_with("phx-platform:"))
            .collect::<Vec<_>>()
            .join("\n");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains(&other.ca_cert_hash()) && err.contains(&mine.ca_cert_hash()),
            "{err}"
        );
        // The failure is in the document for phx-state push to store.
        let written: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(
            written["error"]["message"]
                .as_str()
                .unwrap()
                .contains("not this cluster's"),
            "{written}"
        );
    }
    let out = e.platform(
        &["destroy", "--kubeconfig", other.kubeconfig().to_str().unwrap()],
        &doc(&mine),
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    // Unrecorded identity: nothing to prove the kubeconfig by.
    let mut unproven = doc(&other);
    unproven["status"]["kubeadm"]
        .as_object_mut()
        .unwrap()
        .remove("caCertHash");
    let out = e.platform(&["destroy"], &unproven);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("cannot prove"), "{}", stderr(&out));

    assert!(
        other.requests().is_empty(),
        "the other cluster was asked: {:?}",
        other.requests()
    );
    assert!(mine.requests().is_empty());
}
