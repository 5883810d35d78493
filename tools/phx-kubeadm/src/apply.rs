//! `apply`: every node prepared at once; the first control plane's `kubeadm
//! init` as soon as it is prepared; each worker's join as soon as it is
//! prepared and a join command exists (one fresh token, made on first
//! need); the other control planes' joins (`--control-plane`, with a
//! certificate key made on first need) one at a time, as stacked etcd adds
//! one member (a learner) at a time. Nodes never wait on each other more
//! than that, and a failing node does not stop the others: each finishes
//! its step, and the errors are reported together.
//!
//! A control plane joining again (its machine replaced) first has its old
//! etcd member removed (`etcd`).
//!
//! Which control plane leads (runs init, or already holds the cluster) is
//! decided once every control plane has said what it is: the first that is
//! a member, else the first. A control plane whose machine was replaced
//! (empty) therefore joins the cluster its peers keep, instead of making a
//! second one.

use crate::config::{ControlPlane, Version};
use crate::etcd;
use crate::join::{self, JoinCommand};
use crate::remote;
use phx_core::status::{Node, NodeProgress, NodeRole};
use phx_core::{Error, Result};
use phx_ssh::{Connector, ExecOutput, Session, Target, Verdict};
use std::sync::Arc;
use tokio::sync::{watch, OnceCell};

/// What one node's task left.
#[derive(Debug)]
pub struct Outcome {
    pub name: String,
    /// The control plane that ran init or already held the cluster.
    pub leader: bool,
    /// `kubeadm init` ran here this run.
    pub initialized: bool,
    /// `kubeadm join` ran here this run.
    pub joined: bool,
    pub verdict: Option<Verdict>,
    pub progress: NodeProgress,
    /// The control plane's session, kept for fetching admin.conf.
    pub session: Option<Arc<Session>>,
    pub error: Option<Error>,
}

#[derive(Debug, Clone)]
enum Init {
    Pending,
    Ready(Arc<Session>),
    Failed(String),
}

/// What a control plane said it is.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Report {
    Pending,
    /// Whether it holds the cluster already (`/etc/kubernetes/admin.conf`).
    Member(bool),
    Unreachable,
}

/// The leader among the control planes (in order): the first member, else
/// the first.
fn pick(roster: &[(String, Report)]) -> Option<String> {
    roster
        .iter()
        .find(|(_, r)| *r == Report::Member(true))
        .or(roster.first())
        .map(|(n, _)| n.clone())
}

/// kubeadm's certificate key (`init phase upload-certs`): it decrypts the
/// cluster's CA keys for a joining control plane. Never printed.
#[derive(Clone, PartialEq)]
pub struct CertificateKey(pub String);

impl std::fmt::Debug for CertificateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CertificateKey(<redacted>)")
    }
}

impl CertificateKey {
    /// The key in `kubeadm init phase upload-certs --upload-certs`'s output.
    pub fn parse(output: &str) -> Result<CertificateKey> {
        output
            .lines()
            .map(str::trim)
            .find(|l| is_certificate_key(l))
            .map(|l| CertificateKey(l.to_string()))
            .ok_or_else(|| Error::failed("kubeadm printed no certificate key"))
    }
}

/// A kubeadm certificate key: 32 bytes (an AES-256 key) in hex.
pub fn is_certificate_key(k: &str) -> bool {
    k.len() == 64 && k.bytes().all(|b| b.is_ascii_hexdigit())
}

/// What the node tasks share.
#[derive(Debug)]
pub struct Shared {
    init: watch::Sender<Init>,
    join: OnceCell<std::result::Result<JoinCommand, String>>,
    /// The control planes, in order, and what each said it is.
    roster: watch::Sender<Vec<(String, Report)>>,
    certificate_key: OnceCell<std::result::Result<CertificateKey, String>>,
    /// Held by the control plane joining now.
    control_plane_join: tokio::sync::Mutex<()>,
    /// Where the run is, said as the nodes move on.
    tally: std::sync::Mutex<Tally>,
    /// What rules changes to the control planes this run.
    pub membership: Membership,
    pub version: Version,
    /// The generated kubeadm configuration for init.
    pub init_config: String,
    /// What the workers' JoinConfiguration takes from the spec.
    pub k8s: phx_core::spec::KubernetesSpec,
    width: usize,
}

/// Where a run is, as the views show it: `nodes: 4/4 prepared, control
/// plane up, 2/3 joined` (joined: the nodes but the leader that are in the
/// cluster, joined this run or before).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Tally {
    pub nodes: usize,
    pub prepared: usize,
    pub control_plane_up: bool,
    pub joined: usize,
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let up = match self.control_plane_up {
            true => "up",
            false => "not up yet",
        };
        write!(
            f,
            "nodes: {}/{} prepared, control plane {up}",
            self.prepared, self.nodes
        )?;
        if self.nodes > 1 {
            write!(f, ", {}/{} joined", self.joined, self.nodes - 1)?;
        }
        Ok(())
    }
}

/// What rules changes to the control planes (etcd's members) in a run.
#[derive(Debug)]
pub struct Membership {
    /// Every control plane the document lists, as etcd would know it.
    pub peers: Vec<etcd::Peer>,
    /// Whether a control plane may init a new cluster this run: not while
    /// control planes leave (those that stay must hold the cluster).
    pub may_init: bool,
    /// The etcd backup before control planes join an existing cluster or
    /// leave it.
    pub guard: crate::backup::Guard,
}

impl Shared {
    pub fn new(
        version: Version,
        init_config: String,
        k8s: phx_core::spec::KubernetesSpec,
        nodes: &[Node],
        membership: Membership,
        width: usize,
    ) -> Arc<Shared> {
        let roster = nodes
            .iter()
            .filter(|n| n.role == NodeRole::ControlPlane)
            .map(|n| (n.name.clone(), Report::Pending))
            .collect();
        Arc::new(Shared {
            init: watch::channel(Init::Pending).0,
            join: OnceCell::new(),
            roster: watch::channel(roster).0,
            certificate_key: OnceCell::new(),
            control_plane_join: tokio::sync::Mutex::new(()),
            tally: std::sync::Mutex::new(Tally {
                nodes: nodes.len(),
                ..Tally::default()
            }),
            membership,
            version,
            init_config,
            k8s,
            width,
        })
    }

    /// A node moved on: say where the run is now.
    fn tally(&self, step: impl FnOnce(&mut Tally)) {
        if let Ok(mut t) = self.tally.lock() {
            step(&mut t);
            phx_core::progress::activity(&t.to_string());
        }
    }

    /// A control plane's answer; the first one counts.
    fn report(&self, name: &str, report: Report) {
        self.roster.send_modify(|roster| {
            if let Some(entry) = roster
                .iter_mut()
                .find(|(n, r)| n == name && *r == Report::Pending)
            {
                entry.1 = report;
            }
        });
    }

    /// The leader, once every control plane has answered.
    async fn leader(&self) -> Option<String> {
        let mut rx = self.roster.subscribe();
        loop {
            let roster = rx.borrow_and_update().clone();
            if roster.iter().all(|(_, r)| *r != Report::Pending) {
                return pick(&roster);
            }
            if rx.changed().await.is_err() {
                return pick(&roster);
            }
        }
    }

    /// The leader's session, once it holds the cluster.
    async fn ready(&self) -> Result<Arc<Session>> {
        let mut rx = self.init.subscribe();
        loop {
            let state = rx.borrow_and_update().clone();
            match state {
                Init::Ready(s) => return Ok(s),
                Init::Failed(m) => return Err(Error::failed(format!("waiting for the control plane: {m}"))),
                Init::Pending => {}
            }
            rx.changed()
                .await
                .map_err(|_| Error::failed("the control plane's task ended without a result"))?;
        }
    }

    /// A certificate key for control plane joins, made on the leader on
    /// first need (kubeadm keeps the uploaded certificates two hours).
    async fn certificate_key(&self, leader: &Session) -> Result<CertificateKey> {
        self.certificate_key
            .get_or_init(|| async {
                let out = leader
                    .capture("sudo -n kubeadm init phase upload-certs --upload-certs", b"")
                    .await
                    .map_err(|e| e.to_string())?;
                CertificateKey::parse(&out).map_err(|e| e.to_string())
            })
            .await
            .clone()
            .map_err(|m| Error::failed(format!("uploading the control plane certificates: {m}")))
    }

    /// The join command, once the control plane is up; one token for the run.
    async fn join_command(&self) -> Result<JoinCommand> {
        let cp = self.ready().await?;
        self.token(&cp).await
    }

    async fn token(&self, cp: &Session) -> Result<JoinCommand> {
        self.join
            .get_or_init(|| async {
                let out = cp
                    .capture("sudo -n kubeadm token create --print-join-command --ttl 30m", b"")
                    .await
                    .map_err(|e| e.to_string())?;
                join::parse(&out).map_err(|e| e.to_string())
            })
            .await
            .clone()
            .map_err(|m| Error::failed(format!("creating a join token: {m}")))
    }

    /// The CA hash, if a join command was made this run.
    pub fn ca_hash(&self) -> Option<String> {
        self.join
            .get()
            .and_then(|r| r.as_ref().ok())
            .map(|j| j.ca_hash.clone())
    }
}

pub async fn node(node: Node, target: Target, connector: Connector, shared: Arc<Shared>) -> Outcome {
    let mut out = Outcome {
        name: node.name.clone(),
        leader: false,
        initialized: false,
        joined: false,
        verdict: None,
        progress: NodeProgress::default(),
        session: None,
        error: None,
    };
    let result = steps(&node, &target, &connector, &shared, &mut out).await;
    if let Err(e) = result {
        if node.role == NodeRole::ControlPlane {
            // Failed before it said what it is: it cannot lead. If it was to
            // lead, nobody holds the cluster: those waiting are told.
            shared.report(&node.name, Report::Unreachable);
            if shared.leader().await.as_deref() == Some(node.name.as_str()) {
                shared
                    .init
                    .send_replace(Init::Failed(format!("{}: {e}", node.name)));
            }
        }
        out.progress.error = Some(e.to_string());
        out.error = Some(e.context(&node.name));
    }
    out
}

async fn steps(
    node: &Node,
    target: &Target,
    connector: &Connector,
    shared: &Shared,
    out: &mut Outcome,
) -> Result<()> {
    let (session, verdict) = connector
        .connect(target)
        .await
        .map_err(|e| e.context("connect"))?;
    out.verdict = Some(verdict);
    let session = Arc::new(session);
    let state = session
        .capture(remote::RUN_AS_ROOT, remote::STATE.as_bytes())
        .await
        .map_err(|e| e.context("state"))?;
    let done = |what: &str| state.contains(&format!("{what}=yes"));
    if node.role == NodeRole::ControlPlane {
        shared.report(&node.name, Report::Member(done("initialized")));
    }
    let vars = [
        ("PHX_K8S_MINOR", shared.version.minor.as_str()),
        ("PHX_K8S_PACKAGE_VERSION", shared.version.package.as_str()),
    ];
    script(
        &session,
        shared,
        "prepare",
        remote::with_vars(remote::PREPARE, &vars),
    )
    .await?;
    out.progress.prepared = true;
    shared.tally(|t| t.prepared += 1);
    match node.role {
        NodeRole::ControlPlane if shared.leader().await.as_deref() == Some(node.name.as_str()) => {
            out.leader = true;
            if !done("initialized") {
                if !shared.membership.may_init {
                    return Err(Error::invalid(
                        "init: no control plane that stays holds the cluster, and others are to leave \
                         it: this would make a second cluster (converge without lowering the count first)",
                    ));
                }
                let vars = [("PHX_KUBEADM_CONFIG", shared.init_config.as_str())];
                script(&session, shared, "init", remote::with_vars(remote::INIT, &vars)).await?;
                out.initialized = true;
                shared.membership.guard.fresh_cluster();
                // A fresh cluster's CA hash (and the workers' token) right away.
                shared.token(&session).await.map_err(|e| e.context("init"))?;
            }
            out.progress.member = true;
            shared.tally(|t| t.control_plane_up = true);
            shared.init.send_replace(Init::Ready(session.clone()));
            out.session = Some(session);
        }
        NodeRole::ControlPlane => {
            if !done("initialized") {
                let leader = shared.ready().await.map_err(|e| e.context("join"))?;
                shared
                    .membership
                    .guard
                    .before_change(&leader, &format!("{} joins as a control plane", node.name))
                    .await?;
                // One member joins etcd at a time.
                let _turn = shared.control_plane_join.lock().await;
                let (j, key) = tokio::try_join!(shared.token(&leader), shared.certificate_key(&leader))
                    .map_err(|e| e.context("join"))?;
                etcd::remove_stale(&leader, &peer(node), &shared.membership.peers)
                    .await
                    .map_err(|e| e.context("removing stale etcd members"))?;
                delete_node(&leader, node).await?;
                join(&session, shared, node, &j, Some(&key)).await?;
                out.joined = true;
            }
            out.progress.member = true;
            shared.tally(|t| t.joined += 1);
            if let Ok(s) = Arc::try_unwrap(session) {
                s.close().await;
            }
        }
        NodeRole::Worker => {
            if !done("joined") {
                let j = shared.join_command().await.map_err(|e| e.context("join"))?;
                delete_node(&*shared.ready().await?, node).await?;
                join(&session, shared, node, &j, None).await?;
                out.joined = true;
            }
            out.progress.member = true;
            shared.tally(|t| t.joined += 1);
            if let Ok(s) = Arc::try_unwrap(session) {
                s.close().await;
            }
        }
    }
    Ok(())
}

/// kubectl on a control plane, talking to its own API server: not through
/// the load balancer, which may still send a request to a control plane
/// that is leaving (its etcd gone, its API server not yet). Its
/// certificate always names `kubernetes`.
/// kubectl on a control plane against its own API server (not through
/// the load balancer), as the cluster's admin.
pub const LOCAL_API: &str = "--kubeconfig /etc/kubernetes/admin.conf --server https://127.0.0.1:6443 \
                         --tls-server-name kubernetes";

/// On `leader`: the Node named for `node`, if one exists. Before a node
/// joins it is left from an earlier machine (this one has not joined):
/// kubeadm refuses to join under the name of a Node that still looks
/// Ready, as the old one does for a while after its machine was wiped.
/// A node leaving takes its Node with it.
pub async fn delete_node(leader: &Session, node: &Node) -> Result<()> {
    // Checked as plain before any node was touched (lib::converge).
    let name = node.private_dns.as_deref().unwrap_or_default();
    let out = leader
        .capture(
            &format!(
                "sudo -n kubectl {LOCAL_API} delete node {} --ignore-not-found",
                remote::quote(name)
            ),
            b"",
        )
        .await
        .map_err(|e| e.context(format!("{}: deleting its Node", node.name)))?;
    if out.contains("deleted") {
        tracing::info!("{}: Node {name} deleted", node.name);
    }
    Ok(())
}

/// The node as etcd knows it (its member's name and peer address).
pub fn peer(node: &Node) -> etcd::Peer {
    etcd::Peer {
        name: node.private_dns.clone().unwrap_or_default(),
        ip: node.private_ip.clone(),
    }
}

/// `kubeadm join` on `node` (as a control plane with a certificate key):
/// the JoinConfiguration on the join script's stdin.
async fn join(
    session: &Session,
    shared: &Shared,
    node: &Node,
    j: &JoinCommand,
    certificate_key: Option<&CertificateKey>,
) -> Result<()> {
    // Checked before any node was touched (lib::converge).
    let name = node.private_dns.as_deref().unwrap_or_default();
    let config =
        crate::config::join_config(j, name, &shared.k8s, certificate_key).map_err(|e| e.context("join"))?;
    let vars = [("PHX_JOIN_CONFIG", config.as_str())];
    script(session, shared, "join", remote::with_vars(remote::JOIN, &vars)).await?;
    Ok(())
}

/// Run a script as root, its output streamed with the node's name; a
/// non-zero exit is an error naming the step and the last lines.
pub async fn script(session: &Session, shared: &Shared, step: &str, text: Vec<u8>) -> Result<ExecOutput> {
    run(session, shared.width, step, remote::RUN_AS_ROOT, &text).await
}

pub async fn run(
    session: &Session,
    width: usize,
    step: &str,
    command: &str,
    stdin: &[u8],
) -> Result<ExecOutput> {
    let name = session.name().to_string();
    let out = session
        .exec(command, stdin, |l| tracing::info!("{name:<width$} | {l}"))
        .await
        .map_err(|e| e.context(step))?;
    if out.code != 0 {
        let last: Vec<&str> = out.tail.iter().rev().take(5).rev().map(String::as_str).collect();
        return Err(Error::failed(format!(
            "{step} failed (exit {}): {}",
            out.code,
            last.join(" | ")
        )));
    }
    Ok(out)
}

/// The control plane's addresses for the kubeadm configuration.
pub fn control_plane<'a>(
    cp: &'a Node,
    api_host: Option<&'a str>,
    load_balancer: Option<&'a str>,
    admin_load_balancer: Option<&'a str>,
) -> Result<ControlPlane<'a>> {
    let private_dns = cp.private_dns.as_deref().ok_or_else(|| {
        Error::invalid(format!(
            "status.nodes.instances: {} has no privateDns (the kubelet's node name)",
            cp.name
        ))
    })?;
    Ok(ControlPlane {
        load_balancer,
        admin_load_balancer,
        private_dns,
        private_ip: cp.private_ip.as_deref(),
        public_ip: cp.public_ip.as_deref(),
        api_host,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tally_says_where_the_run_is() {
        let mut t = Tally {
            nodes: 4,
            ..Tally::default()
        };
        assert_eq!(
            t.to_string(),
            "nodes: 0/4 prepared, control plane not up yet, 0/3 joined"
        );
        t.prepared = 4;
        t.control_plane_up = true;
        t.joined = 2;
        assert_eq!(t.to_string(), "nodes: 4/4 prepared, control plane up, 2/3 joined");
        t.nodes = 1;
        t.prepared = 1;
        assert_eq!(t.to_string(), "nodes: 1/1 prepared, control plane up");
    }
}
