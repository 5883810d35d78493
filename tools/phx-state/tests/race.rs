//! Racing processes: the lock admits exactly one holder and no push is lost.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use std::fs::OpenOptions;
use std::process::Stdio;
use std::sync::{Arc, Barrier};

const RACERS: usize = 16;

fn doc_file(env: &Env) -> std::path::PathBuf {
    let p = env.dir.path().join("cluster.json");
    std::fs::write(&p, doc_s3("phoenix")).unwrap();
    p
}

/// Run `phx-state ARGS < stdin`, returning (exit code, stdout, stderr).
fn run(env: &Env, args: &[&str], stdin: std::fs::File) -> (i32, Vec<u8>, String) {
    let out = env
        .state_process(args)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn bump_and_push(env: &Env, locked: &[u8]) {
    let mut doc = parse(locked);
    let n = doc["status"]["counter"].as_u64().unwrap_or(0);
    doc["status"]["counter"] = serde_json::json!(n + 1);
    let out = env
        .state(&["push", "--unlock"])
        .write_stdin(doc.to_string())
        .output()
        .unwrap();
    assert!(out.status.success(), "push: {}", stderr(&out));
}

#[test]
fn sixteen_racers_over_a_hundred_rounds_one_holder_each_and_no_lost_push() {
    let env = Arc::new(Env::new(true));
    let doc = doc_file(&env);
    let rounds = 100;
    for round in 0..rounds {
        let barrier = Arc::new(Barrier::new(RACERS));
        // Spawn all, then join: the barrier needs every racer alive at once.
        let handles: Vec<_> = (0..RACERS)
            .map(|_| {
                let (env, barrier, doc) = (env.clone(), barrier.clone(), doc.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    run(&env, &["lock", "-q"], std::fs::File::open(doc).unwrap())
                })
            })
            .collect();
        let racers: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let winners: Vec<_> = racers.iter().filter(|r| r.0 == 0).collect();
        assert_eq!(winners.len(), 1, "round {round}: {} holders", winners.len());
        for (code, out, err) in racers.iter().filter(|r| r.0 != 0) {
            assert_eq!(*code, 1, "round {round}: {err}");
            assert!(out.is_empty());
            assert!(
                err.contains("the state is locked: held by"),
                "round {round}: {err}"
            );
        }
        bump_and_push(&env, &winners[0].1);
    }
    let pulled = parse(
        &env.state(&["pull"])
            .write_stdin(doc_s3("phoenix"))
            .output()
            .unwrap()
            .stdout,
    );
    assert_eq!(pulled["status"]["counter"], rounds);
    assert_eq!(pulled["status"]["state"]["serial"], rounds);
}

#[test]
fn sixteen_waiting_racers_all_get_their_turn_one_at_a_time() {
    let env = Arc::new(Env::new(true));
    let doc = doc_file(&env);
    let holder = env.dir.path().join("holder");
    let barrier = Arc::new(Barrier::new(RACERS));
    let racers: Vec<_> = (0..RACERS)
        .map(|i| {
            let (env, barrier, doc, holder) = (env.clone(), barrier.clone(), doc.clone(), holder.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let (code, out, err) = run(
                    &env,
                    &["lock", "--wait", "5m", "-q"],
                    std::fs::File::open(doc).unwrap(),
                );
                assert_eq!(code, 0, "racer {i}: {err}");
                // Exclusive create: fails if another racer holds the lock too.
                let marker = OpenOptions::new().write(true).create_new(true).open(&holder);
                assert!(marker.is_ok(), "racer {i} holds the lock while another does");
                std::thread::sleep(std::time::Duration::from_millis(20));
                std::fs::remove_file(&holder).unwrap();
                bump_and_push(&env, &out);
            })
        })
        .collect();
    for r in racers {
        r.join().unwrap();
    }
    let pulled = parse(
        &env.state(&["pull"])
            .write_stdin(doc_s3("phoenix"))
            .output()
            .unwrap()
            .stdout,
    );
    assert_eq!(pulled["status"]["counter"], RACERS);
    assert_eq!(pulled["status"]["state"]["serial"], RACERS);
}
