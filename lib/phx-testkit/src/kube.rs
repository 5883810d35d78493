//! A real Kubernetes control plane for tests: upstream etcd,
//! kube-apiserver and kube-controller-manager at the versions pinned in
//! `scripts/sandbox/k8s/versions`, built by `scripts/k8s-bins.sh`, run as
//! processes on loopback ports of the test's own, with a cluster PKI of
//! their own (TLS, RBAC, an admin in `system:masters`).
//!
//! What it checks that the API stand-in cannot: that the real API server
//! accepts phx's objects (schemas, defaulting, CRD validation, server-side
//! apply's field ownership), and that the real controllers act on them
//! (namespaces finalized on delete, garbage collection). No kubelet runs:
//! pods are never started, so readiness that needs running pods is not
//! reached here.
//!
//! A missing binary is a failure that says how to build it, never a skip.

use crate::moto::free_port;
use phx_kubetest::pki::Pki;
use serde_json::{json, Value};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// `KEY=value` from `scripts/sandbox/k8s/versions`.
pub fn pinned(key: &str) -> String {
    let path = crate::workspace_root().join("scripts/sandbox/k8s/versions");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("{key} is not in {}", path.display()))
        .trim()
        .to_string()
}

/// Where `scripts/k8s-bins.sh` put the binaries.
pub fn k8s_bin_dir() -> PathBuf {
    let root = std::env::var_os("PHX_K8S_DIR").map_or_else(
        || PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/phx/k8s"),
        PathBuf::from,
    );
    root.join(pinned("KUBERNETES_VERSION")).join("bin")
}

/// The path of upstream binary `name`, which must have been built.
pub fn k8s_bin(name: &str) -> PathBuf {
    let p = k8s_bin_dir().join(name);
    assert!(
        p.exists(),
        "{} is missing: run scripts/k8s-bins.sh (scripts/test.sh does) to build the pinned Kubernetes binaries",
        p.display()
    );
    p
}

#[derive(Debug)]
pub struct ControlPlane {
    dir: tempfile::TempDir,
    children: Vec<(String, Child)>,
    pub port: u16,
    pki: Pki,
}

impl ControlPlane {
    /// etcd, kube-apiserver and kube-controller-manager, the API ready.
    pub fn start() -> ControlPlane {
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path();
        let pki = Pki::generate_with_admin_group("system:masters").expect("a PKI");
        let pki_dir = d.join("pki");
        pki.write(&pki_dir).expect("writing the PKI");
        let (sa_key, sa_pub) = Pki::new_key_pair().expect("a key pair");
        std::fs::write(pki_dir.join("sa.key"), sa_key).expect("sa.key");
        std::fs::write(pki_dir.join("sa.pub"), sa_pub).expect("sa.pub");
        let (etcd, peer, port, kcm) = (free_port(), free_port(), free_port(), free_port());
        let mut cp = ControlPlane {
            dir,
            children: Vec::new(),
            port,
            pki,
        };
        let kubeconfig = cp.kubeconfig();
        std::fs::write(&kubeconfig, cp.pki.admin_kubeconfig(&cp.url())).expect("kubeconfig");
        let p = |f: &str| pki_dir.join(f).display().to_string();
        let d = cp.dir.path().to_path_buf();
        cp.spawn(
            "etcd",
            &[
                "--name=phx-test".into(),
                format!("--data-dir={}", d.join("etcd").display()),
                format!("--listen-client-urls=http://127.0.0.1:{etcd}"),
                format!("--advertise-client-urls=http://127.0.0.1:{etcd}"),
                format!("--listen-peer-urls=http://127.0.0.1:{peer}"),
                format!("--initial-advertise-peer-urls=http://127.0.0.1:{peer}"),
                format!("--initial-cluster=phx-test=http://127.0.0.1:{peer}"),
                // A test's data: durability is not the point, speed is.
                "--unsafe-no-fsync".into(),
                "--log-level=warn".into(),
            ],
        );
        cp.spawn(
            "kube-apiserver",
            &[
                format!("--etcd-servers=http://127.0.0.1:{etcd}"),
                "--bind-address=127.0.0.1".into(),
                // Loopback is fine with no endpoint reconciler (it would
                // refuse a 127.0.0.0/8 endpoint for the kubernetes Service).
                "--advertise-address=127.0.0.1".into(),
                "--endpoint-reconciler-type=none".into(),
                format!("--secure-port={port}"),
                format!("--tls-cert-file={}", p("apiserver.crt")),
                format!("--tls-private-key-file={}", p("apiserver.key")),
                format!("--client-ca-file={}", p("ca.crt")),
                "--authorization-mode=Node,RBAC".into(),
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local".into(),
                format!("--service-account-key-file={}", p("sa.pub")),
                format!("--service-account-signing-key-file={}", p("sa.key")),
                "--service-cluster-ip-range=10.96.0.0/12".into(),
                "--allow-privileged=true".into(),
                format!("--cert-dir={}", d.join("certs").display()),
            ],
        );
        let started = Instant::now();
        cp.wait_ready(Duration::from_secs(90));
        eprintln!(
            "phx-testkit: kube-apiserver ready in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        cp.spawn(
            "kube-controller-manager",
            &[
                format!("--kubeconfig={}", kubeconfig.display()),
                "--bind-address=127.0.0.1".into(),
                format!("--secure-port={kcm}"),
                "--leader-elect=false".into(),
                format!("--root-ca-file={}", p("ca.crt")),
                format!("--service-account-private-key-file={}", p("sa.key")),
                "--use-service-account-credentials=true".into(),
                format!("--cert-dir={}", d.join("kcm-certs").display()),
            ],
        );
        cp
    }

    fn spawn(&mut self, name: &str, args: &[String]) {
        self.run_component(name, args, &[]);
    }

    /// Another upstream component against this control plane (the cloud
    /// controller manager), with `env`; logged to `<name>.log`
    /// ([`ControlPlane::log_tail`]) and stopped with the control plane.
    pub fn run_component(&mut self, name: &str, args: &[String], env: &[(&str, String)]) {
        let log = std::fs::File::create(self.dir.path().join(format!("{name}.log"))).expect("log file");
        let mut cmd = Command::new(k8s_bin(name));
        cmd.args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log);
        // SAFETY: prctl is async-signal-safe; the component dies with the
        // thread that started it, even if the test process is killed.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = cmd.spawn().unwrap_or_else(|e| panic!("starting {name}: {e}"));
        self.children.push((name.to_string(), child));
    }

    /// Until `/readyz` answers `ok`, or fail with the components' logs.
    fn wait_ready(&mut self, timeout: Duration) {
        let start = Instant::now();
        while start.elapsed() < timeout {
            let exited = self
                .children
                .iter_mut()
                .find_map(|(name, c)| c.try_wait().ok().flatten().map(|s| (name.clone(), s)));
            if let Some((name, status)) = exited {
                panic!("{name} exited ({status}):\n{}", self.log_tail(&name));
            }
            let out = self.kubectl(&["get", "--raw", "/readyz"], b"");
            if out.status.success() && out.stdout.starts_with(b"ok") {
                return;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        panic!(
            "kube-apiserver not ready after {timeout:?}:\n{}",
            self.log_tail("kube-apiserver")
        );
    }

    /// Whether component `name` has exited (it should not have).
    pub fn exited(&mut self, name: &str) -> bool {
        self.children
            .iter_mut()
            .any(|(n, c)| n == name && c.try_wait().ok().flatten().is_some())
    }

    /// The last lines of a component's log, for failure messages.
    pub fn log_tail(&self, name: &str) -> String {
        let text = std::fs::read_to_string(self.dir.path().join(format!("{name}.log"))).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// An admin kubeconfig (certificate-authority-data, client certificate).
    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("admin.conf")
    }

    /// kubeadm's hash of this cluster's CA (`status.kubeadm.caCertHash`).
    pub fn ca_cert_hash(&self) -> String {
        phx_core::pki::ca_cert_hash(self.pki.ca_crt.as_bytes()).expect("the CA parses")
    }

    /// `status.kubeadm` as phx-kubeadm records it for this cluster.
    pub fn kubeadm_status(&self) -> Value {
        json!({"kubeconfig": self.kubeconfig(), "apiEndpoint": self.url(), "caCertHash": self.ca_cert_hash()})
    }

    /// The built kubectl against this cluster, `stdin` fed to it.
    pub fn kubectl(&self, args: &[&str], stdin: &[u8]) -> Output {
        use std::io::Write;
        let mut child = Command::new(k8s_bin("kubectl"))
            .arg("--kubeconfig")
            .arg(self.kubeconfig())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting kubectl");
        if let Some(mut i) = child.stdin.take() {
            let _ = i.write_all(stdin);
        }
        child.wait_with_output().expect("kubectl")
    }

    /// `kubectl get ARGS -o json`, parsed.
    pub fn get(&self, args: &[&str]) -> Value {
        let mut a = vec!["get"];
        a.extend(args);
        a.extend(["-o", "json"]);
        let out = self.kubectl(&a, b"");
        assert!(
            out.status.success(),
            "kubectl {a:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("kubectl printed JSON")
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        // The API server first, etcd last.
        for (_, c) in self.children.iter_mut().rev() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
