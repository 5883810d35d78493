//! Malformed input: exit 65, one line on stderr, nothing on stdout, and no
//! request reaches S3 or DynamoDB (checked through the emulator's recorder).

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use serde_json::json;

fn cases() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let mut garbage = Vec::with_capacity(10 << 20);
    let mut x: u32 = 0x2545_f491;
    while garbage.len() < 10 << 20 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        garbage.extend_from_slice(&x.to_le_bytes());
    }
    let doc = |v: serde_json::Value| v.to_string().into_bytes();
    vec![
        (
            "not JSON",
            b"apiVersion: phx/v1\nkind: Cluster\n".to_vec(),
            "not JSON",
        ),
        (
            "truncated",
            doc_s3("phoenix").as_bytes()[..40].to_vec(),
            "truncated JSON",
        ),
        (
            "wrong apiVersion",
            doc(
                json!({"apiVersion":"phx/v2","kind":"Cluster","metadata":{"name":"phoenix"},
                "spec":{"state":{"bucket":BUCKET}}}),
            ),
            "apiVersion: \"phx/v2\" is not supported",
        ),
        (
            "missing name",
            doc(
                json!({"apiVersion":"phx/v1","kind":"Cluster","metadata":{},"spec":{"state":{"bucket":BUCKET}}}),
            ),
            "metadata.name: missing",
        ),
        ("10 MB of garbage", garbage, "not JSON"),
        ("empty", Vec::new(), "empty input"),
    ]
}

#[test]
fn every_malformed_input_exits_65_with_one_line_and_no_call() {
    let env = Env::new(true);
    for verb in [
        &["lock"][..],
        &["push", "--unlock"],
        &["pull"],
        &["unlock"],
        &["init"],
    ] {
        for (what, input, expect) in cases() {
            env.moto.start_recording();
            let out = env.state(verb).write_stdin(input).output().unwrap();
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(65), "{verb:?} {what}: {err}");
            assert!(out.stdout.is_empty(), "{verb:?} {what}: wrote to stdout");
            assert_eq!(err.lines().count(), 1, "{verb:?} {what}: {err}");
            assert!(
                err.starts_with("phx-state: reading the cluster document: "),
                "{verb:?} {what}: {err}"
            );
            assert!(err.contains(expect), "{verb:?} {what}: {err}");
            let calls = env.moto.recording();
            assert!(
                calls.is_empty(),
                "{verb:?} {what}: made calls {:?}",
                calls.actions()
            );
        }
    }
    assert!(env.versions("phoenix.json").is_empty());
    assert!(env.lock_item("phoenix.json").is_none());
}

#[test]
fn an_invalid_status_state_is_refused_before_any_call() {
    let env = Env::new(true);
    let mut d: serde_json::Value = serde_json::from_str(&doc_s3("phoenix")).unwrap();
    d["status"] = json!({"state": {"serial": "seven", "lineage": "x"}});
    env.moto.start_recording();
    let out = env.state(&["push"]).write_stdin(d.to_string()).output().unwrap();
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("status.state.serial: invalid type"),
        "{}",
        stderr(&out)
    );
    assert!(env.moto.recording().is_empty());
}

#[test]
fn usage_errors_exit_2() {
    let env = Env::new(false);
    let out = env
        .state(&["lock", "--wait", "soon"])
        .write_stdin(doc_s3("phoenix"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = env.state(&["frobnicate"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = env.state(&["new", "--name", "Not_Valid"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("not a valid cluster name"),
        "{}",
        stderr(&out)
    );
}
