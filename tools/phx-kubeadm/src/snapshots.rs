//! The etcd snapshots in the state bucket: their keys
//! (`<name>/etcd/<UTC time>-rev<revision>.db`, which sort by time and say
//! what they hold without a read), listing them, a multipart upload fed
//! from a stream, a download as a stream, and deleting one for good.
//!
//! The admin host holds the AWS credentials and carries the data between
//! the bucket and a node's SSH session: no credential ever lands on a node.
//! The state bucket is versioned, so deleting a snapshot deletes each of
//! its versions; a plain delete would only hide it behind a marker and
//! keep paying for it.

use phx_aws::s3::primitives::ByteStream;
use phx_aws::s3::types::{CompletedMultipartUpload, CompletedPart, ServerSideEncryption};
use phx_aws::{s3, Sent};
use phx_core::status::Backup;
use phx_core::{Document, Error, Result};
use std::time::SystemTime;
use tokio::sync::mpsc;

/// Parts of a multipart upload (S3 wants at least 5 MiB but for the last).
const PART: usize = 16 << 20;

/// The snapshots of one cluster in its state bucket.
#[derive(Debug, Clone)]
pub struct Snapshots {
    s3: s3::Client,
    bucket: String,
    prefix: String,
}

impl Snapshots {
    /// The document's state bucket (`spec.state.bucket`), in its region.
    pub async fn open(doc: &Document) -> Result<Snapshots> {
        let spec = doc.spec();
        let bucket = spec.state.bucket.clone().ok_or_else(|| {
            Error::invalid(
                "spec.state.bucket: etcd snapshots go to the state bucket, and this cluster's state is local",
            )
        })?;
        let region = spec.state.region.as_deref().or(spec.region.as_deref());
        let aws = phx_aws::load(region).await?;
        Ok(Snapshots {
            s3: aws.s3(),
            bucket,
            prefix: format!("{}/etcd/", doc.name()),
        })
    }

    /// `s3://bucket/key`, for messages.
    pub fn url(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    /// The key of a snapshot taken at `time` holding `revision`.
    pub fn key(&self, time: SystemTime, revision: u64) -> String {
        key(&self.prefix, time, revision)
    }

    /// What a key says of its snapshot (`None`: not one of ours).
    pub fn parse(&self, key: &str, size: u64) -> Option<Backup> {
        parse(&self.prefix, key, size)
    }

    /// The cluster's snapshots, newest first.
    pub async fn list(&self) -> Result<Vec<Backup>> {
        let mut out = Vec::new();
        let mut pages = self
            .s3
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&self.prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.phx_in(format!("listing {}", self.url(&self.prefix)))?;
            for o in page.contents() {
                let size = o.size().and_then(|s| u64::try_from(s).ok()).unwrap_or(0);
                out.extend(o.key().and_then(|k| self.parse(k, size)));
            }
        }
        out.sort_by(|a, b| b.key.cmp(&a.key));
        Ok(out)
    }

    /// `latest`, or a key (with or without the `<name>/etcd/` prefix).
    /// Nothing there is invalid input: a restore must not start from it.
    pub async fn resolve(&self, from: &str) -> Result<Backup> {
        let all = self.list().await?;
        let found = match from {
            "latest" => all.into_iter().next(),
            key => {
                let key = match key.starts_with(&self.prefix) {
                    true => key.to_string(),
                    false => format!("{}{key}", self.prefix),
                };
                all.into_iter().find(|b| b.key == key)
            }
        };
        found.ok_or_else(|| {
            Error::invalid(format!(
                "--from {from}: no such snapshot in {} (phx-kubeadm backups lists them)",
                self.url(&self.prefix)
            ))
        })
    }

    /// Upload `first` and then every chunk `rx` hands over as `key`,
    /// encrypted at rest. The upload is left open: [`Upload::complete`]
    /// once the sender says its data was whole, else [`Upload::abort`].
    pub async fn upload(&self, key: &str, first: Vec<u8>, mut rx: mpsc::Receiver<Vec<u8>>) -> Result<Upload> {
        let created = self
            .s3
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .server_side_encryption(ServerSideEncryption::Aes256)
            .content_type("application/octet-stream")
            .send()
            .await
            .phx_in(format!("starting the upload of {}", self.url(key)))?;
        let mut up = Upload {
            snapshots: self.clone(),
            key: key.to_string(),
            id: created.upload_id().unwrap_or_default().to_string(),
            parts: Vec::new(),
            size: 0,
        };
        let mut buf = first;
        let sent: Result<()> = async {
            loop {
                let chunk = rx.recv().await;
                let end = chunk.is_none();
                buf.extend(chunk.unwrap_or_default());
                if buf.len() >= PART || (end && !buf.is_empty()) || (end && up.parts.is_empty()) {
                    up.part(std::mem::take(&mut buf)).await?;
                }
                if end {
                    return Ok(());
                }
            }
        }
        .await;
        match sent {
            Ok(()) => Ok(up),
            Err(e) => {
                up.abort().await;
                Err(e)
            }
        }
    }

    /// The snapshot's bytes, as S3 sends them.
    pub async fn download(&self, key: &str) -> Result<impl tokio::io::AsyncRead + Unpin + use<>> {
        let out = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .phx_in(format!("reading {}", self.url(key)))?;
        Ok(out.body.into_async_read())
    }

    /// Every version of `key` deleted.
    pub async fn delete(&self, key: &str) -> Result<()> {
        let listed = self
            .s3
            .list_object_versions()
            .bucket(&self.bucket)
            .prefix(key)
            .send()
            .await
            .phx_in(format!("listing the versions of {}", self.url(key)))?;
        let versions = listed
            .versions()
            .iter()
            .filter(|v| v.key() == Some(key))
            .map(|v| v.version_id().map(str::to_string))
            .chain(
                listed
                    .delete_markers()
                    .iter()
                    .filter(|m| m.key() == Some(key))
                    .map(|m| m.version_id().map(str::to_string)),
            )
            .collect::<Vec<_>>();
        // An unversioned bucket lists none: the object itself goes.
        let versions = match versions.is_empty() {
            true => vec![None],
            false => versions,
        };
        for v in versions {
            self.s3
                .delete_object()
                .bucket(&self.bucket)
                .key(key)
                .set_version_id(v)
                .send()
                .await
                .phx_in(format!("deleting {}", self.url(key)))?;
        }
        Ok(())
    }
}

/// `PREFIX<UTC time, ISO 8601 basic>-rev<revision>.db`: sorts by time.
fn key(prefix: &str, time: SystemTime, revision: u64) -> String {
    let t: String = humantime::format_rfc3339_seconds(time)
        .to_string()
        .chars()
        .filter(|c| *c != '-' && *c != ':')
        .collect();
    format!("{prefix}{t}-rev{revision}.db")
}

fn parse(prefix: &str, key: &str, size: u64) -> Option<Backup> {
    let (stamp, rev) = key
        .strip_prefix(prefix)?
        .strip_suffix(".db")?
        .split_once("-rev")?;
    let b = stamp.as_bytes();
    if !stamp.is_ascii() || b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let time = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &stamp[0..4],
        &stamp[4..6],
        &stamp[6..8],
        &stamp[9..11],
        &stamp[11..13],
        &stamp[13..15]
    );
    humantime::parse_rfc3339(&time).ok()?;
    Some(Backup {
        key: key.to_string(),
        time,
        revision: rev.parse().ok()?,
        size,
    })
}

/// A multipart upload under way.
#[derive(Debug)]
pub struct Upload {
    snapshots: Snapshots,
    key: String,
    id: String,
    parts: Vec<CompletedPart>,
    size: u64,
}

impl Upload {
    /// Bytes uploaded.
    pub fn size(&self) -> u64 {
        self.size
    }

    async fn part(&mut self, data: Vec<u8>) -> Result<()> {
        let n = i32::try_from(self.parts.len() + 1).map_err(Error::failed)?;
        let len = data.len() as u64;
        let s = &self.snapshots;
        let out =
            s.s3.upload_part()
                .bucket(&s.bucket)
                .key(&self.key)
                .upload_id(&self.id)
                .part_number(n)
                .body(ByteStream::from(data))
                .send()
                .await
                .phx_in(format!("uploading part {n} of {}", s.url(&self.key)))?;
        self.parts.push(
            CompletedPart::builder()
                .part_number(n)
                .set_e_tag(out.e_tag().map(str::to_string))
                .build(),
        );
        self.size += len;
        Ok(())
    }

    /// The object made from the parts.
    pub async fn complete(self) -> Result<()> {
        let s = &self.snapshots;
        s.s3.complete_multipart_upload()
            .bucket(&s.bucket)
            .key(&self.key)
            .upload_id(&self.id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(self.parts.clone()))
                    .build(),
            )
            .send()
            .await
            .phx_in(format!("completing {}", s.url(&self.key)))?;
        Ok(())
    }

    /// The parts thrown away: nothing is left of the upload.
    pub async fn abort(self) {
        let s = &self.snapshots;
        if let Err(e) =
            s.s3.abort_multipart_upload()
                .bucket(&s.bucket)
                .key(&self.key)
                .upload_id(&self.id)
                .send()
                .await
        {
            tracing::warn!("aborting the upload of {}: {e}", s.url(&self.key));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    const P: &str = "phoenix/etcd/";

    #[test]
    fn keys_say_when_and_what_and_read_back() {
        let t = UNIX_EPOCH + Duration::from_secs(1_796_165_580);
        let k = key(P, t, 744);
        assert_eq!(k, "phoenix/etcd/20261201T225300Z-rev744.db");
        let b = parse(P, &k, 4096).unwrap();
        assert_eq!(
            (b.time.as_str(), b.revision, b.size),
            ("2026-12-01T22:53:00Z", 744, 4096)
        );
        // Later sorts after, as strings.
        assert!(key(P, t + Duration::from_secs(1), 1) > k);
    }

    #[test]
    fn other_objects_are_not_snapshots() {
        for k in [
            "phoenix.json",
            "phoenix/etcd/20261201T225300Z-rev744.db.part",
            "phoenix/etcd/latest.db",
            "phoenix/etcd/20261301T225300Z-rev1.db",
            "phoenix/etcd/20261201T225300Z-revX.db",
            "phoenix-2/etcd/20261201T225300Z-rev1.db",
            "phoenix/etcd/2026120\u{e9}T225300Z-rev1.db",
        ] {
            assert!(parse(P, k, 1).is_none(), "{k}");
        }
    }
}
