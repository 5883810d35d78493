//! The checked-in man pages and completions are what the current clap
//! definitions produce: change a flag without `just man`, and this fails.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::path::Path;

#[test]
fn checked_in_pages_and_completions_are_current() {
    let man = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../man");
    let mut stale = Vec::new();
    let files = phx_docs::render().unwrap();
    for (rel, bytes) in &files {
        if std::fs::read(man.join(rel)).ok().as_deref() != Some(bytes.as_slice()) {
            stale.push(rel.clone());
        }
    }
    assert!(
        stale.is_empty(),
        "stale or missing under man/ (run `just man`): {stale:?}"
    );
    assert!(files.iter().any(|(r, _)| r == "phx-nodes.1"));
    assert!(files.iter().any(|(r, _)| r == "completions/_phx-kubeadm"));
}

#[test]
fn every_tool_page_lists_its_verbs_exit_status_and_examples() {
    let files = phx_docs::render().unwrap();
    for tool in [
        "phx-state",
        "phx-net",
        "phx-iam",
        "phx-nodes",
        "phx-kubeadm",
        "phx-cni",
        "phx-ccm",
        "phx-platform",
    ] {
        let page = &files.iter().find(|(r, _)| *r == format!("{tool}.1")).unwrap().1;
        let text = String::from_utf8_lossy(page);
        assert!(text.contains("apply") || tool == "phx-state", "{tool}: verbs");
        assert!(
            text.contains("Exit status") && text.contains("65"),
            "{tool}: exit status"
        );
        assert!(text.contains("AWS_REGION"), "{tool}: environment");
        let verb = files
            .iter()
            .find(|(r, _)| r.starts_with(&format!("{tool}-")) && r.ends_with(".1"))
            .unwrap();
        assert!(
            String::from_utf8_lossy(&verb.1).contains("Example"),
            "{tool}: {} has an example",
            verb.0
        );
    }
}
