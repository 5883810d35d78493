//! Where a cluster's state lives and how it is locked.
//!
//! Two stores (S3, a local directory) and three lockers (a DynamoDB item, an
//! S3 lock object, a lock file) behind two small enums, chosen from
//! `spec.state` and the command-line flags by [`crate::config`]. Every verb
//! talks to these enums only, so the lock and push rules are written once.

mod dynamo;
mod local;
mod s3;
mod s3lock;

pub use dynamo::{DigestTable, DynamoLock};
pub use local::{FileLock, LocalStore};
pub use s3::S3Store;
pub use s3lock::S3Lock;

use phx_core::status::LockInfo;
use phx_core::Result;

/// One stored version of the document.
#[derive(Debug, Clone)]
pub struct Stored {
    pub bytes: Vec<u8>,
    /// S3 version id, or the serial for the local store.
    pub version: Option<String>,
}

/// What a listing shows of each stored version.
#[derive(Debug, Clone, serde::Serialize)]
pub struct VersionInfo {
    pub version: String,
    pub serial: Option<u64>,
    pub time: Option<String>,
    pub who: Option<String>,
}

/// Facts stored beside the bytes (S3 object metadata), for `history`.
#[derive(Debug, Clone)]
pub struct StoredMeta {
    pub serial: u64,
    pub lineage: String,
    pub who: String,
}

#[derive(Debug)]
pub enum Store {
    Local(LocalStore),
    S3(S3Store),
}

impl Store {
    /// `s3://bucket/key` or `file:///abs/dir/key`.
    pub fn location(&self) -> String {
        match self {
            Store::Local(s) => s.location(),
            Store::S3(s) => s.location(),
        }
    }

    /// The latest version, or a given one; `None` when nothing is stored.
    pub async fn read(&self, version: Option<&str>) -> Result<Option<Stored>> {
        match self {
            Store::Local(s) => s.read(version),
            Store::S3(s) => s.read(version).await,
        }
    }

    pub async fn write(&self, bytes: &[u8], meta: &StoredMeta) -> Result<Option<String>> {
        match self {
            Store::Local(s) => s.write(bytes, meta).map(Some),
            Store::S3(s) => s.write(bytes, meta).await,
        }
    }

    pub async fn history(&self) -> Result<Vec<VersionInfo>> {
        match self {
            Store::Local(s) => s.history(),
            Store::S3(s) => s.history().await,
        }
    }

    /// Serialize read-check-write sections between processes where the
    /// store itself cannot (a local directory); S3 relies on the lock.
    pub fn guard(&self) -> Result<Option<std::fs::File>> {
        match self {
            Store::Local(s) => s.guard().map(Some),
            Store::S3(_) => Ok(None),
        }
    }
}

/// The outcome of trying to take a lock.
#[derive(Debug)]
pub enum Acquire {
    Taken,
    HeldBy(LockInfo),
}

/// The outcome of releasing a lock by id.
#[derive(Debug)]
pub enum Release {
    Released,
    NotHeld,
    HeldBy(LockInfo),
}

#[derive(Debug)]
pub enum Locker {
    File(FileLock),
    Dynamo(DynamoLock),
    S3(S3Lock),
}

impl Locker {
    /// One attempt at a conditional create of the lock.
    pub async fn try_lock(&self, info: &LockInfo) -> Result<Acquire> {
        match self {
            Locker::File(l) => l.try_lock(info),
            Locker::Dynamo(l) => l.try_lock(info).await,
            Locker::S3(l) => l.try_lock(info).await,
        }
    }

    pub async fn holder(&self) -> Result<Option<LockInfo>> {
        match self {
            Locker::File(l) => l.holder(),
            Locker::Dynamo(l) => l.holder().await,
            Locker::S3(l) => l.holder().await,
        }
    }

    /// Release the lock only if `id` holds it.
    pub async fn unlock(&self, id: &str) -> Result<Release> {
        match self {
            Locker::File(l) => l.unlock(id),
            Locker::Dynamo(l) => l.unlock(id).await,
            Locker::S3(l) => l.unlock(id).await,
        }
    }

    /// What is locked, for messages (`dynamodb://table/bucket/key`).
    pub fn describe(&self) -> String {
        match self {
            Locker::File(l) => l.describe(),
            Locker::Dynamo(l) => l.describe(),
            Locker::S3(l) => l.describe(),
        }
    }
}

/// Parse lock info stored by any locker; a foreign or corrupt lock still
/// counts as held, with what could be read of it.
pub(crate) fn parse_lock_info(text: &str) -> LockInfo {
    serde_json::from_str(text).unwrap_or_else(|_| LockInfo {
        id: "unknown".into(),
        operation: "unknown".into(),
        who: "unknown".into(),
        created: String::new(),
        version: String::new(),
        reason: Some(format!(
            "unreadable lock info: {}",
            text.chars().take(80).collect::<String>()
        )),
    })
}
