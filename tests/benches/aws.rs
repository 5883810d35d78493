//! The AWS benchmark (`just bench-aws`): phx-net and phx-iam against the
//! emulator behind a proxy that adds 100 ms to every request, as a real AWS
//! endpoint would. It prints, per run, the calls made (reads and writes),
//! the wall time, and the wall time divided by the longest chain of
//! dependent calls times 100 ms: 1.0 would be perfect overlap of all
//! independent calls. A first round without latency measures what the
//! emulator and the processes cost by themselves, so the second round can
//! also show the share that is waiting on latency. Goals: a ratio of at
//! most 1.3 for the applies, and a no-op apply of both tools in at most 12
//! reads and 0 writes; deploy.sh's side-by-side phx-net & phx-iam stage
//! fresh in at most 1.0 s at 100 ms per request.

#![allow(clippy::unwrap_used, clippy::print_stdout)] // a benchmark reports by printing

use phx_testkit::{bin, mirror, path_with_bins, workspace_root, AwsProxy, Moto};
use std::io::Write;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

const DELAY_MS: u64 = 100;

/// The longest chain of dependent calls of each run, read off the code:
/// phx-net apply: discovery (one round on a fresh network), CreateVpc,
/// CreateSubnet, CreateNatGateway, DescribeNatGateways (available),
/// CreateRoute.
/// phx-iam apply: GetAccountAuthorizationDetails, CreateRole |
/// CreateInstanceProfile, PutRolePolicy | AttachRolePolicy |
/// AddRoleToInstanceProfile, GetInstanceProfile (usable).
/// phx-iam destroy: the read, RemoveRoleFromInstanceProfile |
/// DeleteRolePolicy | DetachRolePolicy, DeleteInstanceProfile, DeleteRole.
/// phx-net destroy: discovery (2), load balancers (1), their security
/// groups (1), network interfaces (1), NAT / route tables / cross-group
/// rules (2), internet gateway (2), VPC (1).
/// The side-by-side runs are deploy.sh's and destroy.sh's own stage
/// (scripts/lib/pipeline.sh: both tools on one input, then `phx-state
/// join`), so their wall time is what a deploy waits for; their chain is
/// the longer member's.
const RUNS: &[(&str, &str, &str, u32)] = &[
    ("phx-net apply (fresh)", "phx-net", "apply", 6),
    ("phx-iam apply (fresh)", "phx-iam", "apply", 4),
    ("phx-net apply (no-op)", "phx-net", "apply", 2),
    ("phx-iam apply (no-op)", "phx-iam", "apply", 1),
    ("phx-iam destroy", "phx-iam", "destroy", 4),
    ("phx-net destroy", "phx-net", "destroy", 10),
    (
        "net & iam apply (fresh)",
        SIDE_BY_SIDE,
        "phx-net apply -q & phx-iam apply -q",
        6,
    ),
    (
        "net & iam apply (no-op)",
        SIDE_BY_SIDE,
        "phx-net apply -q & phx-iam apply -q",
        2,
    ),
    (
        "iam & net destroy",
        SIDE_BY_SIDE,
        "phx-iam destroy -q & phx-net destroy -q",
        10,
    ),
];

/// A run of pipeline.sh's `run_stage` (its "verb" is the stage).
const SIDE_BY_SIDE: &str = "run_stage";

fn main() {
    // Built (if need be) before anything is timed.
    let bins: Vec<PathBuf> = RUNS
        .iter()
        .map(|r| match r.1 {
            SIDE_BY_SIDE => PathBuf::from("bash"),
            tool => bin(tool),
        })
        .collect();
    println!("phx AWS benchmark: phx-net and phx-iam against moto (threaded) through a proxy, release build");
    let base = run_all(&bins, 0, &[]);
    run_all(&bins, DELAY_MS, &base);
    println!(
        "ratio = wall / (chain x {DELAY_MS} ms); latency = (wall - wall at 0 ms) / (chain x {DELAY_MS} ms), \
         i.e. without moto's own CPU time, which real AWS does not add"
    );
}

/// moto builds each service's backend on first use (seconds for EC2 and
/// IAM's managed policies); time phx, not that.
fn warm_up(moto: &Moto) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let aws = phx_aws::load_for_endpoint(&moto.endpoint(), "us-east-1").await;
        aws.ec2().describe_availability_zones().send().await.unwrap();
        aws.iam().list_roles().send().await.unwrap();
        aws.elb().describe_load_balancers().send().await.unwrap();
        aws.elbv2().describe_load_balancers().send().await.unwrap();
    });
}

/// One round of every run on a fresh emulator; returns the wall times.
fn run_all(bins: &[PathBuf], delay_ms: u64, base: &[Duration]) -> Vec<Duration> {
    let moto = Moto::start_threaded();
    warm_up(&moto);
    let proxy = AwsProxy::latency(moto.port(), delay_ms);
    let cache = tempfile::tempdir().unwrap();
    // One document through every run, as successive deploys and destroys
    // pass it on through the state store: a no-op run sees what the fresh
    // run recorded.
    let mut doc = serde_json::json!({"apiVersion":"phx/v1","kind":"Cluster","metadata":{"name":"bench"},
        "spec":{"region":"us-east-1","network":{"adminCidrs":["203.0.113.7/32"]}}})
    .to_string();
    println!();
    println!("{delay_ms} ms per request");
    println!(
        "{:<24} {:>6} {:>7} {:>9} {:>6} {:>7} {:>8}",
        "run", "reads", "writes", "wall", "chain", "ratio", "latency"
    );
    let (mut noop_reads, mut noop_writes, mut walls) = (0, 0, Vec::new());
    for (i, ((label, _, verb, chain), bin)) in RUNS.iter().zip(bins).enumerate() {
        moto.start_recording();
        let start = Instant::now();
        let stage = format!(". scripts/lib/pipeline.sh && run_stage '{verb}'");
        let args: &[&str] = match RUNS[i].1 {
            SIDE_BY_SIDE => &["-c", &stage],
            _ => &[verb, "-q"],
        };
        let mut child = moto
            .process(bin, args)
            .current_dir(workspace_root())
            .env("PATH", path_with_bins())
            .env("AWS_ENDPOINT_URL", proxy.endpoint())
            .env("PHX_ARTIFACT_MIRROR", mirror())
            .env("PHX_CACHE_DIR", cache.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(doc.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        let wall = start.elapsed();
        assert!(out.status.success(), "{label} failed");
        doc = String::from_utf8(out.stdout).unwrap();
        walls.push(wall);
        let rec = moto.recording();
        let writes = rec.mutating().len();
        let reads = rec.len() - writes;
        if label.contains("no-op") && RUNS[i].1 != SIDE_BY_SIDE {
            noop_reads += reads;
            noop_writes += writes;
        }
        let ideal = (Duration::from_millis(delay_ms) * *chain).as_secs_f64();
        let (ratio, latency) = match base.get(i) {
            Some(b) if delay_ms > 0 => (
                format!("{:.2}", wall.as_secs_f64() / ideal),
                format!("{:.2}", wall.saturating_sub(*b).as_secs_f64() / ideal),
            ),
            _ => ("-".into(), "-".into()),
        };
        println!(
            "{label:<24} {reads:>6} {writes:>7} {:>8.3}s {chain:>6} {ratio:>7} {latency:>8}",
            wall.as_secs_f64()
        );
    }
    println!(
        "no-op apply of both tools: {noop_reads} reads, {noop_writes} writes (goal: <= 12 reads, 0 writes)"
    );
    walls
}
