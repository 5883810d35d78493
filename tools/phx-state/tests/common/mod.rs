//! Shared pieces of the phx-state tests: a moto server with an initialised
//! backend, commands pointed at it, documents, and direct S3/DynamoDB
//! inspection through the SDK (to check what the tool did, not trust it).

#![allow(dead_code, clippy::unwrap_used)]

use assert_cmd::Command;
use phx_testkit::Moto;
use serde_json::{json, Value};
use std::path::Path;

pub const BUCKET: &str = "phx-state-test";
pub const TABLE: &str = "phx-locks";

pub struct Env {
    pub moto: Moto,
    pub dir: tempfile::TempDir,
}

impl Env {
    /// A fresh emulator; `init` run once when `init` is true.
    pub fn new(init: bool) -> Env {
        let env = Env {
            moto: Moto::start(),
            dir: tempfile::tempdir().unwrap(),
        };
        if init {
            env.state(&["init"])
                .write_stdin(doc_s3("phoenix"))
                .assert()
                .success();
        }
        env
    }

    /// `phx-state ARGS` against this emulator, in a scratch directory.
    pub fn state(&self, args: &[&str]) -> Command {
        let mut cmd = Command::cargo_bin("phx-state").unwrap();
        self.moto.configure(&mut cmd);
        cmd.current_dir(self.dir.path()).args(args).env("USER", "tester");
        cmd
    }

    /// `std::process::Command` flavour, for spawning many at once.
    pub fn state_process(&self, args: &[&str]) -> std::process::Command {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("phx-state"));
        for (k, v) in self.moto.env() {
            cmd.env(k, v);
        }
        cmd.env_remove("AWS_PROFILE")
            .current_dir(self.dir.path())
            .args(args);
        cmd
    }

    pub fn aws(&self) -> phx_aws::Aws {
        self.moto.aws()
    }

    /// The versions of the state object, newest first.
    pub fn versions(&self, key: &str) -> Vec<String> {
        let aws = self.aws();
        phx_testkit::block_on(async {
            let out = aws
                .s3()
                .list_object_versions()
                .bucket(BUCKET)
                .prefix(key)
                .send()
                .await
                .unwrap();
            out.versions()
                .iter()
                .filter(|v| v.key() == Some(key))
                .map(|v| v.version_id().unwrap_or_default().to_string())
                .collect()
        })
    }

    /// The lock item of `key` in the lock table, if any.
    pub fn lock_item(&self, key: &str) -> Option<String> {
        let aws = self.aws();
        phx_testkit::block_on(async {
            let out = aws
                .dynamodb()
                .get_item()
                .table_name(TABLE)
                .key(
                    "LockID",
                    phx_aws::dynamodb::types::AttributeValue::S(format!("{BUCKET}/{key}")),
                )
                .consistent_read(true)
                .send()
                .await
                .unwrap();
            out.item()
                .and_then(|i| i.get("Info"))
                .map(|v| v.as_s().unwrap().clone())
        })
    }
}

/// A document whose state lives in the emulator's bucket.
pub fn doc_s3(name: &str) -> String {
    json!({
        "apiVersion": "phx/v1", "kind": "Cluster", "metadata": {"name": name},
        "spec": {"region": "us-east-1", "state": {"bucket": BUCKET, "lockTable": TABLE}}
    })
    .to_string()
}

pub fn parse(out: &[u8]) -> Value {
    serde_json::from_slice(out)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", String::from_utf8_lossy(out)))
}

pub fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn read(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}
