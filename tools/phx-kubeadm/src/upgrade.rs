//! `phx-kubeadm upgrade`: the cluster to `spec.kubernetes.version`, one
//! node at a time, as kubeadm's upgrade guide does it.
//!
//! Nothing changes before the pre-flight passes ([`crate::skew`]: one minor
//! at a time, no downgrade, every node Ready, kubelets within the skew
//! policy) and an etcd backup is in the state bucket. Then the control
//! planes, the leading one first (`kubeadm upgrade apply`, the others
//! `kubeadm upgrade node`), then the workers (`--max-unavailable` at a
//! time). Each node: kubeadm upgraded, its part done by kubeadm; drained
//! (evictions, so PodDisruptionBudgets hold); kubelet and kubectl upgraded,
//! the kubelet restarted and the Node Ready at the new version; uncordoned;
//! then the cluster must be whole (every Node and control-plane pod Ready,
//! `/readyz`) before the next. `status.kubeadm.upgrade` records each node's
//! version and last step, so a stopped roll resumes where it stopped: the
//! same command again.
//!
//! Nodes not in the cluster yet are not touched: `apply` joins them at the
//! new version afterwards (deploy.sh runs upgrade first).

use crate::cli::UpgradeArgs;
use crate::config::{upgrade_config, Version};
use crate::skew::{self, Decision, NodeFacts, Semver};
use crate::{apply, fleet, kubectl, remote, Doc};
use phx_core::status::{KubeadmStatus, Node, NodeRole, PlannedChange, Upgrade, UpgradeNode};
use phx_core::{Error, Result};
use phx_ssh::Session;

/// A node's steps, in order; `status.kubeadm.upgrade.nodes[].step` is the
/// last one done.
const STEPS: [&str; 4] = ["kubeadm", "drained", "kubelet", "uncordoned"];

pub async fn upgrade(doc: &mut Doc<'_>, args: &UpgradeArgs) -> Result<()> {
    let want = Version::parse(&doc.spec().kubernetes.version)?;
    let config = upgrade_config(&doc.spec().kubernetes)?;
    let mut st = doc.mine()?.unwrap_or_default();
    let Some(leader_name) = st.control_plane.clone() else {
        tracing::info!(
            "no cluster yet: nothing to upgrade (apply makes it at {})",
            want.minor
        );
        return Ok(());
    };
    let under_way = st.upgrade.clone().filter(|u| u.finished.is_none());
    if under_way.is_none() && recorded_matches(st.version.as_deref(), &want) {
        tracing::debug!(
            "the cluster runs {}: nothing to upgrade",
            st.version.unwrap_or_default()
        );
        return Ok(());
    }

    let nodes = fleet::nodes(doc)?;
    let leader_node = nodes.iter().find(|n| n.name == leader_name).ok_or_else(|| {
        Error::invalid(format!(
            "status.kubeadm.controlPlane {leader_name} is not in status.nodes.instances"
        ))
    })?;
    let connector = fleet::connector(doc, &args.ssh).await?;
    let (leader, _) = connector.connect(&fleet::target(leader_node, &args.ssh)).await?;
    let api = kubectl::api_version(&leader).await?;
    let facts = kubectl::nodes(&leader).await?;
    let decision = skew::decide(api, &want, &facts)?;
    let Decision::Upgrade { from, to, minor } = decision else {
        tracing::info!("the cluster runs {api} on every node: nothing to upgrade");
        st.version = Some(api.to_string());
        doc.set(&st);
        return Ok(());
    };
    // The roll: the document's nodes that are in the cluster, control
    // planes (the leader first) before workers.
    let mut roll: Vec<(Node, String)> = nodes
        .iter()
        .filter_map(|n| {
            let k8s = n.private_dns.clone()?;
            facts.iter().any(|f| f.name == k8s).then(|| (n.clone(), k8s))
        })
        .collect();
    roll.sort_by_key(|(n, _)| {
        (
            n.role != NodeRole::ControlPlane,
            n.name != leader_name,
            n.name.clone(),
        )
    });

    let mut record = match under_way {
        Some(u) if to.is_none_or(|t| u.to == t.to_string()) => u,
        _ => Upgrade {
            from: from.to_string(),
            to: to.map(|t| t.to_string()).unwrap_or_default(),
            started: phx_core::time::now_rfc3339(),
            finished: None,
            nodes: Default::default(),
        },
    };
    // A roll to "the newest patch" that already settled it keeps to it.
    let to = to.or_else(|| Semver::parse(&record.to));
    phx_core::progress::eprint(&describe(&record, from, to, minor, &roll, &facts));

    // Every node reachable, and a backup, before anything changes. The
    // leader (the roll's first) is connected already.
    if roll.first().is_none_or(|(n, _)| n.name != leader_name) {
        return Err(Error::failed(format!(
            "{leader_name}: its Node is not in the cluster its API server describes"
        )));
    }
    let roll_nodes: Vec<Node> = roll.iter().map(|(n, _)| n.clone()).collect();
    let mut sessions = vec![leader];
    for (n, c) in crate::connect_with(&connector, &roll_nodes[1..], &args.ssh).await {
        let (s, _) = c.map_err(|e| {
            e.context(format!(
                "{}: before anything changes, every node must answer",
                n.name
            ))
        })?;
        sessions.push(s);
    }
    let guard = crate::backup::Guard::new(doc).await?;
    guard
        .before_change(
            &sessions[0],
            &format!(
                "upgrade to {}",
                to.map_or(format!("1.{minor}"), |t| t.to_string())
            ),
        )
        .await?;
    if let Some(b) = guard.backups() {
        st.backups = b;
    }

    let mut ctx = Roll {
        args,
        config,
        minor,
        to,
        width: crate::width(&roll_nodes),
    };
    let leader = &sessions[0];
    let result = run_roll(&mut ctx, leader, &roll, &sessions, &facts, &mut record, |r| {
        st.upgrade = Some(r.clone());
        doc.set(&st);
        phx_core::progress::activity(&rolled(r, roll.len()));
    })
    .await;
    if let Err(e) = result {
        return Err(e.context(format!(
            "upgrade to {} stopped (status.kubeadm.upgrade says how far each node got; the same \
             command resumes it)",
            ctx.target_text()
        )));
    }
    phx_core::progress::result(format!("{} nodes upgraded to {}", roll.len(), record.to));
    record.finished = Some(phx_core::time::now_rfc3339());
    st.version = Some(kubectl::api_version(leader).await?.to_string());
    st.upgrade = Some(record);
    doc.set(&st);
    Ok(())
}

/// Where a roll is: `nodes: 2/4 at v1.35.4`.
fn rolled(r: &Upgrade, nodes: usize) -> String {
    let done = r.nodes.values().filter(|n| n.step == STEPS[3]).count();
    format!("nodes: {done}/{nodes} at {}", r.to)
}

/// The plan's row for an upgrade the recorded version says is due, or
/// one under way (`upgrade` checks the cluster itself before it acts).
pub fn planned(st: &KubeadmStatus, want: &Version, name: &str) -> Option<PlannedChange> {
    let to = match want.package.as_str() {
        "" => want.minor.clone(),
        p => p.to_string(),
    };
    if let Some(u) = st.upgrade.as_ref().filter(|u| u.finished.is_none()) {
        let detail = format!("resume the upgrade from {} to {} node by node", u.from, u.to);
        return Some(PlannedChange::new("upgrade", "cluster", name, &detail));
    }
    let v = st.version.as_deref()?;
    (!recorded_matches(Some(v), want)).then(|| {
        let detail = format!("from {v} to {to} node by node (checked before anything changes)");
        PlannedChange::new("upgrade", "cluster", name, &detail)
    })
}

/// Whether the recorded version is what the spec asks (then no node is
/// asked anything): same minor, and the same patch when one is pinned.
fn recorded_matches(recorded: Option<&str>, want: &Version) -> bool {
    let Some(v) = recorded.and_then(Semver::parse) else {
        return false;
    };
    match want.package.as_str() {
        "" => format!("1.{}", v.minor) == want.minor,
        p => Semver::parse(p) == Some(v),
    }
}

/// What one roll needs to know.
struct Roll<'a> {
    args: &'a UpgradeArgs,
    config: String,
    minor: u32,
    /// Known from the start when pinned, else once the first control
    /// plane is upgraded.
    to: Option<Semver>,
    width: usize,
}

impl Roll<'_> {
    fn target_text(&self) -> String {
        self.to.map_or(format!("1.{}", self.minor), |t| t.to_string())
    }

    fn script(&self, step: &str, first: bool) -> Vec<u8> {
        let minor = format!("1.{}", self.minor);
        let package = self
            .to
            .map(|t| t.to_string()[1..].to_string())
            .unwrap_or_default();
        let version = self.to.map(|t| t.to_string()).unwrap_or_default();
        remote::with_vars(
            remote::UPGRADE,
            &[
                ("PHX_STEP", step),
                ("PHX_K8S_MINOR", &minor),
                ("PHX_K8S_PACKAGE_VERSION", &package),
                ("PHX_VERSION", &version),
                ("PHX_FIRST", if first { "1" } else { "0" }),
                ("PHX_UPGRADE_CONFIG", &self.config),
            ],
        )
    }
}

/// The nodes in order (workers in batches of `--max-unavailable`), each
/// step recorded through `save` as it is done.
async fn run_roll(
    ctx: &mut Roll<'_>,
    leader: &Session,
    roll: &[(Node, String)],
    sessions: &[Session],
    facts: &[NodeFacts],
    record: &mut Upgrade,
    mut save: impl FnMut(&Upgrade),
) -> Result<()> {
    if ctx.to.is_none() {
        // "The newest patch": the first control plane's kubeadm settles it,
        // and every other node gets that one.
        let (n, _) = &roll[0];
        tracing::info!("{:<w$} | upgrade: kubeadm", n.name, w = ctx.width);
        apply::run(
            &sessions[0],
            ctx.width,
            "upgrade kubeadm",
            remote::RUN_AS_ROOT,
            &ctx.script("kubeadm", true),
        )
        .await
        .map_err(|e| e.context(&n.name))?;
        let to = kubectl::api_version(leader).await?;
        ctx.to = Some(to);
        record.to = to.to_string();
        let before = facts
            .iter()
            .find(|f| f.name == roll[0].1)
            .map(|f| f.kubelet.to_string());
        let progress = UpgradeNode {
            version: before.unwrap_or_default(),
            step: "kubeadm".into(),
        };
        record.nodes.insert(n.name.clone(), progress);
        save(record);
    }
    let cps = roll
        .iter()
        .filter(|(n, _)| n.role == NodeRole::ControlPlane)
        .count();
    let mut i = 0;
    while i < roll.len() {
        let batch = if i < cps {
            1
        } else {
            usize::from(ctx.args.max_unavailable)
        };
        let end = (i + batch).min(roll.len());
        let runs = (i..end).map(|j| {
            let mut mine = record.clone();
            let ctx = &*ctx;
            async move {
                let r = node(ctx, leader, &roll[j], &sessions[j], j == 0, &mut mine, facts).await;
                (roll[j].0.name.clone(), mine, r)
            }
        });
        let results = futures::future::join_all(runs).await;
        let mut first_error = None;
        for (name, mine, r) in results {
            if let Some(n) = mine.nodes.get(&name) {
                record.nodes.insert(name, n.clone());
            }
            if let Err(e) = r {
                first_error.get_or_insert(e);
            }
        }
        save(record);
        if let Some(e) = first_error {
            return Err(e);
        }
        kubectl::until("the cluster whole again", ctx.args.node_timeout, || {
            kubectl::whole(leader)
        })
        .await?;
        i = end;
    }
    Ok(())
}

/// One node's steps after the last one recorded; a node already at the
/// version, Ready and schedulable (joined at it, or done) is left alone.
async fn node(
    ctx: &Roll<'_>,
    leader: &Session,
    (n, k8s): &(Node, String),
    session: &Session,
    first: bool,
    record: &mut Upgrade,
    facts: &[NodeFacts],
) -> Result<()> {
    let fact = facts.iter().find(|f| &f.name == k8s);
    let mut progress = record.nodes.get(&n.name).cloned().unwrap_or(UpgradeNode {
        version: fact.map(|f| f.kubelet.to_string()).unwrap_or_default(),
        step: String::new(),
    });
    if let (Some(f), Some(t)) = (fact, ctx.to) {
        if f.kubelet == t && !f.unschedulable && progress.step.is_empty() {
            progress.step = "uncordoned".into();
            record.nodes.insert(n.name.clone(), progress.clone());
        }
    }
    let done = STEPS
        .iter()
        .position(|s| *s == progress.step)
        .map_or(0, |i| i + 1);
    let w = ctx.width;
    for step in &STEPS[done..] {
        tracing::info!("{:<w$} | upgrade: {step}", n.name);
        let r = match *step {
            "kubeadm" => apply::run(
                session,
                w,
                "upgrade kubeadm",
                remote::RUN_AS_ROOT,
                &ctx.script("kubeadm", first),
            )
            .await
            .map(|_| ()),
            "drained" => kubectl::drain(leader, k8s, ctx.args.drain_timeout, ctx.args.force_drain).await,
            "kubelet" => {
                let t = ctx
                    .to
                    .ok_or_else(|| Error::failed("the version to upgrade to is not known"))?;
                apply::run(
                    session,
                    w,
                    "upgrade kubelet",
                    remote::RUN_AS_ROOT,
                    &ctx.script("kubelet", first),
                )
                .await?;
                kubectl::until(&format!("{k8s} Ready at {t}"), ctx.args.node_timeout, || async {
                    let nodes = kubectl::nodes(leader).await?;
                    match nodes.iter().find(|f| &f.name == k8s) {
                        Some(f) if f.ready && f.kubelet == t => Ok(()),
                        Some(f) => Err(Error::failed(format!("Ready {}, kubelet {}", f.ready, f.kubelet))),
                        None => Err(Error::failed("no such Node")),
                    }
                })
                .await
            }
            _ => kubectl::uncordon(leader, k8s).await,
        };
        r.map_err(|e| e.context(&n.name))?;
        progress.step = (*step).to_string();
        if *step == "kubelet" {
            progress.version = ctx.target_text();
        }
        record.nodes.insert(n.name.clone(), progress.clone());
    }
    Ok(())
}

/// What the roll will do, for stderr.
fn describe(
    record: &Upgrade,
    from: Semver,
    to: Option<Semver>,
    minor: u32,
    roll: &[(Node, String)],
    facts: &[NodeFacts],
) -> String {
    let target = to.map_or(format!("1.{minor} (the newest patch)"), |t| t.to_string());
    let mut s = format!("Upgrade from {from} to {target}, one node at a time:\n");
    for (n, k8s) in roll {
        let kubelet = facts
            .iter()
            .find(|f| &f.name == k8s)
            .map(|f| f.kubelet.to_string())
            .unwrap_or_default();
        let step = record.nodes.get(&n.name).map(|p| p.step.as_str()).unwrap_or("");
        let state = match step {
            "" => format!("kubelet {kubelet}"),
            s => format!("kubelet {kubelet}, done: {s}"),
        };
        s.push_str(&format!("  {:<13} {}  ({state})\n", n.role.as_str(), n.name));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorded_version_spares_the_nodes_only_when_it_is_what_the_spec_asks() {
        let v = |s: &str| Version::parse(s).unwrap();
        assert!(recorded_matches(Some("v1.34.4"), &v("1.34")));
        assert!(recorded_matches(Some("v1.34.4"), &v("1.34.4")));
        assert!(!recorded_matches(Some("v1.34.4"), &v("1.34.5")));
        assert!(!recorded_matches(Some("v1.34.4"), &v("1.35")));
        assert!(!recorded_matches(None, &v("1.34")));
    }

    #[test]
    fn the_plan_shows_an_upgrade_due_or_under_way() {
        let v = |s: &str| Version::parse(s).unwrap();
        let mut st = KubeadmStatus {
            version: Some("v1.34.4".into()),
            ..Default::default()
        };
        assert_eq!(planned(&st, &v("1.34"), "c"), None);
        let row = planned(&st, &v("1.35"), "c").unwrap();
        assert_eq!((row.action.as_str(), row.name.as_str()), ("upgrade", "c"));
        assert!(row.detail.starts_with("from v1.34.4 to 1.35"), "{}", row.detail);
        st.upgrade = Some(Upgrade {
            from: "v1.34.4".into(),
            to: "v1.35.4".into(),
            started: "t".into(),
            finished: None,
            nodes: Default::default(),
        });
        let row = planned(&st, &v("1.35"), "c").unwrap();
        assert!(row.detail.starts_with("resume the upgrade"), "{}", row.detail);
    }
}
