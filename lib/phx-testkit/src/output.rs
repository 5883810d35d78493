//! What every tool test asks of a finished run and of the test mirror.

use std::path::PathBuf;
use std::process::Output;

/// The JSON a successful run printed; a failure is reported with its exit
/// status and stderr.
#[allow(clippy::unwrap_used, clippy::panic)] // a test helper: a panic is the report
pub fn ok(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// The local mirror of upstream artifacts the tests serve to the tools:
/// `PHX_TEST_MIRROR`, else `../shared/artifacts` beside the workspace.
pub fn mirror() -> PathBuf {
    std::env::var_os("PHX_TEST_MIRROR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::workspace_root().join("../shared/artifacts"))
}
