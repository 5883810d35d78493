//! Sandbox nodes: real OpenSSH `sshd` processes on loopback addresses
//! (127.0.0.2 and up), each in its own mount namespace with overlays over
//! the system directories and stand-ins for the commands that would change
//! the machine (`scripts/sandbox/node.sh`). What a node did is read from
//! its stand-ins' call log and, through `/proc/PID/root`, from its own view
//! of the file system.

use crate::bins::workspace_root;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Sandbox {
    dir: tempfile::TempDir,
    pub nodes: Vec<SandboxNode>,
}

#[derive(Debug)]
pub struct SandboxNode {
    pub address: String,
    pub port: u16,
    pub dir: PathBuf,
    child: Option<Child>,
}

impl Sandbox {
    /// `n` nodes and a client key authorized on all of them.
    pub fn start(n: usize) -> Sandbox {
        let dir = tempfile::tempdir().expect("sandbox dir");
        keygen(&dir.path().join("client_key"), "phx-test-client");
        let nodes = (0..n)
            .map(|i| {
                SandboxNode::start(
                    &dir.path().join(format!("node{i}")),
                    &dir.path().join("client_key.pub"),
                )
            })
            .collect();
        Sandbox { dir, nodes }
    }

    /// The private key the nodes accept.
    pub fn client_key(&self) -> PathBuf {
        self.dir.path().join("client_key")
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Every node fresh again (new namespaces, empty overlays, same host
    /// keys and addresses), all restarted at once.
    pub fn reset(&mut self) {
        for n in &mut self.nodes {
            n.kill();
        }
        for n in &mut self.nodes {
            n.spawn();
        }
        for n in &mut self.nodes {
            assert!(
                n.wait_ready(Duration::from_secs(10)),
                "node {} did not restart",
                n.address
            );
        }
    }

    /// The user the nodes accept (whoever runs the tests: sshd runs as them).
    pub fn user() -> String {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            return "root".into();
        }
        std::env::var("USER").unwrap_or_default()
    }
}

impl SandboxNode {
    fn start(dir: &Path, authorized: &Path) -> SandboxNode {
        std::fs::create_dir_all(dir).expect("node dir");
        std::fs::copy(authorized, dir.join("authorized_keys")).expect("authorized_keys");
        for attempt in 0..10 {
            let (address, port) = free_address(attempt);
            let mut node = SandboxNode {
                address,
                port,
                dir: dir.to_path_buf(),
                child: None,
            };
            node.spawn();
            if node.wait_ready(Duration::from_secs(10)) {
                return node;
            }
            node.kill();
        }
        panic!(
            "sandbox node did not start (is openssh-server installed? run scripts/test.sh): {}",
            std::fs::read_to_string(dir.join("sshd.log")).unwrap_or_default()
        );
    }

    fn spawn(&mut self) {
        let script = workspace_root().join("scripts/sandbox/node.sh");
        let log = std::fs::File::create(self.dir.join("sshd.log")).expect("sshd log");
        let mut cmd = Command::new(script);
        cmd.args([
            self.dir.to_str().unwrap_or_default(),
            &self.address,
            &self.port.to_string(),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log);
        // SAFETY: prctl is async-signal-safe; the node dies with the test.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        self.child = Some(cmd.spawn().expect("starting scripts/sandbox/node.sh"));
    }

    fn wait_ready(&mut self, timeout: Duration) -> bool {
        use std::io::Read;
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Some(Ok(Some(_))) = self.child.as_mut().map(Child::try_wait) {
                return false;
            }
            if let Ok(mut s) = TcpStream::connect((self.address.as_str(), self.port)) {
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let mut banner = [0u8; 8];
                if s.read_exact(&mut banner).is_ok() && banner.starts_with(b"SSH-2.0") {
                    return true;
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// The sshd's pid (the namespace's first process).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or_default()
    }

    /// The stand-ins' calls on this node, one `name args` per line.
    pub fn calls(&self) -> Vec<String> {
        crate::lines_of(&self.dir.join("calls.log"))
    }

    /// The secrets the kubeadm stand-in made on this node (bootstrap
    /// tokens, certificate keys): what must appear nowhere phx writes.
    pub fn secrets(&self) -> Vec<String> {
        crate::lines_of(&self.dir.join("secrets.log"))
    }

    /// Calls starting with `prefix` (`kubeadm init`).
    pub fn count(&self, prefix: &str) -> usize {
        self.calls().iter().filter(|c| c.starts_with(prefix)).count()
    }

    /// A file as the node sees it (inside its overlays).
    pub fn read(&self, path: &str) -> Option<String> {
        let p = format!("/proc/{}/root{path}", self.pid());
        std::fs::read_to_string(p).ok()
    }

    /// `type base64` of the node's host key.
    pub fn host_key(&self) -> String {
        let text = std::fs::read_to_string(self.dir.join("ssh_host_ed25519_key.pub")).expect("host key");
        text.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
    }

    /// Make the stand-in calls starting with `pattern` fail.
    pub fn fail(&self, pattern: &str) {
        std::fs::write(self.dir.join("fail"), format!("{pattern}\n")).expect("fail file");
    }

    pub fn heal(&self) {
        let _ = std::fs::remove_file(self.dir.join("fail"));
    }

    /// Freeze the node: TCP still connects, SSH never answers (a hung host).
    pub fn freeze(&self) {
        signal(self.pid(), libc::SIGSTOP);
    }

    pub fn thaw(&self) {
        signal(self.pid(), libc::SIGCONT);
    }

    /// Restart with a new host key (a rebuilt machine, or an impostor).
    /// Its overlays start empty again.
    pub fn replace_host_key(&mut self) {
        self.kill();
        for f in ["ssh_host_ed25519_key", "ssh_host_ed25519_key.pub"] {
            let _ = std::fs::remove_file(self.dir.join(f));
        }
        self.spawn();
        assert!(self.wait_ready(Duration::from_secs(10)), "node did not restart");
    }

    /// Kill the node: sshd and every process in its mount namespace (the
    /// per-connection sshd processes and what they run outlive the
    /// listener otherwise, and a client's multiplexed connection would
    /// keep talking to the old node).
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            if let Ok(ns) = std::fs::read_link(format!("/proc/{}/ns/mnt", c.id())) {
                let host_ns = std::fs::read_link("/proc/self/ns/mnt").ok();
                if host_ns.as_ref() != Some(&ns) {
                    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
                        let Some(pid) = entry.file_name().to_str().and_then(|p| p.parse::<u32>().ok()) else {
                            continue;
                        };
                        if pid != c.id()
                            && std::fs::read_link(entry.path().join("ns/mnt")).ok().as_ref() == Some(&ns)
                        {
                            signal(pid, libc::SIGKILL);
                        }
                    }
                }
            }
            signal(c.id(), libc::SIGCONT);
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for SandboxNode {
    fn drop(&mut self) {
        self.kill();
    }
}

fn signal(pid: u32, sig: i32) {
    if let Ok(pid) = i32::try_from(pid) {
        // SAFETY: sending a signal to a child process of this test.
        unsafe {
            libc::kill(pid, sig);
        }
    }
}

fn keygen(path: &Path, comment: &str) {
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
        .arg(path)
        .status()
        .expect("ssh-keygen (openssh-client; run scripts/test.sh)");
    assert!(status.success(), "ssh-keygen failed");
}

/// A loopback address in 127.0.0.2..=254 and a port free on it, spread by
/// pid and time so parallel tests rarely meet (and retry when they do).
fn free_address(attempt: u32) -> (String, u16) {
    let seed = std::process::id()
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
        ^ attempt.wrapping_mul(7919);
    let last = 2 + (seed % 253) as u8;
    let ip = Ipv4Addr::new(127, 0, 0, last);
    let port = TcpListener::bind((ip, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on loopback");
    (ip.to_string(), port)
}
