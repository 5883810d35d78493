//! phx-iam against the moto emulator, with the upstream policies served
//! from the shared test mirror.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use assert_cmd::Command;
use phx_testkit::Moto;
use phx_testkit::{mirror, ok};
use serde_json::{json, Value};

fn doc() -> String {
    json!({"apiVersion":"phx/v1","kind":"Cluster","metadata":{"name":"phoenix"},"spec":{"region":"us-east-1"}})
        .to_string()
}

struct Env {
    moto: Moto,
    cache: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            moto: Moto::start(),
            cache: tempfile::tempdir().unwrap(),
        }
    }

    fn iam(&self, args: &[&str], stdin: &str, mirror: &std::path::Path) -> std::process::Output {
        let mut cmd = Command::cargo_bin("phx-iam").unwrap();
        self.moto.configure(&mut cmd);
        cmd.env("PHX_ARTIFACT_MIRROR", mirror)
            .env("PHX_CACHE_DIR", self.cache.path())
            .args(args)
            .write_stdin(stdin.to_string())
            .output()
            .unwrap()
    }

    fn client(&self) -> phx_aws::iam::Client {
        self.moto.aws().iam()
    }
}

fn artifact(name: &str) -> Value {
    serde_json::from_slice(&std::fs::read(mirror().join(name)).unwrap()).unwrap()
}

#[test]
fn apply_creates_both_roles_with_their_policies_and_a_rerun_is_one_read() {
    let env = Env::new();
    let out = ok(&env.iam(&["apply"], &doc(), &mirror()));
    let st = &out["status"]["iam"];
    assert_eq!(st["controlPlane"]["role"], "phoenix-control-plane");
    assert_eq!(st["workers"]["instanceProfile"], "phoenix-worker");
    assert!(st["workers"]["instanceProfileArn"]
        .as_str()
        .unwrap()
        .ends_with(":instance-profile/phoenix-worker"));

    let iam = env.client();
    phx_testkit::block_on(async {
        let cp = iam
            .get_role_policy()
            .role_name("phoenix-control-plane")
            .policy_name("ccm-control-plane")
            .send()
            .await
            .unwrap();
        let text = percent_encoding::percent_decode_str(cp.policy_document())
            .decode_utf8()
            .unwrap()
            .into_owned();
        let stored: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            stored,
            artifact("ccm-v1.36.1-prerequisites-control-plane-policy.json")
        );
        let lbc = iam
            .get_role_policy()
            .role_name("phoenix-worker")
            .policy_name("aws-load-balancer-controller")
            .send()
            .await
            .unwrap();
        let text = percent_encoding::percent_decode_str(lbc.policy_document())
            .decode_utf8()
            .unwrap()
            .into_owned();
        assert_eq!(
            serde_json::from_str::<Value>(&text).unwrap(),
            artifact("aws-load-balancer-controller-v3.5.0-iam_policy.json")
        );
        let attached = iam
            .list_attached_role_policies()
            .role_name("phoenix-worker")
            .send()
            .await
            .unwrap();
        let mut arns: Vec<_> = attached
            .attached_policies()
            .iter()
            .filter_map(|p| p.policy_arn())
            .collect();
        arns.sort();
        assert_eq!(
            arns,
            vec![
                "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
                "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"
            ]
        );
        let profile = iam
            .get_instance_profile()
            .instance_profile_name("phoenix-control-plane")
            .send()
            .await
            .unwrap();
        let profile = profile.instance_profile().unwrap();
        assert_eq!(profile.roles()[0].role_name(), "phoenix-control-plane");
        let role = iam.get_role().role_name("phoenix-worker").send().await.unwrap();
        let tags = role.role().unwrap().tags();
        assert!(tags
            .iter()
            .any(|t| t.key() == "kubernetes.io/cluster/phoenix" && t.value() == "owned"));
    });

    env.moto.start_recording();
    let again = ok(&env.iam(&["apply"], &serde_json::to_string(&out).unwrap(), &mirror()));
    let rec = env.moto.recording();
    assert!(
        rec.mutating().is_empty(),
        "a converged apply wrote: {:?}",
        rec.mutating()
    );
    assert_eq!(rec.actions(), vec!["GetAccountAuthorizationDetails"]);
    assert_eq!(again["status"]["iam"], out["status"]["iam"]);
}

#[test]
fn plan_lists_creates_and_changes_nothing_then_a_half_made_state_converges() {
    let env = Env::new();
    env.moto.start_recording();
    let out = env.iam(&["plan"], &doc(), &mirror());
    let planned = ok(&out);
    assert!(env.moto.recording().mutating().is_empty());
    let plan = planned["status"]["iam"]["plan"].as_array().unwrap();
    assert_eq!(
        plan.iter().filter(|c| c["action"] == "create").count(),
        4,
        "{plan:?}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("4 to create"));

    // An apply that died after creating one role, with a stray policy on it.
    let iam = env.client();
    phx_testkit::block_on(async {
        let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
        iam.create_role()
            .role_name("phoenix-worker")
            .assume_role_policy_document(trust)
            .send()
            .await
            .unwrap();
        iam.put_role_policy()
            .role_name("phoenix-worker")
            .policy_name("stray")
            .policy_document(
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#,
            )
            .send()
            .await
            .unwrap();
        iam.create_instance_profile()
            .instance_profile_name("phoenix-control-plane")
            .send()
            .await
            .unwrap();
    });
    ok(&env.iam(&["apply"], &doc(), &mirror()));
    phx_testkit::block_on(async {
        let policies = iam
            .list_role_policies()
            .role_name("phoenix-worker")
            .send()
            .await
            .unwrap();
        let mut names = policies.policy_names().to_vec();
        names.sort();
        assert_eq!(
            names,
            vec!["aws-load-balancer-controller", "ccm-node"],
            "the stray policy is gone"
        );
        let p = iam
            .get_instance_profile()
            .instance_profile_name("phoenix-control-plane")
            .send()
            .await
            .unwrap();
        assert_eq!(p.instance_profile().unwrap().roles().len(), 1);
        assert_eq!(iam.list_roles().send().await.unwrap().roles().len(), 2);
    });
    env.moto.start_recording();
    ok(&env.iam(&["apply"], &doc(), &mirror()));
    assert!(env.moto.recording().mutating().is_empty());
}

#[test]
fn status_names_the_roles_found_and_what_apply_would_change() {
    let env = Env::new();
    env.moto.start_recording();
    let fresh = ok(&env.iam(&["status"], &doc(), &mirror()));
    assert!(env.moto.recording().mutating().is_empty());
    assert_eq!(fresh["inSync"], false, "{fresh}");
    assert_eq!(
        fresh["roles"],
        json!({"phoenix-control-plane": false, "phoenix-worker": false})
    );
    ok(&env.iam(&["apply"], &doc(), &mirror()));
    let now = ok(&env.iam(&["status"], &doc(), &mirror()));
    assert_eq!(now["inSync"], true, "{now}");
    assert_eq!(
        now["roles"],
        json!({"phoenix-control-plane": true, "phoenix-worker": true})
    );
}

#[test]
fn a_tampered_mirror_is_refused_before_any_iam_call() {
    let env = Env::new();
    let bad = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(mirror()).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), bad.path().join(entry.file_name())).unwrap();
        }
    }
    let name = "aws-load-balancer-controller-v3.5.0-iam_policy.json";
    let mut text = std::fs::read_to_string(bad.path().join(name)).unwrap();
    text = text.replace("\"ec2:DescribeVpcs\"", "\"ec2:*\"");
    std::fs::write(bad.path().join(name), text).unwrap();
    env.moto.start_recording();
    let out = env.iam(&["apply"], &doc(), bad.path());
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("artifact {name}: sha256 mismatch")) && err.contains("refusing to use it"),
        "{err}"
    );
    let rec = env.moto.recording();
    assert!(
        rec.is_empty(),
        "the policies are checked before any call: {:?}",
        rec.actions()
    );
}

#[test]
fn destroy_removes_roles_profiles_and_policies() {
    let env = Env::new();
    let applied = ok(&env.iam(&["apply"], &doc(), &mirror()));
    let out = ok(&env.iam(&["destroy"], &serde_json::to_string(&applied).unwrap(), &mirror()));
    assert!(out["status"].get("iam").is_none());
    let iam = env.client();
    phx_testkit::block_on(async {
        assert!(iam.list_roles().send().await.unwrap().roles().is_empty());
        assert!(iam
            .list_instance_profiles()
            .send()
            .await
            .unwrap()
            .instance_profiles()
            .is_empty());
    });
    env.moto.start_recording();
    ok(&env.iam(&["destroy"], &doc(), &mirror()));
    assert!(
        env.moto
            .recording()
            .mutating()
            .iter()
            .all(|c| c.action.starts_with("Delete")),
        "only deletes of nothing"
    );
}
