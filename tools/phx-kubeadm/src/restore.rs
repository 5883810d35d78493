//! `phx-kubeadm restore`: the cluster's etcd put back to a snapshot.
//!
//! Every control plane takes the same steps, together, in order: stop
//! (etcd and the API server), restore (the snapshot, streamed from the
//! bucket through the SSH session, restored as this member of the whole
//! cluster under a new cluster token), start; then the cluster is verified:
//! every member back and healthy, etcd serving the snapshot's (bumped)
//! revision, each API server's `/readyz`. `status.kubeadm.restore` records
//! the last step done on every control plane, and each step can run again
//! (`scripts/restore.sh`), so an interrupted restore is resumed by running
//! the same command again.
//!
//! Nothing stops before the snapshot, the control planes' addresses and
//! every control plane's SSH session are known to be there: a bad `--from`
//! or an unreachable node leaves the cluster as it was.

use crate::backup::control_planes;
use crate::cli::RestoreArgs;
use crate::snapshots::Snapshots;
use crate::{apply, etcd, remote, Doc};
use phx_core::status::{Backup, Node, Restore};
use phx_core::{io, Error, Result};
use phx_ssh::Session;
use std::time::Duration;

/// The steps, each done on every control plane before the next.
const STEPS: [&str; 4] = ["stopped", "restored", "started", "verified"];

/// etcd's revision after a restore: the snapshot's plus this (restore.sh),
/// beyond any revision a client can have seen since.
const BUMP: u64 = 1_000_000_000;

/// How long etcd and the API servers get to come back.
const COME_BACK: Duration = Duration::from_secs(300);

pub async fn restore(doc: &mut Doc<'_>, args: &RestoreArgs) -> Result<()> {
    let store = Snapshots::open(doc).await?;
    let mut st = doc.mine()?.unwrap_or_default();
    let under_way = st.restore.clone().filter(|r| r.finished.is_none());
    let snapshot = match &under_way {
        Some(r)
            if args.from == "latest" || store.resolve(&args.from).await.is_ok_and(|b| b.key == r.from) =>
        {
            store.resolve(&r.from).await?
        }
        Some(r) => {
            return Err(Error::invalid(format!(
                "--from {}: the restore from {} is under way (done: {}); --from latest finishes it",
                args.from, r.from, r.step
            )))
        }
        None => store.resolve(&args.from).await?,
    };
    let cps = control_planes(doc)?;
    let members = members(&cps)?;
    let cluster = members
        .iter()
        .map(|(name, ip)| format!("{name}=https://{ip}:2380"))
        .collect::<Vec<_>>()
        .join(",");
    let mut r = under_way.unwrap_or_else(|| Restore {
        from: snapshot.key.clone(),
        token: format!("phx-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]),
        step: "planned".into(),
        started: phx_core::time::now_rfc3339(),
        finished: None,
    });
    let done = STEPS.iter().position(|s| *s == r.step).map_or(0, |i| i + 1);

    phx_core::progress::eprint(&describe(&snapshot, &cps, &store, done));
    if !args.yes && !io::confirm("Restore?", "--yes")? {
        return Err(Error::usage("not confirmed: nothing was changed"));
    }

    // Every control plane reachable before any stops.
    let mut sessions = Vec::new();
    for (_, c) in crate::connect_all(doc, &cps, &args.ssh).await? {
        let (s, _) = c.map_err(|e| e.context("before anything stops, every control plane must answer"))?;
        sessions.push(s);
    }
    let width = crate::width(&cps);

    for step in &STEPS[done..] {
        let result = match *step {
            "stopped" => each(&sessions, width, "stop", &step_script("stop", &r.token, &[])).await,
            "restored" => {
                restore_all(&store, &snapshot, &sessions, &members, &cluster, &r.token, width).await
            }
            "started" => each(&sessions, width, "start", &step_script("start", &r.token, &[])).await,
            _ => verify(&sessions, &snapshot).await,
        };
        if let Err(e) = result {
            st.restore = Some(r.clone());
            doc.set(&st);
            return Err(e.context(format!(
                "restore from {} (done: {}; the same command resumes it)",
                r.from, r.step
            )));
        }
        r.step = (*step).to_string();
        st.restore = Some(r.clone());
        doc.set(&st);
    }
    r.finished = Some(phx_core::time::now_rfc3339());
    st.restore = Some(r);
    doc.set(&st);
    Ok(())
}

/// Each control plane's etcd member: its kubelet name and private IP.
fn members(cps: &[Node]) -> Result<Vec<(String, String)>> {
    cps.iter()
        .map(|n| match (&n.private_dns, &n.private_ip) {
            (Some(d), Some(ip)) => Ok((d.clone(), ip.clone())),
            _ => Err(Error::invalid(format!(
                "status.nodes.instances: {} has no privateDns or privateIp (its etcd member's name and peer address)",
                n.name
            ))),
        })
        .collect()
}

/// What the restore will do, for the question.
fn describe(snapshot: &Backup, cps: &[Node], store: &Snapshots, done: usize) -> String {
    let names: Vec<&str> = cps.iter().map(|n| n.name.as_str()).collect();
    let mut s = format!(
        "Restore etcd from {} (taken {}, revision {}, {} bytes) on {}:\n",
        store.url(&snapshot.key),
        snapshot.time,
        snapshot.revision,
        snapshot.size,
        names.join(", ")
    );
    let lines = [
        "stop etcd and the API server on each (the cluster's API is down until they start)",
        "replace each member's data with the snapshot (the old kept as /var/lib/etcd.before-phx-restore)",
        "start them",
        "verify: every member healthy, the API ready on each",
    ];
    for (i, l) in lines.iter().enumerate() {
        let mark = if i < done { "done" } else { "    " };
        s.push_str(&format!("  {mark}  {}. {l}\n", i + 1));
    }
    s.push_str(&format!(
        "Everything the cluster stored after {} is lost.\n",
        snapshot.time
    ));
    s
}

fn step_script(step: &str, token: &str, vars: &[(&str, &str)]) -> Vec<u8> {
    let mut all = vec![("PHX_STEP", step), ("PHX_TOKEN", token)];
    all.extend_from_slice(vars);
    let mut text = remote::with_vars(remote::ETCD_LIB, &all);
    text.extend_from_slice(remote::RESTORE.as_bytes());
    text
}

/// `script` on every session at once; the first failure.
async fn each(sessions: &[Session], width: usize, step: &str, script: &[u8]) -> Result<()> {
    let runs = sessions.iter().map(|s| async move {
        apply::run(s, width, step, remote::RUN_AS_ROOT, script)
            .await
            .map_err(|e| e.context(s.name()))
    });
    futures::future::join_all(runs)
        .await
        .into_iter()
        .collect::<Result<Vec<_>>>()
        .map(|_| ())
}

/// The snapshot restored on every control plane, each fed its own
/// download (nothing of it is kept here).
async fn restore_all(
    store: &Snapshots,
    snapshot: &Backup,
    sessions: &[Session],
    members: &[(String, String)],
    cluster: &str,
    token: &str,
    width: usize,
) -> Result<()> {
    let runs = sessions.iter().zip(members).map(|(s, (name, ip))| async move {
        let peer = format!("https://{ip}:2380");
        let size = snapshot.size.to_string();
        let header = step_script(
            "restore",
            token,
            &[
                ("PHX_NAME", name),
                ("PHX_PEER_URL", &peer),
                ("PHX_CLUSTER", cluster),
                ("PHX_SIZE", &size),
            ],
        );
        let data = store.download(&snapshot.key).await?;
        let input = tokio::io::AsyncReadExt::chain(&header[..], data);
        let node = s.name().to_string();
        let out = s
            // bash reads a script on stdin a byte at a time, so the
            // script's `cat` takes the rest: the snapshot.
            .pipe(remote::RUN_AS_ROOT, input, None, |l| {
                tracing::info!("{node:<width$} | {l}")
            })
            .await?;
        s.check("restore", &out).map_err(|e| e.context(&node))
    });
    futures::future::join_all(runs)
        .await
        .into_iter()
        .collect::<Result<Vec<_>>>()
        .map(|_| ())
}

/// Every member back, etcd serving the restored data, each API server
/// ready; what was verified goes to stderr.
async fn verify(sessions: &[Session], snapshot: &Backup) -> Result<()> {
    let said = crate::kubectl::until("etcd and the API servers to come back", COME_BACK, || {
        check(sessions, snapshot)
    })
    .await?;
    phx_core::progress::eprint(&format!("phx-kubeadm: verified: {said}\n"));
    Ok(())
}

async fn check(sessions: &[Session], snapshot: &Backup) -> Result<String> {
    let leader = &sessions[0];
    let members = etcd::list(leader).await?;
    if members.len() != sessions.len() || members.iter().any(|m| m.name.is_empty()) {
        return Err(Error::failed(format!(
            "etcd lists {} started members of {}",
            members.iter().filter(|m| !m.name.is_empty()).count(),
            sessions.len()
        )));
    }
    let mut revisions = Vec::new();
    for s in sessions {
        let rev = etcd::revision(s).await.map_err(|e| e.context(s.name()))?;
        if rev < snapshot.revision + BUMP {
            return Err(Error::failed(format!(
                "{}: etcd serves revision {rev}, not the restored {}",
                s.name(),
                snapshot.revision + BUMP
            )));
        }
        let ready = s
            .capture(
                &format!("sudo -n kubectl {} get --raw /readyz", apply::LOCAL_API),
                b"",
            )
            .await?;
        if ready.trim() != "ok" {
            return Err(Error::failed(format!(
                "{}: /readyz said {}",
                s.name(),
                ready.trim()
            )));
        }
        revisions.push(rev);
    }
    Ok(format!(
        "{} etcd members healthy at revision {} (the snapshot's {} + {BUMP}); /readyz ok on {}",
        members.len(),
        revisions.iter().max().copied().unwrap_or_default(),
        snapshot.revision,
        sessions.iter().map(|s| s.name()).collect::<Vec<_>>().join(", ")
    ))
}
