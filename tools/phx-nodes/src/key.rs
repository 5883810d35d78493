//! The SSH key pair `<name>-key`: the user's public key imported once, and
//! again only when the file changed.
//!
//! AWS's own fingerprint of an imported key is computed differently per key
//! type (MD5 of the DER for RSA, SHA-256 for ed25519), so phx tags the key
//! pair with the sha256 of the OpenSSH text it imported (`phx:key-sha256`)
//! and compares that.

use phx_aws::ec2::types::{ResourceType, Tag, TagSpecification};
use phx_aws::ec2::Client;
use phx_aws::{AwsError, ClusterTags, Sent};
use phx_core::home::expand_home;
use phx_core::{Error, Result};
use std::path::{Path, PathBuf};

pub const DIGEST_TAG: &str = "phx:key-sha256";

/// The user's public key, read and checked before any AWS call.
#[derive(Debug, Clone)]
pub struct PublicKey {
    pub path: PathBuf,
    /// `type base64` (the comment dropped: it is not part of the key).
    pub openssh: String,
    pub sha256: String,
}

const KEY_TYPES: &[&str] = &[
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
];

impl PublicKey {
    /// `spec.nodes.ssh.publicKeyFile`, else `~/.ssh/id_ed25519.pub`, else
    /// `~/.ssh/id_rsa.pub`.
    pub fn find(configured: Option<&str>) -> Result<PublicKey> {
        let how = "create one with: ssh-keygen -t ed25519 (or set spec.nodes.ssh.publicKeyFile)";
        if let Some(p) = configured {
            let path = expand_home(p);
            if !path.exists() {
                return Err(Error::invalid(format!(
                    "spec.nodes.ssh.publicKeyFile: {} does not exist; {how}",
                    path.display()
                )));
            }
            return PublicKey::read(&path);
        }
        let candidates = phx_core::home::SSH_PUBLIC_KEYS.map(expand_home);
        match candidates.iter().find(|p| p.exists()) {
            Some(p) => PublicKey::read(p),
            None => Err(Error::invalid(format!(
                "no SSH public key: neither {} nor {} exists; {how}",
                candidates[0].display(),
                candidates[1].display()
            ))),
        }
    }

    pub fn read(path: &Path) -> Result<PublicKey> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::invalid(format!("reading SSH public key {}: {e}", path.display())))?;
        let mut fields = text.split_whitespace();
        let (Some(kind), Some(blob)) = (fields.next(), fields.next()) else {
            return Err(Error::invalid(format!(
                "{}: empty, not an SSH public key",
                path.display()
            )));
        };
        if !KEY_TYPES.contains(&kind) || phx_aws::base64::decode(blob).is_err() {
            return Err(Error::invalid(format!(
                "{}: not an OpenSSH public key (expected one line `ssh-ed25519 AAAA...`; \
                 was the private key given?)",
                path.display()
            )));
        }
        let openssh = format!("{kind} {blob}");
        let sha256 = phx_core::digest::sha256_hex(openssh.as_bytes());
        Ok(PublicKey {
            path: path.to_path_buf(),
            openssh,
            sha256,
        })
    }
}

/// What exists under the key pair's name.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyHave {
    Missing,
    /// Imported by phx for this cluster, with the digest it recorded.
    Ours {
        sha256: Option<String>,
    },
    /// A key pair of that name that phx did not import: never touched.
    Foreign,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum KeyStep {
    None,
    Import,
    Replace,
}

pub async fn observe(ec2: &Client, tags: &ClusterTags) -> Result<KeyHave> {
    let name = tags.name("key");
    let out = ec2.describe_key_pairs().key_names(&name).send().await;
    let out = match out.phx() {
        Ok(o) => o,
        Err(e) if e.has_code(&["InvalidKeyPair.NotFound"]) => return Ok(KeyHave::Missing),
        Err(e) => return Err(e.context(format!("looking up key pair {name}"))),
    };
    let Some(kp) = out
        .key_pairs()
        .iter()
        .find(|k| k.key_name() == Some(name.as_str()))
    else {
        return Ok(KeyHave::Missing);
    };
    let tag = |key: &str| {
        kp.tags()
            .iter()
            .find(|t| t.key() == Some(key))
            .and_then(|t| t.value())
            .map(str::to_string)
    };
    if tag(&tags.cluster_key()).as_deref() != Some(phx_aws::tags::OWNED) {
        return Ok(KeyHave::Foreign);
    }
    Ok(KeyHave::Ours {
        sha256: tag(DIGEST_TAG),
    })
}

pub fn step(have: &KeyHave, key: &PublicKey) -> KeyStep {
    match have {
        KeyHave::Missing => KeyStep::Import,
        KeyHave::Ours { sha256 } if sha256.as_deref() == Some(key.sha256.as_str()) => KeyStep::None,
        KeyHave::Ours { .. } => KeyStep::Replace,
        KeyHave::Foreign => KeyStep::None,
    }
}

pub async fn converge(ec2: &Client, tags: &ClusterTags, key: &PublicKey, step: KeyStep) -> Result<()> {
    let name = tags.name("key");
    if step == KeyStep::None {
        return Ok(());
    }
    if step == KeyStep::Replace {
        tracing::warn!(
            "{} changed: replacing key pair {name}; existing nodes keep the old key in authorized_keys",
            key.path.display()
        );
        delete(ec2, &name).await?;
    }
    let mut spec = TagSpecification::builder().resource_type(ResourceType::KeyPair);
    for (k, v) in tags.owned("key-pair", "key") {
        spec = spec.tags(Tag::builder().key(k).value(v).build());
    }
    spec = spec.tags(Tag::builder().key(DIGEST_TAG).value(&key.sha256).build());
    ec2.import_key_pair()
        .key_name(&name)
        .public_key_material(phx_aws::ec2::primitives::Blob::new(key.openssh.as_bytes()))
        .tag_specifications(spec.build())
        .send()
        .await
        .map_err(|e| {
            e.into_phx()
                .context(format!("importing {} as {name}", key.path.display()))
        })?;
    tracing::info!("imported {} as key pair {name}", key.path.display());
    Ok(())
}

/// Delete the key pair (gone already is fine).
pub async fn delete(ec2: &Client, name: &str) -> Result<()> {
    match ec2.delete_key_pair().key_name(name).send().await.phx() {
        Ok(_) => Ok(()),
        Err(e) if e.has_code(&["InvalidKeyPair.NotFound"]) => Ok(()),
        Err(e) => Err(e.context(format!("deleting key pair {name}"))),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_public_key_is_read_without_its_comment() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("id.pub");
        let blob = "AAAAC3NzaC1lZDI1NTE5AAAAIBvI4s8SJt0D3oQAGl1ZbV6vRkoc8nZcZ3L4Yv1q1qjT";
        std::fs::write(&p, format!("ssh-ed25519 {blob} me@laptop\n")).unwrap();
        let k = PublicKey::read(&p).unwrap();
        assert_eq!(k.openssh, format!("ssh-ed25519 {blob}"));
        std::fs::write(&p, format!("ssh-ed25519 {blob} someone-else\n")).unwrap();
        assert_eq!(
            PublicKey::read(&p).unwrap().sha256,
            k.sha256,
            "comment is not the key"
        );
    }

    #[test]
    fn a_private_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("id");
        std::fs::write(&p, "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaA==\n").unwrap();
        let e = PublicKey::read(&p).unwrap_err();
        assert_eq!(e.kind(), phx_core::ExitKind::InvalidInput);
        assert!(e.to_string().contains("not an OpenSSH public key"), "{e}");
    }

    #[test]
    fn a_changed_key_is_replaced_and_a_foreign_one_left_alone() {
        let k = PublicKey {
            path: "k".into(),
            openssh: "ssh-ed25519 AAAA".into(),
            sha256: "abc".into(),
        };
        assert_eq!(step(&KeyHave::Missing, &k), KeyStep::Import);
        let same = KeyHave::Ours {
            sha256: Some("abc".into()),
        };
        assert_eq!(step(&same, &k), KeyStep::None);
        let other = KeyHave::Ours {
            sha256: Some("def".into()),
        };
        assert_eq!(step(&other, &k), KeyStep::Replace);
        assert_eq!(step(&KeyHave::Foreign, &k), KeyStep::None);
    }
}
