//! AWS's network on the real sandbox (#31): the sandbox enforces security
//! groups, the internet gateway's addresses and the load balancers' groups
//! from what the emulator holds (`scripts/sandbox/awsnet.py`), so these
//! tests fail where AWS would refuse traffic.
//!
//! - The layout phx had before #31 (kubeadm's endpoint the internet-facing
//!   load balancer's name, nodes in public subnets) fails as it would on
//!   AWS: the control plane reaches its own endpoint from its public IP,
//!   which the load balancer's group does not allow.
//! - On the default cluster, every rule whose traffic the sandbox carries
//!   is needed: each one revoked breaks what it is for, and comes back when
//!   it is authorized again (the sandbox re-reads the groups every second).

#![allow(clippy::unwrap_used)]

mod common;

use common::wait_for;
use phx_aws::ec2::types::{IpPermission, IpRange, UserIdGroupPair};
use phx_testkit::{success, LocalSandbox};
use serde_json::Value;
use std::io::Read;
use std::net::TcpStream;
use std::process::{Command, Output};
use std::time::Duration;

/// The sandbox's internet (scripts/sandbox/awsnet.py).
const ADMIN: &str = "198.18.0.10";
const STRANGER: &str = "198.18.0.66";
const AWS_API: &str = "198.18.0.5";

fn ec2(sb: &LocalSandbox) -> phx_aws::ec2::Client {
    phx_testkit::block_on(phx_aws::load_for_endpoint(
        &sb.env("AWS_ENDPOINT_URL"),
        "us-east-1",
    ))
    .ec2()
}

/// The address a name resolves to on the nodes (their shared hosts file).
fn address_of(sb: &LocalSandbox, name: &str) -> String {
    let hosts = std::fs::read_to_string(sb.dir().join("hosts")).unwrap();
    hosts
        .lines()
        .find_map(|l| {
            let mut w = l.split_whitespace();
            let addr = w.next()?;
            w.any(|n| n == name).then(|| addr.to_string())
        })
        .unwrap_or_else(|| panic!("{name} does not resolve on the nodes: {hosts}"))
}

/// `cmd ARGS` inside the sandbox's network namespace `which` (`inet`,
/// `vpc`, `n2`, ...).
fn in_ns(sb: &LocalSandbox, which: &str, cmd: &[&str]) -> Output {
    Command::new("ip")
        .args(["netns", "exec", &format!("{}-{which}", sb.netns_prefix())])
        .args(cmd)
        .output()
        .unwrap()
}

/// GET https://ADDR:6443/readyz from namespace `which`, from `source`
/// when given: curl's exit code (28: no answer in time) and body.
fn readyz(sb: &LocalSandbox, which: &str, source: Option<&str>, addr: &str) -> (i32, String) {
    let url = format!("https://{addr}:6443/readyz");
    let mut cmd = vec!["curl", "-sk", "--max-time", "4"];
    if let Some(s) = source {
        cmd.extend(["--interface", s]);
    }
    cmd.push(&url);
    let out = in_ns(sb, which, &cmd);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// A TCP connection from namespace `which` to ADDR:PORT within 3 s.
fn connects(sb: &LocalSandbox, which: &str, addr: &str, port: u16) -> bool {
    let probe = format!("exec 3<>/dev/tcp/{addr}/{port}");
    in_ns(sb, which, &["timeout", "3", "bash", "-c", &probe])
        .status
        .success()
}

/// Node `name`'s SSH answers with its banner at its endpoint (what every
/// phx-kubeadm run needs first).
fn ssh_answers(doc: &Value, name: &str) -> bool {
    let ep = doc["spec"]["nodes"]["ssh"]["endpoints"][name].as_str().unwrap();
    let Ok(mut s) = TcpStream::connect(ep) else {
        return false;
    };
    s.set_read_timeout(Some(Duration::from_secs(12))).unwrap();
    let mut banner = [0u8; 7];
    s.read_exact(&mut banner).is_ok() && &banner == b"SSH-2.0"
}

/// `group`'s rule letting everything in from `source`, as the emulator
/// holds it (moto matches a revoke's group pair with its description).
fn from_group(ec2: &phx_aws::ec2::Client, group: &str, source: &str) -> IpPermission {
    let out = phx_testkit::block_on(ec2.describe_security_groups().group_ids(group).send()).unwrap();
    let pair: UserIdGroupPair = out.security_groups()[0]
        .ip_permissions()
        .iter()
        .filter(|p| p.ip_protocol() == Some("-1"))
        .flat_map(|p| p.user_id_group_pairs())
        .find(|g| g.group_id() == Some(source))
        .unwrap_or_else(|| panic!("{group} has no rule from {source}: {out:?}"))
        .clone();
    IpPermission::builder()
        .ip_protocol("-1")
        .user_id_group_pairs(pair)
        .build()
}

fn cidr(c: &str) -> IpPermission {
    IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(6443)
        .to_port(6443)
        .ip_ranges(IpRange::builder().cidr_ip(c).build())
        .build()
}

/// `perm` revoked from (`on` false) or authorized again on `group`'s
/// ingress, or egress.
fn set_rule(
    ec2: &phx_aws::ec2::Client,
    group: &str,
    perm: &IpPermission,
    egress: bool,
    on: bool,
) -> Result<(), String> {
    let p = perm.clone();
    let e = |e: &dyn std::fmt::Debug| format!("{e:?}");
    phx_testkit::block_on(async {
        match (egress, on) {
            (false, false) => ec2
                .revoke_security_group_ingress()
                .group_id(group)
                .ip_permissions(p)
                .send()
                .await
                .map(drop)
                .map_err(|x| e(&x)),
            (false, true) => ec2
                .authorize_security_group_ingress()
                .group_id(group)
                .ip_permissions(p)
                .send()
                .await
                .map(drop)
                .map_err(|x| e(&x)),
            (true, false) => ec2
                .revoke_security_group_egress()
                .group_id(group)
                .ip_permissions(p)
                .send()
                .await
                .map(drop)
                .map_err(|x| e(&x)),
            (true, true) => ec2
                .authorize_security_group_egress()
                .group_id(group)
                .ip_permissions(p)
                .send()
                .await
                .map(drop)
                .map_err(|x| e(&x)),
        }
    })
}

/// Revoke `perm` from `group`, check `broken` becomes true, authorize it
/// again, and check it heals (the sandbox re-reads groups every second).
fn without(
    ec2: &phx_aws::ec2::Client,
    group: &str,
    perm: IpPermission,
    egress: bool,
    what: &str,
    mut broken: impl FnMut() -> bool,
) {
    assert!(
        !broken(),
        "{what}: the traffic does not flow before the rule is revoked"
    );
    set_rule(ec2, group, &perm, egress, false).unwrap_or_else(|e| panic!("revoking {what}: {e}"));
    // A probe may itself wait up to 12 s (SSH's forward gives up at 10 s).
    wait_for(&format!("{what} revoked: the traffic stops"), 30, &mut broken);
    set_rule(ec2, group, &perm, egress, true).unwrap_or_else(|e| panic!("authorizing {what} again: {e}"));
    wait_for(&format!("{what} back: the traffic flows"), 30, || !broken());
}

#[test]
fn todays_layout_fails_as_on_aws_where_the_endpoint_is_the_public_load_balancer() {
    let sb = LocalSandbox::up_real(4);
    // The network, roles and machines as deploy.sh makes them; then the
    // internal load balancer taken out of the document: phx-kubeadm sees
    // only the internet-facing one and makes it the endpoint, as phx did
    // before #31 (the switch is this test's, not a user's).
    let made = sb.shell(
        "phx-state lock < cluster.json | phx-net apply | phx-iam apply \
         | jq 'del(.status.network.apiInternalLoadBalancer)' | phx-nodes apply > before.json",
    );
    success("network, roles and nodes", &made);
    let doc: Value = serde_json::from_slice(&std::fs::read(sb.dir().join("before.json")).unwrap()).unwrap();
    let public = doc["status"]["network"]["apiLoadBalancer"]["dnsName"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        doc["status"]["network"]["apiLoadBalancer"]["scheme"],
        "internet-facing"
    );
    assert!(doc["status"]["network"]["apiInternalLoadBalancer"].is_null());

    let out = sb.shell("phx-kubeadm apply < before.json > after.json");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    // kubeadm init on the control plane cannot reach its own endpoint: the
    // load balancer's group sees the node's public IP (the internet
    // gateway's translation), which only the VPC and adminCidrs may use.
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.contains(&format!("https://{public}:6443/")) && last.contains("context deadline exceeded"),
        "{last}"
    );
    let after: Value = serde_json::from_slice(&std::fs::read(sb.dir().join("after.json")).unwrap()).unwrap();
    assert_eq!(
        after["error"]["tool"], "phx-kubeadm",
        "the failure is recorded: {after}"
    );
    // The refusal is the group's, by source: the admin gets through the
    // same load balancer to the same API server, the control plane does not.
    let public_addr = address_of(&sb, &public);
    assert_eq!(readyz(&sb, "n1", None, &public_addr).0, 28);
    assert_eq!(readyz(&sb, "inet", Some(ADMIN), &public_addr), (0, "ok".into()));
}

#[test]
fn the_default_cluster_needs_every_rule_phx_makes() {
    let sb = LocalSandbox::up_real(4);
    success("deploy.sh", &sb.run("scripts/deploy.sh", &["cluster.json"]));
    let doc = sb.stored();
    let net = &doc["status"]["network"];
    let public = net["apiLoadBalancer"]["dnsName"].as_str().unwrap();
    let internal = net["apiInternalLoadBalancer"]["dnsName"].as_str().unwrap();
    assert_eq!(net["apiInternalLoadBalancer"]["scheme"], "internal");
    assert_eq!(
        doc["status"]["kubeadm"]["controlPlaneEndpoint"],
        format!("{internal}:6443"),
        "the nodes' endpoint is the internal load balancer"
    );
    let (public_addr, internal_addr) = (address_of(&sb, public), address_of(&sb, internal));

    // Nothing of the sandbox's network is in the host's own namespace.
    let host = Command::new("nft").args(["list", "tables"]).output().unwrap();
    assert!(host.status.success());
    let tables = String::from_utf8_lossy(&host.stdout);
    assert!(
        !tables.contains("phx_"),
        "rules in the host's namespace: {tables}"
    );
    assert!(
        String::from_utf8_lossy(&in_ns(&sb, "n2", &["nft", "list", "tables"]).stdout).contains("phx_sg"),
        "the node's security groups are enforced"
    );

    // The internet-facing load balancer answers the admin (adminCidrs) and
    // no one else on the internet; a node, leaving with its public IP, is
    // refused too, and uses the internal one.
    assert_eq!(readyz(&sb, "inet", Some(ADMIN), &public_addr), (0, "ok".into()));
    assert_eq!(
        readyz(&sb, "inet", Some(STRANGER), &public_addr).0,
        28,
        "a stranger reaches the API"
    );
    assert_eq!(
        readyz(&sb, "n2", None, &public_addr).0,
        28,
        "a node through the public load balancer"
    );
    assert_eq!(readyz(&sb, "n2", None, &internal_addr), (0, "ok".into()));
    // A stranger reaches no node's SSH either.
    let worker_ip = doc["status"]["nodes"]["instances"][1]["publicIp"]
        .as_str()
        .unwrap()
        .to_string();
    let from_stranger = in_ns(
        &sb,
        "inet",
        &[
            "curl",
            "-s",
            "--max-time",
            "3",
            "--interface",
            STRANGER,
            &format!("telnet://{worker_ip}:22"),
        ],
    );
    assert_eq!(from_stranger.status.code(), Some(28), "a stranger reaches SSH");

    // Each rule the sandbox carries traffic for, revoked and brought back.
    let ec2 = ec2(&sb);
    let groups = &net["securityGroups"];
    let (cp_sg, workers_sg, lb_sg) = (
        groups["controlPlane"].as_str().unwrap(),
        groups["workers"].as_str().unwrap(),
        groups["apiLoadBalancer"].as_str().unwrap(),
    );
    let vpc = net["vpcCidr"].as_str().unwrap();
    let admin = format!("{ADMIN}/32");
    let worker = doc["status"]["nodes"]["instances"][1]["name"]
        .as_str()
        .unwrap()
        .to_string();

    // SSH from admins: phx-kubeadm's way in.
    let ssh = IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(22)
        .to_port(22)
        .ip_ranges(IpRange::builder().cidr_ip(&admin).build())
        .build();
    without(&ec2, workers_sg, ssh, false, "SSH from admins", || {
        !ssh_answers(&doc, &worker)
    });
    // 6443 from admins on the load balancer: kubectl.
    without(&ec2, lb_sg, cidr(&admin), false, "the API from admins", || {
        readyz(&sb, "inet", Some(ADMIN), &public_addr).0 != 0
    });
    // 6443 from the VPC on the load balancer: the nodes' endpoint
    // (kubelets, kube-proxy, joins).
    without(&ec2, lb_sg, cidr(vpc), false, "the API from the VPC", || {
        readyz(&sb, "n2", None, &internal_addr).0 != 0
    });
    // 6443 from the VPC on the control planes: the load balancers' own
    // traffic and health checks (their private addresses).
    without(
        &ec2,
        cp_sg,
        cidr(vpc),
        false,
        "the API server from the load balancers",
        || readyz(&sb, "inet", Some(ADMIN), &public_addr).1 != "ok",
    );
    // Node to node: the workers' kubelets to the control plane's API server
    // directly, and etcd and the kubelets' 10250 the other way.
    let peers = from_group(&ec2, cp_sg, workers_sg);
    let cp_ip = doc["status"]["nodes"]["instances"][0]["privateIp"]
        .as_str()
        .unwrap()
        .to_string();
    without(&ec2, cp_sg, peers, false, "node to node from the workers", || {
        !connects(&sb, "n2", &cp_ip, 2379)
    });
    // Everything out (AWS's default egress rule): the cloud controller
    // manager's way to the AWS API, through the internet gateway.
    let aws_port: u16 = sb
        .env("AWS_ENDPOINT_URL")
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let all_out = IpPermission::builder()
        .ip_protocol("-1")
        .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
        .build();
    without(&ec2, cp_sg, all_out, true, "everything out", || {
        !connects(&sb, "n1", AWS_API, aws_port)
    });

    // The cluster is whole again: every node Ready through the admin's way in.
    success("kubectl get nodes", &sb.kubectl(&["get", "nodes"]));
    success(
        "destroy.sh",
        &sb.run("scripts/destroy.sh", &["--yes", "cluster.json"]),
    );
    let left = sb.inventory();
    assert_eq!(left, serde_json::json!({}), "destroy left: {left}");
}
