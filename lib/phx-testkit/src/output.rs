//! What every tool test asks of a finished run and of the test mirror.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

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

/// A run that must have succeeded; a failure is reported as WHAT with its
/// exit status and stderr.
pub fn success(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what} failed (exit {:?}):\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The local mirror of upstream artifacts the tests serve to the tools:
/// `PHX_TEST_MIRROR`, else `../shared/artifacts` beside the workspace.
pub fn mirror() -> PathBuf {
    std::env::var_os("PHX_TEST_MIRROR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::workspace_root().join("../shared/artifacts"))
}

/// Start `cmd` with `stdin` fed to it from a thread (a tool may stop
/// reading early) and its stdout and stderr piped.
pub fn start(mut cmd: Command, stdin: &[u8]) -> Child {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {:?}: {e}", cmd.get_program()));
    if let Some(mut input) = child.stdin.take() {
        let data = stdin.to_vec();
        std::thread::spawn(move || {
            use std::io::Write;
            let _ = input.write_all(&data);
        });
    }
    child
}

/// [`start`] and wait for the end.
pub fn run_with_stdin(cmd: Command, stdin: &[u8]) -> Output {
    start(cmd, stdin)
        .wait_with_output()
        .expect("waiting for a process")
}

/// Send `signal` (`-INT`, `-TERM`) to the whole process group `child`
/// leads, as a terminal or a CI runner does, and wait for its output.
pub fn signal_group(child: Child, signal: &str) -> Output {
    let sent = Command::new("kill")
        .args([signal, "--", &format!("-{}", child.id())])
        .status()
        .expect("running kill");
    assert!(sent.success(), "kill {signal} failed");
    child.wait_with_output().expect("waiting for a process")
}

/// A file's lines (none when it does not exist): the stand-ins' logs.
pub fn lines_of(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// A new passphrase-less ed25519 key pair `PATH` and `PATH.pub` (the SSH
/// key a document names), made by ssh-keygen.
pub fn ssh_key(path: &Path) -> PathBuf {
    let made = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .status()
        .expect("running ssh-keygen");
    assert!(made.success(), "ssh-keygen failed");
    path.to_path_buf()
}
