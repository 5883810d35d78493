//! Which backend a command talks to: `spec.state` in the document, with
//! command-line flags taking precedence, and the defaults that let a
//! first-time user start with no AWS state set-up at all (local directory).

use crate::backend::{DynamoLock, FileLock, LocalStore, Locker, S3Lock, S3Store, Store};
use phx_core::spec::LockMechanism;
use phx_core::{Document, Error, Result};
use std::path::PathBuf;

pub const DEFAULT_DIR: &str = ".phx-state";
pub const DEFAULT_LOCK_TABLE: &str = "phx-locks";

/// Flags that override `spec.state`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct BackendArgs {
    /// S3 bucket holding the state (selects the S3 backend) [spec.state.bucket]
    #[arg(long, value_name = "NAME")]
    pub bucket: Option<String>,
    /// Object key or file name of the state [spec.state.key; default <name>.json]
    #[arg(long)]
    pub key: Option<String>,
    /// DynamoDB lock table [spec.state.lockTable; default phx-locks]
    #[arg(long, value_name = "NAME")]
    pub lock_table: Option<String>,
    /// Lock mechanism of the S3 backend [spec.state.lock; default dynamodb]
    #[arg(long, value_enum, value_name = "MECHANISM")]
    pub lock: Option<LockMechanism>,
    /// Region of the bucket and table [spec.state.region, then spec.region]
    #[arg(long)]
    pub region: Option<String>,
    /// Directory of the local backend (selects it) [spec.state.dir; default .phx-state]
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// A resolved backend, before any connection is made.
#[derive(Debug, Clone, PartialEq)]
pub enum BackendConfig {
    Local {
        dir: PathBuf,
        key: String,
    },
    S3 {
        bucket: String,
        key: String,
        region: Option<String>,
        lock: LockMechanism,
        table: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendKind {
    Local,
    S3,
}

impl BackendArgs {
    /// The backend the document and flags select.
    pub fn resolve(&self, doc: &Document) -> BackendConfig {
        let kind = if self.dir.is_some() {
            BackendKind::Local
        } else if self.bucket.is_some() || doc.spec().state.bucket.is_some() {
            BackendKind::S3
        } else {
            BackendKind::Local
        };
        self.resolve_as(doc, kind, None)
    }

    /// The backend of a given kind, for `init` and `migrate`; `bucket` is a
    /// default for when neither flags nor spec name one.
    pub fn resolve_as(&self, doc: &Document, kind: BackendKind, bucket: Option<&str>) -> BackendConfig {
        let st = &doc.spec().state;
        let key = self
            .key
            .clone()
            .or_else(|| st.key.clone())
            .unwrap_or_else(|| format!("{}.json", doc.name()));
        match kind {
            BackendKind::Local => BackendConfig::Local {
                dir: self
                    .dir
                    .clone()
                    .or_else(|| st.dir.as_ref().map(PathBuf::from))
                    .unwrap_or_else(|| PathBuf::from(DEFAULT_DIR)),
                key,
            },
            BackendKind::S3 => BackendConfig::S3 {
                bucket: self
                    .bucket
                    .clone()
                    .or_else(|| st.bucket.clone())
                    .or_else(|| bucket.map(str::to_string))
                    .unwrap_or_default(),
                key,
                region: self
                    .region
                    .clone()
                    .or_else(|| st.region.clone())
                    .or_else(|| doc.spec().region.clone()),
                lock: self.lock.or(st.lock).unwrap_or(LockMechanism::Dynamodb),
                table: self
                    .lock_table
                    .clone()
                    .or_else(|| st.lock_table.clone())
                    .unwrap_or_else(|| DEFAULT_LOCK_TABLE.to_string()),
            },
        }
    }
}

impl BackendConfig {
    /// What the names must look like, checked before anything is read or
    /// written (exit 65): a local key is one file name inside the state
    /// directory, an S3 key has no `..` or leading `/`, and bucket and
    /// table names are of the forms AWS accepts.
    pub fn validate(&self) -> Result<()> {
        let bad =
            |what: &str, v: &str, want: &str| Err(Error::invalid(format!("{what}: {v:?} is not {want}")));
        match self {
            BackendConfig::Local { key, .. } => {
                if key.is_empty() || key.contains('/') || key == "." || key == ".." || key.contains('\0') {
                    return bad(
                        "spec.state.key (--key)",
                        key,
                        "a file name (the local backend keeps one file per key)",
                    );
                }
            }
            BackendConfig::S3 {
                bucket, key, table, ..
            } => {
                let segments_ok = !key.is_empty()
                    && !key.starts_with('/')
                    && key.split('/').all(|s| !s.is_empty() && s != "..");
                if !segments_ok || key.chars().any(char::is_control) {
                    return bad(
                        "spec.state.key (--key)",
                        key,
                        "an S3 key (like phoenix.json or clusters/phoenix.json)",
                    );
                }
                let bucket_ok = (3..=63).contains(&bucket.len())
                    && bucket
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
                    && bucket.as_bytes()[0].is_ascii_alphanumeric()
                    && bucket.as_bytes()[bucket.len() - 1].is_ascii_alphanumeric();
                if !bucket.is_empty() && !bucket_ok {
                    return bad(
                        "spec.state.bucket (--bucket)",
                        bucket,
                        "an S3 bucket name (3-63 of a-z, 0-9, . and -)",
                    );
                }
                let table_ok = (3..=255).contains(&table.len())
                    && table
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
                if !table_ok {
                    return bad(
                        "spec.state.lockTable (--lock-table)",
                        table,
                        "a DynamoDB table name",
                    );
                }
            }
        }
        Ok(())
    }

    /// Connect: the store and its locker.
    pub async fn open(&self) -> Result<(Store, Locker)> {
        self.validate()?;
        match self {
            BackendConfig::Local { dir, key } => Ok((
                Store::Local(LocalStore::new(dir.clone(), key.clone())),
                Locker::File(FileLock::new(dir, key)),
            )),
            BackendConfig::S3 {
                bucket,
                key,
                region,
                lock,
                table,
            } => {
                if bucket.is_empty() {
                    return Err(Error::usage("no S3 bucket: set spec.state.bucket or --bucket"));
                }
                let aws = phx_aws::load(region.as_deref()).await?;
                let s3 = aws.s3();
                Ok(match lock {
                    LockMechanism::Dynamodb => {
                        let l = DynamoLock::new(aws.dynamodb(), table.clone(), bucket, key);
                        let store = S3Store::new(s3, bucket.clone(), key.clone(), Some(l.digest_table()));
                        (Store::S3(store), Locker::Dynamo(l))
                    }
                    LockMechanism::S3 => {
                        let l = S3Lock::new(s3.clone(), bucket.clone(), key);
                        (
                            Store::S3(S3Store::new(s3, bucket.clone(), key.clone(), None)),
                            Locker::S3(l),
                        )
                    }
                })
            }
        }
    }
}

/// `user@host`, for lock info and history.
pub fn who() -> String {
    let user = std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .or_else(|| whoami::fallible::username().ok())
        .unwrap_or_else(|| "unknown".into());
    let host = whoami::fallible::hostname().unwrap_or_else(|_| "unknown".into());
    format!("{user}@{host}")
}
