//! `phx-kubeadm`: from machines to a Kubernetes cluster over SSH, what the
//! reference platform's Ansible roles (`common`, `master`, `worker`) did.
//!
//! The node work is shell ([`remote`], files checked by shellcheck); this
//! crate decides what runs where and when ([`apply`]), verifies who it
//! talks to ([`fleet`], `phx-ssh`), generates kubeadm's configuration
//! ([`config`]), reads the join command ([`join`]) and writes the admin
//! kubeconfig ([`kubeconfig`]).

pub mod apply;
pub mod backup;
pub mod cli;
pub mod config;
pub mod etcd;
pub mod fleet;
pub mod join;
pub mod kubeconfig;
pub mod kubectl;
pub mod leave;
pub mod remote;
pub mod restore;
pub mod retention;
pub mod skew;
pub mod snapshots;
pub mod upgrade;

use apply::Shared;
use cli::{ApplyArgs, Cli, ExecArgs, SshArgs, Verb};
use config::Version;
use phx_core::stage::{self, Mine};
use phx_core::status::{key, KubeadmStatus, Node, NodeProgress, NodeRole, PlannedChange};
use phx_core::{io, Document, Error, Result};
use phx_ssh::Verdict;
use std::process::ExitCode;
use std::sync::Arc;

pub const TOOL: &str = "phx-kubeadm";

pub fn main() -> ExitCode {
    let cli = Cli::parse_with(cli::command());
    phx_core::cli::run_with_status(TOOL, &cli.global, run(cli.verb))
}

/// The verb; its exit status is 0 but for `exec`, which passes on the
/// nodes' worst. `status` and `exec` read the document and write none.
pub async fn run(verb: Verb) -> Result<u8> {
    match verb {
        Verb::Apply(args) => stage::run::<key::Kubeadm>(TOOL, async |doc| converge(doc, &args).await).await,
        Verb::Plan(args) => stage::run::<key::Kubeadm>(TOOL, async |doc| plan(doc, &args).await).await,
        Verb::Reset(args) => {
            stage::run::<key::Kubeadm>(TOOL, async |doc| reset(doc, &args, false).await).await
        }
        Verb::Destroy(args) => {
            stage::run::<key::Kubeadm>(TOOL, async |doc| reset(doc, &args, true).await).await
        }
        Verb::Backup(args) => {
            stage::run_regardless::<key::Kubeadm>(TOOL, async |doc| backup::backup(doc, &args).await).await
        }
        Verb::Backups => return backup::list().await.map(|()| 0),
        Verb::Restore(args) => {
            stage::run::<key::Kubeadm>(TOOL, async |doc| restore::restore(doc, &args).await).await
        }
        Verb::Upgrade(args) => {
            stage::run::<key::Kubeadm>(TOOL, async |doc| upgrade::upgrade(doc, &args).await).await
        }
        Verb::Status(args) => return status(&args).await.map(|()| 0),
        Verb::Exec(args) => return exec(args).await,
    }
    .map(|()| 0)
}

/// The document as phx-kubeadm holds it: its own key writable.
type Doc<'a> = Mine<'a, key::Kubeadm>;

fn width(nodes: &[Node]) -> usize {
    nodes.iter().map(|n| n.name.len()).max().unwrap_or(0)
}

fn control_plane(nodes: &[Node]) -> Result<&Node> {
    nodes
        .iter()
        .find(|n| n.role == NodeRole::ControlPlane)
        .ok_or_else(|| {
            Error::invalid("status.nodes.instances has no control-plane node: run phx-nodes apply first")
        })
}

/// The `controlPlaneEndpoint` the cluster was initialized with, if it
/// exists: as recorded, and for a cluster phx set up before it recorded
/// the endpoint, the first control plane's private DNS name.
fn initialized_with(previous: &KubeadmStatus, private_dns: &str) -> Option<String> {
    previous.control_plane_endpoint.clone().or_else(|| {
        previous
            .api_endpoint
            .as_ref()
            .map(|_| format!("{private_dns}:6443"))
    })
}

/// The API load balancer's name if it is (or, for a cluster still to be
/// made, will be) the cluster's endpoint: the internal one beside an
/// internet-facing one, else the only one. A cluster initialized with
/// another endpoint keeps it: kubeadm cannot move one, and the API
/// server's certificate does not name the load balancer. A cluster whose
/// endpoint is the internet-facing load balancer (made before phx had an
/// internal one) is refused: on AWS its nodes cannot reach that endpoint.
fn endpoint_load_balancer(initialized_with: Option<&str>, lbs: &LoadBalancers) -> Result<Option<String>> {
    let Some(lb) = lbs.endpoint() else { return Ok(None) };
    match initialized_with {
        Some(e)
            if lbs.internal.is_some() && lbs.admin.as_deref().is_some_and(|a| e == format!("{a}:6443")) =>
        {
            Err(Error::invalid(format!(
                "status.kubeadm.controlPlaneEndpoint: the cluster's endpoint is the internet-facing load \
                 balancer {e}, which its nodes cannot reach on AWS (its security group sees their public \
                 addresses); kubeadm cannot move a cluster to the internal load balancer {lb}: make the \
                 cluster again (scripts/destroy.sh, then scripts/deploy.sh)"
            )))
        }
        Some(e) if e != format!("{lb}:6443") => {
            tracing::warn!(
                "the cluster's endpoint is {e}, not the API load balancer {lb}: kubeadm cannot move it"
            );
            Ok(None)
        }
        _ => Ok(Some(lb.to_string())),
    }
}

/// The API load balancers' DNS names (`status.network.apiLoadBalancer`,
/// `apiInternalLoadBalancer`).
#[derive(Debug, Default)]
struct LoadBalancers {
    /// The spec's: admins and the kubeconfig.
    admin: Option<String>,
    /// The internal one beside an internet-facing `admin`.
    internal: Option<String>,
}

impl LoadBalancers {
    fn of(doc: &Document) -> Result<LoadBalancers> {
        let net = doc.get::<key::Network>()?.unwrap_or_default();
        Ok(LoadBalancers {
            admin: net.api_load_balancer.and_then(|lb| lb.dns_name),
            internal: net.api_internal_load_balancer.and_then(|lb| lb.dns_name),
        })
    }

    /// The cluster's endpoint, for everything inside it.
    fn endpoint(&self) -> Option<&str> {
        self.internal.as_deref().or(self.admin.as_deref())
    }
}

/// `spec.kubernetes.apiEndpoint` (`host` or `host:port`), else the API
/// load balancer, else the control plane's public address, on 6443.
fn api_endpoint(doc: &Document, cp: &Node, load_balancer: Option<&str>) -> (String, String) {
    let configured = doc.spec().kubernetes.api_endpoint.as_deref().map(|e| {
        let e = e.trim_start_matches("https://").trim_end_matches('/');
        match e.rsplit_once(':') {
            Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => (h.to_string(), format!("{h}:{p}")),
            _ => (e.to_string(), format!("{e}:6443")),
        }
    });
    let balanced = load_balancer.map(|h| (h.to_string(), format!("{h}:6443")));
    configured.or(balanced).unwrap_or_else(|| {
        let host = cp
            .public_ip
            .clone()
            .or_else(|| cp.private_ip.clone())
            .unwrap_or_else(|| cp.ssh.host.clone());
        (host.clone(), format!("{host}:6443"))
    })
}

async fn converge(doc: &mut Doc<'_>, args: &ApplyArgs) -> Result<()> {
    let count = doc.spec().nodes.control_plane.count;
    let all = fleet::nodes(doc)?;
    // Every node's kubelet name, leaving or not, before any node is
    // touched (65 means nothing changed).
    for n in &all {
        let name = n.private_dns.as_deref().ok_or_else(|| {
            Error::invalid(format!(
                "status.nodes.instances: {} has no privateDns (the kubelet's node name)",
                n.name
            ))
        })?;
        config::plain("status.nodes.instances[].privateDns", name)?;
    }
    let width = width(&all);
    // etcd's view: every control plane the document lists, leaving or not.
    let peers: Vec<_> = all
        .iter()
        .filter(|n| n.role == NodeRole::ControlPlane)
        .map(apply::peer)
        .collect();
    let (nodes, leaving) = leave::split(doc.name(), count, all);
    if !leaving.is_empty() && !args.allow_remove {
        return Err(leave::refused(count, &leaving));
    }
    let cp = control_plane(&nodes)?.clone();
    let version = Version::parse(&doc.spec().kubernetes.version)?;
    let previous = doc.mine()?.unwrap_or_default();
    let private_dns = cp.private_dns.clone().unwrap_or_default();
    let initialized_with = initialized_with(&previous, &private_dns);
    let lbs = LoadBalancers::of(doc)?;
    let lb = endpoint_load_balancer(initialized_with.as_deref(), &lbs)?;
    // Admins (the kubeconfig) reach the spec's load balancer.
    let admin_lb = lb.as_deref().map(|lb| lbs.admin.as_deref().unwrap_or(lb));
    let control_planes: Vec<String> = nodes
        .iter()
        .filter(|n| n.role == NodeRole::ControlPlane)
        .map(|n| n.name.clone())
        .collect();
    if control_planes.len() > 1 && lb.is_none() {
        let endpoint = initialized_with.unwrap_or_else(|| format!("{private_dns}:6443"));
        return Err(Error::invalid(format!(
            "spec.nodes.controlPlane.count: {} control planes need the API load balancer as the \
             cluster's endpoint, and this cluster's is {endpoint} (kubeadm cannot move it): it stays \
             at one control plane",
            control_planes.len()
        )));
    }
    let endpoint = format!("{}:6443", lb.as_deref().unwrap_or(&private_dns));
    let (api_host, api) = api_endpoint(doc, &cp, admin_lb);
    let configured_host = doc
        .spec()
        .kubernetes
        .api_endpoint
        .is_some()
        .then_some(api_host.as_str());
    let init = config::init_config(
        doc.name(),
        &doc.spec().kubernetes,
        &version,
        &apply::control_plane(&cp, configured_host, lb.as_deref(), admin_lb)?,
    )?;
    let kubeconfig_path = match &args.kubeconfig_out {
        Some(p) => p.clone(),
        None => phx_core::home::expand_home(&format!("~/.kube/phx-{}.conf", doc.name())),
    };
    let connector = fleet::connector(doc, &args.ssh).await?;
    let shared = Shared::new(
        version,
        init,
        doc.spec().kubernetes.clone(),
        &nodes,
        apply::Membership {
            peers,
            may_init: leaving.is_empty(),
            guard: backup::Guard::new(doc).await?,
        },
        width,
    );
    let tasks = nodes.iter().map(|n| {
        let target = fleet::target(n, &args.ssh);
        tokio::spawn(apply::node(n.clone(), target, connector.clone(), shared.clone()))
    });
    let mut outcomes = Vec::new();
    for t in futures::future::join_all(tasks).await {
        outcomes.push(t.map_err(|e| Error::failed(format!("a node task panicked: {e}")))?);
    }

    // Control planes beyond the count leave, one at a time, once those
    // that stay hold the cluster.
    let mut left = Vec::new();
    if !leaving.is_empty() {
        // The leader, once the backup before the change is taken.
        let leader = match outcomes.iter().find_map(|o| o.session.clone()) {
            Some(l) => shared
                .membership
                .guard
                .before_change(&l, "control planes leave")
                .await
                .map(|()| l),
            None => Err(Error::failed("no control plane that stays holds the cluster")),
        };
        for n in &leaving {
            let p = match &leader {
                Ok(l) => leave::leave(l, &connector, n, &fleet::target(n, &args.ssh), width).await,
                Err(e) => NodeProgress {
                    error: Some(format!("not left: {e}")),
                    ..NodeProgress::default()
                },
            };
            left.push((n.name.clone(), p));
        }
    }

    let accepted: Vec<(String, Verdict)> = outcomes
        .iter()
        .filter_map(|o| o.verdict.clone().map(|v| (o.name.clone(), v)))
        .collect();
    fleet::pin(doc, &accepted)?;
    // The endpoint kubeadm was given: this run's if it ran init, else as
    // recorded (a cluster set up before the record: unknown).
    let initialized_here = outcomes.iter().any(|o| o.initialized);
    let mut st = KubeadmStatus {
        control_plane_endpoint: match initialized_here {
            true => Some(endpoint),
            false => previous.control_plane_endpoint.clone(),
        },
        control_plane: outcomes
            .iter()
            .find(|o| o.leader)
            .map(|o| o.name.clone())
            .or(previous.control_plane),
        ca_cert_hash: shared.ca_hash().or(previous.ca_cert_hash),
        kubeconfig: previous.kubeconfig,
        api_endpoint: previous.api_endpoint,
        nodes: outcomes
            .iter()
            .map(|o| (o.name.clone(), o.progress.clone()))
            .chain(left.iter().cloned())
            .collect(),
        plan: None,
        backups: shared.membership.guard.backups().unwrap_or(previous.backups),
        restore: previous.restore,
        // A cluster made here runs its kubeadm's version (below).
        version: previous.version.filter(|_| !initialized_here),
        upgrade: previous.upgrade,
    };
    let mut errors: Vec<Error> = Vec::new();
    if let Some(leader) = outcomes
        .iter()
        .find(|o| o.initialized)
        .and_then(|o| o.session.clone())
    {
        // What `upgrade` compares the spec with, so that a deploy with
        // nothing to upgrade asks no node.
        match leader.capture("kubeadm version -o short", b"").await {
            Ok(v) => st.version = skew::Semver::parse(v.trim()).map(|v| v.to_string()),
            Err(e) => tracing::warn!("kubeadm version: {e}"),
        }
    }
    if let Some(session) = outcomes.iter().find_map(|o| o.session.clone()) {
        let server = format!("https://{api}");
        let fetched = match session
            .capture("sudo -n cat /etc/kubernetes/admin.conf", b"")
            .await
        {
            // The file writes block: off the runtime.
            Ok(text) => {
                let (path, server) = (kubeconfig_path.clone(), server.clone());
                tokio::task::spawn_blocking(move || {
                    let hash = kubeconfig::ca_cert_hash(&text)?;
                    let text = kubeconfig::rewrite_server(&text, &server)?;
                    kubeconfig::write_private(&path, &text)?;
                    Ok(hash)
                })
                .await
                .map_err(Error::failed)
                .and_then(|r| r)
            }
            Err(e) => Err(e),
        };
        match fetched {
            Ok(hash) => {
                tracing::info!("kubeconfig for {server} written to {}", kubeconfig_path.display());
                st.kubeconfig = Some(kubeconfig_path.display().to_string());
                st.api_endpoint = Some(server);
                // The cluster's identity, from its own CA: the Kubernetes
                // tools refuse a kubeconfig whose CA differs.
                st.ca_cert_hash = Some(hash);
            }
            Err(e) => errors.push(e.context("fetching admin.conf")),
        }
    }
    doc.set(&st);
    phx_core::progress::result(result(&outcomes, left.len()));
    errors.extend(outcomes.into_iter().filter_map(|o| o.error));
    errors.extend(
        left.into_iter()
            .filter_map(|(n, p)| p.error.map(|e| Error::failed(format!("{n}: leaving: {e}")))),
    );
    first(errors)
}

/// What a run did, for its done line: `1 initialized, 3 joined`, or
/// `4 nodes in the cluster` when none changed.
fn result(outcomes: &[apply::Outcome], left: usize) -> String {
    let initialized = outcomes.iter().filter(|o| o.initialized).count();
    let joined = outcomes.iter().filter(|o| o.joined).count();
    let parts: Vec<String> = [(initialized, "initialized"), (joined, "joined"), (left, "left")]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, w)| format!("{n} {w}"))
        .collect();
    match parts.is_empty() {
        true => format!("{} nodes in the cluster", outcomes.len()),
        false => parts.join(", "),
    }
}

fn first(errors: Vec<Error>) -> Result<()> {
    let n = errors.len();
    let mut it = errors.into_iter();
    match (it.next(), n) {
        (None, _) => Ok(()),
        (Some(e), 1) => Err(e),
        (Some(e), n) => Err(e.context(format!("{n} nodes failed; the first"))),
    }
}

/// Connect to `nodes` at once; each node's session or error.
async fn connect_all(
    doc: &Document,
    nodes: &[Node],
    args: &SshArgs,
) -> Result<Vec<(Node, Result<(phx_ssh::Session, Verdict)>)>> {
    let connector = fleet::connector(doc, args).await?;
    Ok(connect_with(&connector, nodes, args).await)
}

/// [`connect_all`] with a connector made already.
async fn connect_with(
    connector: &phx_ssh::Connector,
    nodes: &[Node],
    args: &SshArgs,
) -> Vec<(Node, Result<(phx_ssh::Session, Verdict)>)> {
    let runs = nodes.iter().map(|n| {
        let target = fleet::target(n, args);
        let c = connector.clone();
        async move { (n.clone(), c.connect(&target).await) }
    });
    futures::future::join_all(runs).await
}

async fn plan(doc: &mut Doc<'_>, args: &SshArgs) -> Result<()> {
    let version = Version::parse(&doc.spec().kubernetes.version)?;
    let nodes: Vec<Node> = doc.get::<key::Nodes>()?.unwrap_or_default().instances;
    // Nodes phx-nodes has yet to launch: prepared, then init (the first
    // control plane) or join, from scratch.
    let spec = &doc.spec().nodes;
    let wanted = (1..=spec.control_plane.count)
        .map(|i| (NodeRole::ControlPlane, i))
        .chain((1..=spec.workers.count).map(|i| (NodeRole::Worker, i)));
    let mut changes = Vec::new();
    for (role, i) in wanted {
        let name = role.node_name(doc.name(), i);
        if nodes.iter().any(|n| n.name == name) {
            continue;
        }
        changes.push(PlannedChange::new(
            "ensure",
            "node",
            &name,
            "prepared (a new node)",
        ));
        let (action, detail) = match role {
            NodeRole::ControlPlane if i == 1 && nodes.is_empty() => ("init", ""),
            NodeRole::ControlPlane => ("join", "as a control plane"),
            NodeRole::Worker => ("join", ""),
        };
        changes.push(PlannedChange::new(action, "node", &name, detail));
    }
    if nodes.is_empty() {
        return record_plan(doc, changes);
    }
    let count = doc.spec().nodes.control_plane.count;
    let (nodes, leaving) = leave::split(doc.name(), count, fleet::nodes(doc)?);
    for n in &leaving {
        changes.push(PlannedChange::new(
            "leave",
            "node",
            &n.name,
            "beyond spec.nodes.controlPlane.count: kubeadm reset, its etcd member and Node removed; \
             needs apply --allow-remove",
        ));
    }
    control_plane(&nodes)?;
    let mut errors = Vec::new();
    let mut states = Vec::new();
    for (n, c) in connect_all(doc, &nodes, args).await? {
        let state = match c {
            Ok((s, _)) => s.capture(remote::RUN_AS_ROOT, remote::STATE.as_bytes()).await,
            Err(e) => Err(e),
        };
        match state {
            Ok(s) => states.push((n, s)),
            Err(e) => errors.push(e),
        }
    }
    // A control plane inits only if none holds the cluster; the others join.
    let cluster = states
        .iter()
        .any(|(n, s)| n.role == NodeRole::ControlPlane && answer(s, "initialized") == Some(true));
    let mut leads = !cluster;
    for (n, state) in &states {
        changes.push(PlannedChange::new(
            "ensure",
            "node",
            &n.name,
            "prepared (each step checked on the node)",
        ));
        if answer(state, member_flag(n.role)) == Some(false) {
            let (action, detail) = match n.role {
                NodeRole::ControlPlane if std::mem::take(&mut leads) => ("init", ""),
                NodeRole::ControlPlane => ("join", "as a control plane"),
                NodeRole::Worker => ("join", ""),
            };
            changes.push(PlannedChange::new(action, "node", &n.name, detail));
        }
    }
    // Control planes joining a cluster that exists, or leaving it: the
    // backup apply takes first.
    let changes_etcd =
        |c: &PlannedChange| c.action == "leave" || (c.action == "join" && c.detail == "as a control plane");
    if cluster && changes.iter().any(changes_etcd) {
        let at = match &doc.spec().state.bucket {
            Some(b) => format!("s3://{b}/{}/etcd/", doc.name()),
            None => "nowhere: spec.state.bucket is not set".into(),
        };
        changes.insert(
            0,
            PlannedChange::new("backup", "etcd", &at, "before the control plane changes"),
        );
    }
    if cluster {
        if let Some(row) = upgrade::planned(&doc.mine()?.unwrap_or_default(), &version, doc.name()) {
            changes.insert(0, row);
        }
    }
    record_plan(doc, changes)?;
    first(errors)
}

/// One flag of a node's answer to `remote::STATE` (`initialized=yes
/// joined=no`): `Some(true)` for yes, `Some(false)` for no, `None` when
/// the node did not say.
fn answer(state: &str, flag: &str) -> Option<bool> {
    state
        .split_whitespace()
        .find_map(|w| match w.strip_prefix(flag)?.strip_prefix('=')? {
            "yes" => Some(true),
            "no" => Some(false),
            _ => None,
        })
}

/// The flag that says a node of `role` is in the cluster.
fn member_flag(role: NodeRole) -> &'static str {
    match role {
        NodeRole::ControlPlane => "initialized",
        NodeRole::Worker => "joined",
    }
}

/// The plan as a table on stderr and in `status.kubeadm.plan`.
fn record_plan(doc: &mut Doc<'_>, changes: Vec<PlannedChange>) -> Result<()> {
    phx_core::progress::eprint(&phx_core::plan::render(&changes, "the cluster"));
    let mut st = doc.mine()?.unwrap_or_default();
    st.plan = Some(changes);
    doc.set(&st);
    Ok(())
}

/// `reset` (a redo) and `destroy` (the cluster is no more): kubeadm reset
/// on every node, workers first; `destroy` also deletes the admin
/// kubeconfig phx-kubeadm wrote (the one `status.kubeadm` names).
async fn reset(doc: &mut Doc<'_>, args: &SshArgs, destroy: bool) -> Result<()> {
    let nodes = fleet::nodes(doc)?;
    let w = width(&nodes);
    let sessions = connect_all(doc, &nodes, args).await?;
    let mut errors = Vec::new();
    // Workers first, then the control plane they were joined to.
    for role in [NodeRole::Worker, NodeRole::ControlPlane] {
        let runs = sessions
            .iter()
            .filter(|(n, _)| n.role == role)
            .map(|(n, c)| async move {
                let (s, _) = c.as_ref().map_err(|e| Error::failed(e.to_string()))?;
                apply::run(s, w, "reset", remote::RUN_AS_ROOT, remote::RESET.as_bytes())
                    .await
                    .map_err(|e| e.context(&n.name))
            });
        errors.extend(
            futures::future::join_all(runs)
                .await
                .into_iter()
                .filter_map(Result::err),
        );
    }
    if !errors.is_empty() {
        return first(errors);
    }
    if destroy {
        if let Some(path) = doc.mine()?.and_then(|s| s.kubeconfig) {
            match tokio::fs::remove_file(&path).await {
                Ok(()) => tracing::info!("removed {path}"),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::failed(format!("removing {path}: {e}"))),
            }
        }
    }
    doc.clear();
    Ok(())
}

/// `status`: each node's own answer (`initialized`, `joined`), or why it
/// could not be asked, as a JSON array; the exit status is 0 either way
/// (the array says what is wrong).
async fn status(args: &SshArgs) -> Result<()> {
    let doc = io::read_stdin()?;
    let nodes = fleet::nodes(&doc)?;
    let mut out = Vec::new();
    for (n, c) in connect_all(&doc, &nodes, args).await? {
        let said = match c {
            Ok((s, _)) => s.capture(remote::RUN_AS_ROOT, remote::STATE.as_bytes()).await,
            Err(e) => Err(e),
        };
        let mut row = serde_json::json!({"name": n.name, "role": n.role});
        match said {
            Ok(line) => {
                let yes = |flag: &str| answer(&line, flag) == Some(true);
                row["reachable"] = true.into();
                row["initialized"] = yes("initialized").into();
                row["joined"] = yes("joined").into();
                row["member"] = yes(member_flag(n.role)).into();
            }
            Err(e) => {
                row["reachable"] = false.into();
                row["member"] = false.into();
                row["error"] = e.to_string().into();
            }
        }
        out.push(row);
    }
    io::write_json(&serde_json::Value::Array(out))
}

/// `exec`: the command on the chosen nodes at once, output on stdout
/// prefixed by node; the exit status is the worst (255 when a node could
/// not be reached).
async fn exec(args: ExecArgs) -> Result<u8> {
    let doc = io::read_stdin()?;
    let nodes: Vec<Node> = fleet::nodes(&doc)?
        .into_iter()
        .filter(|n| args.role.is_none_or(|r| r.matches(n.role)))
        .filter(|n| args.nodes.is_empty() || args.nodes.contains(&n.name))
        .collect();
    if let Some(missing) = args.nodes.iter().find(|n| !nodes.iter().any(|x| &x.name == *n)) {
        return Err(Error::usage(format!(
            "--node {missing}: no such node in status.nodes.instances"
        )));
    }
    if nodes.is_empty() {
        return Err(Error::usage("no node matches --role/--node"));
    }
    let w = width(&nodes);
    // Each argument one word on the node, as with kubectl exec: shell
    // syntax needs an explicit `sh -c '...'`.
    let command = args
        .command
        .iter()
        .map(|a| remote::quote(a))
        .collect::<Vec<_>>()
        .join(" ");
    let stdout = Arc::new(Stdout::default());
    let runs = connect_all(&doc, &nodes, &args.ssh)
        .await?
        .into_iter()
        .map(|(n, c)| {
            let command = command.clone();
            let stdout = stdout.clone();
            async move {
                let name = n.name.clone();
                let result = match c {
                    Ok((s, _)) => {
                        s.exec(&command, b"", |l| stdout.line(&format!("{name:<w$} | {l}\n")))
                            .await
                    }
                    Err(e) => Err(e),
                };
                match result {
                    Ok(out) => {
                        if out.code != 0 {
                            eprintln!("{TOOL}: {name}: exit {}", out.code);
                        }
                        u8::try_from(out.code).unwrap_or(255)
                    }
                    Err(e) => {
                        eprintln!("{TOOL}: {e}");
                        255
                    }
                }
            }
        });
    let codes = futures::future::join_all(runs).await;
    if stdout.closed() {
        // `| head`: the reader has what it wanted; nothing to report.
        return Err(Error::quiet(phx_core::ExitKind::Failed));
    }
    Ok(codes.into_iter().max().unwrap_or(0))
}

/// stdout shared by the nodes' output: whole lines, and a closed pipe
/// (`exec ... | head`) ends the writing quietly instead of a panic.
#[derive(Debug, Default)]
struct Stdout {
    closed: std::sync::atomic::AtomicBool,
}

impl Stdout {
    fn line(&self, text: &str) {
        use std::sync::atomic::Ordering;
        if self.closed.load(Ordering::Relaxed) {
            return;
        }
        if io::write_bytes(text.as_bytes()).is_err() {
            self.closed.store(true, Ordering::Relaxed);
        }
    }

    fn closed(&self) -> bool {
        self.closed.load(std::sync::atomic::Ordering::Relaxed)
    }
}
