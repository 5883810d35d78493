//! `push`: store the document as the next serial.
//!
//! The rules, checked before anything is written: the lock (if one is held)
//! must be this document's; the lineage must match the stored one; the
//! document must not be based on an older serial than the stored one.
//! `--force` overrides all three. A document that cannot be stored is saved
//! to a local file and the lock is kept, so no work is ever lost.

use super::lock::{describe_holder, release};
use super::{read_stored, state_of};
use crate::backend::{Locker, Store, StoredMeta};
use crate::config::{who, BackendArgs};
use phx_core::stage::Mine;
use phx_core::status::{StateStatus, Updated};
use phx_core::{io, Document, Error, Result};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;

pub async fn push(backend: &BackendArgs, unlock: bool, force: bool) -> Result<()> {
    let mut doc = io::read_stdin()?;
    // Validate what we will read before touching anything remote.
    state_of(&doc)?;
    let config = backend.resolve(&doc);
    config.validate()?;
    let result = match config.open().await {
        Ok((store, locker)) => store_document(&mut doc, &store, &locker, unlock, force).await,
        Err(e) => Err(e),
    };
    if let Err(e) = result {
        // A copy is saved locally below: from here on something changed.
        let e = e.changed_something();
        return Err(match save_errored(&doc) {
            Ok(path) => e.context("not stored").context(format!(
                "the document was saved to {path} and the lock kept (after fixing: phx-state push --unlock < {path})"
            )),
            Err(save) => e.context(format!("not stored, and saving it locally failed too ({save})")),
        });
    }
    io::write_stdout(&doc)?;
    match doc.error() {
        Some(err) => Err(Error::failed(format!(
            "stored, but stage {} failed: {}",
            err.tool, err.message
        ))),
        None => Ok(()),
    }
}

async fn store_document(
    doc: &mut Document,
    store: &Store,
    locker: &Locker,
    unlock: bool,
    force: bool,
) -> Result<()> {
    let ours = state_of(doc)?;
    let lock_id = ours.as_ref().and_then(|s| s.lock.as_ref()).map(|l| l.id.clone());
    match (locker.holder().await?, &lock_id) {
        (Some(h), _) if Some(&h.id) != lock_id.as_ref() && !force => {
            return Err(Error::failed(format!(
                "refusing to push: the state is {} and this document does not hold that lock",
                describe_holder(&h)
            )));
        }
        (None, Some(id)) => tracing::warn!("the lock {id} this document was taken under is no longer held"),
        _ => {}
    }
    let _guard = store.guard()?;
    let stored = read_stored(store, None).await?;
    let theirs = match &stored {
        Some(s) => state_of(s)?,
        None => None,
    };
    let (serial, lineage) = next_serial(ours.as_ref(), theirs.as_ref(), force)?;
    let state = StateStatus {
        serial,
        lineage: lineage.clone(),
        location: Some(store.location()),
        updated: Some(Updated {
            by: who(),
            at: phx_core::time::now_rfc3339(),
        }),
        lock: None,
    };
    Mine::lifecycle(doc).set(&state);
    let meta = StoredMeta {
        serial,
        lineage,
        who: who(),
    };
    store.write(&doc.to_bytes(true), &meta).await?;
    tracing::info!("stored serial {serial} at {}", store.location());
    match (&lock_id, unlock) {
        (Some(id), true) => release(locker, id).await?,
        (None, true) => tracing::warn!("--unlock: this document holds no lock"),
        (Some(_), false) => {
            // Still locked: the document keeps carrying its lock.
            let mut with_lock = state;
            with_lock.lock = ours.and_then(|s| s.lock);
            Mine::lifecycle(doc).set(&with_lock);
        }
        (None, false) => {}
    }
    Ok(())
}

/// The serial and lineage to store, or why the push is refused.
fn next_serial(
    ours: Option<&StateStatus>,
    theirs: Option<&StateStatus>,
    force: bool,
) -> Result<(u64, String)> {
    let fresh = || uuid::Uuid::new_v4().to_string();
    let Some(theirs) = theirs else {
        return Ok(match ours {
            Some(o) => (o.serial + 1, o.lineage.clone()),
            None => (1, fresh()),
        });
    };
    let Some(ours) = ours else {
        if force {
            return Ok((theirs.serial + 1, theirs.lineage.clone()));
        }
        return Err(Error::failed(format!(
            "refusing to push: the document has no status.state (it did not come from phx-state lock or pull) \
             and serial {} is stored; use --force to overwrite",
            theirs.serial
        )));
    };
    if !force {
        if ours.lineage != theirs.lineage {
            return Err(Error::failed(format!(
                "refusing to push: lineage {} differs from the stored {} (another cluster's state?)",
                ours.lineage, theirs.lineage
            )));
        }
        if ours.serial < theirs.serial {
            return Err(Error::failed(format!(
                "refusing to push: the document is based on serial {}, but serial {} is stored (someone pushed since; \
                 lock again and re-run)",
                ours.serial, theirs.serial
            )));
        }
    }
    Ok((ours.serial.max(theirs.serial) + 1, ours.lineage.clone()))
}

/// Keep a document that could not be stored:
/// `phx-errored-<name>-<time>-<unique>.json` in the working directory, mode
/// 0600 (as Terraform's errored.tfstate).
fn save_errored(doc: &Document) -> std::io::Result<String> {
    let stamp = phx_core::time::now_rfc3339().replace(':', "");
    let unique = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let path = format!("phx-errored-{}-{stamp}-{unique}.json", doc.name());
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)?;
    f.write_all(&doc.to_bytes(true))?;
    f.sync_all()?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(serial: u64, lineage: &str) -> StateStatus {
        StateStatus {
            serial,
            lineage: lineage.into(),
            location: None,
            updated: None,
            lock: None,
        }
    }

    #[test]
    fn serial_rules() {
        assert_eq!(
            next_serial(Some(&st(3, "a")), Some(&st(3, "a")), false).unwrap(),
            (4, "a".into())
        );
        assert_eq!(next_serial(None, None, false).unwrap().0, 1);
        assert!(next_serial(Some(&st(2, "a")), Some(&st(3, "a")), false).is_err());
        assert!(next_serial(Some(&st(3, "b")), Some(&st(3, "a")), false).is_err());
        assert!(next_serial(None, Some(&st(3, "a")), false).is_err());
        assert_eq!(
            next_serial(Some(&st(2, "b")), Some(&st(3, "a")), true).unwrap(),
            (4, "b".into())
        );
    }
}
