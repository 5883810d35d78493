//! phx-state against S3 + DynamoDB in the moto emulator.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use serde_json::json;

#[test]
fn lock_push_pull_round_trip_keeps_everything_and_counts_serials() {
    let env = Env::new(true);
    let out = env
        .state(&["lock", "--reason", "first deploy"])
        .write_stdin(doc_s3("phoenix"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let mut locked = parse(&out.stdout);
    let lock = locked["status"]["state"]["lock"].clone();
    assert_eq!(lock["reason"], "first deploy");
    assert_eq!(lock["who"].as_str().unwrap().split('@').next(), Some("tester"));
    assert_eq!(locked["status"]["state"]["serial"], 0);
    assert!(env
        .lock_item("phoenix.json")
        .unwrap()
        .contains(lock["id"].as_str().unwrap()));

    // A stage adds its status and an unknown top-level field rides along.
    locked["status"]["network"] = json!({"vpcId": "vpc-123"});
    locked["x-future"] = json!({"kept": true});
    let out = env
        .state(&["push", "--unlock"])
        .write_stdin(locked.to_string())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let pushed = parse(&out.stdout);
    assert_eq!(pushed["status"]["state"]["serial"], 1);
    assert!(pushed["status"]["state"].get("lock").is_none());
    assert!(env.lock_item("phoenix.json").is_none(), "lock released");
    assert_eq!(env.versions("phoenix.json").len(), 1);

    let pulled = parse(
        &env.state(&["pull"])
            .write_stdin(doc_s3("phoenix"))
            .output()
            .unwrap()
            .stdout,
    );
    assert_eq!(pulled["status"]["network"]["vpcId"], "vpc-123");
    assert_eq!(pulled["x-future"]["kept"], true);

    // The next lock joins the user's (changed) spec with the stored status.
    let mut desired: serde_json::Value = serde_json::from_str(&doc_s3("phoenix")).unwrap();
    desired["spec"]["nodes"] = json!({"workers": {"count": 5, "instanceType": "t3.xlarge", "diskGiB": 50}});
    let next = parse(
        &env.state(&["lock"])
            .write_stdin(desired.to_string())
            .output()
            .unwrap()
            .stdout,
    );
    assert_eq!(next["spec"]["nodes"]["workers"]["count"], 5);
    assert_eq!(next["status"]["network"]["vpcId"], "vpc-123");
    assert_eq!(next["status"]["state"]["serial"], 1);
    assert_eq!(
        next["status"]["state"]["lineage"],
        pushed["status"]["state"]["lineage"]
    );
}

#[test]
fn second_lock_names_holder_operation_and_age_then_wait_gives_up() {
    let env = Env::new(true);
    env.state(&["lock", "--operation", "deploy"])
        .write_stdin(doc_s3("phoenix"))
        .assert()
        .success();
    let out = env
        .state(&["lock"])
        .write_stdin(doc_s3("phoenix"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("phx-state: the state is locked: held by tester@"),
        "{err}"
    );
    assert!(err.contains("operation deploy") && err.contains(" for "), "{err}");
    let t = std::time::Instant::now();
    let out = env
        .state(&["lock", "--wait", "2s", "-q"])
        .write_stdin(doc_s3("phoenix"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        t.elapsed() >= std::time::Duration::from_secs(2),
        "waited {:?}",
        t.elapsed()
    );
}

#[test]
fn lower_serial_or_other_lineage_is_refused_and_s3_unchanged() {
    let env = Env::new(true);
    let locked = parse(
        &env.state(&["lock"])
            .write_stdin(doc_s3("phoenix"))
            .output()
            .unwrap()
            .stdout,
    );
    env.state(&["push", "--unlock"])
        .write_stdin(locked.to_string())
        .assert()
        .success();
    let stale = locked.clone(); // based on serial 0, while 1 is stored
    let before = env.versions("phoenix.json");

    env.moto.start_recording();
    let out = env
        .state(&["push"])
        .write_stdin(stale.to_string())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("based on serial 0, but serial 1 is stored"),
        "{}",
        stderr(&out)
    );

    let mut other = locked.clone();
    other["status"]["state"]["serial"] = json!(7);
    other["status"]["state"]["lineage"] = json!("another-lineage");
    let out = env
        .state(&["push"])
        .write_stdin(other.to_string())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("lineage another-lineage differs"),
        "{}",
        stderr(&out)
    );
    let writes = env.moto.recording();
    assert!(
        writes.mutating().is_empty(),
        "refused pushes wrote: {:?}",
        writes.mutating()
    );
    assert_eq!(env.versions("phoenix.json"), before);
    // The refused documents were kept locally, never lost.
    let saved = std::fs::read_dir(env.dir.path()).unwrap().filter(|e| {
        e.as_ref()
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with("phx-errored-phoenix-")
    });
    assert_eq!(saved.count(), 2);

    // --force overrides, and bumps past the stored serial.
    let forced = parse(
        &env.state(&["push", "--force"])
            .write_stdin(stale.to_string())
            .output()
            .unwrap()
            .stdout,
    );
    assert_eq!(forced["status"]["state"]["serial"], 2);
}

#[test]
fn force_unlock_frees_a_lock_left_by_a_killed_pipeline() {
    let env = Env::new(true);
    // A pipeline that took the lock and was killed before its push.
    let child = env
        .state_process(&["lock"])
        .stdin(std::fs::File::open(write_doc(&env)).unwrap())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let id = parse(&out.stdout)["status"]["state"]["lock"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut sleeper = std::process::Command::new("sleep").arg("30").spawn().unwrap();
    sleeper.kill().unwrap(); // the rest of the pipeline dies
    sleeper.wait().unwrap();

    let out = env
        .state(&["lock"])
        .write_stdin(doc_s3("phoenix"))
        .output()
        .unwrap();
    assert!(
        stderr(&out).contains(&id),
        "the held message names the id to force-unlock"
    );
    let out = env
        .state(&["force-unlock", "not-the-id"])
        .write_stdin(doc_s3("phoenix"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "a wrong id releases nothing");
    assert!(env.lock_item("phoenix.json").is_some());
    env.state(&["force-unlock", &id])
        .write_stdin(doc_s3("phoenix"))
        .assert()
        .success()
        .stdout("");
    assert!(env.lock_item("phoenix.json").is_none());
    env.state(&["lock"])
        .write_stdin(doc_s3("phoenix"))
        .assert()
        .success();
}

fn write_doc(env: &Env) -> std::path::PathBuf {
    let p = env.dir.path().join("cluster.json");
    std::fs::write(&p, doc_s3("phoenix")).unwrap();
    p
}

#[test]
fn a_document_with_error_is_stored_and_unlocked_then_exit_1() {
    let env = Env::new(true);
    let mut locked = parse(
        &env.state(&["lock"])
            .write_stdin(doc_s3("phoenix"))
            .output()
            .unwrap()
            .stdout,
    );
    locked["status"]["network"] = json!({"vpcId": "vpc-1", "subnets": ["subnet-1"]});
    locked["error"] = json!({"tool": "phx-nodes", "message": "launching: InsufficientInstanceCapacity"});
    let out = env
        .state(&["push", "--unlock"])
        .write_stdin(locked.to_string())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("stored, but stage phx-nodes failed: launching"),
        "{}",
        stderr(&out)
    );
    assert!(env.lock_item("phoenix.json").is_none(), "lock released");
    let pulled = parse(
        &env.state(&["pull"])
            .write_stdin(doc_s3("phoenix"))
            .output()
            .unwrap()
            .stdout,
    );
    assert_eq!(pulled["error"]["tool"], "phx-nodes");
    assert_eq!(pulled["status"]["network"]["subnets"][0], "subnet-1");
    // A re-run locks again and starts without the old error.
    let relocked = parse(
        &env.state(&["lock"])
            .write_stdin(doc_s3("phoenix"))
            .output()
            .unwrap()
            .stdout,
    );
    assert!(relocked.get("error").is_none());
    assert_eq!(relocked["status"]["network"]["vpcId"], "vpc-1");
}

#[test]
fn pull_detects_an_object_changed_behind_the_digest() {
    let env = Env::new(true);
    let locked = parse(
        &env.state(&["lock"])
            .write_stdin(doc_s3("phoenix"))
            .output()
            .unwrap()
            .stdout,
    );
    env.state(&["push", "--unlock"])
        .write_stdin(locked.to_string())
        .assert()
        .success();
    let aws = env.aws();
    phx_testkit::block_on(async {
        let body = phx_aws::s3::primitives::ByteStream::from(doc_s3("phoenix").into_bytes());
        aws.s3()
            .put_object()
            .bucket(BUCKET)
            .key("phoenix.json")
            .body(body)
            .send()
            .await
            .unwrap();
    });
    let out = env
        .state(&["pull"])
        .write_stdin(doc_s3("phoenix"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("state digest mismatch"), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
}

#[test]
fn history_lists_every_pushed_serial_with_its_author() {
    let env = Env::new(true);
    for _ in 0..3 {
        let locked = parse(
            &env.state(&["lock"])
                .write_stdin(doc_s3("phoenix"))
                .output()
                .unwrap()
                .stdout,
        );
        env.state(&["push", "--unlock"])
            .write_stdin(locked.to_string())
            .assert()
            .success();
    }
    let list = parse(
        &env.state(&["history"])
            .write_stdin(doc_s3("phoenix"))
            .output()
            .unwrap()
            .stdout,
    );
    let serials: Vec<_> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["serial"].as_u64().unwrap())
        .collect();
    assert_eq!(serials, vec![3, 2, 1]);
    assert!(list[0]["who"].as_str().unwrap().starts_with("tester@"));
    let first = list[2]["version"].as_str().unwrap();
    let old = parse(
        &env.state(&["pull", "--version", first])
            .write_stdin(doc_s3("phoenix"))
            .output()
            .unwrap()
            .stdout,
    );
    assert_eq!(old["status"]["state"]["serial"], 1);
}

#[test]
fn s3_native_locking_needs_no_table() {
    let env = Env::new(false);
    env.state(&["init", "--lock", "s3"])
        .write_stdin(doc_s3("phoenix"))
        .assert()
        .success();
    let locked = parse(
        &env.state(&["lock", "--lock", "s3"])
            .write_stdin(doc_s3("phoenix"))
            .output()
            .unwrap()
            .stdout,
    );
    let out = env
        .state(&["lock", "--lock", "s3"])
        .write_stdin(doc_s3("phoenix"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("s3://phx-state-test/phoenix.json.lock"),
        "{}",
        stderr(&out)
    );
    env.state(&["push", "--unlock", "--lock", "s3"])
        .write_stdin(locked.to_string())
        .assert()
        .success();
    env.state(&["lock", "--lock", "s3"])
        .write_stdin(doc_s3("phoenix"))
        .assert()
        .success();
    let aws = env.aws();
    let tables = phx_testkit::block_on(async { aws.dynamodb().list_tables().send().await.unwrap() });
    assert!(tables.table_names().is_empty(), "no lock table was created");
}

#[test]
fn init_sets_up_a_private_versioned_encrypted_bucket_and_a_second_run_writes_nothing() {
    let env = Env::new(false);
    let out = env
        .state(&["init"])
        .write_stdin(doc_s3("phoenix"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let doc = parse(&out.stdout);
    assert_eq!(doc["spec"]["state"]["bucket"], BUCKET);
    assert_eq!(doc["spec"]["state"]["lockTable"], TABLE);
    let aws = env.aws();
    phx_testkit::block_on(async {
        let s3 = aws.s3();
        // moto's reply has a root element the SDK will not parse; read the body.
        let v = s3.get_bucket_versioning().bucket(BUCKET).send().await;
        let body = match &v {
            Ok(out) => format!("<Status>{}</Status>", out.status().unwrap().as_str()),
            Err(e) => String::from_utf8_lossy(e.raw_response().unwrap().body().bytes().unwrap()).into_owned(),
        };
        assert!(body.contains("<Status>Enabled</Status>"), "{body}");
        let e = s3.get_bucket_encryption().bucket(BUCKET).send().await.unwrap();
        assert_eq!(e.server_side_encryption_configuration().unwrap().rules().len(), 1);
        let p = s3.get_public_access_block().bucket(BUCKET).send().await.unwrap();
        let p = p.public_access_block_configuration().unwrap();
        assert!(p.block_public_acls().unwrap() && p.restrict_public_buckets().unwrap());
        let t = aws
            .dynamodb()
            .describe_table()
            .table_name(TABLE)
            .send()
            .await
            .unwrap();
        let t = t.table().unwrap();
        assert_eq!(t.key_schema()[0].attribute_name(), "LockID");
        assert_eq!(
            t.billing_mode_summary().unwrap().billing_mode().unwrap().as_str(),
            "PAY_PER_REQUEST"
        );
    });

    env.moto.start_recording();
    env.state(&["init"])
        .write_stdin(doc_s3("phoenix"))
        .assert()
        .success();
    let rec = env.moto.recording();
    assert!(!rec.is_empty(), "the second run must still check");
    assert!(
        rec.mutating().is_empty(),
        "second init wrote: {:?}",
        rec.mutating()
    );
}

#[test]
fn init_without_a_bucket_uses_the_account_default_and_records_it() {
    let env = Env::new(false);
    let plain = r#"{"apiVersion":"phx/v1","kind":"Cluster","metadata":{"name":"phoenix"}}"#;
    let doc = parse(&env.state(&["init"]).write_stdin(plain).output().unwrap().stdout);
    assert_eq!(doc["spec"]["state"]["bucket"], "phx-state-123456789012");
    assert_eq!(doc["spec"]["state"]["region"], "us-east-1");
    // The printed document now selects the S3 backend.
    let locked = parse(
        &env.state(&["lock"])
            .write_stdin(doc.to_string())
            .output()
            .unwrap()
            .stdout,
    );
    assert_eq!(
        locked["status"]["state"]["location"],
        "s3://phx-state-123456789012/phoenix.json"
    );
}

#[test]
fn migrate_moves_local_state_to_s3_and_keeps_a_backup() {
    let env = Env::new(true);
    let local = r#"{"apiVersion":"phx/v1","kind":"Cluster","metadata":{"name":"phoenix"}}"#;
    let mut locked = parse(&env.state(&["lock"]).write_stdin(local).output().unwrap().stdout);
    locked["status"]["iam"] = json!({"role": "phoenix-cp"});
    env.state(&["push", "--unlock"])
        .write_stdin(locked.to_string())
        .assert()
        .success();

    let out = env
        .state(&["migrate", "--to", "s3", "--bucket", BUCKET, "--lock-table", TABLE])
        .write_stdin(local)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let migrated = parse(&out.stdout);
    assert_eq!(migrated["spec"]["state"]["bucket"], BUCKET);
    let pulled = parse(
        &env.state(&["pull"])
            .write_stdin(migrated.to_string())
            .output()
            .unwrap()
            .stdout,
    );
    assert_eq!(pulled["status"]["iam"]["role"], "phoenix-cp");
    assert_eq!(pulled["status"]["state"]["serial"], 1);
    assert_eq!(
        pulled["status"]["state"]["lineage"],
        locked["status"]["state"]["lineage"]
    );
    let files: Vec<String> = std::fs::read_dir(env.dir.path().join(".phx-state"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        files.iter().any(|f| f.starts_with("phoenix.json.migrated-")),
        "{files:?}"
    );
    assert!(!files.contains(&"phoenix.json".to_string()), "{files:?}");
    // Migrating again finds nothing local to move.
    let again = env
        .state(&["migrate", "--to", "s3"])
        .write_stdin(migrated.to_string())
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains("nothing to migrate"),
        "{}",
        stderr(&again)
    );
}
