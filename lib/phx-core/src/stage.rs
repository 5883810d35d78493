//! The pipeline rules every stage keeps.
//!
//! State is never lost: a stage that fails after parsing the document still
//! writes it, with what it made in its status and `.error` naming the stage,
//! and a stage that receives a document carrying `.error` passes it through
//! untouched and exits non-zero, so the last stage (`phx-state push`) stores
//! it and releases the lock.

use crate::document::Document;
use crate::error::{Error, Result};
use crate::io;
use crate::status::{key, keys, Key, StageError};
use std::marker::PhantomData;
use std::ops::Deref;

/// The document as the stage that owns `status.<K>` holds it: all of it
/// readable (it derefs to [`Document`]), only its own key writable. The few
/// deliberate effects on another tool's key are named methods on the one
/// owner allowed to cause them ([`Mine::pin_host_keys`],
/// [`Mine::machines_gone`]), so a reader finds every cross-key write here.
#[derive(Debug)]
pub struct Mine<'a, K: Key> {
    doc: &'a mut Document,
    key: PhantomData<K>,
}

impl<K: Key> Deref for Mine<'_, K> {
    type Target = Document;
    fn deref(&self) -> &Document {
        self.doc
    }
}

impl<'a, K: Key> Mine<'a, K> {
    fn new(doc: &'a mut Document) -> Self {
        Mine {
            doc,
            key: PhantomData,
        }
    }

    /// This tool's status as recorded.
    pub fn mine(&self) -> Result<Option<K::Value>> {
        self.doc.get::<K>()
    }

    /// Replace this tool's status.
    pub fn set(&mut self, value: &K::Value) {
        self.doc.set_status(K::NAME, value);
    }

    /// Drop this tool's status (what it recorded is gone).
    pub fn clear(&mut self) {
        self.doc.remove_status(K::NAME);
    }
}

impl<'a> Mine<'a, key::State> {
    /// phx-state owns the document's lifecycle and so `status.state`; it
    /// runs no stage, and claims its key here.
    pub fn lifecycle(doc: &'a mut Document) -> Self {
        Mine::new(doc)
    }

    /// Put back the whole stored `status` (a pull under a lock).
    pub fn restore_status(&mut self, status: serde_json::Map<String, serde_json::Value>) {
        *self.doc.status_object() = status;
    }
}

impl Mine<'_, key::Nodes> {
    /// The machines are gone, and with them what ran on them: the
    /// Kubernetes cluster, its pod network and cloud controller manager.
    /// (status.platform stays until phx-platform or phx-net destroy has
    /// swept the load balancers it may have left.)
    pub fn machines_gone(&mut self) {
        for k in [keys::NODES, keys::KUBEADM, keys::CNI, keys::CCM] {
            self.doc.remove_status(k);
        }
    }
}

impl Mine<'_, key::Kubeadm> {
    /// Record host keys accepted on first contact (`trust on first use`)
    /// in `status.nodes.instances[].ssh.hostKeys`, the one field of phx-nodes'
    /// status phx-kubeadm writes: it is the first to connect.
    pub fn pin_host_keys(&mut self, pinned: &[(String, String)]) -> Result<()> {
        let Some(mut nodes) = self.doc.get::<key::Nodes>()? else {
            return Ok(());
        };
        let mut any = false;
        for (name, host_key) in pinned {
            if let Some(n) = nodes.instances.iter_mut().find(|n| &n.name == name) {
                n.ssh.host_keys = vec![host_key.clone()];
                any = true;
            }
        }
        if any {
            self.doc.set_status(keys::NODES, &nodes);
        }
        Ok(())
    }
}

/// If an earlier stage failed, write the document unchanged and return the
/// error to exit with; otherwise `Ok(())` and the stage goes on.
pub fn pass_through_failure(doc: &Document) -> Result<()> {
    let Some(e) = doc.error() else { return Ok(()) };
    io::write_stdout(doc)?;
    Err(Error::failed(format!(
        "skipped: {} failed earlier: {}",
        e.tool, e.message
    )))
}

/// Finish a stage: write the document, marked with `.error` when the stage
/// failed, and hand back the stage's result for the exit status.
pub fn finish(mut doc: Document, tool: &str, result: Result<()>) -> Result<()> {
    if let Err(e) = &result {
        if !e.is_quiet() {
            doc.set_error(&StageError {
                tool: tool.to_string(),
                message: e.to_string(),
                at: Some(crate::time::now_rfc3339()),
            });
        }
    }
    io::write_stdout(&doc)?;
    result
}

/// A whole stage: read the document, pass an earlier failure through,
/// run `work` on it, and write it (marked with `.error` if `work` failed).
///
/// Ctrl-C or SIGTERM stops `work` where it is (its requests are dropped)
/// and the document is written as it stands, marked interrupted: what the
/// stage recorded is kept, and anything it made but had not yet recorded
/// carries the cluster's tags, so the next run finds it.
pub async fn run<K: Key>(tool: &str, work: impl AsyncFnOnce(&mut Mine<'_, K>) -> Result<()>) -> Result<()> {
    run_stage(tool, true, work).await
}

/// A stage whose work does not depend on what an earlier stage failed to
/// do and is most wanted then (an etcd backup of a cluster whose last
/// deploy failed): `work` runs even when the document carries `.error`,
/// which stays unless `work` fails too.
pub async fn run_regardless<K: Key>(
    tool: &str,
    work: impl AsyncFnOnce(&mut Mine<'_, K>) -> Result<()>,
) -> Result<()> {
    run_stage(tool, false, work).await
}

async fn run_stage<K: Key>(
    tool: &str,
    pass_through: bool,
    work: impl AsyncFnOnce(&mut Mine<'_, K>) -> Result<()>,
) -> Result<()> {
    let mut doc = io::read_stdin()?;
    if pass_through {
        pass_through_failure(&doc)?;
    }
    let lines = crate::progress::stage_lines();
    let started = std::time::Instant::now();
    if lines {
        crate::progress::stage_started(tool);
        tracing::info!("{tool}: started");
    }
    let result = {
        let mut mine = Mine::new(&mut doc);
        let work = work(&mut mine);
        tokio::select! {
            r = work => r,
            signal = crate::signal::interrupted() => Err(Error::new(
                crate::error::ExitKind::Interrupted,
                format!("interrupted by {signal}; re-run to finish (what was made is recorded or tagged)"),
            )),
        }
    };
    if lines {
        tracing::info!(
            "{}",
            crate::progress::finished_line(tool, result.is_ok(), started.elapsed())
        );
    }
    finish(doc, tool, result)
}
