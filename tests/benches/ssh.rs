//! The SSH benchmark (`just bench-ssh`): the same node work (prepare every
//! node, kubeadm init, three joins) on the same sandbox nodes, three ways:
//! phx-kubeadm; the reference's Ansible roles with ansible-core's default
//! settings (`benches/ansible/`); and hand-written parallel ssh + heredoc
//! with the same remote scripts (`benches/parallel-ssh.sh`). Every run
//! starts from fresh nodes and is checked to have produced a cluster.
//! Prints min and median per way, and the ratios. Goals: phx at least 15x
//! faster than Ansible and no slower than parallel ssh on 4 nodes; 32
//! nodes in at most 2x the 4-node time.

#![allow(clippy::unwrap_used, clippy::print_stdout)] // a benchmark reports by printing
#![allow(unsafe_code)] // getrusage, for the client's CPU time

use phx_testkit::{bin_of_package, Sandbox};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn main() {
    let phx = bin_of_package("phx-kubeadm");
    let ansible = ansible_playbook();
    let runs: usize = std::env::var("PHX_BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    println!(
        "phx SSH benchmark: prepare + init + joins on sandbox sshd nodes, release build, {runs} runs each"
    );
    println!("{:<34} {:>9} {:>9}   machine busy", "", "min", "median");

    let mut four = Bench::new(4);
    let phx4 = four.measure("phx-kubeadm, 4 nodes", runs, |b| b.phx(&phx));
    let ssh4 = four.measure("parallel ssh + heredoc, 4 nodes", runs, |b| b.parallel_ssh());
    let ans4 = match &ansible {
        Some(a) => Some(four.measure("ansible-playbook, 4 nodes", runs.min(3), |b| b.ansible(a))),
        None => {
            println!("ansible-playbook: not installed (scripts/bench-ssh.sh installs ansible-core)");
            None
        }
    };
    drop(four);
    let mut many = Bench::new(32);
    let phx32 = many.measure("phx-kubeadm, 32 nodes", runs.min(3), |b| b.phx(&phx));
    let ssh32 = many.measure("parallel ssh + heredoc, 32 nodes", runs.min(3), |b| {
        b.parallel_ssh()
    });

    println!();
    if let Some(a) = ans4 {
        println!(
            "ansible / phx (4 nodes, median):        {:>6.1}x  (goal >= 15)",
            a.median / phx4.median
        );
    }
    println!(
        "parallel ssh / phx (4 nodes, median):   {:>6.2}x  (goal >= 1)",
        ssh4.median / phx4.median
    );
    println!(
        "parallel ssh / phx (32 nodes, median):  {:>6.2}x",
        ssh32.median / phx32.median
    );
    println!(
        "phx 32 nodes / 4 nodes (median):        {:>6.2}x  (goal <= 2)",
        phx32.median / phx4.median
    );
}

#[derive(Debug, Clone, Copy)]
struct Figures {
    median: f64,
}

struct Bench {
    sandbox: Sandbox,
    dir: tempfile::TempDir,
}

impl Bench {
    fn new(n: usize) -> Bench {
        let b = Bench {
            sandbox: Sandbox::start(n),
            dir: tempfile::tempdir().unwrap(),
        };
        let known: String = b
            .sandbox
            .nodes
            .iter()
            .map(|n| format!("[{}]:{} {}\n", n.address, n.port, n.host_key()))
            .collect();
        std::fs::write(b.known_hosts(), known).unwrap();
        b
    }

    fn known_hosts(&self) -> PathBuf {
        self.dir.path().join("known_hosts")
    }

    fn names(&self) -> Vec<(String, bool, String)> {
        (0..self.sandbox.nodes.len())
            .map(|i| match i {
                0 => (
                    "phoenix-control-plane-1".into(),
                    true,
                    "ip-10-0-0-5.ec2.internal".into(),
                ),
                _ => (
                    format!("phoenix-worker-{i}"),
                    false,
                    format!("ip-10-0-{i}-5.ec2.internal"),
                ),
            })
            .collect()
    }

    fn measure(&mut self, label: &str, runs: usize, mut work: impl FnMut(&Bench)) -> Figures {
        let mut times = Vec::new();
        let mut busy = 0.0;
        let mut client = 0.0;
        for _ in 0..runs {
            self.sandbox.reset();
            let cpu = cpu_busy_seconds();
            let own = children_cpu_seconds();
            let start = Instant::now();
            work(self);
            times.push(start.elapsed());
            busy += cpu_busy_seconds() - cpu;
            client += children_cpu_seconds() - own;
            self.check(label);
        }
        let total: f64 = times.iter().map(Duration::as_secs_f64).sum();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        times.sort();
        let secs = |d: Duration| d.as_secs_f64();
        let f = Figures {
            median: secs(times[times.len() / 2]),
        };
        // How busy the whole machine was: near 100% means the nodes' own
        // work (sharing these cores) bounds the time, not waiting.
        println!(
            "{label:<34} {:>8.3}s {:>8.3}s   cpu {:>3.0}% of {cores} cores, client {:.3}s cpu/run",
            secs(times[0]),
            f.median,
            100.0 * busy / (total * cores),
            client / times.len() as f64
        );
        f
    }

    /// The work happened: one init, every worker joined.
    fn check(&self, label: &str) {
        let n = &self.sandbox.nodes;
        assert!(
            n[0].read("/etc/kubernetes/admin.conf").is_some(),
            "{label}: no init"
        );
        for w in &n[1..] {
            assert!(
                w.read("/etc/kubernetes/kubelet.conf").is_some(),
                "{label}: a worker did not join"
            );
            assert!(
                w.read("/etc/containerd/config.toml").is_some(),
                "{label}: a worker was not prepared"
            );
        }
    }

    fn config(&self) -> String {
        let k8s = phx_core::spec::KubernetesSpec::default();
        let version = phx_kubeadm::config::Version::parse(&k8s.version).unwrap();
        let cp = phx_kubeadm::config::ControlPlane {
            load_balancer: None,
            admin_load_balancer: None,
            private_dns: "ip-10-0-0-5.ec2.internal",
            private_ip: Some("10.0.0.5"),
            public_ip: Some("54.0.0.1"),
            api_host: None,
        };
        phx_kubeadm::config::init_config("phoenix", &k8s, &version, &cp).unwrap()
    }

    fn phx(&self, bin: &Path) {
        let nodes: Vec<_> = self
            .sandbox
            .nodes
            .iter()
            .zip(self.names())
            .map(|(n, (name, cp, dns))| {
                json!({"name": name, "role": if cp {"control-plane"} else {"worker"},
                       "privateDns": dns, "publicIp": "54.0.0.1",
                       "ssh": {"host": n.address, "port": n.port, "user": Sandbox::user(), "hostKeys": [n.host_key()]}})
            })
            .collect();
        let doc = json!({"apiVersion": "phx/v1", "kind": "Cluster", "metadata": {"name": "phoenix"},
                         "spec": {"nodes": {"ssh": {"privateKeyFile": self.sandbox.client_key()}}},
                         "status": {"nodes": nodes}});
        let doc_path = self.dir.path().join("doc.json");
        std::fs::write(&doc_path, doc.to_string()).unwrap();
        let kc = self.dir.path().join("kubeconfig");
        let status = Command::new(bin)
            .args(["apply", "-q", "--kubeconfig-out", kc.to_str().unwrap()])
            .env("HOME", self.dir.path())
            .env_remove("SSH_AUTH_SOCK")
            .stdin(std::fs::File::open(&doc_path).unwrap())
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "phx-kubeadm apply failed");
    }

    fn nodes_file(&self) -> PathBuf {
        let lines: String = self
            .sandbox
            .nodes
            .iter()
            .zip(self.names())
            .map(|(n, (_, cp, dns))| {
                let role = if cp { "control-plane" } else { "worker" };
                format!("{role} {} {} {} {dns}\n", n.address, n.port, Sandbox::user())
            })
            .collect();
        let p = self.dir.path().join("nodes.txt");
        std::fs::write(&p, lines).unwrap();
        p
    }

    fn parallel_ssh(&self) {
        let script = phx_testkit::workspace_root().join("tests/benches/parallel-ssh.sh");
        let status = Command::new(script)
            .arg(self.sandbox.client_key())
            .arg(self.known_hosts())
            .arg(self.nodes_file())
            .env("PHX_KUBEADM_CONFIG", self.config())
            .status()
            .unwrap();
        assert!(status.success(), "parallel-ssh.sh failed");
    }

    fn ansible(&self, playbook: &Path) {
        let mut inv = String::from("[master]\n");
        for (i, (n, (name, cp, dns))) in self.sandbox.nodes.iter().zip(self.names()).enumerate() {
            if i == 1 {
                inv.push_str("[workers]\n");
            }
            let _ = cp;
            inv.push_str(&format!(
                "{name} ansible_host={} ansible_port={} node_name={dns}\n",
                n.address, n.port
            ));
        }
        inv.push_str(&format!(
            "[all:vars]\nansible_user={}\nansible_ssh_private_key_file={}\nansible_ssh_common_args='-o UserKnownHostsFile={}'\n",
            Sandbox::user(),
            self.sandbox.client_key().display(),
            self.known_hosts().display()
        ));
        let inventory = self.dir.path().join("inventory.ini");
        std::fs::write(&inventory, inv).unwrap();
        let vars = self.dir.path().join("vars.json");
        std::fs::write(&vars, json!({"kubeadm_config": self.config()}).to_string()).unwrap();
        let book = phx_testkit::workspace_root().join("tests/benches/ansible/playbook.yml");
        let out = Command::new(playbook)
            .arg("-i")
            .arg(&inventory)
            .arg("-e")
            .arg(format!("@{}", vars.display()))
            .arg(book)
            .env("ANSIBLE_LOCAL_TEMP", self.dir.path().join("ansible-local"))
            // A cold start like the other two: no SSH master connection
            // left over from the previous run.
            .env(
                "ANSIBLE_SSH_CONTROL_PATH_DIR",
                tempfile::tempdir_in(self.dir.path()).unwrap().keep(),
            )
            .env("HOME", self.dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "ansible-playbook failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// CPU seconds (user + system) of this process's finished children: the
/// client side of a run (phx-kubeadm; ssh processes; ansible's Python).
fn children_cpu_seconds() -> f64 {
    // SAFETY: getrusage writes into the struct we own.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut u) };
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 / 1e6;
    t(u.ru_utime) + t(u.ru_stime)
}

/// Seconds all CPUs spent not idle since boot (from /proc/stat).
fn cpu_busy_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let fields: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal
    let busy: f64 = fields
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .map(|(_, v)| v)
        .sum();
    busy / 100.0
}

fn ansible_playbook() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PHX_ANSIBLE_PLAYBOOK") {
        let p = PathBuf::from(p);
        return p.exists().then_some(p);
    }
    let home = std::env::var_os("HOME").unwrap_or_default();
    let p = PathBuf::from(home).join(".cache/phx/venv-ansible/bin/ansible-playbook");
    p.exists().then_some(p)
}
