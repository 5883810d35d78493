//! The contract every phx tool keeps, checked on the real binaries:
//! `--help` and `--version`, exit codes, one-line errors, stdout carrying
//! only the document, and the pipeline failure rule (a failed stage's
//! document still reaches `phx-state push`, which stores it and unlocks).

#![allow(clippy::unwrap_used)]

use phx_testkit::{bin, start};
use serde_json::{json, Value};
use std::process::{Command, Output, Stdio};

const TOOLS: &[&str] = &[
    "phx-state",
    "phx-net",
    "phx-iam",
    "phx-nodes",
    "phx-kubeadm",
    "phx-cni",
    "phx-ccm",
    "phx-platform",
];
/// Every tool with one verb that reads a document.
const DOCUMENT_VERBS: &[(&str, &str)] = &[
    ("phx-state", "push"),
    ("phx-net", "apply"),
    ("phx-iam", "apply"),
    ("phx-nodes", "apply"),
    ("phx-kubeadm", "apply"),
    ("phx-cni", "apply"),
    ("phx-ccm", "apply"),
    ("phx-platform", "apply"),
];
/// A tool with AWS pointed at a closed loopback port: whatever happens,
/// no request can leave this machine.
fn tool(name: &str) -> Command {
    let mut cmd = Command::new(bin(name));
    cmd.env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_ACCESS_KEY_ID", "none")
        .env("AWS_SECRET_ACCESS_KEY", "none")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        // Artifacts too: a local path that does not exist, never upstream.
        .env("PHX_ARTIFACT_MIRROR", "/nonexistent/phx-mirror")
        .env_remove("AWS_PROFILE");
    cmd
}

fn run(name: &str, args: &[&str], stdin: &[u8]) -> Output {
    let mut cmd = tool(name);
    cmd.args(args);
    start(cmd, stdin).wait_with_output().unwrap()
}

fn doc() -> Value {
    json!({"apiVersion":"phx/v1","kind":"Cluster","metadata":{"name":"phoenix"},
           "spec":{"region":"us-east-1","future":{"knob":1}},"status":{"other":{"id":"x"}}})
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn every_tool_has_help_and_version() {
    for tool in TOOLS {
        let out = run(tool, &["--help"], b"");
        assert!(out.status.success(), "{tool} --help");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("Exit status:") && text.contains("65"),
            "{tool} --help lacks exit codes"
        );
        let out = run(tool, &["--version"], b"");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            format!("{tool} {}", env!("CARGO_PKG_VERSION"))
        );
        let out = run(tool, &["no-such-verb"], b"");
        assert_eq!(out.status.code(), Some(2), "{tool}: a usage error exits 2");
    }
}

/// Every tool but phx-state (the document's lifecycle) has the same four
/// verbs, with a help text each.
#[test]
fn every_tool_has_apply_plan_destroy_and_status() {
    for tool in TOOLS.iter().filter(|t| **t != "phx-state") {
        for verb in ["apply", "plan", "destroy", "status"] {
            let out = run(tool, &[verb, "--help"], b"");
            assert!(out.status.success(), "{tool} {verb}: {}", err(&out));
            assert!(
                String::from_utf8_lossy(&out.stdout).contains("Example:"),
                "{tool} {verb} --help has no example"
            );
        }
    }
}

#[test]
fn a_document_carrying_error_passes_through_unchanged() {
    let mut failed = doc();
    failed["error"] = json!({"tool": "phx-net", "message": "CreateVpc: VpcLimitExceeded"});
    let input = serde_json::to_vec(&failed).unwrap();
    for (tool, verb) in DOCUMENT_VERBS.iter().filter(|(t, _)| *t != "phx-state") {
        let out = run(tool, &[verb], &input);
        assert_eq!(out.status.code(), Some(1), "{tool}");
        let written: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(written, failed, "{tool} altered a failed document");
        assert!(
            err(&out).contains("skipped: phx-net failed earlier: CreateVpc: VpcLimitExceeded"),
            "{}",
            err(&out)
        );
    }
}

#[test]
fn invalid_documents_exit_65_with_one_line_for_every_tool() {
    let wrong_version = json!({"apiVersion":"phx/v2","kind":"Cluster","metadata":{"name":"a"}}).to_string();
    let cases: [(&str, &[u8]); 3] = [
        ("not JSON", b"kind: Cluster"),
        ("truncated", br#"{"apiVersion":"phx/v1","#),
        ("wrong apiVersion", wrong_version.as_bytes()),
    ];
    for (tool, verb) in DOCUMENT_VERBS {
        for (what, input) in cases {
            let out = run(tool, &[verb], input);
            assert_eq!(out.status.code(), Some(65), "{tool} {what}");
            assert!(out.stdout.is_empty(), "{tool} {what}: stdout must stay empty");
            assert_eq!(err(&out).lines().count(), 1, "{tool} {what}: {}", err(&out));
            assert!(
                err(&out).starts_with(&format!("{tool}: reading the cluster document: ")),
                "{}",
                err(&out)
            );
        }
    }
}

#[test]
fn a_failing_pipeline_still_stores_the_document_and_releases_the_lock() {
    // phx-net refuses the spec (no adminCidrs): exit 65 mid-pipeline, yet the
    // document flows on, phx-iam skips it, and push stores it and unlocks.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    std::fs::write(dir.join("cluster.json"), doc().to_string()).unwrap();
    let script = format!(
        "set -o pipefail; {state} lock < cluster.json | {net} apply | {iam} apply | {state} push --unlock",
        state = bin("phx-state").display(),
        net = bin("phx-net").display(),
        iam = bin("phx-iam").display(),
    );
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(&dir)
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", err(&out));
    let stderr = err(&out);
    assert!(
        stderr.contains("phx-net: spec.network.adminCidrs: required"),
        "{stderr}"
    );
    assert!(
        stderr.contains("phx-iam: skipped: phx-net failed earlier"),
        "{stderr}"
    );
    assert!(
        stderr.contains("phx-state: stored, but stage phx-net failed"),
        "{stderr}"
    );
    let stored: Value =
        serde_json::from_slice(&std::fs::read(dir.join(".phx-state/phoenix.json")).unwrap()).unwrap();
    assert_eq!(stored["error"]["tool"], "phx-net");
    assert_eq!(stored["status"]["state"]["serial"], 1);
    assert!(
        !dir.join(".phx-state/phoenix.json.lock").exists(),
        "the lock was released"
    );
}

#[test]
fn a_closed_stdout_ends_a_tool_quietly() {
    // The reader is gone before the tool writes: EPIPE, no message, exit 1.
    let mut child = Command::new(bin("phx-state"))
        .arg("schema")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(err(&out), "", "a broken pipe is not an error worth a message");
}

#[test]
fn ctrl_c_stops_a_stage_which_still_writes_the_document_marked_interrupted() {
    // An "AWS" that accepts connections and never answers: the stage is
    // stuck in its first call when Ctrl-C arrives.
    let hole = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = hole.local_addr().unwrap().port();
    let held = std::thread::spawn(move || hole.incoming().take(16).flatten().collect::<Vec<_>>());
    let mut cmd = tool("phx-net");
    cmd.arg("apply")
        .env("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{port}"));
    let mut d = doc();
    d["spec"]["network"] = json!({"adminCidrs": ["203.0.113.0/24"]});
    let child = start(cmd, d.to_string().as_bytes());
    std::thread::sleep(std::time::Duration::from_millis(700));
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", err(&out));
    let written: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(written["error"]["tool"], "phx-net");
    assert!(
        written["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("interrupted by Ctrl-C"),
        "{written}"
    );
    assert_eq!(
        written["status"]["other"],
        json!({"id": "x"}),
        "the rest passes through"
    );
    assert!(
        err(&out).contains("phx-net: interrupted by Ctrl-C"),
        "{}",
        err(&out)
    );
    drop(held);
}
