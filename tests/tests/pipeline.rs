//! scripts/lib/pipeline.sh's side-by-side stages ("phx-net apply & phx-iam
//! apply"), driven through `run_locked` with the real phx-state (local
//! backend) and stand-in stages: small scripts that keep a stage's rules
//! (pass an earlier failure through, write only `status.<own key>`, write
//! the document on Ctrl-C), so each rule of the join can be made to break.
//! The real tools run side by side in the e2e deploys.

#![allow(clippy::unwrap_used)]

use phx_testkit::{path_with_bins, workspace_root};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A stage named phx-<key>: it waits until its partner (`$PARTNER_<key>`)
/// has started too, so a pipeline that ran them one after the other fails
/// the test instead of passing slowly; `$FAIL`/`$DIE`/`$HANG` name the
/// stage that fails with .error, exits without a document, or waits for
/// Ctrl-C. phx-c records which keys it was given.
const STAND_IN: &str = r#"#!/usr/bin/env bash
set -u
key=${0##*/phx-}
# As the real stages: Ctrl-C is caught from the start, the document is
# still read whole, and then written marked interrupted.
interrupted=
trap 'interrupted=1' INT TERM
doc=$(trap '' INT TERM; exec cat)
if jq -e '.error' <<< "$doc" > /dev/null; then printf '%s\n' "$doc"; exit 1; fi
write() { # error message or ""
    jq -c --arg k "$key" --arg m "$1" '.status[$k] = {"made": true, "saw": (.status // {} | keys)}
        | if $m == "" then . else .error = {"tool": ("phx-" + $k), "message": $m} end' <<< "$doc"
}
stop() { if [[ -n $interrupted ]]; then write "interrupted by SIGINT"; exit 130; fi; }
stop
touch "$MARKS/$key"
partner_var=PARTNER_$key
if [[ -n ${!partner_var:-} ]]; then
    for _ in $(seq 300); do [[ -e $MARKS/${!partner_var} ]] && break; sleep 0.1; stop; done
    [[ -e $MARKS/${!partner_var} ]] || { echo "phx-$key: ran alone" >&2; exit 3; }
fi
if [[ ${HANG:-} == "$key" ]]; then
    sleep 60 &
    wait $!
    kill $! 2> /dev/null
    stop
fi
[[ ${DIE:-} == "$key" ]] && exit 137
[[ ${FAIL:-} == "$key" ]] && { write "boom"; exit 1; }
write ""
"#;

struct Bench {
    dir: tempfile::TempDir,
}

impl Bench {
    fn new() -> Bench {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("bin")).unwrap();
        std::fs::create_dir(dir.path().join("marks")).unwrap();
        for key in ["a", "b", "c"] {
            let path = dir.path().join("bin").join(format!("phx-{key}"));
            std::fs::write(&path, STAND_IN).unwrap();
            std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        }
        let doc = json!({"apiVersion":"phx/v1","kind":"Cluster","metadata":{"name":"side"},"spec":{}});
        std::fs::write(dir.path().join("cluster.json"), doc.to_string()).unwrap();
        Bench { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `run_locked` over phx-a & phx-b side by side, then phx-c.
    fn command(&self, env: &[(&str, &str)]) -> Command {
        let script: PathBuf = workspace_root().join("scripts/lib/pipeline.sh");
        let mut cmd = Command::new("bash");
        cmd.arg("-c")
            .arg(format!(
                ". {} && run_locked test.sh cluster.json 'phx-a apply & phx-b apply' 'phx-c apply'",
                script.display()
            ))
            .current_dir(self.path())
            .env(
                "PATH",
                format!("{}:{}", self.path().join("bin").display(), path_with_bins()),
            )
            .env("MARKS", self.path().join("marks"))
            .env("PARTNER_a", "b")
            .env("PARTNER_b", "a")
            .env("TMPDIR", self.path())
            .envs(env.iter().copied());
        cmd
    }

    fn run(&self, env: &[(&str, &str)]) -> Output {
        self.command(env).output().unwrap()
    }

    fn stored(&self) -> Value {
        let out = Command::new(phx_testkit::bin("phx-state"))
            .arg("pull")
            .current_dir(self.path())
            .stdin(std::fs::File::open(self.path().join("cluster.json")).unwrap())
            .output()
            .unwrap();
        phx_testkit::ok(&out)
    }

    /// Nothing left behind: the lock released, no copy or temp directory.
    fn assert_clean(&self) {
        let lock = self.path().join(".phx-state/side.json.lock");
        assert!(!lock.exists(), "the lock is released");
        let left: Vec<_> = std::fs::read_dir(self.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("tmp") || n.starts_with("phx-side"))
            .collect();
        assert!(left.is_empty(), "left behind: {left:?}");
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn side_by_side_stages_run_at_once_and_the_next_stage_sees_both() {
    let b = Bench::new();
    let out = b.run(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let doc = b.stored();
    assert_eq!(doc["status"]["a"]["made"], true, "{doc}");
    assert_eq!(doc["status"]["b"]["made"], true, "{doc}");
    let saw = &doc["status"]["c"]["saw"];
    assert!(
        saw.as_array().unwrap().contains(&json!("a")) && saw.as_array().unwrap().contains(&json!("b")),
        "phx-c got the joined document: {doc}"
    );
    assert_eq!(doc["error"], Value::Null);
    b.assert_clean();
}

#[test]
fn a_failing_side_stage_is_named_and_its_partners_work_is_stored() {
    let b = Bench::new();
    let out = b.run(&[("FAIL", "b")]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("test.sh: FAILED in phx-b: boom"),
        "{}",
        stderr(&out)
    );
    let doc = b.stored();
    assert_eq!(doc["status"]["a"]["made"], true, "{doc}");
    assert_eq!(doc["status"]["b"]["made"], true, "{doc}");
    assert_eq!(doc["status"].get("c"), None, "phx-c passed the failure on: {doc}");
    assert_eq!(doc["error"]["tool"], "phx-b");
    b.assert_clean();
}

#[test]
fn a_side_stage_that_dies_without_writing_is_named_and_the_other_is_kept() {
    let b = Bench::new();
    let out = b.run(&[("DIE", "a")]);
    assert_eq!(out.status.code(), Some(137), "{}", stderr(&out));
    let doc = b.stored();
    assert_eq!(doc["error"]["tool"], "phx-a", "{doc}");
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains("wrote no document"),
        "{doc}"
    );
    assert_eq!(doc["status"].get("a"), None);
    assert_eq!(doc["status"]["b"]["made"], true, "{doc}");
    assert!(
        stderr(&out).contains("FAILED in phx-a: wrote no document"),
        "{}",
        stderr(&out)
    );
    b.assert_clean();
}

/// Ctrl-C reaches both side-by-side stages (a background job of a script
/// would ignore it and run on): each writes its document, both are stored.
#[test]
fn ctrl_c_reaches_both_side_stages_and_stores_both() {
    let b = Bench::new();
    let mut cmd = b.command(&[("HANG", "b")]);
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let start = Instant::now();
    while !(b.path().join("marks/a").exists() && b.path().join("marks/b").exists()) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the stages never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // phx-a is done or about to be; phx-b waits for Ctrl-C.
    std::thread::sleep(Duration::from_millis(300));
    let out = phx_testkit::signal_group(child, "-INT");
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("test.sh: INTERRUPTED in phx-b"),
        "{}",
        stderr(&out)
    );
    let doc = b.stored();
    assert_eq!(doc["status"]["a"]["made"], true, "{doc}");
    assert_eq!(doc["status"]["b"]["made"], true, "phx-b wrote on Ctrl-C: {doc}");
    assert!(
        doc["error"]["message"].as_str().unwrap().contains("interrupted"),
        "{doc}"
    );
    b.assert_clean();
}

/// When the join itself breaks, no joined document exists: the stages'
/// own documents are kept where the message says, not deleted.
#[test]
fn a_broken_join_keeps_the_stages_documents_and_says_where() {
    let b = Bench::new();
    let real = phx_testkit::bin("phx-state");
    let wrapper = format!(
        "#!/usr/bin/env bash\n[[ $1 == join ]] && {{ echo 'phx-state: simulated crash' >&2; exit 70; }}\nexec {} \"$@\"\n",
        real.display()
    );
    let path = b.path().join("bin/phx-state");
    std::fs::write(&path, wrapper).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = b.run(&[]);
    assert_ne!(out.status.code(), Some(0));
    let err = stderr(&out);
    let kept = err
        .lines()
        .find_map(|l| l.split_once("the stages' documents are kept in "))
        .map(|(_, dir)| PathBuf::from(dir.trim()))
        .unwrap_or_else(|| panic!("{err}"));
    for (i, stage) in ["phx-a", "phx-b"].iter().enumerate() {
        let copy: Value =
            serde_json::from_slice(&std::fs::read(kept.join(i.to_string()).join(stage)).unwrap()).unwrap();
        assert_eq!(copy["status"][&stage[4..]]["made"], true, "{copy}");
    }
    assert!(err.contains("test.sh: FAILED to store the document"), "{err}");
}
