//! End to end on the local sandbox (`scripts/sandbox.sh`): the pipelines
//! users run (`scripts/deploy.sh`, `scripts/destroy.sh`), against moto,
//! real sshd nodes and the TLS API stand-in (the faults tests inject need
//! its speed and control); the plain lifecycle runs on the real-Kubernetes
//! sandbox. What the cluster is made of is read back from the emulator
//! (`sandbox.sh inventory`), the nodes' own call logs and the API server,
//! never from the tools' word for it.

#![allow(clippy::unwrap_used)]

use phx_testkit::{success, LocalSandbox, Recording};
use serde_json::{json, Value};
use std::process::Output;

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn deploy(sb: &LocalSandbox) -> Output {
    sb.run("scripts/deploy.sh", &["cluster.json"])
}

/// Calls that change infrastructure: everything mutating but the state
/// store's own reads and writes (the lock item, the document object).
fn infrastructure_changes(rec: &Recording) -> Vec<String> {
    rec.mutating()
        .into_iter()
        .filter(|c| !matches!(c.action.as_str(), "PutItem" | "DeleteItem" | "UpdateItem"))
        .filter(|c| !c.action.contains("/phx-sandbox-state/"))
        .map(|c| c.action.clone())
        .collect()
}

/// Node `i` (from 1) ran `kubeadm init` / `kubeadm join` this many times.
fn inits(sb: &LocalSandbox, i: usize) -> usize {
    sb.count(i, "kubeadm init")
}
fn joins(sb: &LocalSandbox, i: usize) -> usize {
    sb.count(i, "kubeadm join")
}

fn api_nodes(sb: &LocalSandbox) -> Vec<Value> {
    sb.api_get("/api/v1/nodes")["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Exactly one of each thing the cluster is made of.
fn assert_one_of_each(inventory: &Value, instances: usize) {
    let kinds = inventory.as_object().unwrap();
    for (kind, names) in kinds {
        for (name, n) in names.as_object().unwrap() {
            assert_eq!(n, &json!(1), "{n} of {kind} {name}: {inventory}");
        }
    }
    let count = |k: &str| inventory[k].as_object().map_or(0, serde_json::Map::len);
    assert_eq!(count("instance"), instances, "{inventory}");
    assert_eq!(count("vpc"), 1, "{inventory}");
    assert_eq!(count("key-pair"), 1, "{inventory}");
    assert_eq!(count("iam-role"), 2, "{inventory}");
}

fn assert_lock_free(sb: &LocalSandbox) {
    let stored = sb.stored();
    assert_eq!(stored["status"]["state"]["lock"], Value::Null, "{stored}");
    // And really free: it can be taken (and given back).
    let doc = std::fs::read(sb.cluster()).unwrap();
    let locked = sb.tool("phx-state", &["lock"], &doc);
    success("phx-state lock", &locked);
    success(
        "phx-state unlock",
        &sb.tool("phx-state", &["unlock"], &locked.stdout),
    );
}

/// On the real-Kubernetes sandbox: the nodes are read back with kubectl.
#[test]
fn deploy_redeploy_scale_and_destroy_leave_nothing_behind() {
    let sb = LocalSandbox::up_real(5);
    let kube_nodes = |sb: &LocalSandbox| -> Vec<Value> {
        sb.kubectl_json(&["get", "nodes"])["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    };

    // A plan of the fresh cluster: every stage says what it would make,
    // and nothing is made (no mutating call at all, not even the lock).
    sb.start_recording();
    let out = sb.run("scripts/deploy.sh", &["--plan", "cluster.json"]);
    success("deploy --plan", &out);
    let plan = stderr(&out);
    // Rows as words: each table pads its columns to its own widest cell.
    let rows: Vec<String> = plan
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    for line in [
        "create vpc vpc",
        "launch instance sandbox-worker-3",
        "register api-target sandbox-control-plane-1",
        "init node sandbox-control-plane-1",
        "create StorageClass",
    ] {
        assert!(
            rows.iter().any(|r| r.starts_with(line)),
            "the plan lacks {line:?}:\n{plan}"
        );
    }
    let rec = sb.recording();
    assert!(
        rec.mutating().is_empty(),
        "a plan changed something: {:?}",
        rec.mutating()
    );
    assert_eq!(sb.inventory(), json!({}));

    let out = deploy(&sb);
    success("deploy", &out);
    assert!(stderr(&out).contains("cluster sandbox is up"), "{}", stderr(&out));
    let doc = sb.stored();
    assert_eq!(doc["error"], Value::Null);
    assert_eq!(
        doc["status"]["nodes"]["instances"].as_array().unwrap().len(),
        4,
        "{doc}"
    );
    for i in 1..=4 {
        let name = doc["status"]["nodes"]["instances"][i - 1]["name"]
            .as_str()
            .unwrap();
        assert_eq!(doc["status"]["kubeadm"]["nodes"][name]["member"], true, "{doc}");
    }
    assert_eq!(doc["status"]["cni"]["ready"], true, "{doc}");
    assert_eq!(doc["status"]["ccm"]["ready"], true, "{doc}");
    assert!(doc["status"]["platform"].is_object(), "{doc}");
    assert_one_of_each(&sb.inventory(), 4);
    let nodes = kube_nodes(&sb);
    assert_eq!(nodes.len(), 4, "registered nodes: {nodes:?}");
    assert!(
        nodes.iter().all(|n| n["spec"]["providerID"].is_string()),
        "the cloud controller manager initialized every node: {nodes:?}"
    );
    // The kubeconfig phx-kubeadm wrote is private.
    let kubeconfig = doc["status"]["kubeadm"]["kubeconfig"].as_str().unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(kubeconfig).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(inits(&sb, 1), 1);

    // Again: nothing to do, and nothing done.
    sb.start_recording();
    success("second deploy", &deploy(&sb));
    let rec = sb.recording();
    assert!(!rec.is_empty(), "the recorder saw the second deploy");
    let changes = infrastructure_changes(&rec);
    assert!(changes.is_empty(), "a converged deploy changed: {changes:?}");
    assert_eq!(inits(&sb, 1), 1, "kubeadm init ran again");
    for i in 2..=4 {
        assert_eq!(joins(&sb, i), 1, "node {i} joined again");
    }

    // Workers 3 -> 4: one node launched and joined, nothing else touched.
    let mut spec = sb.read_cluster();
    spec["spec"]["nodes"]["workers"]["count"] = json!(4);
    sb.write_cluster(&spec);
    sb.start_recording();
    success("scale-out deploy", &deploy(&sb));
    let rec = sb.recording();
    let launches = rec.actions().iter().filter(|a| **a == "RunInstances").count();
    assert_eq!(launches, 1, "{:?}", infrastructure_changes(&rec));
    assert_eq!(joins(&sb, 5), 1, "the new node joined");
    assert_eq!(inits(&sb, 1), 1);
    for i in 2..=4 {
        assert_eq!(joins(&sb, i), 1, "node {i} joined again");
    }
    let nodes = kube_nodes(&sb);
    assert_eq!(nodes.len(), 5);
    assert!(
        nodes.iter().all(|n| n["spec"]["providerID"].is_string()),
        "{nodes:?}"
    );
    assert_one_of_each(&sb.inventory(), 5);

    // Destroy: nothing of the cluster left anywhere, the lock free.
    let out = sb.run("scripts/destroy.sh", &["cluster.json"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "no terminal to ask on, no --yes: refused"
    );
    assert_eq!(
        sb.inventory()["instance"].as_object().map(serde_json::Map::len),
        Some(5)
    );
    let out = sb.run("scripts/destroy.sh", &["--yes", "cluster.json"]);
    success("destroy", &out);
    assert!(
        !std::path::Path::new(kubeconfig).exists(),
        "the kubeconfig is removed with the cluster"
    );
    assert_eq!(sb.inventory(), json!({}), "left behind after destroy");
    let stored = sb.stored();
    let left: Vec<&String> = stored["status"].as_object().unwrap().keys().collect();
    assert_eq!(left, ["state"], "status after destroy: {stored}");
    assert_lock_free(&sb);
}

#[test]
fn a_stage_failing_midway_stores_the_state_and_a_rerun_converges() {
    let sb = LocalSandbox::up(4);
    sb.stop_node(3);

    let out = deploy(&sb);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("deploy.sh: FAILED in phx-kubeadm"), "{err}");
    assert!(
        err.contains("sandbox-worker-2"),
        "the message names the node: {err}"
    );
    let doc = sb.stored();
    assert_eq!(doc["error"]["tool"], "phx-kubeadm", "{doc}");
    assert_eq!(
        doc["status"]["nodes"]["instances"].as_array().unwrap().len(),
        4,
        "{doc}"
    );
    assert!(doc["status"]["network"]["vpcId"].is_string(), "{doc}");
    assert_eq!(
        doc["status"]["kubeadm"]["nodes"]["sandbox-worker-1"]["member"],
        true
    );
    assert_eq!(doc["status"].get("cni"), None, "later stages did not run: {doc}");
    assert_lock_free(&sb);

    sb.start_node(3);
    success("re-run", &deploy(&sb));
    let doc = sb.stored();
    assert_eq!(doc["error"], Value::Null, "{doc}");
    assert_eq!(inits(&sb, 1), 1);
    for i in 2..=4 {
        assert_eq!(joins(&sb, i), 1, "node {i}");
    }
    assert_eq!(api_nodes(&sb).len(), 4);
    assert_one_of_each(&sb.inventory(), 4);
}

#[test]
fn ctrl_c_stores_the_state_releases_the_lock_and_a_rerun_converges() {
    interrupt_then_rerun("-INT");
}

/// SIGTERM to the whole group, as `timeout`, systemd and CI runners send
/// it: the same outcome (found: `tee` died of it, and push got nothing).
#[test]
fn sigterm_to_the_pipeline_stores_the_state_too() {
    interrupt_then_rerun("-TERM");
}

fn interrupt_then_rerun(signal: &str) {
    let sb = LocalSandbox::up(4);
    let mut cmd = sb.command("scripts/deploy.sh", &["cluster.json"], true);
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Once the nodes are being prepared, Ctrl-C (to the whole group, as a
    // terminal sends it).
    let start = std::time::Instant::now();
    while sb.calls(1).is_empty() {
        assert!(
            start.elapsed().as_secs() < 60,
            "the deploy never reached the nodes"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = phx_testkit::signal_group(child, signal);
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("deploy.sh: INTERRUPTED"),
        "{}",
        stderr(&out)
    );
    let doc = sb.stored();
    assert!(
        doc["error"]["message"].as_str().unwrap().contains("interrupted"),
        "{doc}"
    );
    assert_eq!(
        doc["status"]["nodes"]["instances"].as_array().unwrap().len(),
        4,
        "{doc}"
    );
    assert_lock_free(&sb);

    success("re-run", &deploy(&sb));
    assert_eq!(sb.stored()["error"], Value::Null);
    assert!(inits(&sb, 1) <= 1 && api_nodes(&sb).len() == 4);
    assert_one_of_each(&sb.inventory(), 4);
}

#[test]
fn of_two_deploys_at_once_one_runs_and_the_other_names_the_holder() {
    let sb = LocalSandbox::up(4);
    let a = sb.spawn("scripts/deploy.sh", &["cluster.json"]);
    let b = sb.spawn("scripts/deploy.sh", &["cluster.json"]);
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let (won, lost) = match (a.status.success(), b.status.success()) {
        (true, false) => (a, b),
        (false, true) => (b, a),
        _ => panic!(
            "exactly one deploy should succeed: {:?} {}\n{:?} {}",
            a.status,
            stderr(&a),
            b.status,
            stderr(&b)
        ),
    };
    assert_eq!(lost.status.code(), Some(1), "{}", stderr(&lost));
    let err = stderr(&lost);
    assert!(err.contains("the state is locked: held by"), "{err}");
    assert!(
        err.lines().count() <= 2,
        "one clear message, not a cascade: {err}"
    );
    assert!(stderr(&won).contains("cluster sandbox is up"));
    // Each stage says when it started and how long it took.
    let said = stderr(&won);
    for t in [
        "phx-net",
        "phx-iam",
        "phx-nodes",
        "phx-kubeadm",
        "phx-ccm",
        "phx-cni",
        "phx-platform",
    ] {
        assert!(said.contains(&format!("{t}: started")), "{t}: {said}");
        let done = said
            .lines()
            .filter_map(|l| {
                l.split_once(&format!("{t}: done in "))?
                    .1
                    .split_once(" s")?
                    .0
                    .parse::<f64>()
                    .ok()
            })
            .count();
        assert!(done >= 1, "{t} done with its time: {said}");
    }
    // And what it did, when it is not AWS changes it announced.
    assert!(said.contains(" s (1 initialized, 3 joined)"), "{said}");
    assert!(
        said.lines()
            .any(|l| l.contains("phx-ccm: done in ") && l.ends_with(" changed, 0 unchanged)")),
        "{said}"
    );
    assert_one_of_each(&sb.inventory(), 4);
    assert_lock_free(&sb);
}

#[test]
fn the_demo_runs_end_to_end_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(phx_testkit::workspace_root().join("scripts/demo.sh"))
        .env("PHX_SANDBOX_DIR", dir.path().join("demo"))
        .env("PHX_NO_INSTALL", "1")
        .env("PATH", phx_testkit::path_with_bins())
        .env_remove("AWS_PROFILE")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    success("scripts/demo.sh", &out);
    let err = stderr(&out);
    for step in [
        "cluster sandbox is up",
        "cluster sandbox destroyed",
        "inventory: {}",
        "status:    {}",
    ] {
        assert!(err.contains(step), "the demo did not show {step:?}:\n{err}");
    }
    // scripts/test.sh builds the Kubernetes binaries: the demo runs on them.
    let server = format!("Server Version: {}", phx_testkit::pinned("KUBERNETES_VERSION"));
    for real in [
        "with real Kubernetes",
        server.as_str(),
        "Ready    control-plane",
        "etcd-ip-",
    ] {
        assert!(err.contains(real), "the demo did not show {real:?}:\n{err}");
    }
    assert!(
        !dir.path().join("demo").exists(),
        "the demo brought its sandbox down"
    );
}

#[test]
fn deploy_preflight_says_what_is_missing_before_touching_anything() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("id.pub"),
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDiioBpi0yC3EBErvTcPzKrMVo0rxopVC/A9+EphBJqt t@phx\n",
    )
    .unwrap();
    let preflight = |doc: &Value| {
        std::fs::write(dir.path().join("cluster.json"), doc.to_string()).unwrap();
        std::process::Command::new(phx_testkit::workspace_root().join("scripts/deploy.sh"))
            .arg("cluster.json")
            .current_dir(dir.path())
            .env("PATH", phx_testkit::path_with_bins())
            // Nothing listens there: no request can leave this machine.
            .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
            .env("AWS_ACCESS_KEY_ID", "none")
            .env("AWS_SECRET_ACCESS_KEY", "none")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env_remove("AWS_PROFILE")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    let mut doc = json!({"apiVersion": "phx/v1", "kind": "Cluster", "metadata": {"name": "pre"},
        "spec": {"region": "us-east-1", "nodes": {"ssh": {"publicKeyFile": dir.path().join("id.pub")}}}});
    let out = preflight(&doc);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("spec.network.adminCidrs is empty"),
        "{}",
        stderr(&out)
    );

    doc["spec"]["network"] = json!({"adminCidrs": ["203.0.113.7/32"]});
    let out = preflight(&doc);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.starts_with("deploy.sh: no working AWS credentials"), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(!dir.path().join(".phx-state").exists(), "nothing was stored");
}

#[test]
fn a_debug_deploy_prints_and_stores_no_secret() {
    let sb = LocalSandbox::up(4);
    let out = sb
        .command("scripts/deploy.sh", &["cluster.json"], true)
        .env("RUST_LOG", "debug")
        .output()
        .unwrap();
    success("deploy at RUST_LOG=debug", &out);
    let err = stderr(&out);
    assert!(
        err.contains("DEBUG"),
        "debug logs were on: {}",
        &err[..err.len().min(2000)]
    );

    // What must appear nowhere: the bootstrap tokens kubeadm made (the
    // init's and the one phx had made for the joins) and the cluster's
    // private keys (the PKI the control plane's kubeadm used).
    let mut secrets: Vec<String> = (1..=4).flat_map(|i| sb.secrets(i)).collect();
    assert!(secrets.len() >= 2, "{secrets:?}");
    for key in ["admin.key", "apiserver.key"] {
        let pem = std::fs::read_to_string(sb.dir().join("api/pki").join(key)).unwrap();
        secrets.extend(
            pem.lines()
                .filter(|l| !l.starts_with("-----"))
                .map(str::to_string),
        );
    }
    let stored = sb.stored().to_string();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    // Every command line the nodes ran (the stand-ins record their argv).
    let calls: Vec<String> = (1..=4).flat_map(|i| sb.calls(i)).collect();
    assert!(
        calls.iter().any(|c| c.starts_with("kubeadm join --config ")),
        "{calls:?}"
    );
    for s in &secrets {
        assert!(!err.contains(s.as_str()), "a secret on stderr");
        assert!(!stdout.contains(s.as_str()), "a secret on stdout");
        assert!(!stored.contains(s.as_str()), "a secret in the stored state");
        assert!(
            !calls.iter().any(|c| c.contains(s.as_str())),
            "a secret on a command line"
        );
    }
    for text in [&err, &stdout, &stored] {
        assert!(!text.contains("PRIVATE KEY-----\n"), "a private key block");
    }
}

/// deploy.sh on a terminal (a pseudo-terminal from `script`): one line per
/// stage with ✓ and its time, no node output on the screen, every line in
/// a 0600 log file named at the start; a failing stage shows ✗, its error
/// and the log's path. Without a terminal nothing of this: no escape code.
#[test]
fn a_deploy_on_a_terminal_shows_one_line_per_stage_and_logs_the_details() {
    let sb = LocalSandbox::up(4);
    let logs = sb.dir().join("logs");
    let terminal = |command: &str| {
        sb.shell(&format!(
            r#"PHX_LOG_DIR={} TERM=xterm COLUMNS=160 LINES=200 script -q -e -c "stty rows 200 cols 160; {command}" /dev/null"#,
            logs.display()
        ))
    };
    let on_a_terminal = || terminal("$PHX_ROOT/scripts/deploy.sh cluster.json");
    // What the terminal shows at the end, as a terminal would draw the bytes.
    let final_screen = |out: &std::process::Output| -> String {
        let mut vt = vt100::Parser::new(200, 160, 0);
        vt.process(&out.stdout);
        // Row by row: contents() runs a row the view padded to the full
        // width into the next.
        vt.screen().rows(0, 160).collect::<Vec<_>>().join("\n")
    };
    let log_named = |screen: &str| -> std::path::PathBuf {
        let line = screen
            .lines()
            .find(|l| l.contains("deploy.sh: details in "))
            .expect("the log's path");
        let path = line.split("details in ").nth(1).unwrap().trim();
        assert!(path.starts_with(logs.to_str().unwrap()), "{path}");
        std::path::PathBuf::from(path)
    };

    // A worker's join fails: ✗ on phx-kubeadm's line, its error, the log.
    sb.fail(2, "kubeadm join");
    let out = on_a_terminal();
    assert!(!out.status.success());
    let screen = final_screen(&out);
    assert!(screen.contains("✗ phx-kubeadm: "), "{screen}");
    assert!(screen.contains("– skipped"), "the stages after it: {screen}");
    assert!(screen.contains("deploy.sh: FAILED in phx-kubeadm"), "{screen}");
    let failed_log = log_named(&screen);
    let text = std::fs::read_to_string(&failed_log).unwrap();
    assert!(
        text.contains("kubeadm: simulated failure"),
        "the node's own line is in the log: {text}"
    );

    // The tool alone on a terminal: its own line, the details in its log.
    let alone =
        || terminal("phx-state lock < cluster.json | phx-kubeadm apply | phx-state push --unlock >/dev/null");
    let screen = final_screen(&alone());
    assert!(screen.contains("phx-kubeadm  ✗ failed after "), "{screen}");
    assert!(
        screen.contains("  | ") && screen.contains("kubeadm: simulated failure"),
        "its last lines: {screen}"
    );
    assert!(
        screen
            .lines()
            .any(|l| l.starts_with("phx-kubeadm: ") && l.contains("join failed")),
        "its one-line error: {screen}"
    );
    sb.heal(2);
    let out = alone();
    let screen = final_screen(&out);
    assert!(out.status.success(), "{screen}");
    let row = screen
        .lines()
        .find(|l| l.trim_start().starts_with("phx-kubeadm  "))
        .unwrap_or_else(|| panic!("phx-kubeadm's line: {screen}"));
    assert!(
        row.contains("✓ 1 joined · ") && row.trim_end().ends_with(" s"),
        "{screen}"
    );
    assert!(!screen.contains("| phx: "), "no node output: {screen}");
    let line = screen
        .lines()
        .find(|l| l.starts_with("phx-kubeadm: details in "))
        .unwrap_or_else(|| panic!("the log's path: {screen}"));
    let text = std::fs::read_to_string(line.split("details in ").nth(1).unwrap().trim()).unwrap();
    assert!(
        text.contains("phx-kubeadm: nodes: 4/4 prepared, control plane up, 3/3 joined"),
        "where it was, said as it went: {text}"
    );
    assert!(text.contains("| phx: "), "the nodes' output: {text}");

    let out = on_a_terminal();
    let screen = final_screen(&out);
    assert!(out.status.success(), "{screen}");
    // The closing table: every stage, ✓, its time.
    let table: Vec<&str> = screen.lines().skip_while(|l| !l.starts_with("stage ")).collect();
    for stage in [
        "phx-net & phx-iam",
        "phx-nodes",
        "phx-kubeadm",
        "phx-ccm",
        "phx-cni",
        "phx-platform",
    ] {
        let row = table
            .iter()
            .find(|l| l.starts_with(stage))
            .unwrap_or_else(|| panic!("{stage}: {screen}"));
        assert!(row.contains(" s ") && row.contains('✓'), "{row}");
    }
    // No node output on the screen; all of it in the log, 0600.
    assert!(!screen.contains("| phx: "), "{screen}");
    let log = log_named(&screen);
    assert_ne!(log, failed_log);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("phx-kubeadm | INFO ") && text.contains("| phx: "),
        "{text}"
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&log).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // Not on a terminal: the lines as they come, the stage lines, no escape
    // code, no view.
    let out = deploy(&sb);
    success("deploy.sh", &out);
    let said = stderr(&out);
    assert!(!said.contains('\x1b') && !said.contains('✓'), "{said}");
    assert!(said.contains("phx-nodes: done in "), "{said}");
}
