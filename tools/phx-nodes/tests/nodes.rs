//! phx-nodes against the moto emulator with validation on (key pairs,
//! images, instance types) and an image list holding Canonical's Ubuntu
//! 24.04 among look-alikes. The network and IAM come from phx-net and
//! phx-iam themselves, as in the pipeline.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use phx_aws::ec2::types::{Filter, Instance};
use phx_testkit::{mirror, ok};
use phx_testkit::{AwsProxy, Faults, Moto};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Output;

const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDiioBpi0yC3EBErvTcPzKrMVo0rxopVC/A9+EphBJqt test@phx";
const OTHER_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJL432FL2KKXvvTbv5WLHHjoKEQtUEOktJLdB+LajMKi other@phx";
const NEWEST_NOBLE: &str = "ami-0a0b0c0d0e0f00002";

/// Canonical's 24.04 images (two builds), and newer images that must not
/// be chosen: 22.04, arm64, and a look-alike from another account.
fn amis() -> Value {
    let ami = |id: &str, owner: &str, name: &str, arch: &str, date: &str| {
        json!({"ami_id": id, "state": "available", "public": true, "owner_id": owner,
               "image_location": format!("{owner}/{name}"), "sriov": "simple",
               "root_device_type": "ebs", "root_device_name": "/dev/sda1",
               "description": name, "image_type": "machine", "architecture": arch,
               "name": name, "virtualization_type": "hvm", "hypervisor": "xen",
               "creation_date": date})
    };
    let c = "099720109477";
    json!([
        ami(
            "ami-0a0b0c0d0e0f00001",
            c,
            "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20250101",
            "x86_64",
            "2025-01-01T00:00:00.000Z"
        ),
        ami(
            NEWEST_NOBLE,
            c,
            "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20251115",
            "x86_64",
            "2025-11-15T00:00:00.000Z"
        ),
        ami(
            "ami-0a0b0c0d0e0f00003",
            c,
            "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-arm64-server-20251201",
            "arm64",
            "2025-12-01T00:00:00.000Z"
        ),
        ami(
            "ami-0a0b0c0d0e0f00004",
            c,
            "ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-20251201",
            "x86_64",
            "2025-12-01T00:00:00.000Z"
        ),
        ami(
            "ami-0a0b0c0d0e0f00005",
            "123456789012",
            "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20251202",
            "x86_64",
            "2025-12-02T00:00:00.000Z"
        ),
    ])
}

struct Env {
    moto: Moto,
    dir: tempfile::TempDir,
}

impl Env {
    /// An emulator with validation on, and the network and IAM applied.
    fn new() -> (Env, Value) {
        let (env, doc) = Env::empty();
        let doc = env.tool("phx-net", &["apply"], &doc);
        let doc = env.tool("phx-iam", &["apply"], &ok(&doc));
        (env, ok(&doc))
    }

    /// An emulator with validation on, and the cluster's document.
    fn empty() -> (Env, Value) {
        let dir = tempfile::tempdir().unwrap();
        let amis_path = dir.path().join("amis.json");
        std::fs::write(&amis_path, amis().to_string()).unwrap();
        std::fs::write(dir.path().join("id.pub"), format!("{KEY}\n")).unwrap();
        let moto = Moto::start_with(&[
            ("MOTO_AMIS_PATH", amis_path.to_str().unwrap()),
            ("MOTO_ENABLE_KEYPAIR_VALIDATION", "true"),
            ("MOTO_ENABLE_AMI_VALIDATION", "true"),
            ("MOTO_EC2_ENABLE_INSTANCE_TYPE_VALIDATION", "true"),
        ]);
        let env = Env { moto, dir };
        let doc = json!({"apiVersion": "phx/v1", "kind": "Cluster", "metadata": {"name": "phoenix"},
            "spec": {"region": "us-east-1",
                     "network": {"adminCidrs": ["203.0.113.0/24"]},
                     "nodes": {"ssh": {"publicKeyFile": env.dir.path().join("id.pub")}}}});
        (env, doc)
    }

    fn tool(&self, name: &str, args: &[&str], doc: &Value) -> Output {
        self.command(&phx_testkit::bin(name), args, doc)
    }

    fn nodes(&self, args: &[&str], doc: &Value) -> Output {
        self.command(&assert_cmd::cargo::cargo_bin("phx-nodes"), args, doc)
    }

    fn command(&self, bin: &Path, args: &[&str], doc: &Value) -> Output {
        self.command_with(bin, args, doc, &[])
    }

    /// `tool ARGS` through `proxy`, with `env` besides.
    fn via(&self, proxy: &AwsProxy, tool: &str, args: &[&str], doc: &Value, env: &[(&str, &str)]) -> Output {
        let mut env = env.to_vec();
        let endpoint = proxy.endpoint();
        env.push(("AWS_ENDPOINT_URL", &endpoint));
        self.command_with(&phx_testkit::bin(tool), args, doc, &env)
    }

    fn command_with(&self, bin: &Path, args: &[&str], doc: &Value, env: &[(&str, &str)]) -> Output {
        let mut cmd = assert_cmd::Command::new(bin);
        self.moto.configure(&mut cmd);
        cmd.envs(env.iter().copied());
        cmd.env("PHX_ARTIFACT_MIRROR", mirror())
            .env("PHX_CACHE_DIR", self.dir.path().join("cache"))
            .env("HOME", self.dir.path())
            .args(args)
            .write_stdin(doc.to_string())
            .output()
            .unwrap()
    }

    fn ec2(&self) -> phx_aws::ec2::Client {
        self.moto.aws().ec2()
    }

    /// The cluster's instances that are not terminated, by Name tag.
    fn alive(&self) -> Vec<(String, Instance)> {
        let ec2 = self.ec2();
        let out = phx_testkit::block_on(
            ec2.describe_instances()
                .filters(
                    Filter::builder()
                        .name("tag:kubernetes.io/cluster/phoenix")
                        .values("owned")
                        .build(),
                )
                .filters(
                    Filter::builder()
                        .name("instance-state-name")
                        .values("pending")
                        .values("running")
                        .build(),
                )
                .send(),
        )
        .unwrap();
        let mut v: Vec<(String, Instance)> = out
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .map(|i| (tag(i, "Name").unwrap_or_default().to_string(), i.clone()))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    fn names(&self) -> Vec<String> {
        self.alive().into_iter().map(|(n, _)| n).collect()
    }

    fn key_pairs(&self) -> Vec<String> {
        let out = phx_testkit::block_on(self.ec2().describe_key_pairs().send()).unwrap();
        out.key_pairs()
            .iter()
            .filter_map(|k| k.key_name().map(String::from))
            .collect()
    }
}

fn tag<'a>(i: &'a Instance, key: &str) -> Option<&'a str> {
    i.tags()
        .iter()
        .find(|t| t.key() == Some(key))
        .and_then(|t| t.value())
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn with_workers(doc: &Value, n: u32) -> Value {
    let mut d = doc.clone();
    d["spec"]["nodes"]["workers"] = json!({"count": n, "instanceType": "t3.xlarge", "diskGiB": 50});
    d
}

fn all_names(workers: u32) -> Vec<String> {
    let mut v = vec!["phoenix-control-plane-1".to_string()];
    v.extend((1..=workers).map(|i| format!("phoenix-worker-{i}")));
    v.sort();
    v
}

#[test]
fn fresh_apply_launches_four_secure_nodes_over_three_zones_and_a_rerun_writes_nothing() {
    let (env, doc) = Env::new();
    env.moto.start_recording();
    let out = ok(&env.nodes(&["apply"], &doc));
    assert!(
        env.moto
            .recording()
            .actions()
            .iter()
            .filter(|a| **a == "RunInstances")
            .count()
            == 4,
        "one RunInstances per node"
    );
    let nodes = out["status"]["nodes"]["instances"].as_array().unwrap();
    let names: Vec<&str> = nodes.iter().map(|n| n["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "phoenix-control-plane-1",
            "phoenix-worker-1",
            "phoenix-worker-2",
            "phoenix-worker-3"
        ]
    );
    assert_eq!(nodes[0]["role"], "control-plane");
    assert_eq!(nodes[1]["role"], "worker");

    let alive = env.alive();
    assert_eq!(alive.len(), 4);
    let zones: std::collections::BTreeSet<&str> = alive
        .iter()
        .map(|(_, i)| i.placement().unwrap().availability_zone().unwrap())
        .collect();
    assert_eq!(zones.len(), 3, "spread over three zones: {zones:?}");
    let iam = &doc["status"]["iam"];
    let net = &doc["status"]["network"];
    let ec2 = env.ec2();
    for (name, i) in &alive {
        let node = nodes.iter().find(|n| n["name"] == name.as_str()).unwrap();
        assert_eq!(node["instanceId"], i.instance_id().unwrap());
        assert_eq!(node["privateIp"], i.private_ip_address().unwrap());
        assert_eq!(node["zone"], i.placement().unwrap().availability_zone().unwrap());
        assert_eq!(node["ssh"]["user"], "ubuntu");
        assert_eq!(node["ssh"]["port"], 22);
        assert_eq!(
            node["ssh"]["hostKeys"],
            json!([]),
            "moto's console prints no host keys"
        );
        let host = i.public_ip_address().or(i.private_ip_address()).unwrap();
        assert_eq!(node["ssh"]["host"], host);
        assert_eq!(
            i.image_id(),
            Some(NEWEST_NOBLE),
            "{name}: newest Canonical 24.04 amd64"
        );
        assert_eq!(node["imageId"], NEWEST_NOBLE);
        assert_eq!(i.key_name(), Some("phoenix-key"));
        let md = i.metadata_options().unwrap();
        assert_eq!(md.http_tokens().unwrap().as_str(), "required", "{name}: IMDSv2");
        assert_eq!(md.http_put_response_hop_limit(), Some(2));
        let (slot, sg) = if name.contains("control-plane") {
            ("controlPlane", "controlPlane")
        } else {
            ("workers", "workers")
        };
        assert_eq!(
            i.iam_instance_profile().unwrap().arn().unwrap(),
            iam[slot]["instanceProfileArn"].as_str().unwrap()
        );
        let sgs: Vec<&str> = i.security_groups().iter().filter_map(|g| g.group_id()).collect();
        assert_eq!(sgs, [net["securityGroups"][sg].as_str().unwrap()]);
        let public: Vec<&str> = net["subnets"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["public"] == true)
            .map(|s| s["id"].as_str().unwrap())
            .collect();
        assert!(
            public.contains(&i.subnet_id().unwrap()),
            "{name} in a public subnet"
        );
        assert_eq!(tag(i, "kubernetes.io/cluster/phoenix"), Some("owned"));
        assert_eq!(
            tag(i, "phx:node-role"),
            Some(if name.contains("control-plane") {
                "control-plane"
            } else {
                "worker"
            })
        );
        let instance_type = if name.contains("control-plane") {
            "t3.large"
        } else {
            "t3.xlarge"
        };
        assert_eq!(i.instance_type().unwrap().as_str(), instance_type);
        let root = i
            .block_device_mappings()
            .iter()
            .find(|b| b.device_name() == Some("/dev/sda1"))
            .unwrap();
        let ebs = root.ebs().unwrap();
        assert_eq!(
            ebs.delete_on_termination(),
            Some(true),
            "{name}: root volume goes with it"
        );
        let vol = phx_testkit::block_on(ec2.describe_volumes().volume_ids(ebs.volume_id().unwrap()).send())
            .unwrap();
        let vol = &vol.volumes()[0];
        assert_eq!(vol.encrypted(), Some(true), "{name}: encrypted root volume");
        assert_eq!(vol.volume_type().unwrap().as_str(), "gp3");
        assert_eq!(vol.size(), Some(50));
    }
    assert_eq!(env.key_pairs(), ["phoenix-key"]);

    env.moto.start_recording();
    let again = ok(&env.nodes(&["apply"], &out));
    let rec = env.moto.recording();
    assert!(
        rec.mutating().is_empty(),
        "a re-run changed something: {:?}",
        rec.mutating()
    );
    assert_eq!(again["status"]["nodes"], out["status"]["nodes"]);

    // list: the nodes as JSON when stdout is not a terminal.
    let listed = ok(&env.nodes(&["list"], &out));
    let rows = listed.as_array().unwrap();
    assert_eq!(rows.len(), 4);
    assert!(rows.iter().all(|r| r["state"] == "running"), "{listed}");
    assert_eq!(rows[0]["name"], "phoenix-control-plane-1");
    assert_eq!(rows[3]["role"], "worker");
}

#[test]
fn plan_shows_the_launches_and_changes_nothing() {
    let (env, doc) = Env::new();
    env.moto.start_recording();
    let out = env.nodes(&["plan"], &doc);
    let planned = ok(&out);
    assert!(env.moto.recording().mutating().is_empty());
    assert!(env.alive().is_empty());
    let text = stderr(&out).split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(text.contains("1 to import, 4 to launch"), "{text}");
    for line in [
        "import key-pair phoenix-key",
        "launch instance phoenix-control-plane-1",
        "launch instance phoenix-worker-3",
    ] {
        assert!(text.contains(line), "{line:?} missing from:\n{text}");
    }
    let recorded = &planned["status"]["nodes"];
    assert_eq!(recorded["instances"], json!([]), "{recorded}");
    let plan = recorded["plan"].as_array().unwrap();
    let actions: Vec<(&str, &str)> = plan
        .iter()
        .map(|c| (c["action"].as_str().unwrap(), c["name"].as_str().unwrap()))
        .collect();
    assert_eq!(actions.len(), 7, "{plan:?}");
    assert_eq!(actions[0], ("import", "phoenix-key"));
    assert!(actions[1..5].iter().all(|(a, _)| *a == "launch"), "{plan:?}");
    // The network has two API load balancers (internet-facing, and the
    // internal endpoint): the control plane will be the target of both.
    assert_eq!(actions[5], ("register", "phoenix-control-plane-1"));
    assert_eq!(actions[6], ("register", "phoenix-control-plane-1"));
    assert!(
        plan[5]["detail"]
            .as_str()
            .unwrap()
            .ends_with("in phoenix-api once launched"),
        "{plan:?}"
    );
    assert!(
        plan[6]["detail"]
            .as_str()
            .unwrap()
            .ends_with("in phoenix-api-int once launched"),
        "{plan:?}"
    );

    // Apply does what was planned and drops the plan; a plan of one more
    // worker keeps the instances recorded and lists the one launch.
    let up = ok(&env.nodes(&["apply"], &planned));
    assert!(
        up["status"]["nodes"].get("plan").is_none(),
        "{}",
        up["status"]["nodes"]
    );
    let again = ok(&env.nodes(&["plan"], &with_workers(&up, 4)));
    assert_eq!(
        again["status"]["nodes"]["instances"],
        up["status"]["nodes"]["instances"]
    );
    let plan = again["status"]["nodes"]["plan"].as_array().unwrap();
    assert_eq!(plan.len(), 1, "{plan:?}");
    assert_eq!(plan[0]["name"], "phoenix-worker-4");
}

#[test]
fn status_lists_the_instances_and_what_apply_would_change() {
    let (env, doc) = Env::new();
    env.moto.start_recording();
    let fresh = ok(&env.nodes(&["status"], &doc));
    assert!(env.moto.recording().mutating().is_empty());
    assert_eq!(fresh["inSync"], false, "{fresh}");
    assert_eq!(
        fresh["changes"].as_array().unwrap().len(),
        7,
        "a key, four nodes, the control plane as the target of both API load balancers: {fresh}"
    );
    assert_eq!(fresh["instances"], json!([]));
    let up = ok(&env.nodes(&["apply"], &doc));
    let now = ok(&env.nodes(&["status"], &up));
    assert_eq!(now["inSync"], true, "{now}");
    let names: Vec<&str> = now["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, all_names(3), "{now}");
}

#[test]
fn an_apply_killed_mid_launch_and_run_again_gives_exactly_four_nodes() {
    let (env, doc) = Env::new();
    let proxy = AwsProxy::latency(env.moto.port(), 150);
    let bin = assert_cmd::cargo::cargo_bin("phx-nodes");
    let mut child = env
        .moto
        .process(&bin, &["apply"])
        .env("AWS_ENDPOINT_URL", proxy.endpoint())
        .env("HOME", env.dir.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(doc.to_string().as_bytes())
            .unwrap();
    }
    // Kill it as soon as one instance exists: the launched instances are
    // then known to EC2 but not to any document.
    let start = std::time::Instant::now();
    while env.alive().is_empty() && start.elapsed() < std::time::Duration::from_secs(60) {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    std::thread::sleep(std::time::Duration::from_secs(1));
    let partial = env.names();
    assert!(!partial.is_empty(), "killed before any launch");

    // The re-run starts from the document without status.nodes.
    let out = ok(&env.nodes(&["apply"], &doc));
    assert_eq!(env.names(), all_names(3), "after a kill that left {partial:?}");
    assert_eq!(out["status"]["nodes"]["instances"].as_array().unwrap().len(), 4);
}

#[test]
fn workers_scale_up_and_down_only_with_allow_remove() {
    let (env, doc) = Env::new();
    let three = ok(&env.nodes(&["apply"], &doc));
    let five = ok(&env.nodes(&["apply"], &with_workers(&three, 5)));
    assert_eq!(env.names(), all_names(5));
    let new: Vec<&str> = five["status"]["nodes"]["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(new.len(), 6);
    let before: Vec<_> = env
        .alive()
        .iter()
        .map(|(_, i)| i.instance_id().unwrap().to_string())
        .collect();

    env.moto.start_recording();
    let refused = env.nodes(&["apply"], &with_workers(&five, 3));
    assert_eq!(refused.status.code(), Some(65), "{}", stderr(&refused));
    let msg = stderr(&refused);
    assert!(
        msg.contains("phoenix-worker-5, phoenix-worker-4")
            && msg.contains("--allow-remove")
            && msg.contains("drain"),
        "{msg}"
    );
    assert_eq!(msg.trim().lines().count(), 1, "one line: {msg}");
    assert!(env.moto.recording().mutating().is_empty());
    assert_eq!(env.names(), all_names(5));

    let three_again = ok(&env.nodes(&["apply", "--allow-remove"], &with_workers(&five, 3)));
    assert_eq!(env.names(), all_names(3));
    let kept: Vec<_> = env
        .alive()
        .iter()
        .map(|(_, i)| i.instance_id().unwrap().to_string())
        .collect();
    assert!(
        kept.iter().all(|id| before.contains(id)),
        "survivors are the same instances"
    );
    assert_eq!(
        three_again["status"]["nodes"]["instances"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
}

#[test]
fn a_missing_key_or_an_unknown_instance_type_is_refused_before_any_change() {
    let (env, doc) = Env::new();
    let mut missing = doc.clone();
    missing["spec"]["nodes"]["ssh"]["publicKeyFile"] = json!("/nonexistent/id_ed25519.pub");
    env.moto.start_recording();
    let out = env.nodes(&["apply"], &missing);
    assert_eq!(out.status.code(), Some(65));
    let msg = stderr(&out);
    assert!(
        msg.starts_with("phx-nodes: ") && msg.contains("ssh-keygen"),
        "{msg}"
    );
    assert_eq!(
        env.moto.recording().len(),
        0,
        "no call at all for a missing key file"
    );
    // The document still flows, marked with the error.
    let passed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(passed["error"]["tool"], "phx-nodes");

    // No key anywhere (no file configured, empty HOME): says how to make one.
    let mut none = doc.clone();
    none["spec"]["nodes"]["ssh"]
        .as_object_mut()
        .unwrap()
        .remove("publicKeyFile");
    std::fs::create_dir_all(env.dir.path().join(".ssh")).unwrap();
    let out = env.nodes(&["apply"], &none);
    assert_eq!(out.status.code(), Some(65));
    assert!(stderr(&out).contains("id_ed25519.pub"), "{}", stderr(&out));

    let mut bad = doc.clone();
    bad["spec"]["nodes"]["workers"] = json!({"count": 3, "instanceType": "t3.huge", "diskGiB": 50});
    env.moto.start_recording();
    let out = env.nodes(&["apply"], &bad);
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
    assert!(stderr(&out).contains("t3.huge"), "{}", stderr(&out));
    assert!(env.moto.recording().mutating().is_empty());
    assert!(env.alive().is_empty() && env.key_pairs().is_empty());
}

#[test]
fn a_changed_public_key_is_reimported_and_the_image_kept() {
    let (env, doc) = Env::new();
    let first = ok(&env.nodes(&["apply"], &doc));
    std::fs::write(env.dir.path().join("id.pub"), format!("{OTHER_KEY}\n")).unwrap();
    env.moto.start_recording();
    let out = ok(&env.nodes(&["apply"], &with_workers(&first, 4)));
    let rec = env.moto.recording();
    let writes: Vec<&str> = rec.mutating().iter().map(|c| c.action.as_str()).collect();
    assert_eq!(
        writes,
        ["DeleteKeyPair", "ImportKeyPair", "RunInstances"],
        "{writes:?}"
    );
    let w4 = out["status"]["nodes"]["instances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "phoenix-worker-4")
        .unwrap()
        .clone();
    assert_eq!(w4["imageId"], NEWEST_NOBLE);
}

#[test]
fn destroy_terminates_every_instance_and_deletes_the_key_pair() {
    let (env, doc) = Env::new();
    let up = ok(&env.nodes(&["apply"], &doc));
    assert_eq!(env.names().len(), 4);
    let down = ok(&env.nodes(&["destroy"], &up));
    assert!(env.alive().is_empty());
    assert!(env.key_pairs().is_empty());
    assert!(down["status"].get("nodes").is_none());
    env.moto.start_recording();
    ok(&env.nodes(&["destroy"], &down));
    assert!(
        env.moto.recording().mutating().is_empty(),
        "a second destroy changes nothing"
    );
}

impl Env {
    /// The IPs registered with the API load balancer's target group.
    fn api_targets(&self, doc: &Value) -> Vec<String> {
        self.targets_of(doc, "apiLoadBalancer")
    }

    /// The IPs registered with `status.network.LB`'s target group.
    fn targets_of(&self, doc: &Value, lb: &str) -> Vec<String> {
        let tg = doc["status"]["network"][lb]["targetGroupArn"]
            .as_str()
            .unwrap()
            .to_string();
        let elbv2 = self.moto.aws().elbv2();
        let out = phx_testkit::block_on(elbv2.describe_target_health().target_group_arn(tg).send()).unwrap();
        let mut ips: Vec<String> = out
            .target_health_descriptions()
            .iter()
            .map(|d| d.target().unwrap().id().unwrap().to_string())
            .collect();
        ips.sort();
        ips
    }
}

/// Three control planes behind the API load balancer: each registered by
/// private IP once it has one, in the plan first; workers never; a re-run
/// registers nothing again; destroy deregisters them with the machines.
#[test]
fn the_control_planes_are_the_api_load_balancers_targets() {
    let (env, mut doc) = Env::new();
    doc["spec"]["nodes"]["controlPlane"] = json!({"count": 3, "instanceType": "t3.large", "diskGiB": 50});
    let planned = ok(&env.nodes(&["plan"], &doc));
    assert!(env.api_targets(&doc).is_empty());
    let launches = planned["status"]["nodes"]["plan"].as_array().unwrap();
    assert_eq!(launches.iter().filter(|c| c["action"] == "launch").count(), 6);

    let up = ok(&env.nodes(&["apply"], &doc));
    let mut cps: Vec<String> = up["status"]["nodes"]["instances"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["role"] == "control-plane")
        .map(|n| n["privateIp"].as_str().unwrap().to_string())
        .collect();
    cps.sort();
    assert_eq!(cps.len(), 3);
    assert_eq!(env.api_targets(&up), cps);
    assert_eq!(
        env.targets_of(&up, "apiInternalLoadBalancer"),
        cps,
        "the endpoint's targets"
    );

    // Converged: nothing to register, nothing written.
    env.moto.start_recording();
    let again = ok(&env.nodes(&["plan"], &up));
    assert_eq!(
        again["status"]["nodes"]["plan"],
        json!([]),
        "{}",
        again["status"]["nodes"]
    );
    ok(&env.nodes(&["apply"], &up));
    assert!(
        env.moto.recording().mutating().is_empty(),
        "{:?}",
        env.moto.recording().mutating()
    );

    // A target that is no control plane's (left by hand, or a replaced
    // machine's) is planned away and deregistered.
    let tg = up["status"]["network"]["apiLoadBalancer"]["targetGroupArn"]
        .as_str()
        .unwrap();
    let elbv2 = env.moto.aws().elbv2();
    let stray = phx_aws::elbv2::types::TargetDescription::builder()
        .id("10.0.99.9")
        .port(6443)
        .build();
    phx_testkit::block_on(
        elbv2
            .register_targets()
            .target_group_arn(tg)
            .targets(stray)
            .send(),
    )
    .unwrap();
    let drift = ok(&env.nodes(&["plan"], &up));
    let plan = drift["status"]["nodes"]["plan"].as_array().unwrap();
    assert_eq!(plan.len(), 1, "{plan:?}");
    assert_eq!(
        (plan[0]["action"].as_str(), plan[0]["name"].as_str()),
        (Some("deregister"), Some("10.0.99.9"))
    );
    ok(&env.nodes(&["apply"], &up));
    assert_eq!(env.api_targets(&up), cps);

    let down = ok(&env.nodes(&["destroy"], &up));
    assert!(env.api_targets(&down).is_empty());
    assert!(env.targets_of(&down, "apiInternalLoadBalancer").is_empty());
}

/// 3 -> 1 control planes: the two beyond the count stay (still targets)
/// until phx-kubeadm records that they left the cluster, and even then go
/// only with --allow-remove: deregistered and terminated, the first
/// control plane and the workers untouched.
#[test]
fn control_planes_beyond_the_count_go_only_once_they_left() {
    let (env, mut doc) = Env::new();
    doc["spec"]["nodes"]["controlPlane"] = json!({"count": 3, "instanceType": "t3.large", "diskGiB": 50});
    let up = ok(&env.nodes(&["apply"], &doc));
    let ip = |d: &Value, name: &str| -> String {
        d["status"]["nodes"]["instances"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["name"] == name)
            .unwrap()["privateIp"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let mut shrunk = up.clone();
    shrunk["spec"]["nodes"]["controlPlane"]["count"] = json!(1);

    // Not left yet: kept, even with the flag.
    let kept = ok(&env.nodes(&["apply", "--allow-remove"], &shrunk));
    assert_eq!(env.names(), all_names_with(3, 3));
    assert_eq!(env.api_targets(&kept).len(), 3);

    // phx-kubeadm says they left: the plan terminates them, apply without
    // the flag still keeps them, with it they go.
    let mut left = kept.clone();
    left["status"]["kubeadm"] = json!({"nodes": {
        "phoenix-control-plane-1": {"prepared": true, "member": true},
        "phoenix-control-plane-2": {"prepared": false, "member": false},
        "phoenix-control-plane-3": {"prepared": false, "member": false}}});
    let planned = ok(&env.nodes(&["plan"], &left));
    let terminations: Vec<&str> = planned["status"]["nodes"]["plan"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] == "terminate")
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        terminations,
        ["phoenix-control-plane-2", "phoenix-control-plane-3"]
    );
    ok(&env.nodes(&["apply"], &left));
    assert_eq!(
        env.names(),
        all_names_with(3, 3),
        "terminated without --allow-remove"
    );

    let done = ok(&env.nodes(&["apply", "--allow-remove"], &left));
    assert_eq!(env.names(), all_names_with(1, 3));
    assert_eq!(env.api_targets(&done), [ip(&kept, "phoenix-control-plane-1")]);
    let recorded: Vec<&str> = done["status"]["nodes"]["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert!(!recorded.contains(&"phoenix-control-plane-2"), "{recorded:?}");
}

fn all_names_with(control_planes: u32, workers: u32) -> Vec<String> {
    let mut v: Vec<String> = (1..=control_planes)
        .map(|i| format!("phoenix-control-plane-{i}"))
        .chain((1..=workers).map(|i| format!("phoenix-worker-{i}")))
        .collect();
    v.sort();
    v
}

/// #20: a fifth of the requests answered with the service's throttling
/// error (EC2 RequestLimitExceeded, IAM Throttling), as a busy account
/// gets them: a fresh network, IAM and nodes converge in one run, in each
/// of ten seeded trials, and the runs count the requests they sent again.
/// The trials run side by side: each mostly waits out its backoff.
#[test]
fn a_fresh_cluster_converges_in_one_run_with_a_fifth_of_the_requests_throttled() {
    // Built before any trial times them.
    for tool in ["phx-net", "phx-iam", "phx-nodes"] {
        phx_testkit::bin(tool);
    }
    let figures: Vec<String> = std::thread::scope(|s| {
        let trials: Vec<_> = (1..=10)
            .map(|seed| s.spawn(move || throttled_trial(seed)))
            .collect();
        trials.into_iter().map(|t| t.join().unwrap()).collect()
    });
    for f in figures {
        eprintln!("{f}");
    }
}

/// One trial of the test above: its figures.
fn throttled_trial(seed: u64) -> String {
    let (env, mut doc) = Env::empty();
    let proxy = AwsProxy::start(
        env.moto.port(),
        Faults {
            throttle: 0.2,
            seed,
            ..Faults::default()
        },
    );
    let started = std::time::Instant::now();
    let mut retries = 0;
    let mut took = Vec::new();
    for tool in ["phx-net", "phx-iam", "phx-nodes"] {
        let t = std::time::Instant::now();
        let out = env.via(&proxy, tool, &["apply"], &doc, &[("PHX_STAGE_LINES", "1")]);
        let said = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(out.status.success(), "seed {seed}: {tool}: {said}");
        // `phx-net: done in 1.2 s; 7 retries`
        retries += said
            .lines()
            .filter_map(|l| {
                let (_, done) = l.split_once(&format!("{tool}: done in "))?;
                done.split_once("; ")?.1.split_once(' ')?.0.parse::<u64>().ok()
            })
            .sum::<u64>();
        took.push(format!("{tool} {:.1} s", t.elapsed().as_secs_f64()));
        doc = ok(&out);
    }
    assert_eq!(env.names(), all_names(3), "seed {seed}");
    let stats = proxy.stats();
    assert!(stats.throttled > 0, "seed {seed}: {stats:?}");
    assert_eq!(
        retries, stats.throttled,
        "seed {seed}: every throttled request was sent again, and counted"
    );
    format!(
        "seed {seed}: {} requests, {} throttled, {:.1} s ({})",
        stats.requests,
        stats.throttled,
        started.elapsed().as_secs_f64(),
        took.join(", ")
    )
}

/// #20: throttled beyond what `--timeout` allows, the run stops saying AWS
/// held it back, and the document it writes keeps what it made.
#[test]
fn a_run_throttled_beyond_its_timeout_says_so_and_keeps_what_it_made() {
    let (env, doc) = Env::new();
    let proxy = AwsProxy::start(
        env.moto.port(),
        Faults {
            throttle: 0.6,
            seed: 7,
            ..Faults::default()
        },
    );
    let out = env.via(
        &proxy,
        "phx-nodes",
        &["apply", "--timeout", "2s"],
        &with_workers(&doc, 6),
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stderr);
    let last = said.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("phx-nodes: ")
            && last.contains("gave up at --timeout: AWS held the run back (")
            // The last failure: EC2's or IAM's throttling, whichever came last.
            && ["AWS answered RequestLimitExceeded (HTTP 503)", "AWS answered Throttling (HTTP 400)"]
                .iter()
                .any(|t| last.contains(t)),
        "{said}"
    );
    let written: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(written["error"]["tool"], "phx-nodes", "{written}");
    // What it launched before it gave up is recorded or tagged: a re-run
    // without throttling finds it and makes exactly the rest.
    let mut again = written.clone();
    again.as_object_mut().unwrap().remove("error");
    let out = ok(&env.nodes(&["apply"], &again));
    assert_eq!(out["error"], Value::Null);
    assert_eq!(env.names(), all_names(6));
}

/// #20: phx-net and phx-iam, throttled beyond their `--timeout`, stop
/// saying AWS held them back; what they made is in the document or found
/// by its tags, and a run without throttling makes exactly the rest: one
/// VPC, both roles.
#[test]
fn network_and_iam_throttled_beyond_their_timeout_say_so_and_keep_what_they_made() {
    let (env, doc) = Env::empty();
    let proxy = AwsProxy::start(
        env.moto.port(),
        Faults {
            throttle: 0.6,
            seed: 11,
            ..Faults::default()
        },
    );
    let mut doc = doc;
    for tool in ["phx-net", "phx-iam"] {
        let out = env.via(&proxy, tool, &["apply", "--timeout", "2s"], &doc, &[]);
        let said = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{said}");
        let last = said.lines().last().unwrap_or_default();
        assert!(
            last.starts_with(&format!("{tool}: "))
                && last.contains("gave up at --timeout: AWS held the run back (")
                && last.contains("the last failure: AWS answered "),
            "{said}"
        );
        let mut written: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(written["error"]["tool"], tool, "{written}");
        written.as_object_mut().unwrap().remove("error");
        doc = ok(&env.tool(tool, &["apply"], &written));
    }
    let vpcs = phx_testkit::block_on(env.ec2().describe_vpcs().send()).unwrap();
    let ours = vpcs
        .vpcs()
        .iter()
        .filter(|v| {
            v.tags()
                .iter()
                .any(|t| t.key() == Some("kubernetes.io/cluster/phoenix"))
        })
        .count();
    assert_eq!(ours, 1, "{vpcs:?}");
    let iam = &doc["status"]["iam"];
    assert_eq!(iam["controlPlane"]["role"], "phoenix-control-plane", "{doc}");
    assert_eq!(iam["workers"]["role"], "phoenix-worker", "{doc}");
}

/// #20: `AWS_MAX_ATTEMPTS` / `AWS_RETRY_MODE` override phx's 25 attempts,
/// as for every AWS tool: with every request throttled, one call (`phx-state
/// whoami`, STS GetCallerIdentity) is sent exactly as often as they say
/// (the SDK's own default is 3), then fails with AWS's error; its retries
/// are said at -v one by one, and once on the default level.
#[test]
fn aws_max_attempts_and_retry_mode_override_the_retry_policy() {
    let (env, doc) = Env::empty();
    for (var, value, sent, verbose) in [
        ("AWS_MAX_ATTEMPTS", "1", 1, false),
        ("AWS_MAX_ATTEMPTS", "4", 4, true),
        ("AWS_RETRY_MODE", "standard", 3, false),
    ] {
        let proxy = AwsProxy::start(
            env.moto.port(),
            Faults {
                throttle: 1.0,
                ..Faults::default()
            },
        );
        let args: &[&str] = if verbose { &["whoami", "-v"] } else { &["whoami"] };
        let out = env.via(&proxy, "phx-state", args, &doc, &[(var, value)]);
        let said = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{var}={value}: {said}");
        assert!(
            said.lines().last().unwrap_or_default().contains("Throttling"),
            "{var}={value}: {said}"
        );
        assert_eq!(proxy.stats().requests, sent, "{var}={value}: {said}");
        // At -v each retry says what and why; on the default level, that
        // AWS holds the run back (once: at most every 10 s).
        let each = |l: &&str| l.contains("GetCallerIdentity: Throttling (HTTP 400); attempt ");
        let backing_off = |l: &&str| l.contains("backing off: AWS answered Throttling (HTTP 400)");
        let (each, backing_off) = (
            said.lines().filter(each).count() as u64,
            said.lines().filter(backing_off).count(),
        );
        assert_eq!(each, if verbose { sent - 1 } else { 0 }, "{var}={value}: {said}");
        assert_eq!(backing_off, usize::from(sent > 1), "{var}={value}: {said}");
    }
}

/// #20: calls that scale with the cluster are bounded: 100 workers launch
/// with at most PHX_AWS_IN_FLIGHT calls in flight at once (counted by the
/// proxy, each call held 20 ms so that overlaps show).
#[test]
fn a_hundred_workers_launch_with_a_bounded_number_of_calls_in_flight() {
    let (env, doc) = Env::new();
    let proxy = AwsProxy::start(
        env.moto.port(),
        Faults {
            delay_ms: 20,
            ..Faults::default()
        },
    );
    let out = env.via(
        &proxy,
        "phx-nodes",
        &["apply"],
        &with_workers(&doc, 100),
        &[("PHX_AWS_IN_FLIGHT", "8")],
    );
    let out = ok(&out);
    assert_eq!(out["status"]["nodes"]["instances"].as_array().unwrap().len(), 101);
    let stats = proxy.stats();
    assert!(
        (2..=8).contains(&stats.max_in_flight),
        "side by side, at most 8 at once: {stats:?}"
    );
}
