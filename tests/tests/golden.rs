//! Golden files, jaq-style: what the tools print for fixed input, checked
//! in as snapshots (`tests/tests/snapshots/`), so a change to the document's
//! shape shows in review instead of in a user's pipeline. Update with
//! `INSTA_UPDATE=always cargo test -p phx-tests --test golden` (or
//! `cargo insta review`) and commit the `.snap` files; CI never writes them.

#![allow(clippy::unwrap_used)]

use std::process::Command;

fn json_of(tool: &str, args: &[&str]) -> serde_json::Value {
    let out = Command::new(phx_testkit::bin(tool)).args(args).output().unwrap();
    phx_testkit::ok(&out)
}

/// `phx-state schema`: the JSON Schema of the whole document, every
/// tool's status included.
#[test]
fn the_document_schema() {
    insta::assert_json_snapshot!("schema", json_of("phx-state", &["schema"]));
}

/// `phx-state new`: the defaults a user starts from (the reference topology).
#[test]
fn a_new_document() {
    insta::assert_json_snapshot!(
        "new_document",
        json_of(
            "phx-state",
            &["new", "--name", "phoenix", "--region", "us-east-1"]
        )
    );
}

/// The plan of the reference topology, tool by tool, as `deploy.sh
/// --plan` makes it on a fresh account: each tool's `status.<tool>.plan`.
#[test]
fn the_reference_plans() {
    let amis = phx_testkit::workspace_root().join("scripts/sandbox/amis.json");
    let moto = phx_testkit::Moto::start_with(&[("MOTO_AMIS_PATH", amis.to_str().unwrap())]);
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("id.pub");
    std::fs::write(
        &key,
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDiioBpi0yC3EBErvTcPzKrMVo0rxopVC/A9+EphBJqt test@phx\n",
    )
    .unwrap();
    let mut doc = json_of(
        "phx-state",
        &["new", "--name", "phoenix", "--region", "us-east-1"],
    );
    doc["spec"]["network"]["adminCidrs"] = serde_json::json!(["203.0.113.7/32"]);
    doc["spec"]["nodes"]["ssh"]["publicKeyFile"] = key.to_str().unwrap().into();
    let mut plans = serde_json::Map::new();
    for (tool, key_name) in [
        ("phx-net", "network"),
        ("phx-iam", "iam"),
        ("phx-nodes", "nodes"),
        ("phx-kubeadm", "kubeadm"),
        ("phx-ccm", "ccm"),
        ("phx-cni", "cni"),
        ("phx-platform", "platform"),
    ] {
        let mut cmd = moto.process(&phx_testkit::bin(tool), &["-q", "plan"]);
        // Only the plan on stderr: no log lines (RUST_LOG would override -q).
        cmd.env_remove("RUST_LOG")
            .env("PHX_ARTIFACT_MIRROR", phx_testkit::mirror())
            .env("PHX_CACHE_DIR", dir.path().join("cache"));
        let out = phx_testkit::run_with_stdin(cmd, doc.to_string().as_bytes());
        doc = phx_testkit::ok(&out);
        // The key's path is a temp dir's: masked.
        let plan = doc["status"][key_name]["plan"].to_string();
        let plan: serde_json::Value =
            serde_json::from_str(&plan.replace(key.to_str().unwrap(), "<key>")).unwrap();
        assert!(plan.as_array().is_some_and(|p| !p.is_empty()), "{tool}: {plan}");
        plans.insert(key_name.into(), plan);
    }
    insta::assert_json_snapshot!("reference_plans", plans);
}
