//! The pins against the test mirror (`../shared/artifacts/`, real upstream
//! files byte for byte), and the fetch rules: cache, mirror, mismatch.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use phx_artifacts::{Source, Upstream, ALL};
use serde_json::Value;
use std::path::PathBuf;

/// The shared mirror beside the repository (CI lays out `shared/` there),
/// or `PHX_TEST_MIRROR`. The crate's directory as cargo gives it when the
/// test runs: a test binary reused from a checkout elsewhere (the target
/// directory is shared) would otherwise look beside that one.
fn mirror() -> PathBuf {
    let crate_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    let dir = std::env::var_os("PHX_TEST_MIRROR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate_dir.join("../../../shared/artifacts"));
    assert!(
        dir.join("index.json").exists(),
        "no test mirror at {}",
        dir.display()
    );
    dir.canonicalize().unwrap()
}

fn index() -> Vec<Value> {
    serde_json::from_slice::<Value>(&std::fs::read(mirror().join("index.json")).unwrap())
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn every_pin_matches_its_index_entry() {
    let index = index();
    for pin in ALL {
        let entry = index
            .iter()
            .find(|e| e["name"] == pin.name)
            .unwrap_or_else(|| panic!("{} not in index", pin.name));
        assert_eq!(entry["upstream_url"], pin.url, "{}", pin.name);
        assert_eq!(entry["sha256"], pin.sha256, "{}", pin.name);
        match pin.upstream {
            Upstream::Whole => assert!(
                entry.get("upstream_file_sha256").is_none(),
                "{} is a part of a file",
                pin.name
            ),
            Upstream::Lines {
                file_sha256,
                from,
                to,
            } => {
                assert_eq!(entry["upstream_file_sha256"], file_sha256, "{}", pin.name);
                let note = entry["note"].as_str().unwrap();
                assert!(
                    note.contains(&format!("lines {from}-{to}")),
                    "{}: {note}",
                    pin.name
                );
            }
        }
    }
}

fn source(mirror: Option<String>) -> (Source, tempfile::TempDir) {
    let cache = tempfile::tempdir().unwrap();
    (
        Source {
            mirror,
            cache_dir: cache.path().to_path_buf(),
        },
        cache,
    )
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn every_pin_fetches_from_a_directory_mirror_and_then_from_the_cache() {
    let (src, cache) = source(Some(mirror().display().to_string()));
    for pin in ALL {
        let bytes = rt().block_on(src.fetch(*pin)).unwrap();
        assert_eq!(phx_artifacts::sha256_hex(&bytes), pin.sha256);
        assert!(cache.path().join(pin.sha256).exists(), "{} cached", pin.name);
    }
    // With the mirror gone, the cache serves.
    let offline = Source {
        mirror: Some("/nonexistent".into()),
        cache_dir: cache.path().to_path_buf(),
    };
    assert!(rt().block_on(offline.fetch(ALL[0])).is_ok());
}

#[test]
fn a_digest_mismatch_is_refused_and_nothing_is_cached() {
    let dir = tempfile::tempdir().unwrap();
    let pin = phx_artifacts::LBC_IAM_POLICY;
    let mut tampered = std::fs::read(mirror().join(pin.name)).unwrap();
    tampered.extend_from_slice(b" ");
    std::fs::write(dir.path().join(pin.name), tampered).unwrap();
    let (src, cache) = source(Some(dir.path().display().to_string()));
    let err = rt().block_on(src.fetch(pin)).unwrap_err().to_string();
    assert!(
        err.contains("sha256 mismatch") && err.contains(pin.sha256),
        "{err}"
    );
    assert_eq!(
        std::fs::read_dir(cache.path()).map(|d| d.count()).unwrap_or(0),
        0,
        "nothing cached"
    );
}

#[test]
fn an_http_mirror_serves_by_name() {
    // A one-shot HTTP server on loopback serving the mirror's file.
    let pin = phx_artifacts::CCM_NODE_POLICY;
    let body = std::fs::read(mirror().join(pin.name)).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let (mut conn, _) = listener.accept().unwrap();
        let mut req = [0u8; 4096];
        let n = conn.read(&mut req).unwrap();
        let line = String::from_utf8_lossy(&req[..n])
            .lines()
            .next()
            .unwrap()
            .to_string();
        write!(
            conn,
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .unwrap();
        conn.write_all(&body).unwrap();
        line
    });
    let (src, _cache) = source(Some(format!("http://127.0.0.1:{port}/")));
    let bytes = rt().block_on(src.fetch(pin)).unwrap();
    assert_eq!(phx_artifacts::sha256_hex(&bytes), pin.sha256);
    assert_eq!(server.join().unwrap(), format!("GET /{} HTTP/1.1", pin.name));
}

#[test]
fn extracting_a_code_block_keeps_each_line_with_its_newline() {
    let md = b"# t\n```json\n{\n  \"a\": 1\n}\n```\n";
    assert_eq!(phx_artifacts::extract_lines(md, 3, 5), b"{\n  \"a\": 1\n}\n");
}
