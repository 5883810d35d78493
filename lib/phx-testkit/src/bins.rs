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

/// The path of workspace binary `name` (for example `phx-net`).
pub fn bin(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    let dir = target_profile_dir();
    let path = dir.join(name);
    BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        // Benchmarks run from target/release: build what they will run.
        let release = dir.ends_with("release").then_some("--release");
        // `--tests` makes cargo unify features as `cargo test` does (with
        // dev-dependencies); without it this build and the test build would
        // keep rebuilding each other's binaries with other features.
        let status = Command::new(cargo)
            .args(["build", "--workspace", "--bins", "--tests", "--quiet"])
            .args(release)
            .current_dir(workspace_root())
            .status()
            .expect("running cargo build for the phx binaries");
        assert!(status.success(), "cargo build --workspace --bins --tests failed");
    });
    assert!(path.exists(), "{} was not built", path.display());
    path
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
