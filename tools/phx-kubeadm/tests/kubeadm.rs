//! phx-kubeadm against a sandbox of real sshd nodes (see
//! `phx_testkit::Sandbox`): real SSH, real host key checks, real remote
//! shell; stand-ins only for what would change this machine (packages,
//! kernel settings) and for kubeadm, which cannot run here.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use phx_testkit::Sandbox;
use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

struct Env {
    sandbox: Sandbox,
    home: tempfile::TempDir,
    /// AWS (the state bucket), for the tests that need it.
    moto: Option<phx_testkit::Moto>,
}

const NAMES: [&str; 4] = [
    "phoenix-control-plane-1",
    "phoenix-worker-1",
    "phoenix-worker-2",
    "phoenix-worker-3",
];

impl Env {
    fn new() -> Env {
        Env {
            sandbox: Sandbox::start(4),
            home: tempfile::tempdir().unwrap(),
            moto: None,
        }
    }

    /// With the emulator and a state bucket `phx-state-test` in it.
    fn with_state_bucket() -> Env {
        let moto = phx_testkit::Moto::start();
        phx_testkit::block_on(moto.aws().s3().create_bucket().bucket("phx-state-test").send()).unwrap();
        Env {
            moto: Some(moto),
            ..Env::new()
        }
    }

    /// status.nodes as phx-nodes writes it, pointed at the sandbox nodes;
    /// host keys recorded (as from the console) when `known` is set.
    fn doc(&self, known: bool) -> Value {
        let nodes: Vec<Value> = self
            .sandbox
            .nodes
            .iter()
            .zip(NAMES)
            .enumerate()
            .map(|(i, (n, name))| {
                json!({
                    "name": name,
                    "role": if i == 0 { "control-plane" } else { "worker" },
                    "instanceId": format!("i-0000{i}"),
                    "privateIp": format!("10.0.{i}.5"),
                    "privateDns": format!("ip-10-0-{i}-5.ec2.internal"),
                    "publicIp": format!("54.0.0.{}", i + 1),
                    "ssh": {"host": n.address, "port": n.port, "user": Sandbox::user(),
                            "hostKeys": if known { vec![n.host_key()] } else { vec![] }}
                })
            })
            .collect();
        json!({"apiVersion": "phx/v1", "kind": "Cluster", "metadata": {"name": "phoenix"},
               "spec": {"nodes": {"ssh": {"privateKeyFile": self.sandbox.client_key()}}},
               "status": {"nodes": {"instances": nodes}}})
    }

    fn kubeconfig(&self) -> std::path::PathBuf {
        self.home.path().join("kube/phoenix.conf")
    }

    fn kubeadm(&self, args: &[&str], doc: &Value) -> Output {
        let mut cmd = assert_cmd::Command::cargo_bin("phx-kubeadm").unwrap();
        if let Some(moto) = &self.moto {
            moto.configure(&mut cmd);
        }
        cmd.env("HOME", self.home.path())
            .env_remove("SSH_AUTH_SOCK")
            .args(args)
            .write_stdin(doc.to_string())
            .timeout(Duration::from_secs(120))
            .output()
            .unwrap()
    }

    fn apply(&self, extra: &[&str], doc: &Value) -> Output {
        let out = self.kubeconfig();
        let mut args = vec!["apply", "--kubeconfig-out", out.to_str().unwrap()];
        args.extend(extra);
        self.kubeadm(&args, doc)
    }

    fn count(&self, prefix: &str) -> Vec<usize> {
        self.sandbox.nodes.iter().map(|n| n.count(prefix)).collect()
    }
}

fn ok(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        stderr(out)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Every file under /etc with its size and mtime: what a test must not change.
fn etc_fingerprint() -> Vec<(String, u64, i64)> {
    fn walk(dir: &Path, out: &mut Vec<(String, u64, i64)>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let Ok(m) = std::fs::symlink_metadata(e.path()) else {
                continue;
            };
            use std::os::unix::fs::MetadataExt;
            out.push((e.path().display().to_string(), m.len(), m.mtime()));
            if m.is_dir() {
                walk(&e.path(), out);
            }
        }
    }
    let mut v = Vec::new();
    walk(Path::new("/etc"), &mut v);
    v.sort();
    v
}

#[test]
fn fresh_apply_prepares_all_inits_once_joins_three_and_leaves_the_host_alone() {
    let env = Env::new();
    let etc_before = etc_fingerprint();
    let doc = env.doc(true);
    let out = env.apply(&[], &doc);
    let result = ok(&out);

    // Prepared everywhere, inside the nodes' own /etc.
    for n in &env.sandbox.nodes {
        let toml = n.read("/etc/containerd/config.toml").unwrap();
        assert!(toml.contains("SystemdCgroup = true") && !toml.contains("SystemdCgroup = false"));
        assert_eq!(
            n.read("/etc/modules-load.d/k8s.conf").unwrap(),
            "overlay\nbr_netfilter\n"
        );
        assert!(n
            .read("/etc/sysctl.d/99-kubernetes.conf")
            .unwrap()
            .contains("net.ipv4.ip_forward = 1"));
        // OpenSearch's kernel setting, persisted and in force.
        assert_eq!(
            n.read("/etc/sysctl.d/99-phx-max-map-count.conf").unwrap(),
            "vm.max_map_count = 262144\n"
        );
        assert!(n
            .read("/var/lib/phx-sandbox/sysctl")
            .unwrap()
            .contains("vm.max_map_count = 262144\n"));
        assert!(n
            .read("/etc/apt/sources.list.d/kubernetes.list")
            .unwrap()
            .contains("core:/stable:/v1.34/deb/"));
        assert_eq!(
            n.read("/etc/default/kubelet").unwrap(),
            "KUBELET_EXTRA_ARGS=--cloud-provider=external\n"
        );
        assert!(n
            .calls()
            .contains(&"apt-mark hold kubelet kubeadm kubectl".to_string()));
        assert!(n.calls().iter().any(|c| c.starts_with("modprobe br_netfilter")));
    }
    assert_eq!(env.count("kubeadm init"), [1, 0, 0, 0]);
    assert_eq!(env.count("kubeadm join"), [0, 1, 1, 1]);
    let cp = &env.sandbox.nodes[0];
    let config = cp.read("/etc/kubernetes/phx-kubeadm.yaml").unwrap();
    assert!(config.contains("name: ip-10-0-0-5.ec2.internal"), "{config}");
    assert!(
        config.contains("kubernetesVersion: v1.34.2"),
        "resolved from the installed kubeadm: {config}"
    );
    assert!(
        config.contains("  - 54.0.0.1\n"),
        "public IP in the SANs: {config}"
    );
    for (i, n) in env.sandbox.nodes.iter().enumerate().skip(1) {
        // The join read a JoinConfiguration from a root-only file (the
        // stand-in refuses one readable by others), since removed; the
        // kubelet's identity shows endpoint and node name went through.
        let join = n
            .calls()
            .into_iter()
            .find(|c| c.starts_with("kubeadm join"))
            .unwrap();
        assert!(
            join.starts_with("kubeadm join --config /etc/kubernetes/phx-join."),
            "{join}"
        );
        let file = join.rsplit(' ').next().unwrap();
        assert_eq!(n.read(file), None, "{file} left on the node");
        let kubelet = n.read("/etc/kubernetes/kubelet.conf").unwrap();
        assert!(
            kubelet.contains("server: https://ip-10-0-0-5.ec2.internal:6443\n"),
            "{kubelet}"
        );
        assert!(
            kubelet.contains(&format!("user: system:node:ip-10-0-{i}-5.ec2.internal\n")),
            "{kubelet}"
        );
    }

    // Kubeconfig: 0600, server rewritten to the public endpoint.
    let kc = env.kubeconfig();
    assert_eq!(
        std::fs::metadata(&kc).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let text = std::fs::read_to_string(&kc).unwrap();
    assert!(text.contains("server: https://54.0.0.1:6443"), "{text}");
    assert!(!text.contains("ec2.internal"), "{text}");
    let st = &result["status"]["kubeadm"];
    assert_eq!(st["apiEndpoint"], "https://54.0.0.1:6443");
    assert_eq!(st["kubeconfig"], kc.to_str().unwrap());
    assert!(st["caCertHash"].as_str().unwrap().starts_with("sha256:"));
    assert!(NAMES.iter().all(|n| st["nodes"][n]["member"] == true));
    // No secret anywhere phx writes: not in the document, not on stderr,
    // not on any command line the nodes ran.
    let secrets: Vec<String> = env.sandbox.nodes.iter().flat_map(|n| n.secrets()).collect();
    assert_eq!(
        secrets.len(),
        2,
        "the init's token and the one phx made: {secrets:?}"
    );
    let calls: Vec<String> = env.sandbox.nodes.iter().flat_map(|n| n.calls()).collect();
    for secret in &secrets {
        assert!(!result.to_string().contains(secret), "a secret in the document");
        assert!(!stderr(&out).contains(secret), "a secret on stderr");
        assert!(
            !calls.iter().any(|c| c.contains(secret)),
            "a secret on a command line"
        );
    }
    let init = env.sandbox.nodes[0]
        .calls()
        .into_iter()
        .find(|c| c.starts_with("kubeadm init"))
        .unwrap();
    assert!(
        init.contains("--skip-token-print --skip-certificate-key-print"),
        "{init}"
    );
    // Output streams to stderr prefixed with the node's name.
    assert!(
        stderr(&out).contains("phoenix-worker-2        | phx: prepared"),
        "{}",
        stderr(&out)
    );

    // Re-run: nothing is installed, initialized or joined again.
    let installs = env.count("apt-get install");
    let again = ok(&env.apply(&[], &result));
    assert_eq!(env.count("kubeadm init"), [1, 0, 0, 0]);
    assert_eq!(env.count("kubeadm join"), [0, 1, 1, 1]);
    assert_eq!(
        env.count("kubeadm token"),
        [1, 0, 0, 0],
        "no new token when nobody joins"
    );
    assert_eq!(env.count("apt-get install"), installs);
    assert_eq!(again["status"]["kubeadm"], result["status"]["kubeadm"]);

    // A node prepared before phx set vm.max_map_count (the setting's file
    // gone, the kernel's default back): the next apply sets that, and only
    // that, there; a node whose value is already higher is left alone.
    let old = "rm /etc/sysctl.d/99-phx-max-map-count.conf && sysctl -w vm.max_map_count=65530";
    let higher = "rm /etc/sysctl.d/99-phx-max-map-count.conf && sysctl -w vm.max_map_count=1048576";
    for (node, cmd) in [("phoenix-worker-1", old), ("phoenix-worker-2", higher)] {
        let out = env.kubeadm(&["exec", "--node", node, "--", "sudo", "sh", "-c", cmd], &again);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let third = env.apply(&[], &again);
    ok(&third);
    let log = stderr(&third);
    for name in NAMES {
        let changed = if name == "phoenix-worker-1" { 1 } else { 0 };
        assert!(
            log.contains(&format!("{name:<23} | phx: prepared (changed={changed})")),
            "{name}: {log}"
        );
    }
    assert!(
        log.contains("phoenix-worker-1        | phx: sysctl: vm.max_map_count = 262144"),
        "{log}"
    );
    let w1 = &env.sandbox.nodes[1];
    assert!(w1.read("/etc/sysctl.d/99-phx-max-map-count.conf").is_some());
    let w2 = &env.sandbox.nodes[2];
    assert_eq!(w2.read("/etc/sysctl.d/99-phx-max-map-count.conf"), None);
    assert!(w2
        .read("/var/lib/phx-sandbox/sysctl")
        .unwrap()
        .contains("vm.max_map_count = 1048576\n"));

    assert_eq!(etc_fingerprint(), etc_before, "the host's /etc changed");
}

#[test]
fn unknown_host_keys_are_refused_then_accepted_with_the_flag_and_pinned() {
    let mut env = Env::new();
    let doc = env.doc(false);
    let out = env.apply(&[], &doc);
    assert_eq!(out.status.code(), Some(1));
    let msg = stderr(&out);
    assert!(
        msg.contains("unknown host key SHA256:") && msg.contains("--accept-new-host-keys"),
        "{msg}"
    );
    assert_eq!(
        env.count("kubeadm"),
        [0, 0, 0, 0],
        "nothing ran on an unverified node"
    );

    let pinned = ok(&env.apply(&["--accept-new-host-keys"], &doc));
    for (i, n) in env.sandbox.nodes.iter().enumerate() {
        assert_eq!(
            pinned["status"]["nodes"]["instances"][i]["ssh"]["hostKeys"],
            json!([n.host_key()])
        );
    }

    // The control plane comes back with another key: refused, even with the flag.
    let calls_before = env.sandbox.nodes[0].calls().len();
    env.sandbox.nodes[0].replace_host_key();
    for flags in [&[][..], &["--accept-new-host-keys"][..]] {
        let out = env.apply(flags, &pinned);
        assert_eq!(out.status.code(), Some(1));
        let msg = stderr(&out);
        assert!(
            msg.contains("phoenix-control-plane-1") && msg.contains("HOST KEY CHANGED"),
            "{msg}"
        );
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(doc["error"]["tool"], "phx-kubeadm");
        assert_eq!(
            doc["status"]["nodes"]["instances"][0]["ssh"]["hostKeys"],
            pinned["status"]["nodes"]["instances"][0]["ssh"]["hostKeys"]
        );
    }
    assert_eq!(
        env.count("kubeadm init"),
        [1, 0, 0, 0],
        "the replaced node ran nothing more"
    );
    assert_eq!(
        env.sandbox.nodes[0].calls().len(),
        calls_before,
        "not even a check ran there"
    );
}

#[test]
fn a_known_hosts_file_in_port_form_verifies_nodes() {
    let env = Env::new();
    let ssh = env.home.path().join(".ssh");
    std::fs::create_dir_all(&ssh).unwrap();
    let lines: String = env
        .sandbox
        .nodes
        .iter()
        .map(|n| format!("[{}]:{} {}\n", n.address, n.port, n.host_key()))
        .collect();
    std::fs::write(ssh.join("known_hosts"), lines).unwrap();
    ok(&env.apply(&[], &env.doc(false)));
}

#[test]
fn a_failing_worker_lets_the_others_finish_and_a_rerun_completes_it() {
    let env = Env::new();
    env.sandbox.nodes[2].fail("kubeadm join");
    let out = env.apply(&[], &env.doc(true));
    assert_eq!(out.status.code(), Some(1));
    let msg = stderr(&out);
    let last = msg.lines().last().unwrap();
    assert!(
        last.starts_with("phx-kubeadm: phoenix-worker-2: join failed (exit 1):")
            && last.contains("simulated failure"),
        "{msg}"
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["error"]["tool"], "phx-kubeadm");
    let nodes = &doc["status"]["kubeadm"]["nodes"];
    assert_eq!(nodes["phoenix-worker-2"]["member"], false);
    assert!(nodes["phoenix-worker-2"]["error"]
        .as_str()
        .unwrap()
        .contains("join failed"));
    assert_eq!(nodes["phoenix-worker-1"]["member"], true);
    assert_eq!(nodes["phoenix-worker-3"]["member"], true);

    env.sandbox.nodes[2].heal();
    let mut retry = doc.clone();
    retry.as_object_mut().unwrap().remove("error");
    let done = ok(&env.apply(&[], &retry));
    assert_eq!(
        done["status"]["kubeadm"]["nodes"]["phoenix-worker-2"]["member"],
        true
    );
    assert!(done["status"]["kubeadm"]["nodes"]["phoenix-worker-2"]
        .get("error")
        .is_none());
    assert_eq!(env.count("kubeadm init"), [1, 0, 0, 0]);
    assert_eq!(
        env.count("kubeadm join"),
        [0, 1, 2, 1],
        "only the failed worker joins again"
    );
}

#[test]
fn a_node_that_is_down_times_out_clearly_and_the_rest_finish() {
    let env = Env::new();
    env.sandbox.nodes[3].freeze();
    let start = Instant::now();
    let out = env.apply(&["--connect-timeout", "2s"], &env.doc(true));
    let took = start.elapsed();
    env.sandbox.nodes[3].thaw();
    assert_eq!(out.status.code(), Some(1));
    let msg = stderr(&out);
    assert!(
        msg.contains("phoenix-worker-3") && msg.contains("no SSH answer within 2s"),
        "{msg}"
    );
    assert!(took < Duration::from_secs(60), "a hang, not a timeout: {took:?}");
    assert_eq!(env.count("kubeadm join"), [0, 1, 1, 0]);
}

#[test]
fn exec_runs_everywhere_or_where_asked_with_the_worst_exit_status() {
    let env = Env::new();
    let doc = env.doc(true);
    let out = env.kubeadm(
        &["exec", "--", "sh", "-c", "echo hello from $(hostname -s)"],
        &doc,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort();
    assert_eq!(lines.len(), 4, "{text}");
    for (l, name) in lines.iter().zip(NAMES) {
        assert!(l.starts_with(&format!("{name:<23} | hello from ")), "{l}");
    }

    // Each argument is one word on the node, as kubectl exec has it.
    let out = env.kubeadm(
        &[
            "exec",
            "--node",
            "phoenix-worker-1",
            "--",
            "printf",
            "%s\\n",
            "a b",
            "$HOME",
        ],
        &doc,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "phoenix-worker-1 | a b\nphoenix-worker-1 | $HOME\n"
    );

    let out = env.kubeadm(&["exec", "--role", "worker", "--", "sh", "-c", "exit 3"], &doc);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(stderr(&out).matches("exit 3").count(), 3, "{}", stderr(&out));

    // A reader that stops early (`| head -1`) ends it quietly.
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("phx-kubeadm"));
    cmd.env("HOME", env.home.path())
        .env_remove("SSH_AUTH_SOCK")
        .args(["exec", "--", "seq", "1", "20000"]);
    let mut child = phx_testkit::start(cmd, doc.to_string().as_bytes());
    {
        use std::io::BufRead;
        let mut first = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        assert!(first.contains(" | 1"), "{first}");
    } // stdout closed here
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(stderr(&out), "", "quiet, no panic");

    let out = env.kubeadm(&["exec", "--node", "phoenix-worker-1", "--", "true"], &doc);
    assert_eq!(out.status.code(), Some(0));
    let out = env.kubeadm(&["exec", "--node", "nope", "--", "true"], &doc);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_failing_init_that_prints_its_secrets_leaks_none_of_them() {
    let env = Env::new();
    let cp = &env.sandbox.nodes[0];
    std::fs::write(cp.dir.join("leaky-init"), "").unwrap();
    let out = env.kubeadm(&["apply", "-vv"], &env.doc(true));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let written: Value = serde_json::from_slice(&out.stdout).unwrap();
    let message = written["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("init failed (exit 1)") && message.contains("<redacted>"),
        "{message}"
    );

    let secrets = cp.secrets();
    assert_eq!(secrets.len(), 2, "a token and a certificate key: {secrets:?}");
    let ca_key = cp.read("/etc/kubernetes/pki/ca.key").unwrap();
    let key_lines: Vec<&str> = ca_key.lines().filter(|l| !l.starts_with("-----")).collect();
    assert!(!key_lines.is_empty());
    let (err, doc) = (stderr(&out), written.to_string());
    assert!(
        err.contains("BEGIN PRIVATE KEY"),
        "the key was printed (and masked): {err}"
    );
    for secret in secrets.iter().map(String::as_str).chain(key_lines) {
        assert!(!err.contains(secret), "{secret} on stderr:\n{err}");
        assert!(!doc.contains(secret), "{secret} in the document");
    }
}

#[test]
fn reset_undoes_init_and_join_so_apply_does_them_again() {
    let env = Env::new();
    let up = ok(&env.apply(&[], &env.doc(true)));
    let down = ok(&env.kubeadm(&["reset"], &up));
    assert!(down["status"].get("kubeadm").is_none());
    assert_eq!(env.count("kubeadm reset"), [1, 1, 1, 1]);
    assert!(env.sandbox.nodes[0].read("/etc/kubernetes/admin.conf").is_none());
    ok(&env.apply(&[], &down));
    assert_eq!(env.count("kubeadm init"), [2, 0, 0, 0]);
}

#[test]
fn status_asks_each_node_and_destroy_takes_the_cluster_down() {
    let env = Env::new();
    let fresh = env.doc(true);
    let before = ok(&env.kubeadm(&["status"], &fresh));
    assert_eq!(before.as_array().unwrap().len(), 4, "{before}");
    assert!(before
        .as_array()
        .unwrap()
        .iter()
        .all(|n| n["reachable"] == true && n["member"] == false));

    // The plan is recorded as well as printed.
    let planned = ok(&env.kubeadm(&["plan"], &fresh));
    let plan = planned["status"]["kubeadm"]["plan"].as_array().unwrap();
    assert_eq!(
        plan.iter().filter(|c| c["action"] == "join").count(),
        3,
        "{plan:?}"
    );

    let up = ok(&env.apply(&[], &planned));
    assert!(
        up["status"]["kubeadm"].get("plan").is_none(),
        "apply clears the plan"
    );
    let after = ok(&env.kubeadm(&["status"], &up));
    assert!(
        after.as_array().unwrap().iter().all(|n| n["member"] == true),
        "{after}"
    );
    assert_eq!(after[0]["initialized"], true);

    assert!(env.kubeconfig().exists());
    let down = ok(&env.kubeadm(&["destroy"], &up));
    assert!(down["status"].get("kubeadm").is_none());
    assert!(
        down["status"]["nodes"]["instances"].is_array(),
        "the machines stay"
    );
    assert!(
        !env.kubeconfig().exists(),
        "the admin kubeconfig went with the cluster"
    );
    assert_eq!(env.count("kubeadm reset"), [1, 1, 1, 1]);
}

#[test]
fn bad_input_is_refused_before_any_connection() {
    let env = Env::new();
    let mut doc = env.doc(true);
    doc["spec"]["kubernetes"] = json!({"version": "1.x"});
    let out = env.apply(&[], &doc);
    assert_eq!(out.status.code(), Some(65));
    assert!(
        stderr(&out).contains("spec.kubernetes.version"),
        "{}",
        stderr(&out)
    );
    let mut none = env.doc(true);
    none["status"]["nodes"] = json!({"instances": []});
    let out = env.apply(&[], &none);
    assert_eq!(out.status.code(), Some(65));
    assert!(stderr(&out).contains("run phx-nodes apply first"));
    assert!(env.sandbox.nodes.iter().all(|n| n.calls().is_empty()));
}

#[test]
fn nodes_behind_a_jump_host_are_reached_through_one_bastion_connection() {
    let env = Env::new();
    let bastion = Sandbox::start(1);
    let b = &bastion.nodes[0];
    // The bastion is verified through known_hosts, like any host of the user's.
    let ssh = env.home.path().join(".ssh");
    std::fs::create_dir_all(&ssh).unwrap();
    std::fs::write(
        ssh.join("known_hosts"),
        format!("[{}]:{} {}\n", b.address, b.port, b.host_key()),
    )
    .unwrap();
    // The bastion accepts the same client key as the nodes.
    std::fs::copy(
        env.sandbox.dir().join("client_key.pub"),
        b.dir.join("authorized_keys"),
    )
    .unwrap();
    let mut doc = env.doc(true);
    doc["spec"]["nodes"]["ssh"]["jumpHost"] = json!(format!("{}@{}:{}", Sandbox::user(), b.address, b.port));
    let out = env.apply(&[], &doc);
    ok(&out);
    assert_eq!(env.count("kubeadm join"), [0, 1, 1, 1]);
    // The nodes stay reachable directly on loopback, so the proof that the
    // bastion carries the connections is that without it nothing connects.
    drop(bastion);
    let again = env.apply(&["--connect-timeout", "2s"], &doc);
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("jump host"), "{}", stderr(&again));
}

/// Three control planes behind the API load balancer, and a worker: the
/// load balancer's name is the endpoint (init's, the joins', the
/// kubeconfig's); the first inits, the others join as control planes with
/// a certificate key made once on the first and carried on stdin only; a
/// replaced first control plane (an empty machine) joins the cluster its
/// peers keep instead of making a second one.
#[test]
fn three_control_planes_behind_the_load_balancer() {
    let mut env = Env::new();
    let doc = three_control_planes(&env);
    let out = env.apply(&[], &doc);
    let up = ok(&out);

    let init = |n: &phx_testkit::SandboxNode| n.count("kubeadm init --config");
    let inits: Vec<usize> = env.sandbox.nodes.iter().map(init).collect();
    assert_eq!(inits, [1, 0, 0, 0]);
    assert_eq!(env.count("kubeadm join"), [0, 1, 1, 1]);
    assert_eq!(
        env.count("kubeadm init phase upload-certs"),
        [1, 0, 0, 0],
        "one key for both joins"
    );
    let config = env.sandbox.nodes[0]
        .read("/etc/kubernetes/phx-kubeadm.yaml")
        .unwrap();
    assert!(
        config.contains(&format!("controlPlaneEndpoint: {INT}:6443\n")),
        "the internal load balancer is the nodes' endpoint: {config}"
    );
    assert!(config.contains(&format!("  - {INT}\n")), "a SAN: {config}");
    assert!(
        config.contains(&format!("  - {LB}\n")),
        "the admins' name, a SAN: {config}"
    );
    for (i, n) in env.sandbox.nodes.iter().enumerate().skip(1) {
        let kubelet = n.read("/etc/kubernetes/kubelet.conf").unwrap();
        assert!(
            kubelet.contains(&format!("server: https://{INT}:6443\n")),
            "{kubelet}"
        );
        // Control planes joined as such (the stand-in writes admin.conf
        // only for a JoinConfiguration with a valid certificate key).
        assert_eq!(n.read("/etc/kubernetes/admin.conf").is_some(), i < 3, "node {i}");
    }
    let st = &up["status"]["kubeadm"];
    assert_eq!(st["apiEndpoint"], format!("https://{LB}:6443"));
    assert_eq!(st["controlPlane"], "phoenix-control-plane-1");
    let text = std::fs::read_to_string(env.kubeconfig()).unwrap();
    assert!(text.contains(&format!("server: https://{LB}:6443")), "{text}");
    // The certificate key is a secret like the tokens: nowhere phx writes.
    let secrets: Vec<String> = env.sandbox.nodes.iter().flat_map(|n| n.secrets()).collect();
    assert_eq!(
        secrets.len(),
        3,
        "init's token, phx's token, the certificate key: {secrets:?}"
    );
    let calls: Vec<String> = env.sandbox.nodes.iter().flat_map(|n| n.calls()).collect();
    for secret in &secrets {
        assert!(!up.to_string().contains(secret), "a secret in the document");
        assert!(!stderr(&out).contains(secret), "a secret on stderr");
        assert!(
            !calls.iter().any(|c| c.contains(secret)),
            "a secret on a command line"
        );
    }

    // etcd counts three members, one per control plane (the stand-in's
    // shared membership).
    let file = env.sandbox.dir().join("etcd-members");
    let members = || -> Vec<String> {
        std::fs::read_to_string(&file)
            .unwrap_or_default()
            .lines()
            .map(|l| l.split_once(' ').unwrap().1.to_string())
            .collect()
    };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let names: Vec<String> = (0..3)
        .map(|i| {
            doc["status"]["nodes"]["instances"][i]["privateDns"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(members()[0], names[0], "the first made etcd");
    assert_eq!(sorted(members()), sorted(names.clone()));

    // The first control plane's machine is replaced (empty, a new host
    // key, as phx-nodes records it): its old etcd member is removed on a
    // peer, then it joins (the stand-in refuses a join under a member
    // etcd still counts, as the real etcd panics); nobody inits again.
    env.sandbox.nodes[0].replace_host_key();
    let mut again = up.clone();
    again["status"]["nodes"]["instances"][0]["ssh"]["hostKeys"] = json!([env.sandbox.nodes[0].host_key()]);
    let healed = ok(&env.apply(&[], &again));
    let n0 = &env.sandbox.nodes[0];
    assert_eq!(init(n0), 1, "no second init: {:?}", n0.calls());
    assert_eq!(n0.count("kubeadm join"), 1, "{:?}", n0.calls());
    assert!(n0.read("/etc/kubernetes/admin.conf").is_some());
    assert_eq!(
        env.count("kubeadm join")[1..],
        [1, 1, 1],
        "the others are left alone"
    );
    assert_eq!(
        healed["status"]["kubeadm"]["controlPlane"],
        "phoenix-control-plane-2"
    );
    assert_eq!(
        sorted(members()),
        sorted(names.clone()),
        "one member each, the first's anew"
    );
    assert_eq!(members().last(), Some(&names[0]), "re-added last");
    let removal = env.sandbox.nodes[1]
        .calls()
        .into_iter()
        .filter(|c| c.starts_with("curl ") && c.contains("/v3/cluster/member/remove"))
        .count();
    assert_eq!(removal, 1, "removed on the leader");
    let forget = format!("delete node {} --ignore-not-found", names[0]);
    assert!(
        env.sandbox.nodes[1]
            .calls()
            .iter()
            .any(|c| c.starts_with("kubectl ") && c.ends_with(&forget)),
        "its old Node deleted on the leader first"
    );
}

const LB: &str = "phoenix-api-0123456789abcdef.elb.us-east-1.amazonaws.com";
const INT: &str = "phoenix-api-int-0123456789abcdef.elb.us-east-1.amazonaws.com";

/// The sandbox's first three nodes as control planes, behind `LB` (the
/// admins') and `INT` (the nodes' endpoint).
fn three_control_planes(env: &Env) -> Value {
    let mut doc = env.doc(true);
    doc["spec"]["nodes"]["controlPlane"] = json!({"count": 3, "instanceType": "t3.large", "diskGiB": 50});
    for i in [1, 2] {
        let n = &mut doc["status"]["nodes"]["instances"][i];
        n["name"] = json!(format!("phoenix-control-plane-{}", i + 1));
        n["role"] = json!("control-plane");
    }
    doc["status"]["network"] = json!({"vpcCidr": "10.0.0.0/16", "owned": true, "zones": [],
        "subnets": [], "securityGroups": {},
        "apiLoadBalancer": {"name": "phoenix-api", "scheme": "internet-facing", "dnsName": LB},
        "apiInternalLoadBalancer": {"name": "phoenix-api-int", "scheme": "internal", "dnsName": INT}});
    doc
}

/// A cluster made by a phx before #31 with the internet-facing load
/// balancer as its endpoint, which its nodes cannot reach on AWS: refused
/// (65) with what to do, before any node is touched.
#[test]
fn a_cluster_whose_endpoint_is_the_public_load_balancer_is_refused() {
    let env = Env::new();
    let mut doc = three_control_planes(&env);
    doc["spec"]["nodes"]["controlPlane"]["count"] = json!(1);
    for i in [1, 2] {
        let n = &mut doc["status"]["nodes"]["instances"][i];
        n["name"] = json!(format!("phoenix-worker-{i}"));
        n["role"] = json!("worker");
    }
    doc["status"]["kubeadm"] = json!({"controlPlaneEndpoint": format!("{LB}:6443"), "nodes": {}});
    let out = env.apply(&[], &doc);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(65), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!(
            "the cluster's endpoint is the internet-facing load balancer {LB}:6443"
        )) && err.contains("make the cluster again"),
        "{err}"
    );
    assert!(
        env.sandbox.nodes.iter().all(|n| n.calls().is_empty()),
        "a node was touched"
    );
}

/// 3 -> 1: lowering the count is refused (65, no node touched) without
/// --allow-remove; with it, control planes 3 then 2 leave the cluster
/// (kubeadm reset on each, their etcd members gone, their Nodes deleted on
/// the control plane that stays), the workers untouched; the plan says so.
#[test]
fn control_planes_leave_only_with_the_flag() {
    let env = Env::new();
    let up = ok(&env.apply(&[], &three_control_planes(&env)));
    let mut shrunk = up.clone();
    shrunk["spec"]["nodes"]["controlPlane"]["count"] = json!(1);
    let calls = |env: &Env| -> Vec<usize> { env.sandbox.nodes.iter().map(|n| n.calls().len()).collect() };
    let before = calls(&env);

    let out = env.apply(&[], &shrunk);
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "phoenix-control-plane-3, phoenix-control-plane-2 are control planes too: each takes an etcd member"
        ),
        "{}",
        stderr(&out)
    );
    assert_eq!(calls(&env), before, "a node was touched");

    let plan = ok(&env.kubeadm(&["plan"], &shrunk));
    let leaves: Vec<&str> = plan["status"]["kubeadm"]["plan"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] == "leave")
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(leaves, ["phoenix-control-plane-3", "phoenix-control-plane-2"]);

    let done = ok(&env.apply(&["--allow-remove"], &shrunk));
    assert_eq!(env.count("kubeadm reset"), [0, 1, 1, 0]);
    let members = std::fs::read_to_string(env.sandbox.dir().join("etcd-members")).unwrap();
    let names: Vec<&str> = members.lines().map(|l| l.split_once(' ').unwrap().1).collect();
    assert_eq!(names, ["ip-10-0-0-5.ec2.internal"], "one member left");
    let leader = env.sandbox.nodes[0].calls();
    let removals = leader
        .iter()
        .filter(|c| c.starts_with("curl ") && c.contains("/v3/cluster/member/remove"))
        .count();
    assert_eq!(removals, 2, "each member removed on the leader, before its reset");
    for i in [1, 2] {
        let node = format!("delete node ip-10-0-{i}-5.ec2.internal --ignore-not-found");
        assert!(leader.iter().any(|c| c.ends_with(&node)), "{leader:?}");
        let st = &done["status"]["kubeadm"]["nodes"][format!("phoenix-control-plane-{}", i + 1)];
        assert_eq!(st["member"], false, "{st}");
        assert!(st["error"].is_null(), "{st}");
    }
    assert_eq!(env.count("kubeadm join"), [0, 1, 1, 1], "nothing joined again");
    assert_eq!(
        done["status"]["kubeadm"]["nodes"]["phoenix-worker-3"]["member"],
        true
    );
}

/// A cluster initialized before it had the API load balancer keeps its
/// endpoint when one appears (kubeadm cannot move it; its certificate does
/// not name the load balancer): the kubeconfig stays on the public IP, and
/// more control planes are refused (65) before any node is touched.
#[test]
fn a_cluster_made_without_the_load_balancer_keeps_its_endpoint() {
    let env = Env::new();
    let up = ok(&env.apply(&[], &env.doc(true)));
    assert_eq!(
        up["status"]["kubeadm"]["controlPlaneEndpoint"], "ip-10-0-0-5.ec2.internal:6443",
        "recorded at init"
    );
    // As a phx before the record left it, then given a load balancer.
    let mut old = up.clone();
    old["status"]["kubeadm"]
        .as_object_mut()
        .unwrap()
        .remove("controlPlaneEndpoint");
    old["status"]["network"] = json!({"vpcCidr": "10.0.0.0/16", "owned": true, "zones": [],
        "subnets": [], "securityGroups": {},
        "apiLoadBalancer": {"name": "phoenix-api", "scheme": "internet-facing", "dnsName": LB}});
    let again = ok(&env.apply(&[], &old));
    assert_eq!(again["status"]["kubeadm"]["apiEndpoint"], "https://54.0.0.1:6443");
    let text = std::fs::read_to_string(env.kubeconfig()).unwrap();
    assert!(!text.contains(LB), "{text}");

    let mut more = old.clone();
    more["spec"]["nodes"]["controlPlane"] = json!({"count": 3, "instanceType": "t3.large", "diskGiB": 50});
    more["status"]["nodes"]["instances"][1]["name"] = json!("phoenix-control-plane-2");
    more["status"]["nodes"]["instances"][1]["role"] = json!("control-plane");
    let calls = env.count("");
    let out = env.apply(&[], &more);
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("this cluster's is ip-10-0-0-5.ec2.internal:6443 (kubeadm cannot move it)"),
        "{}",
        stderr(&out)
    );
    assert_eq!(env.count(""), calls, "no node was touched");
}

/// The state bucket's keys under `prefix`, read from the emulator.
fn bucket_keys(env: &Env, prefix: &str) -> Vec<String> {
    let s3 = env.moto.as_ref().unwrap().aws().s3();
    let out = phx_testkit::block_on(
        s3.list_objects_v2()
            .bucket("phx-state-test")
            .prefix(prefix)
            .send(),
    )
    .unwrap();
    out.contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_string))
        .collect()
}

/// A control plane joining a cluster that exists changes etcd: an etcd
/// backup goes to the state bucket first, taken on the leader. None for a
/// cluster made in the same run; and when it cannot be taken (the leader's
/// etcd tools fail), the control plane does not join and nothing is
/// uploaded.
#[test]
fn a_backup_comes_before_a_control_plane_joins_an_existing_cluster() {
    let mut env = Env::with_state_bucket();
    let mut doc = three_control_planes(&env);
    doc["spec"]["state"] = json!({"bucket": "phx-state-test"});
    let up = ok(&env.apply(&[], &doc));
    assert!(
        bucket_keys(&env, "").is_empty(),
        "a cluster made this run: no backup"
    );
    assert!(up["status"]["kubeadm"].get("backups").is_none());

    // The first control plane's machine is replaced: it will join.
    env.sandbox.nodes[0].replace_host_key();
    let mut again = up.clone();
    again["status"]["nodes"]["instances"][0]["ssh"]["hostKeys"] = json!([env.sandbox.nodes[0].host_key()]);

    let planned = ok(&env.kubeadm(&["plan"], &again));
    assert_eq!(
        planned["status"]["kubeadm"]["plan"][0],
        json!({"action": "backup", "kind": "etcd", "name": "s3://phx-state-test/phoenix/etcd/",
               "detail": "before the control plane changes"})
    );

    // The leader cannot take it: no join, nothing uploaded.
    env.sandbox.nodes[1].fail("ctr ");
    let out = env.apply(&[], &again);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let e = stderr(&out);
    assert!(
        e.contains("the etcd backup before the control plane changes"),
        "{e}"
    );
    assert!(
        e.contains("no control plane has a healthy etcd, nothing was uploaded"),
        "{e}"
    );
    assert_eq!(env.sandbox.nodes[0].count("kubeadm join"), 0, "it did not join");
    assert!(bucket_keys(&env, "").is_empty());
    env.sandbox.nodes[1].heal();

    let healed = ok(&env.apply(&[], &again));
    assert_eq!(env.sandbox.nodes[0].count("kubeadm join"), 1);
    let keys = bucket_keys(&env, "phoenix/etcd/");
    assert_eq!(keys.len(), 1, "{keys:?}");
    let backups = &healed["status"]["kubeadm"]["backups"];
    assert_eq!(backups[0]["key"], keys[0]);
    let saved = env.sandbox.nodes[1]
        .calls()
        .into_iter()
        .filter(|c| c.starts_with("ctr ") && c.contains(" snapshot save "))
        .count();
    assert_eq!(saved, 1, "made on the leader, once for the run");
    for n in [0, 2] {
        assert!(!env.sandbox.nodes[n].calls().iter().any(|c| c.starts_with("ctr ")));
    }
}
