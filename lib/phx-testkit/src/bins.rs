//! Locating the phx binaries from tests of another package.
//!
//! cargo only exposes `CARGO_BIN_EXE_*` to a binary's own package, so
//! workspace-level tests find binaries next to their own executable in the
//! target directory, building them once if they are not there yet.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("lib/phx-testkit sits two levels below the workspace root")
        .to_path_buf()
}

/// The path of workspace binary `name` (for example `phx-net`), built
/// first if it is missing or older than any source of the workspace.
/// (`scripts/test.sh` builds everything before the tests, so in CI this
/// never builds; a cargo run from inside a test would see another
/// environment and may rebuild the graph.)
pub fn bin(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    let dir = target_profile_dir();
    let path = dir.join(name);
    if is_stale(&path) {
        BUILT.get_or_init(|| {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            // Benchmarks run from target/release: build what they will run.
            let release = dir.ends_with("release").then_some("--release");
            let status = Command::new(cargo)
                .args(["build", "--workspace", "--bins", "--quiet"])
                .args(release)
                .current_dir(workspace_root())
                .status()
                .expect("running cargo build for the phx binaries");
            assert!(status.success(), "cargo build --workspace --bins failed");
        });
    }
    assert!(path.exists(), "{} was not built", path.display());
    path
}

/// `PATH` with the workspace's binaries first, for scripts that call the
/// tools by name (deploy.sh, sandbox.sh).
pub fn path_with_bins() -> String {
    let bins = bin("phx-state");
    let dir = bins.parent().expect("the binaries' directory");
    format!("{}:{}", dir.display(), std::env::var("PATH").unwrap_or_default())
}

/// Like [`bin`], but building only the package of that name when stale
/// (benchmarks: a release build of one tool, not of the whole workspace).
pub fn bin_of_package(name: &str) -> PathBuf {
    let dir = target_profile_dir();
    let path = dir.join(name);
    if is_stale(&path) {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let release = dir.ends_with("release").then_some("--release");
        let status = Command::new(cargo)
            .args(["build", "-p", name, "--bins", "--quiet"])
            .args(release)
            .current_dir(workspace_root())
            .status()
            .expect("running cargo build");
        assert!(status.success(), "cargo build -p {name} failed");
    }
    assert!(path.exists(), "{} was not built", path.display());
    path
}

/// Missing, built from another checkout, or older than one of its own
/// sources. Cargo's dep-info file beside the binary (`phx-net.d`) lists
/// exactly the sources it was built from: an edit elsewhere (a test
/// helper) must not make every binary look stale, since a rebuild from
/// inside a test sees another environment and can rebuild the whole graph.
fn is_stale(binary: &Path) -> bool {
    let Some(built) = std::fs::metadata(binary).and_then(|m| m.modified()).ok() else {
        return true;
    };
    let Ok(depinfo) = std::fs::read_to_string(binary.with_extension("d")) else {
        return true;
    };
    let root = workspace_root();
    let Some((_, deps)) = depinfo.lines().next().and_then(|l| l.split_once(": ")) else {
        return true;
    };
    let deps: Vec<&Path> = deps.split_whitespace().map(Path::new).collect();
    if !deps.iter().any(|d| d.starts_with(&root)) {
        return true;
    }
    deps.iter().any(|d| {
        std::fs::metadata(d)
            .and_then(|m| m.modified())
            .map_or(true, |t| t > built)
    })
}

/// `target/<profile>` of the running test executable (`.../deps/test-hash`).
fn target_profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let deps = exe.parent().expect("executable dir");
    if deps.ends_with("deps") {
        deps.parent().expect("profile dir").to_path_buf()
    } else {
        deps.to_path_buf()
    }
}
