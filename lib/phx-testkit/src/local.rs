//! The local sandbox exactly as users run it: `scripts/sandbox.sh up` in a
//! directory of the test's own, the pipelines (`scripts/deploy.sh`,
//! `scripts/destroy.sh`) run with its environment sourced, and `down` when
//! the test ends. End-to-end tests drive the scripts, not the tools one by
//! one, so what they prove is what `just demo` shows.

use crate::bins::{bin, path_with_bins, workspace_root};
use crate::recording::Recording;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

#[derive(Debug)]
pub struct LocalSandbox {
    dir: tempfile::TempDir,
}

impl LocalSandbox {
    /// `scripts/sandbox.sh up --nodes N`, the workspace's binaries first on PATH.
    pub fn up(nodes: usize) -> LocalSandbox {
        let dir = tempfile::tempdir().expect("sandbox dir");
        let sb = LocalSandbox { dir };
        sb.control(&["up", "--nodes", &nodes.to_string()]);
        sb
    }

    /// `scripts/sandbox.sh up --real --nodes N`: real Kubernetes (the built
    /// binaries, the sandbox kubelet, nodes with their own network).
    pub fn up_real(nodes: usize) -> LocalSandbox {
        Self::up_real_ha(nodes, 1)
    }

    /// `scripts/sandbox.sh up --real --nodes N --control-planes K`: the
    /// first K nodes are control planes, behind the API load balancer
    /// (HAProxy carrying its traffic).
    pub fn up_real_ha(nodes: usize, control_planes: usize) -> LocalSandbox {
        let dir = tempfile::tempdir().expect("sandbox dir");
        let sb = LocalSandbox { dir };
        sb.control(&[
            "up",
            "--real",
            "--nodes",
            &nodes.to_string(),
            "--control-planes",
            &control_planes.to_string(),
        ]);
        sb
    }

    /// The built kubectl, with the sandbox's environment and the kubeconfig
    /// phx-kubeadm wrote.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        let mut cmd = self.program(&crate::kube::k8s_bin("kubectl"), args, true, self.dir());
        cmd.env("KUBECONFIG", self.dir().join("kubeconfig"));
        cmd.output().expect("running kubectl")
    }

    /// `kubectl ARGS -o json`, which must succeed.
    pub fn kubectl_json(&self, args: &[&str]) -> Value {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["-o", "json"]);
        crate::ok(&self.kubectl(&all))
    }

    /// The prefix of the real sandbox's network namespace names
    /// (`PREFIX-vpc`, `PREFIX-n1`, ...), from the `net` file it wrote.
    pub fn netns_prefix(&self) -> String {
        let net: Value = serde_json::from_str(
            &std::fs::read_to_string(self.dir().join("net")).expect("the real sandbox's net file"),
        )
        .expect("net is JSON");
        net["prefix"].as_str().expect("prefix").to_string()
    }

    /// The commands of the processes running on node `i` (from 1) of the
    /// real sandbox: everything in its network namespace.
    pub fn node_processes(&self, i: usize) -> Vec<String> {
        let ns = format!("{}-n{i}", self.netns_prefix());
        let out = Command::new("ip")
            .args(["netns", "pids", &ns])
            .output()
            .expect("ip netns pids");
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/comm")).ok())
            .map(|c| c.trim().to_string())
            .collect()
    }

    /// The built etcdctl against the real sandbox's etcd, run inside node
    /// `i`'s network (from 1, a control plane) with that node's API server
    /// etcd client certificate, read through its own file system view:
    /// `etcdctl --endpoints ENDPOINTS ARGS -w json`, its output.
    pub fn etcdctl(&self, i: usize, endpoints: &[String], args: &[&str]) -> Output {
        let ns = format!("{}-n{i}", self.netns_prefix());
        let out = Command::new("ip")
            .args(["netns", "pids", &ns])
            .output()
            .expect("ip netns pids");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let pid = stdout.split_whitespace().next().expect("node {i} runs nothing");
        let pki = format!("/proc/{pid}/root/etc/kubernetes/pki");
        Command::new("ip")
            .args(["netns", "exec", &ns])
            .arg(crate::kube::k8s_bin("etcdctl"))
            .arg(format!("--cacert={pki}/etcd/ca.crt"))
            .arg(format!("--cert={pki}/apiserver-etcd-client.crt"))
            .arg(format!("--key={pki}/apiserver-etcd-client.key"))
            .arg(format!("--endpoints={}", endpoints.join(",")))
            .args(["--command-timeout=3s", "-w", "json"])
            .args(args)
            .output()
            .expect("etcdctl")
    }

    /// `PHX_SANDBOX_DIR`: below the test's temporary directory, since
    /// `sandbox.sh up` makes it afresh (and no process should sit in a
    /// directory that is removed under it).
    pub fn dir(&self) -> PathBuf {
        self.dir.path().join("sandbox")
    }

    /// The cluster document the sandbox wrote (`cluster.json`).
    pub fn cluster(&self) -> PathBuf {
        self.dir().join("cluster.json")
    }

    pub fn read_cluster(&self) -> Value {
        serde_json::from_str(&std::fs::read_to_string(self.cluster()).expect("cluster.json"))
            .expect("cluster.json is JSON")
    }

    pub fn write_cluster(&self, doc: &Value) {
        std::fs::write(self.cluster(), doc.to_string()).expect("writing cluster.json");
    }

    /// `script ARGS` (relative to the workspace) with the sandbox's
    /// environment, in the sandbox directory.
    pub fn command(&self, script: &str, args: &[&str], sourced: bool) -> Command {
        // sandbox.sh runs beside the sandbox; everything else in it.
        let cwd = if script == "scripts/sandbox.sh" {
            self.dir.path().to_path_buf()
        } else {
            self.dir()
        };
        self.program(&workspace_root().join(script), args, sourced, cwd)
    }

    /// `program ARGS` in `cwd` with the workspace's binaries first on PATH
    /// and, when `sourced`, the sandbox's env file read first.
    fn program(&self, program: &Path, args: &[&str], sourced: bool, cwd: PathBuf) -> Command {
        let mut cmd = Command::new("bash");
        // The real sandbox's API load balancer's name resolves only
        // through with-hosts.sh (a no-op for the stand-in sandbox).
        let line = if sourced {
            r#". "$PHX_SANDBOX_DIR/env" && exec "$PHX_ROOT/scripts/sandbox/with-hosts.sh" "$@""#
        } else {
            r#"exec "$@""#
        };
        cmd.args(["-c", line, "_"])
            .arg(program)
            .args(args)
            .current_dir(cwd)
            .env("PHX_SANDBOX_DIR", self.dir())
            .env("PHX_ROOT", workspace_root())
            // A test never installs anything: a missing prerequisite fails.
            .env("PHX_NO_INSTALL", "1")
            .env("PATH", path_with_bins())
            .env_remove("AWS_PROFILE")
            .env_remove("SSH_AUTH_SOCK")
            .stdin(Stdio::null());
        cmd
    }

    /// Run a script to its end.
    pub fn run(&self, script: &str, args: &[&str]) -> Output {
        self.command(script, args, true)
            .output()
            .unwrap_or_else(|e| panic!("running {script}: {e}"))
    }

    /// Start a script, its output captured.
    pub fn spawn(&self, script: &str, args: &[&str]) -> Child {
        self.command(script, args, true)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {script}: {e}"))
    }

    /// A phx tool with the sandbox's environment, `stdin` fed to it.
    pub fn tool(&self, name: &str, args: &[&str], stdin: &[u8]) -> Output {
        use std::io::Write;
        let mut cmd = self.program(&bin(name), args, true, self.dir());
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("starting {name}: {e}"));
        if let Some(mut i) = child.stdin.take() {
            let _ = i.write_all(stdin);
        }
        child.wait_with_output().expect("waiting for a tool")
    }

    /// The stored document (`phx-state pull`).
    pub fn stored(&self) -> Value {
        let doc = std::fs::read(self.cluster()).expect("cluster.json");
        crate::ok(&self.tool("phx-state", &["pull"], &doc))
    }

    /// A value of the sandbox's env file (`AWS_ENDPOINT_URL`, ...).
    pub fn env(&self, key: &str) -> String {
        let text = std::fs::read_to_string(self.dir().join("env")).expect("sandbox env");
        text.split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("{key} not in the sandbox env"))
            .to_string()
    }

    pub fn start_recording(&self) {
        crate::recording::start(&self.env("AWS_ENDPOINT_URL"));
    }

    pub fn recording(&self) -> Recording {
        crate::recording::stop(&self.env("AWS_ENDPOINT_URL"))
    }

    /// What the emulator holds for the cluster (`sandbox.sh inventory`).
    pub fn inventory(&self) -> Value {
        let out = self
            .command("scripts/sandbox.sh", &["inventory"], false)
            .output()
            .expect("sandbox.sh inventory");
        crate::ok(&out)
    }

    /// Calls the stand-ins on node `i` (from 1) recorded.
    pub fn calls(&self, i: usize) -> Vec<String> {
        crate::lines_of(&self.dir().join(format!("nodes/n{i}/calls.log")))
    }

    /// The secrets the kubeadm stand-in made on node `i` (from 1).
    pub fn secrets(&self, i: usize) -> Vec<String> {
        crate::lines_of(&self.dir().join(format!("nodes/n{i}/secrets.log")))
    }

    /// Make node `i`'s (from 1) stand-in calls starting with `pattern`
    /// fail, until [`LocalSandbox::heal`].
    pub fn fail(&self, i: usize, pattern: &str) {
        std::fs::write(
            self.dir().join(format!("nodes/n{i}/fail")),
            format!("{pattern}\n"),
        )
        .expect("fail file");
    }

    pub fn heal(&self, i: usize) {
        let _ = std::fs::remove_file(self.dir().join(format!("nodes/n{i}/fail")));
    }

    /// A shell command line (a pipeline of tools) in the sandbox
    /// directory, with the sandbox's environment.
    pub fn shell(&self, line: &str) -> Output {
        self.program(Path::new("bash"), &["-c", line], true, self.dir())
            .output()
            .expect("running bash")
    }

    /// [`LocalSandbox::shell`] started, not waited for (its output is
    /// not read: redirect it).
    pub fn spawn_shell(&self, line: &str) -> Child {
        self.program(Path::new("bash"), &["-c", line], true, self.dir())
            .stdout(Stdio::null())
            .spawn()
            .expect("starting bash")
    }

    /// How many of node `i`'s calls start with `prefix`.
    pub fn count(&self, i: usize, prefix: &str) -> usize {
        self.calls(i).iter().filter(|c| c.starts_with(prefix)).count()
    }

    pub fn stop_node(&self, i: usize) {
        self.control(&["stop-node", &i.to_string()]);
    }

    pub fn start_node(&self, i: usize) {
        self.control(&["start-node", &i.to_string()]);
    }

    /// `scripts/sandbox.sh ARGS`, which must succeed.
    fn control(&self, args: &[&str]) {
        let out = self
            .command("scripts/sandbox.sh", args, false)
            .output()
            .expect("running scripts/sandbox.sh");
        assert!(
            out.status.success(),
            "scripts/sandbox.sh {args:?} failed (scripts/test.sh installs its prerequisites): {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// GET `path` from the API stand-in, over TLS with the cluster's CA and
    /// the admin certificate (what kubectl would do).
    pub fn api_get(&self, path: &str) -> Value {
        let pki = self.dir().join("api/pki");
        let address = std::fs::read_to_string(self.dir().join("api/address")).expect("API address");
        let out = Command::new("curl")
            .args(["-sS", "--fail", "--cacert"])
            .arg(pki.join("ca.crt"))
            .arg("--cert")
            .arg(pki.join("admin.crt"))
            .arg("--key")
            .arg(pki.join("admin.key"))
            .arg(format!("https://{}{path}", address.trim()))
            .output()
            .expect("curl");
        crate::ok(&out)
    }
}

impl Drop for LocalSandbox {
    fn drop(&mut self) {
        let _ = self
            .command("scripts/sandbox.sh", &["down"], false)
            .stderr(Stdio::null())
            .status();
    }
}
