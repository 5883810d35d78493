//! Upstream release files (IAM policy documents, manifests) that phx uses
//! at run time, never copied into the repository.
//!
//! Each [`Artifact`] is pinned to an upstream URL and the sha256 of its
//! bytes. [`fetch`] returns the bytes from a cache keyed by that digest, or
//! downloads them (from `PHX_ARTIFACT_MIRROR` when set, else upstream),
//! verifies the digest, and only then caches them; a mismatch is refused and
//! nothing half-downloaded is ever used.

mod pins;

pub use pins::*;

use phx_core::{Error, Result};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// For the man pages of the tools that fetch artifacts: the cache they
/// keep, and the variables that move it and the downloads.
pub const DOC_FILE: (&str, &str) = (
    "~/.cache/phx/artifacts/<sha256>",
    "verified upstream files (policies, manifests), by digest (PHX_CACHE_DIR moves it)",
);
pub const DOC_ENVIRONMENT: phx_core::cli::Rows = &[
    (
        "PHX_ARTIFACT_MIRROR",
        "a base URL or directory serving the pinned upstream files under their names (air-gapped use)",
    ),
    (
        "PHX_CACHE_DIR",
        "where verified artifacts are cached (default ~/.cache/phx)",
    ),
];

/// One pinned upstream file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Artifact {
    /// The file name in a mirror (as `index.json` of the test mirror names it).
    pub name: &'static str,
    pub url: &'static str,
    /// Of the pinned bytes (what a mirror serves under `name`).
    pub sha256: &'static str,
    pub upstream: Upstream,
}

/// Where artifacts come from and are cached.
#[derive(Debug, Clone)]
pub struct Source {
    /// A base URL (`http://127.0.0.1:8765/`) or a directory.
    pub mirror: Option<String>,
    pub cache_dir: PathBuf,
}

/// Largest artifact accepted (Argo CD's install.yaml is about 2 MB).
const MAX_BYTES: u64 = 64 << 20;

impl Source {
    /// From the environment: `PHX_ARTIFACT_MIRROR`, and the cache in
    /// `PHX_CACHE_DIR`, else `$XDG_CACHE_HOME/phx/artifacts`, else
    /// `~/.cache/phx/artifacts`.
    pub fn from_env() -> Source {
        let cache_dir = std::env::var_os("PHX_CACHE_DIR")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("phx")))
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/phx")))
            .unwrap_or_else(|| PathBuf::from(".phx-cache"))
            .join("artifacts");
        let mirror = std::env::var("PHX_ARTIFACT_MIRROR")
            .ok()
            .filter(|m| !m.is_empty());
        Source { mirror, cache_dir }
    }

    /// Where `artifact` is downloaded from.
    pub fn location(&self, artifact: &Artifact) -> String {
        match &self.mirror {
            Some(m) if is_url(m) => format!("{}/{}", m.trim_end_matches('/'), artifact.name),
            Some(dir) => Path::new(dir).join(artifact.name).display().to_string(),
            None => artifact.url.to_string(),
        }
    }

    /// The artifact's verified bytes.
    pub async fn fetch(&self, artifact: Artifact) -> Result<Vec<u8>> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.fetch_blocking(&artifact))
            .await
            .map_err(Error::failed)?
    }

    fn fetch_blocking(&self, artifact: &Artifact) -> Result<Vec<u8>> {
        let cached = self.cache_dir.join(artifact.sha256);
        if let Ok(bytes) = std::fs::read(&cached) {
            if sha256_hex(&bytes) == artifact.sha256 {
                tracing::debug!("artifact {} from the cache", artifact.name);
                return Ok(bytes);
            }
            tracing::warn!("cached {} is corrupt; downloading again", cached.display());
        }
        let from = self.location(artifact);
        let mut bytes =
            read_source(&from).map_err(|e| e.context(format!("artifact {}: {from}", artifact.name)))?;
        if self.mirror.is_none() {
            bytes = from_upstream(artifact, bytes)?;
        }
        let got = sha256_hex(&bytes);
        if got != artifact.sha256 {
            return Err(Error::failed(format!(
                "artifact {}: sha256 mismatch: expected {}, got {got} from {from}; refusing to use it",
                artifact.name, artifact.sha256
            )));
        }
        if let Err(e) = write_cache(&cached, &bytes) {
            tracing::warn!("could not cache {}: {e}", artifact.name);
        }
        tracing::info!("artifact {} downloaded from {from}", artifact.name);
        Ok(bytes)
    }
}

/// Fetch with the environment's source.
pub async fn fetch(artifact: Artifact) -> Result<Vec<u8>> {
    Source::from_env().fetch(artifact).await
}

/// Check the upstream file and cut out the pinned part, when the pin is a
/// part of it.
fn from_upstream(artifact: &Artifact, file: Vec<u8>) -> Result<Vec<u8>> {
    let Upstream::Lines {
        file_sha256,
        from,
        to,
    } = artifact.upstream
    else {
        return Ok(file);
    };
    let got = sha256_hex(&file);
    if got != file_sha256 {
        return Err(Error::failed(format!(
            "artifact {}: the upstream file changed: expected sha256 {file_sha256}, got {got} from {}",
            artifact.name, artifact.url
        )));
    }
    Ok(extract_lines(&file, from, to))
}

/// Lines `from..=to` (1-based), each with its newline.
pub fn extract_lines(file: &[u8], from: usize, to: usize) -> Vec<u8> {
    file.split_inclusive(|b| *b == b'\n')
        .skip(from.saturating_sub(1))
        .take(to + 1 - from)
        .flatten()
        .copied()
        .collect()
}

pub use phx_core::digest::sha256_hex;

fn is_url(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://")
}

fn read_source(from: &str) -> Result<Vec<u8>> {
    if !is_url(from) {
        return std::fs::read(from).map_err(Error::failed);
    }
    let mut resp = ureq::get(from).call().map_err(Error::failed)?;
    let mut bytes = Vec::new();
    resp.body_mut()
        .as_reader()
        .take(MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(Error::failed)?;
    if bytes.len() as u64 > MAX_BYTES {
        return Err(Error::failed(format!("larger than {} MiB", MAX_BYTES >> 20)));
    }
    Ok(bytes)
}

/// Write under a temporary name and rename, so a reader never sees half a file.
fn write_cache(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{}.{}", std::process::id(), rand_suffix()));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}
