//! The checked-in man pages and completions are what the current clap
//! definitions produce: change a flag without `just man`, and this fails.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::path::PathBuf;

#[test]
fn checked_in_pages_and_completions_are_current() {
    // At run time: a test binary reused from a checkout elsewhere (the
    // target directory is shared) would otherwise read that one's pages.
    let crate_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    let man = crate_dir.join("../../man");
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
fn every_page_has_the_man_pages_7_sections() {
    let files = phx_docs::render().unwrap();
    let pages: Vec<(&String, String)> = files
        .iter()
        .filter(|(r, _)| r.ends_with(".1"))
        .map(|(r, b)| (r, String::from_utf8_lossy(b).into_owned()))
        .collect();
    assert_eq!(
        pages
            .iter()
            .filter(|(r, _)| !r.contains('-') || r.matches('-').count() == 1)
            .count(),
        8
    );
    for (name, text) in &pages {
        let order: Vec<usize> = [
            ".SH NAME",
            ".SH SYNOPSIS",
            ".SH DESCRIPTION",
            ".SH \"EXIT STATUS\"",
            ".SH \"ENVIRONMENT\"",
        ]
        .iter()
        .map(|h| text.find(h).unwrap_or_else(|| panic!("{name}: no {h}")))
        .collect();
        assert!(
            order.windows(2).all(|w| w[0] < w[1]),
            "{name}: sections out of order"
        );
        assert!(!text.contains(".SH EXTRA"), "{name}: an EXTRA section");
        assert!(
            text.contains("nothing was") && text.contains("65"),
            "{name}: exit 65"
        );
        assert!(text.contains("RUST_LOG"), "{name}: environment");
        let tool = name.trim_end_matches(".1");
        let is_verb = tool.matches('-').count() > 1;
        if is_verb {
            assert!(text.contains(".SH EXAMPLES"), "{name}: examples");
        }
        if tool.starts_with("phx-kubeadm") {
            assert!(
                text.contains(".SH \"FILES\"") && text.contains("known_hosts"),
                "{name}: files"
            );
        }
    }
    let exec = &pages.iter().find(|(r, _)| *r == "phx-kubeadm-exec.1").unwrap().1;
    assert!(exec.contains("the worst exit status"), "exec's own exit status");
}
