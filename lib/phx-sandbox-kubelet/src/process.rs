//! A container as a process: the binary built for its image, run with the
//! container's command and arguments in the node's namespaces, its volumes
//! bind-mounted where the container would see them (in a mount namespace
//! of its own, so two pods' mounts never meet). Images without a built
//! binary are not run (see `pods`): the sandbox has no container runtime.

use std::fs::OpenOptions;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;

/// Bind SRC onto DST for each pair, then exec the rest; run under
/// `unshare --mount` so the mounts are the process's alone.
const MOUNT_AND_EXEC: &str = r#"n=$1; shift
while [ "$n" -gt 0 ]; do
  if [ -d "$1" ]; then mkdir -p "$2"; else mkdir -p "${2%/*}"; [ -e "$2" ] || : > "$2"; fi
  mount --bind "$1" "$2" || exit 1
  shift 2; n=$((n - 1))
done
exec "$@""#;

/// The binary built for IMAGE, if the sandbox has one: the one built for
/// its tag (`registry.k8s.io/kube-apiserver:v1.35.4` ->
/// `IMAGES/kube-apiserver:v1.35.4`), so an upgrade that rewrites a manifest
/// runs the new version, else the one built for its name
/// (`IMAGES/kube-apiserver`).
pub fn binary_for(images: &Path, image: &str) -> Option<PathBuf> {
    let no_digest = image.split('@').next().unwrap_or(image);
    let mut parts: Vec<&str> = no_digest.split('/').collect();
    if parts.len() > 1 && (parts[0].contains('.') || parts[0].contains(':')) {
        parts.remove(0);
    }
    let last = parts.pop()?;
    let dir = images.join(parts.join("/"));
    if last.contains(':') && dir.join(last).is_file() {
        return Some(dir.join(last));
    }
    let path = dir.join(last.split(':').next().unwrap_or(last));
    path.is_file().then_some(path)
}

/// The process's arguments: the container's command after its first word
/// (the binary, which comes from the image), then its args.
pub fn container_args(c: &k8s_openapi::api::core::v1::Container) -> Vec<String> {
    let mut args: Vec<String> = c
        .command
        .clone()
        .unwrap_or_default()
        .into_iter()
        .skip(1)
        .collect();
    args.extend(c.args.clone().unwrap_or_default());
    args
}

/// What to start.
#[derive(Debug, Clone)]
pub struct Launch {
    pub binary: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// (source on the node, path the container sees)
    pub mounts: Vec<(PathBuf, PathBuf)>,
    pub log: PathBuf,
}

/// A running (or exited) container process.
#[derive(Debug)]
pub struct Proc {
    pub pid: u32,
    child: Option<Child>,
    pub started: SystemTime,
}

impl Proc {
    pub fn start(l: &Launch) -> std::io::Result<Proc> {
        if let Some(dir) = l.log.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let log = OpenOptions::new().create(true).append(true).open(&l.log)?;
        let mounts: Vec<&(PathBuf, PathBuf)> = l.mounts.iter().filter(|(s, d)| s != d).collect();
        let mut cmd = if mounts.is_empty() {
            Command::new(&l.binary)
        } else {
            let mut c = Command::new("unshare");
            c.args([
                "--mount",
                "--propagation",
                "private",
                "--",
                "/bin/sh",
                "-c",
                MOUNT_AND_EXEC,
                "sh",
            ])
            .arg(mounts.len().to_string());
            for (s, d) in &mounts {
                c.arg(s).arg(d);
            }
            c.arg(&l.binary);
            c
        };
        cmd.args(&l.args)
            .env_clear()
            .env(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            )
            .envs(l.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0);
        let child = cmd.spawn()?;
        Ok(Proc {
            pid: child.id(),
            child: Some(child),
            started: SystemTime::now(),
        })
    }

    /// A process a previous kubelet started (the kubelet restarted; its
    /// containers did not).
    pub fn adopt(pid: u32, started: SystemTime) -> Option<Proc> {
        let p = Proc {
            pid,
            child: None,
            started,
        };
        p.alive_pid().then_some(p)
    }

    fn alive_pid(&self) -> bool {
        let Ok(pid) = i32::try_from(self.pid) else {
            return false;
        };
        kill(Pid::from_raw(pid), None).is_ok()
            && !std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).is_ok_and(|s| {
                s.rsplit(')')
                    .next()
                    .is_some_and(|r| r.trim_start().starts_with('Z'))
            })
    }

    pub fn alive(&mut self) -> bool {
        match &mut self.child {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => self.alive_pid(),
        }
    }

    /// TERM to its process group, KILL after GRACE. Returns once it is
    /// gone (a restarted etcd must not meet its predecessor on its port);
    /// the waiting tells the runtime this worker blocks, so the node's
    /// other tasks (lease, status) move to another thread meanwhile.
    pub fn stop(mut self, grace: Duration) {
        let Ok(pid) = i32::try_from(self.pid) else { return };
        tokio::task::block_in_place(|| {
            let _ = killpg(Pid::from_raw(pid), Signal::SIGTERM);
            let deadline = Instant::now() + grace;
            while self.alive() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
            if let Some(c) = &mut self.child {
                let _ = c.wait();
            }
        });
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn images_map_to_built_binaries() {
        let scratch = tempfile::tempdir().unwrap();
        let dir = scratch.path().to_path_buf();
        std::fs::create_dir_all(dir.join("provider-aws")).unwrap();
        std::fs::write(dir.join("etcd"), "").unwrap();
        std::fs::write(dir.join("provider-aws/cloud-controller-manager"), "").unwrap();
        assert_eq!(
            binary_for(&dir, "registry.k8s.io/etcd:3.6.4-0"),
            Some(dir.join("etcd"))
        );
        assert_eq!(
            binary_for(
                &dir,
                "registry.k8s.io/provider-aws/cloud-controller-manager:v1.34.0"
            ),
            Some(dir.join("provider-aws/cloud-controller-manager"))
        );
        assert_eq!(binary_for(&dir, "etcd@sha256:00"), Some(dir.join("etcd")));
        // A binary built for the tag wins over the name's.
        std::fs::write(dir.join("etcd:3.6.5-0"), "").unwrap();
        assert_eq!(
            binary_for(&dir, "registry.k8s.io/etcd:3.6.5-0"),
            Some(dir.join("etcd:3.6.5-0"))
        );
        assert_eq!(
            binary_for(&dir, "registry.k8s.io/etcd:3.6.4-0"),
            Some(dir.join("etcd"))
        );
        assert_eq!(binary_for(&dir, "quay.io/calico/node:v3.30.0"), None);
    }

    #[test]
    fn a_process_starts_logs_and_stops() {
        let scratch = tempfile::tempdir().unwrap();
        let dir = scratch.path().to_path_buf();
        let log = dir.join("c/0.log");
        let mut p = Proc::start(&Launch {
            binary: "/bin/sh".into(),
            args: vec!["-c".into(), "echo \"hello $WHO\"; exec sleep 30".into()],
            env: vec![("WHO".into(), "pod".into())],
            mounts: vec![],
            log: log.clone(),
        })
        .unwrap();
        assert!(p.alive());
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::fs::read_to_string(&log).unwrap_or_default().is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "hello pod\n");
        let pid = p.pid;
        assert!(Proc::adopt(pid, SystemTime::now()).is_some());
        p.stop(Duration::from_secs(2));
        assert!(Proc::adopt(pid, SystemTime::now()).is_none());
    }
}
