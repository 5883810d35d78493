//! `phx-state join`: the copies of side-by-side stages made one document
//! (the rules are unit-tested in phx-core's join; this is the command).

#![allow(clippy::unwrap_used)]

use assert_cmd::Command;
use serde_json::{json, Value};

fn doc(status: Value) -> Value {
    json!({"apiVersion":"phx/v1","kind":"Cluster","metadata":{"name":"j"},"spec":{},"status":status})
}

/// base, copies (stage name, written bytes or None) -> (exit code, stdout document, stderr)
fn join(base: &Value, copies: &[(&str, Option<Value>)]) -> (i32, Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut args = Vec::new();
    for (i, (stage, written)) in copies.iter().enumerate() {
        let sub = dir.path().join(i.to_string());
        std::fs::create_dir(&sub).unwrap();
        let file = sub.join(stage);
        if let Some(w) = written {
            std::fs::write(&file, w.to_string()).unwrap();
        } else {
            std::fs::write(&file, "").unwrap();
        }
        args.push(file);
    }
    let out = Command::cargo_bin("phx-state")
        .unwrap()
        .arg("join")
        .args(&args)
        .write_stdin(base.to_string())
        .output()
        .unwrap();
    let stdout = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (
        out.status.code().unwrap(),
        stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn two_copies_joined_carry_both_stages_status() {
    let base = doc(json!({"state":{"serial":3}}));
    let (code, out, _) = join(
        &base,
        &[
            (
                "phx-net",
                Some(doc(json!({"state":{"serial":3},"network":{"vpcId":"vpc-1"}}))),
            ),
            (
                "phx-iam",
                Some(doc(json!({"state":{"serial":3},"iam":{"roles":[]}}))),
            ),
        ],
    );
    assert_eq!(code, 0);
    assert_eq!(
        out,
        doc(json!({"state":{"serial":3},"network":{"vpcId":"vpc-1"},"iam":{"roles":[]}}))
    );
}

#[test]
fn a_copy_missing_exits_1_naming_the_stage_and_keeps_the_other() {
    let base = doc(json!({}));
    let (code, out, err) = join(
        &base,
        &[
            ("phx-net", None),
            ("phx-iam", Some(doc(json!({"iam":{"roles":[]}})))),
        ],
    );
    assert_eq!(code, 1);
    assert_eq!(out["status"], json!({"iam":{"roles":[]}}));
    assert_eq!(out["error"]["tool"], "phx-net");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("phx-state: phx-net: wrote no document"), "{err}");
}

#[test]
fn a_stage_reporting_its_own_failure_is_passed_on_with_exit_0() {
    let mut failed = doc(json!({"iam":{"roles":[]}}));
    failed["error"] = json!({"tool":"phx-iam","message":"AccessDenied"});
    let (code, out, _) = join(
        &doc(json!({})),
        &[
            ("phx-net", Some(doc(json!({"network":{}})))),
            ("phx-iam", Some(failed)),
        ],
    );
    assert_eq!(code, 0, "the stage's own exit status says it failed");
    assert_eq!(out["error"]["message"], "AccessDenied");
    assert_eq!(out["status"], json!({"network":{},"iam":{"roles":[]}}));
}
