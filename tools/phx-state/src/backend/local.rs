//! The local backend: a directory on this machine, for a first-time user
//! with no AWS state set-up.
//!
//! `<dir>/<key>` holds the latest document and `<dir>/<key>.history/` every
//! stored serial. Files are written whole to a temporary name and renamed,
//! with mode 0600. The pipeline lock must outlive the `phx-state lock`
//! process, so it is a file created exclusively (`<key>.lock`), not an
//! flock; read-modify-write sections take a short flock on `<key>.flock`.

use super::{parse_lock_info, Acquire, Release, Stored, StoredMeta, VersionInfo};
use phx_core::status::LockInfo;
use phx_core::{Context, Error, Result};
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub struct LocalStore {
    dir: PathBuf,
    key: String,
}

impl LocalStore {
    pub fn new(dir: PathBuf, key: String) -> LocalStore {
        LocalStore { dir, key }
    }

    fn path(&self) -> PathBuf {
        self.dir.join(&self.key)
    }

    fn history_dir(&self) -> PathBuf {
        self.dir.join(format!("{}.history", self.key))
    }

    pub fn location(&self) -> String {
        let abs = std::path::absolute(self.path()).unwrap_or_else(|_| self.path());
        format!("file://{}", abs.display())
    }

    pub fn read(&self, version: Option<&str>) -> Result<Option<Stored>> {
        let path = match version {
            None => self.path(),
            Some(v) => {
                let serial: u64 = v
                    .parse()
                    .map_err(|_| Error::usage(format!("--version {v}: local versions are serial numbers")))?;
                self.history_dir().join(format!("{serial:08}.json"))
            }
        };
        match fs::read(&path) {
            Ok(bytes) => Ok(Some(Stored {
                bytes,
                version: version.map(str::to_string),
            })),
            Err(e) if e.kind() == ErrorKind::NotFound && version.is_none() => Ok(None),
            Err(e) => Err(Error::from(e).context(format!("reading {}", path.display()))),
        }
    }

    pub fn write(&self, bytes: &[u8], meta: &StoredMeta) -> Result<String> {
        fs::create_dir_all(self.history_dir())
            .with_context(|| format!("creating {}", self.history_dir().display()))?;
        let version = format!("{:08}.json", meta.serial);
        write_atomic(&self.history_dir().join(&version), bytes)?;
        write_atomic(&self.path(), bytes)?;
        Ok(meta.serial.to_string())
    }

    pub fn history(&self) -> Result<Vec<VersionInfo>> {
        let entries = match fs::read_dir(self.history_dir()) {
            Ok(e) => e,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::from(e).context("reading the local history")),
        };
        let mut out = Vec::new();
        for entry in entries {
            let path = entry?.path();
            let Some(serial) = path
                .file_stem()
                .and_then(|s| s.to_str())
                .and_then(|s| s.parse::<u64>().ok())
            else {
                continue;
            };
            let updated = fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                .and_then(|v| v.pointer("/status/state/updated").cloned());
            let field = |k: &str| updated.as_ref().and_then(|u| u[k].as_str()).map(str::to_string);
            out.push(VersionInfo {
                version: serial.to_string(),
                serial: Some(serial),
                time: field("at"),
                who: field("by"),
            });
        }
        out.sort_by_key(|v| std::cmp::Reverse(v.serial));
        Ok(out)
    }

    /// Hold an exclusive flock for a read-modify-write of the state.
    pub fn guard(&self) -> Result<File> {
        fs::create_dir_all(&self.dir).with_context(|| format!("creating {}", self.dir.display()))?;
        let path = self.dir.join(format!("{}.flock", self.key));
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        f.lock().with_context(|| format!("locking {}", path.display()))?;
        Ok(f)
    }

    /// Rename the current state aside (after a migration), returning where.
    pub fn retire(&self) -> Result<PathBuf> {
        let stamp = phx_core::time::now_rfc3339().replace(':', "");
        let to = self.dir.join(format!("{}.migrated-{stamp}", self.key));
        fs::rename(self.path(), &to).with_context(|| format!("keeping a backup at {}", to.display()))?;
        Ok(to)
    }
}

#[derive(Debug)]
pub struct FileLock {
    path: PathBuf,
}

impl FileLock {
    pub fn new(dir: &Path, key: &str) -> FileLock {
        FileLock {
            path: dir.join(format!("{key}.lock")),
        }
    }

    pub fn describe(&self) -> String {
        format!("file {}", self.path.display())
    }

    pub fn try_lock(&self, info: &LockInfo) -> Result<Acquire> {
        if let Some(parent) = self.path.parent() {
            fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        let text = serde_json::to_vec(info).expect("lock info serializes");
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&self.path)
        {
            Ok(mut f) => {
                f.write_all(&text)
                    .and_then(|()| f.sync_all())
                    .context("writing the lock file")?;
                Ok(Acquire::Taken)
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => match self.holder()? {
                Some(h) => Ok(Acquire::HeldBy(h)),
                // Released between our attempt and the read: try again.
                None => self.try_lock(info),
            },
            Err(e) => Err(Error::from(e).context(format!("creating {}", self.path.display()))),
        }
    }

    pub fn holder(&self) -> Result<Option<LockInfo>> {
        match fs::read_to_string(&self.path) {
            Ok(text) => Ok(Some(parse_lock_info(&text))),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::from(e).context(format!("reading {}", self.path.display()))),
        }
    }

    pub fn unlock(&self, id: &str) -> Result<Release> {
        match self.holder()? {
            None => Ok(Release::NotHeld),
            Some(h) if h.id != id => Ok(Release::HeldBy(h)),
            Some(_) => match fs::remove_file(&self.path) {
                Ok(()) => Ok(Release::Released),
                Err(e) if e.kind() == ErrorKind::NotFound => Ok(Release::NotHeld),
                Err(e) => Err(Error::from(e).context(format!("removing {}", self.path.display()))),
            },
        }
    }
}

/// Write a whole file under a temporary name and rename it into place.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("renaming into {}", path.display()))
}
