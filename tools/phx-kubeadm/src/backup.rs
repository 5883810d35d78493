//! `phx-kubeadm backup` and `backups`: etcd snapshots in the state bucket.
//!
//! A control plane with a healthy etcd makes the snapshot in RAM with
//! etcd's own tools and checks it (`scripts/backup.sh`); its bytes come
//! over the SSH session and go straight into a multipart upload, which is
//! completed only once the node said the snapshot was whole and every byte
//! arrived. So a failed backup leaves nothing in the bucket, a snapshot
//! never touches the node's disk, and no AWS credential goes to a node.
//! The retention rule ([`crate::retention`]) runs after a successful
//! upload only.

use crate::cli::SshArgs;
use crate::snapshots::Snapshots;
use crate::{fleet, remote, retention, Doc};
use phx_core::spec::Keep;
use phx_core::status::{Backup, Node, NodeRole};
use phx_core::{io, Error, Result};
use phx_ssh::Session;
use serde::Deserialize;
use std::time::SystemTime;
use tokio::sync::mpsc;

/// What `etcdutl snapshot status -w json` says of a snapshot.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Status {
    revision: u64,
    total_key: u64,
    #[serde(default)]
    version: String,
}

/// Why one control plane gave no snapshot.
enum Refusal {
    /// Its etcd is not healthy (exit 3): another control plane may do.
    Unhealthy(String),
    Failed(Error),
}

/// The control planes the document lists, the leading one first: the
/// order in which they are asked for a snapshot.
pub fn control_planes(doc: &Doc<'_>) -> Result<Vec<Node>> {
    let leader = doc.mine()?.and_then(|s| s.control_plane);
    let mut cps: Vec<Node> = fleet::nodes(doc)?
        .into_iter()
        .filter(|n| n.role == NodeRole::ControlPlane)
        .collect();
    cps.sort_by_key(|n| Some(&n.name) != leader.as_ref());
    if cps.is_empty() {
        return Err(Error::invalid(
            "status.nodes.instances has no control plane: nothing to back up",
        ));
    }
    Ok(cps)
}

/// A snapshot from the first of `sessions` whose etcd is healthy, in the
/// bucket; then the retention rule. Returns the snapshots kept, newest
/// (this one) first.
pub async fn take(store: &Snapshots, sessions: &[&Session], keep: Keep) -> Result<Vec<Backup>> {
    let mut unhealthy = Vec::new();
    for s in sessions {
        let name = s.name();
        match take_on(store, name, s).await {
            Ok(b) => {
                tracing::info!(
                    "{name}: etcd snapshot at revision {} ({} bytes) in {}",
                    b.revision,
                    b.size,
                    store.url(&b.key)
                );
                return prune(store, keep).await;
            }
            Err(Refusal::Unhealthy(why)) => {
                tracing::warn!("{name}: {why}");
                unhealthy.push(format!("{name}: {why}"));
            }
            Err(Refusal::Failed(e)) => return Err(e.context(format!("{name}: etcd snapshot"))),
        }
    }
    Err(Error::failed(format!(
        "no control plane has a healthy etcd, nothing was uploaded ({})",
        unhealthy.join("; ")
    )))
}

async fn take_on(store: &Snapshots, name: &str, s: &Session) -> std::result::Result<Backup, Refusal> {
    let script = format!("{}{}", remote::ETCD_LIB, remote::BACKUP);
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(8);
    let run = s.pipe(remote::RUN_AS_ROOT, script.as_bytes(), Some(tx), |l| {
        tracing::debug!("{name} | backup | {l}")
    });
    let upload = async {
        // The first line: "SIZE STATUS".
        let mut head = Vec::new();
        let nl = loop {
            match rx.recv().await {
                Some(chunk) => head.extend(chunk),
                None => return Ok(None),
            }
            if let Some(i) = head.iter().position(|b| *b == b'\n') {
                break i;
            }
        };
        let line = String::from_utf8_lossy(&head[..nl]).to_string();
        let (size, status) = line
            .split_once(' ')
            .and_then(|(n, s)| Some((n.parse::<u64>().ok()?, serde_json::from_str::<Status>(s).ok()?)))
            .ok_or_else(|| Error::failed(format!("the node's snapshot header is not SIZE STATUS: {line}")))?;
        let key = store.key(SystemTime::now(), status.revision);
        let rest = head.split_off(nl + 1);
        let up = store.upload(&key, rest, rx).await?;
        Ok(Some((key, size, status, up)))
    };
    let (out, up) = tokio::join!(run, upload);
    let out = out.map_err(Refusal::Failed)?;
    let up: Option<_> = up.map_err(Refusal::Failed)?;
    let tail = out.tail.join(" | ");
    let Some((key, size, status, up)) = up else {
        return Err(match out.code {
            3 => Refusal::Unhealthy(tail),
            c => Refusal::Failed(Error::failed(format!("the snapshot script exited {c}: {tail}"))),
        });
    };
    if out.code != 0 || up.size() != size {
        let got = up.size();
        up.abort().await;
        return Err(Refusal::Failed(Error::failed(match out.code {
            0 => format!("{got} of the snapshot's {size} bytes arrived; nothing kept"),
            c => format!("the snapshot script exited {c} after {got} bytes: {tail}; nothing kept"),
        })));
    }
    up.complete().await.map_err(Refusal::Failed)?;
    tracing::debug!(
        "{name}: snapshot of etcd {} with {} keys",
        status.version,
        status.total_key
    );
    let time = store
        .parse(&key, size)
        .map(|b| b.time)
        .unwrap_or_else(phx_core::time::now_rfc3339);
    Ok(Backup {
        key,
        time,
        revision: status.revision,
        size,
    })
}

/// The retention rule applied; the snapshots left, newest first.
async fn prune(store: &Snapshots, keep: Keep) -> Result<Vec<Backup>> {
    let all = store.list().await?;
    let kept = retention::kept(&all, keep);
    let mut left = Vec::new();
    for b in all {
        if kept.contains(&b.key) {
            left.push(b);
        } else {
            tracing::info!("{}: beyond spec.backup.keep, deleting it", store.url(&b.key));
            store.delete(&b.key).await?;
        }
    }
    Ok(left)
}

/// `backup`: one snapshot, recorded in `status.kubeadm.backups`.
pub async fn backup(doc: &mut Doc<'_>, args: &SshArgs) -> Result<()> {
    let store = Snapshots::open(doc).await?;
    let cps = control_planes(doc)?;
    let connector = fleet::connector(doc, args).await?;
    let mut sessions = Vec::new();
    let mut unreachable = Vec::new();
    for n in &cps {
        match connector.connect(&fleet::target(n, args)).await {
            Ok((s, _)) => sessions.push(s),
            Err(e) => unreachable.push(e.to_string()),
        }
    }
    if sessions.is_empty() {
        return Err(Error::failed(format!(
            "no control plane could be reached: {}",
            unreachable.join("; ")
        )));
    }
    let sessions: Vec<&Session> = sessions.iter().collect();
    let left = take(&store, &sessions, doc.spec().backup.keep).await?;
    record(doc, left)
}

/// A backup before the control plane changes (control planes joining an
/// existing cluster or leaving it), taken once per run on first need.
/// Without a state bucket there is nowhere to put one: a warning.
#[derive(Debug)]
pub struct Guard {
    store: Option<(Snapshots, Keep)>,
    /// Set when this run made the cluster: nothing in it to lose yet.
    fresh: std::sync::atomic::AtomicBool,
    taken: tokio::sync::OnceCell<std::result::Result<Vec<Backup>, String>>,
}

impl Guard {
    pub async fn new(doc: &phx_core::Document) -> Result<Guard> {
        let store = match doc.spec().state.bucket {
            Some(_) => Some((Snapshots::open(doc).await?, doc.spec().backup.keep)),
            None => None,
        };
        Ok(Guard {
            store,
            fresh: std::sync::atomic::AtomicBool::new(false),
            taken: tokio::sync::OnceCell::new(),
        })
    }

    /// The cluster was initialized in this run.
    pub fn fresh_cluster(&self) {
        self.fresh.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// The backup, taken on `leader` if not yet this run.
    pub async fn before_change(&self, leader: &Session, change: &str) -> Result<()> {
        if self.fresh.load(std::sync::atomic::Ordering::Relaxed) {
            return Ok(());
        }
        let Some((store, keep)) = &self.store else {
            tracing::warn!("{change}: no etcd backup first (spec.state.bucket is not set)");
            return Ok(());
        };
        self.taken
            .get_or_init(|| async {
                tracing::info!("{change}: an etcd backup first");
                take(store, &[leader], *keep).await.map_err(|e| e.to_string())
            })
            .await
            .clone()
            .map(|_| ())
            .map_err(|m| Error::failed(format!("the etcd backup before the control plane changes: {m}")))
    }

    /// The snapshots left after this run's backup, if one was taken.
    pub fn backups(&self) -> Option<Vec<Backup>> {
        self.taken.get().and_then(|r| r.as_ref().ok()).cloned()
    }
}

/// `status.kubeadm.backups` as the bucket now has them.
pub fn record(doc: &mut Doc<'_>, backups: Vec<Backup>) -> Result<()> {
    let mut st = doc.mine()?.unwrap_or_default();
    st.backups = backups;
    doc.set(&st);
    Ok(())
}

/// `backups`: the bucket's snapshots, a table on a terminal, else JSON.
pub async fn list() -> Result<()> {
    let doc = io::read_stdin()?;
    let store = Snapshots::open(&doc).await?;
    let all = store.list().await?;
    if !io::stdout_is_terminal() {
        return io::write_json(&serde_json::to_value(&all).map_err(Error::failed)?);
    }
    let rows: Vec<Vec<String>> = all
        .iter()
        .map(|b| {
            vec![
                b.time.clone(),
                b.revision.to_string(),
                b.size.to_string(),
                b.key.clone(),
            ]
        })
        .collect();
    io::write_bytes(phx_core::table::render(&["TIME", "REVISION", "BYTES", "KEY"], &rows, 2).as_bytes())
}
