//! `migrate --to s3|local`: move the state between backends.
//!
//! The source is the other kind of backend as `spec.state` describes it
//! (its `dir`, or its bucket/key); the flags describe the destination. Both
//! are locked for the move; the serial and lineage travel unchanged. A local
//! source is renamed to a timestamped backup; an S3 source stays (versioned).

use super::init::{default_bucket, ensure, record_backend};
use super::lock::release;
use super::{read_stored, state_of};
use crate::backend::{Acquire, Locker, Store, StoredMeta};
use crate::config::{who, BackendArgs, BackendConfig, BackendKind};
use phx_core::stage::Mine;
use phx_core::status::LockInfo;
use phx_core::{io, Error, Result};

pub async fn migrate(backend: &BackendArgs, to: BackendKind, force: bool) -> Result<()> {
    let mut doc = io::read_stdin()?.desired();
    let from = match to {
        BackendKind::S3 => BackendKind::Local,
        BackendKind::Local => BackendKind::S3,
    };
    let src_config = BackendArgs::default().resolve_as(&doc, from, None);
    let mut dst_config = backend.resolve_as(&doc, to, None);
    let mut region = String::new();
    if let BackendConfig::S3 {
        bucket, region: r, ..
    } = &mut dst_config
    {
        let aws = phx_aws::load(r.as_deref()).await?;
        if bucket.is_empty() {
            *bucket = default_bucket(&aws).await?;
        }
        ensure(&aws, &dst_config).await?;
        region = aws.region().to_string();
    }
    let (src, src_lock) = src_config.open().await?;
    let (dst, dst_lock) = dst_config.open().await?;
    let info = LockInfo {
        id: uuid::Uuid::new_v4().to_string(),
        operation: "migrate".into(),
        who: who(),
        created: phx_core::time::now_rfc3339(),
        version: crate::VERSION.to_string(),
        reason: None,
    };
    take(&src_lock, &info).await?;
    let result = match take(&dst_lock, &info).await {
        Ok(()) => {
            let r = copy(&src, &dst, force).await;
            let released = release(&dst_lock, &info.id).await;
            r.and(released)
        }
        Err(e) => Err(e),
    };
    release(&src_lock, &info.id).await?;
    result?;
    if let Store::Local(local) = &src {
        let backup = local.retire()?;
        tracing::info!("kept the local state as {}", backup.display());
    }
    tracing::info!("migrated {} to {}", src.location(), dst.location());
    record_backend(&mut doc, &dst_config, &region)?;
    io::write_stdout(&doc)
}

async fn take(locker: &Locker, info: &LockInfo) -> Result<()> {
    match locker.try_lock(info).await? {
        Acquire::Taken => Ok(()),
        Acquire::HeldBy(h) => Err(Error::failed(format!(
            "{} is locked: {}",
            locker.describe(),
            super::lock::describe_holder(&h)
        ))),
    }
}

async fn copy(src: &Store, dst: &Store, force: bool) -> Result<()> {
    let Some(mut doc) = read_stored(src, None).await? else {
        return Err(Error::failed(format!(
            "nothing to migrate: no state at {}",
            src.location()
        )));
    };
    if let Some(existing) = read_stored(dst, None).await? {
        if !force {
            let serial = state_of(&existing)?.map(|s| s.serial).unwrap_or(0);
            return Err(Error::failed(format!(
                "state already exists at {} (serial {serial}); use --force to overwrite",
                dst.location()
            )));
        }
    }
    let Some(mut state) = state_of(&doc)? else {
        return Err(Error::failed(format!("{} has no status.state", src.location())));
    };
    state.location = Some(dst.location());
    state.lock = None;
    Mine::lifecycle(&mut doc).set(&state);
    let meta = StoredMeta {
        serial: state.serial,
        lineage: state.lineage.clone(),
        who: who(),
    };
    dst.write(&doc.to_bytes(true), &meta).await?;
    Ok(())
}
