//! `lock`, `unlock` and `force-unlock`.

use super::{read_stored, state_of};
use crate::backend::{Acquire, Locker, Release, Store};
use crate::config::{who, BackendArgs};
use phx_core::backoff::Backoff;
use phx_core::stage::Mine;
use phx_core::status::{LockInfo, StateStatus};
use phx_core::{io, Document, Error, Result};
use std::time::Duration;

/// How a held lock reads in messages.
pub(crate) fn describe_holder(h: &LockInfo) -> String {
    let age = phx_core::time::age(&h.created)
        .map(|a| format!(" for {a}"))
        .unwrap_or_default();
    let reason = h
        .reason
        .as_ref()
        .map(|r| format!(", reason {r:?}"))
        .unwrap_or_default();
    format!(
        "held by {}{age} (operation {}, id {}{reason})",
        h.who, h.operation, h.id
    )
}

pub async fn lock(
    backend: &BackendArgs,
    wait: Option<Duration>,
    operation: String,
    reason: Option<String>,
) -> Result<()> {
    let desired = io::read_stdin()?.desired();
    let (store, locker) = backend.resolve(&desired).open().await?;
    let info = LockInfo {
        id: uuid::Uuid::new_v4().to_string(),
        operation,
        who: who(),
        created: phx_core::time::now_rfc3339(),
        version: crate::VERSION.to_string(),
        reason,
    };
    acquire(&locker, &info, wait).await?;
    // From here the lock is ours: whatever fails must release it.
    let result = match joined(&desired, &store, &info).await {
        Ok(doc) => io::write_stdout(&doc),
        Err(e) => Err(e),
    };
    if result.is_err() {
        if let Err(e) = locker.unlock(&info.id).await {
            tracing::error!("could not release the lock {}: {e}", info.id);
        }
    }
    result
}

/// Take the lock, retrying with backoff while `wait` lasts.
async fn acquire(locker: &Locker, info: &LockInfo, wait: Option<Duration>) -> Result<()> {
    let mut backoff = Backoff::new(
        Duration::from_millis(100),
        Duration::from_secs(5),
        wait.unwrap_or(Duration::ZERO),
    );
    let mut told = false;
    // Says every 10 s that it still waits, once there is a holder.
    let progress = std::cell::OnceCell::new();
    loop {
        match locker.try_lock(info).await? {
            Acquire::Taken => {
                tracing::debug!("locked {} (id {})", locker.describe(), info.id);
                return Ok(());
            }
            Acquire::HeldBy(h) => {
                if wait.is_some() && !told {
                    tracing::info!("{} is {}; waiting", locker.describe(), describe_holder(&h));
                    told = true;
                    let _ = progress.set(phx_core::progress::Waiting::start(format!(
                        "the lock ({})",
                        describe_holder(&h)
                    )));
                }
                // Between attempts, never inside one: a conditional write
                // cut off midway could take the lock with nobody knowing.
                let waited = tokio::select! {
                    w = backoff.wait() => w,
                    signal = phx_core::signal::interrupted() => {
                        return Err(Error::new(
                            phx_core::error::ExitKind::Interrupted,
                            format!("{signal} while waiting for the lock"),
                        ));
                    }
                };
                if !waited {
                    return Err(Error::failed(format!(
                        "the state is locked: {} ({})",
                        describe_holder(&h),
                        locker.describe()
                    )));
                }
            }
        }
    }
}

/// The user's desired document joined with the stored status.
async fn joined(desired: &Document, store: &Store, info: &LockInfo) -> Result<Document> {
    let stored = read_stored(store, None).await?;
    let mut doc = desired.clone();
    let state = match &stored {
        Some(s) => {
            if s.name() != desired.name() {
                return Err(Error::failed(format!(
                    "{} holds cluster {:?}, not {:?}",
                    store.location(),
                    s.name(),
                    desired.name()
                )));
            }
            let status = s.as_json().get("status").and_then(|v| v.as_object()).cloned();
            Mine::lifecycle(&mut doc).restore_status(status.unwrap_or_default());
            state_of(s)?
        }
        None => None,
    };
    let state = StateStatus {
        lock: Some(info.clone()),
        location: Some(store.location()),
        ..state.unwrap_or_else(|| StateStatus {
            serial: 0,
            lineage: uuid::Uuid::new_v4().to_string(),
            location: None,
            updated: None,
            lock: None,
        })
    };
    Mine::lifecycle(&mut doc).set(&state);
    Ok(doc)
}

pub async fn unlock(backend: &BackendArgs) -> Result<()> {
    let mut doc = io::read_stdin()?;
    let mut state = state_of(&doc)?;
    let Some(id) = state.as_ref().and_then(|s| s.lock.as_ref()).map(|l| l.id.clone()) else {
        return Err(Error::failed(
            "the document holds no lock (status.state.lock is empty)",
        ));
    };
    let (_, locker) = backend.resolve(&doc).open().await?;
    release(&locker, &id).await?;
    if let Some(s) = state.as_mut() {
        s.lock = None;
        Mine::lifecycle(&mut doc).set(s);
    }
    io::write_stdout(&doc)
}

/// Release lock `id`; not held is fine, held by another id is an error.
pub(crate) async fn release(locker: &Locker, id: &str) -> Result<()> {
    match locker.unlock(id).await? {
        Release::Released => {
            tracing::debug!("released {}", locker.describe());
            Ok(())
        }
        Release::NotHeld => {
            tracing::warn!("lock {id} was not held any more ({})", locker.describe());
            Ok(())
        }
        Release::HeldBy(h) => Err(Error::failed(format!(
            "cannot release lock {id}: {} is {}",
            locker.describe(),
            describe_holder(&h)
        ))),
    }
}

pub async fn force_unlock(backend: &BackendArgs, lock_id: &str) -> Result<()> {
    let doc = io::read_stdin()?;
    let (_, locker) = backend.resolve(&doc).open().await?;
    match locker.holder().await? {
        None => {
            tracing::warn!("{} is not locked", locker.describe());
            Ok(())
        }
        Some(h) if h.id != lock_id => Err(Error::failed(format!(
            "lock id {lock_id} does not match the held lock: {}",
            describe_holder(&h)
        ))),
        Some(h) => {
            release(&locker, lock_id).await?;
            tracing::warn!("released the lock {}", describe_holder(&h));
            Ok(())
        }
    }
}
