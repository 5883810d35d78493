//! The S3 store: one object per cluster in a versioned, encrypted bucket.
//!
//! Each put is encrypted (SSE-S3) and carries the serial, lineage and author
//! as object metadata, so `history` can list versions without downloading
//! them. With a DynamoDB lock table, a digest item beside the lock records
//! the sha256 of the latest put; a reader that sees a different object
//! retries briefly and then fails, as Terraform's `-md5` item works.

use super::{DigestTable, Stored, StoredMeta, VersionInfo};
use phx_aws::s3::primitives::ByteStream;
use phx_aws::s3::types::ServerSideEncryption;
use phx_aws::s3::Client;
use phx_aws::{is_code, AwsError, Sent};
use phx_core::backoff::Backoff;
use phx_core::digest::sha256_hex;
use phx_core::{Error, Result};
use std::time::Duration;

#[derive(Debug)]
pub struct S3Store {
    client: Client,
    bucket: String,
    key: String,
    digest: Option<DigestTable>,
}

impl S3Store {
    pub fn new(client: Client, bucket: String, key: String, digest: Option<DigestTable>) -> S3Store {
        S3Store {
            client,
            bucket,
            key,
            digest,
        }
    }

    pub fn location(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }

    pub async fn read(&self, version: Option<&str>) -> Result<Option<Stored>> {
        let expected = match (&self.digest, version) {
            (Some(d), None) => d.get().await?,
            _ => None,
        };
        let mut backoff = Backoff::new(
            Duration::from_millis(200),
            Duration::from_secs(2),
            Duration::from_secs(10),
        );
        loop {
            let stored = self.get(version).await?;
            let actual = stored.as_ref().map(|s| sha256_hex(&s.bytes));
            match (&expected, &actual) {
                (None, _) => return Ok(stored),
                (Some(e), Some(a)) if e == a => return Ok(stored),
                (Some(e), _) => {
                    if !backoff.wait().await {
                        return Err(Error::failed(format!(
                            "state digest mismatch for {}: the lock table records sha256 {e}, S3 serves {}; \
                             S3 may be serving a stale read, or the object was changed outside phx",
                            self.location(),
                            actual.as_deref().unwrap_or("no object"),
                        )));
                    }
                    tracing::debug!("digest mismatch, retrying the read");
                }
            }
        }
    }

    async fn get(&self, version: Option<&str>) -> Result<Option<Stored>> {
        let resp = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .set_version_id(version.map(str::to_string))
            .send()
            .await;
        let out = match resp {
            Ok(o) => o,
            Err(e) if version.is_none() && is_code(&e, &["NoSuchKey"]) => return Ok(None),
            Err(e) => return Err(e.into_phx().context(format!("reading {}", self.location()))),
        };
        let version = out.version_id().map(str::to_string);
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| Error::failed(e).context(format!("reading {}", self.location())))?
            .into_bytes()
            .to_vec();
        Ok(Some(Stored { bytes, version }))
    }

    pub async fn write(&self, bytes: &[u8], meta: &StoredMeta) -> Result<Option<String>> {
        let out = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .body(ByteStream::from(bytes.to_vec()))
            .content_type("application/json")
            .server_side_encryption(ServerSideEncryption::Aes256)
            .metadata("phx-serial", meta.serial.to_string())
            .metadata("phx-lineage", &meta.lineage)
            .metadata("phx-who", &meta.who)
            .send()
            .await
            .phx_in(format!("writing {}", self.location()))?;
        if let Some(d) = &self.digest {
            d.put(&sha256_hex(bytes)).await?;
        }
        Ok(out.version_id().map(str::to_string))
    }

    pub async fn history(&self) -> Result<Vec<VersionInfo>> {
        // ListObjectVersions has no SDK paginator: follow the markers by hand.
        let mut versions = Vec::new();
        let (mut key_marker, mut version_marker) = (None, None);
        loop {
            let page = self
                .client
                .list_object_versions()
                .bucket(&self.bucket)
                .prefix(&self.key)
                .set_key_marker(key_marker.take())
                .set_version_id_marker(version_marker.take())
                .send()
                .await
                .map_err(|e| {
                    e.into_phx()
                        .context(format!("listing versions of {}", self.location()))
                })?;
            for v in page.versions() {
                if v.key() == Some(self.key.as_str()) {
                    let time = v.last_modified().map(|t| t.to_string());
                    versions.push((v.version_id().unwrap_or("null").to_string(), time));
                }
            }
            if page.is_truncated() != Some(true) {
                break;
            }
            key_marker = page.next_key_marker().map(str::to_string);
            version_marker = page.next_version_id_marker().map(str::to_string);
        }
        // Metadata (serial, author) needs a HEAD per version; do them together.
        let mut set = tokio::task::JoinSet::new();
        for (i, (version, _)) in versions.iter().enumerate() {
            let req = self
                .client
                .head_object()
                .bucket(&self.bucket)
                .key(&self.key)
                .version_id(version);
            set.spawn(async move { (i, req.send().await) });
        }
        let mut meta = vec![None; versions.len()];
        while let Some(joined) = set.join_next().await {
            let (i, head) = joined.map_err(Error::failed)?;
            let head = head.phx_in("reading version metadata")?;
            meta[i] = head.metadata().cloned();
        }
        let mut out: Vec<VersionInfo> = versions
            .into_iter()
            .zip(meta)
            .map(|((version, time), m)| {
                let get = |k: &str| m.as_ref().and_then(|m| m.get(k)).cloned();
                VersionInfo {
                    version,
                    serial: get("phx-serial").and_then(|s| s.parse().ok()),
                    time,
                    who: get("phx-who"),
                }
            })
            .collect();
        out.sort_by_key(|v| std::cmp::Reverse(v.serial));
        Ok(out)
    }
}
