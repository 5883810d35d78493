//! The local backend: no AWS at all, for a first-time user.

#![allow(clippy::unwrap_used)]

use assert_cmd::Command;
use serde_json::json;
use std::os::unix::fs::PermissionsExt;

fn state(dir: &std::path::Path, args: &[&str]) -> Command {
    let mut cmd = Command::cargo_bin("phx-state").unwrap();
    // No AWS endpoint or credentials: the local backend must not need them.
    for k in [
        "AWS_ENDPOINT_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_PROFILE",
    ] {
        cmd.env_remove(k);
    }
    cmd.current_dir(dir).args(args);
    cmd
}

fn json_of(out: &std::process::Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn new_lock_push_pull_history_with_no_aws_setup() {
    let dir = tempfile::tempdir().unwrap();
    let doc = json_of(
        &state(dir.path(), &["new", "--name", "phoenix", "--region", "eu-west-1"])
            .output()
            .unwrap(),
    );
    assert_eq!(doc["spec"]["region"], "eu-west-1");
    assert_eq!(doc["spec"]["nodes"]["workers"]["count"], 3);
    let mut locked = json_of(
        &state(dir.path(), &["lock"])
            .write_stdin(doc.to_string())
            .output()
            .unwrap(),
    );
    assert!(locked["status"]["state"]["location"]
        .as_str()
        .unwrap()
        .ends_with("/.phx-state/phoenix.json"));
    let second = state(dir.path(), &["lock"])
        .write_stdin(doc.to_string())
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(1));
    locked["status"]["nodes"] = json!({"instances": []});
    json_of(
        &state(dir.path(), &["push", "--unlock"])
            .write_stdin(locked.to_string())
            .output()
            .unwrap(),
    );

    let file = dir.path().join(".phx-state/phoenix.json");
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(
        !dir.path().join(".phx-state/phoenix.json.lock").exists(),
        "unlocked"
    );
    let pulled = json_of(
        &state(dir.path(), &["pull"])
            .write_stdin(doc.to_string())
            .output()
            .unwrap(),
    );
    assert_eq!(pulled["status"]["state"]["serial"], 1);
    let history = json_of(
        &state(dir.path(), &["history"])
            .write_stdin(doc.to_string())
            .output()
            .unwrap(),
    );
    assert_eq!(history[0]["serial"], 1);
}

#[test]
fn unlock_releases_only_the_documents_own_lock() {
    let dir = tempfile::tempdir().unwrap();
    let doc = r#"{"apiVersion":"phx/v1","kind":"Cluster","metadata":{"name":"a"}}"#;
    let locked = json_of(&state(dir.path(), &["lock"]).write_stdin(doc).output().unwrap());
    let mut forged = locked.clone();
    forged["status"]["state"]["lock"]["id"] = json!("someone-else");
    let out = state(dir.path(), &["unlock"])
        .write_stdin(forged.to_string())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot release lock someone-else"));
    let out = json_of(
        &state(dir.path(), &["unlock"])
            .write_stdin(locked.to_string())
            .output()
            .unwrap(),
    );
    assert!(out["status"]["state"].get("lock").is_none());
    json_of(&state(dir.path(), &["lock"]).write_stdin(doc).output().unwrap());
}

#[test]
fn schema_describes_the_document_and_its_contract_paths() {
    let dir = tempfile::tempdir().unwrap();
    let schema = json_of(&state(dir.path(), &["schema"]).output().unwrap());
    assert_eq!(schema["title"], "phx cluster document");
    let props = &schema["properties"];
    for key in ["apiVersion", "kind", "metadata", "spec", "status", "error"] {
        assert!(props.get(key).is_some(), "schema lacks {key}");
    }
    let text = schema.to_string();
    for field in [
        "instanceId",
        "privateIp",
        "publicIp",
        "hostKeys",
        "lockTable",
        "adminCidrs",
        "podCidr",
    ] {
        assert!(text.contains(field), "schema lacks {field}");
    }
}

#[test]
fn help_has_an_example_for_every_verb_and_version_works() {
    let dir = tempfile::tempdir().unwrap();
    let verbs = [
        "new",
        "schema",
        "init",
        "lock",
        "push",
        "pull",
        "history",
        "unlock",
        "force-unlock",
        "migrate",
    ];
    for verb in verbs {
        let out = state(dir.path(), &[verb, "--help"]).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains("Example:"),
            "{verb} --help: {text}"
        );
    }
    let out = state(dir.path(), &["--version"]).output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("phx-state {}", env!("CARGO_PKG_VERSION"))
    );
}

/// A document stored before `status.nodes` held a plan has the bare list of
/// instances: pull hands it on in today's shape, and the next push stores that.
#[test]
fn a_document_stored_by_an_earlier_phx_comes_back_in_todays_shape() {
    let dir = tempfile::tempdir().unwrap();
    let doc = json_of(&state(dir.path(), &["new", "--name", "phoenix"]).output().unwrap());
    let node = json!({"name": "phoenix-worker-1", "role": "worker", "instanceId": "i-1",
                      "ssh": {"host": "10.0.1.5", "port": 22, "user": "ubuntu", "hostKeys": []}});
    // Stored as an earlier phx stored it: pushed, then the list put back bare.
    let locked = json_of(
        &state(dir.path(), &["lock"])
            .write_stdin(doc.to_string())
            .output()
            .unwrap(),
    );
    json_of(
        &state(dir.path(), &["push", "--unlock"])
            .write_stdin(locked.to_string())
            .output()
            .unwrap(),
    );
    let stored = dir.path().join(".phx-state/phoenix.json");
    let mut old: serde_json::Value = serde_json::from_slice(&std::fs::read(&stored).unwrap()).unwrap();
    old["status"]["nodes"] = json!([node.clone()]);
    std::fs::write(&stored, old.to_string()).unwrap();

    let pulled = json_of(
        &state(dir.path(), &["pull"])
            .write_stdin(doc.to_string())
            .output()
            .unwrap(),
    );
    assert_eq!(
        pulled["status"]["nodes"],
        json!({"instances": [node]}),
        "{pulled}"
    );
    let locked = json_of(
        &state(dir.path(), &["lock"])
            .write_stdin(doc.to_string())
            .output()
            .unwrap(),
    );
    assert_eq!(locked["status"]["nodes"]["instances"][0]["instanceId"], "i-1");
    json_of(
        &state(dir.path(), &["push", "--unlock"])
            .write_stdin(locked.to_string())
            .output()
            .unwrap(),
    );
    let now: serde_json::Value = serde_json::from_slice(&std::fs::read(&stored).unwrap()).unwrap();
    assert_eq!(
        now["status"]["nodes"]["instances"][0]["name"], "phoenix-worker-1",
        "{now}"
    );
}
