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
