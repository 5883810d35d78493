//! Host key verification. A node's keys come from the document when phx
//! knows them (cloud-init printed them, or they were pinned on first
//! contact); otherwise from an OpenSSH `known_hosts` file. What the server
//! presented and what was decided is kept, so the caller can pin a newly
//! accepted key and word a refusal precisely.

use russh::keys::{HashAlg, PublicKey};
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct HostKeyPolicy {
    /// `type base64` keys recorded for the node; when non-empty they are
    /// the only ones accepted (known_hosts is not consulted).
    pub pinned: Vec<String>,
    pub known_hosts: Option<PathBuf>,
    /// Accept a key neither pinned nor in known_hosts (then pin it).
    pub accept_new: bool,
}

/// The outcome of checking one server key.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Verified,
    /// Unknown, accepted because of `accept_new`: the caller pins it.
    AcceptedNew {
        key: String,
    },
    Unknown {
        fingerprint: String,
    },
    Changed {
        fingerprint: String,
        expected: String,
    },
}

impl Verdict {
    pub fn is_trusted(&self) -> bool {
        matches!(self, Verdict::Verified | Verdict::AcceptedNew { .. })
    }
}

/// `type base64`, the form the document keeps.
pub fn openssh(key: &PublicKey) -> String {
    let text = key.to_openssh().unwrap_or_default();
    let mut f = text.split_whitespace();
    match (f.next(), f.next()) {
        (Some(a), Some(b)) => format!("{a} {b}"),
        _ => text,
    }
}

pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

impl HostKeyPolicy {
    /// The host key algorithms to ask for: those of the pinned keys, so a
    /// server holding several keys presents one phx can check.
    pub fn algorithms(&self) -> Vec<russh::keys::Algorithm> {
        self.pinned
            .iter()
            .filter_map(|k| parse(k))
            .map(|k| k.algorithm())
            .collect()
    }

    pub fn check(&self, host: &str, port: u16, key: &PublicKey) -> Verdict {
        let fp = fingerprint(key);
        let pinned: Vec<PublicKey> = self.pinned.iter().filter_map(|k| parse(k)).collect();
        if !pinned.is_empty() {
            if pinned.iter().any(|p| p.key_data() == key.key_data()) {
                return Verdict::Verified;
            }
            let expected: Vec<String> = pinned.iter().map(fingerprint).collect();
            return Verdict::Changed {
                fingerprint: fp,
                expected: format!(
                    "{} (status.nodes.instances[].ssh.hostKeys)",
                    expected.join(" or ")
                ),
            };
        }
        if let Some(path) = &self.known_hosts {
            match russh::keys::check_known_hosts_path(host, port, key, path) {
                Ok(true) => return Verdict::Verified,
                // (russh's line number skips comment lines, so it is not quoted.)
                Err(russh::keys::Error::KeyChanged { .. }) => {
                    let entry = if port == 22 {
                        host.to_string()
                    } else {
                        format!("[{host}]:{port}")
                    };
                    return Verdict::Changed {
                        fingerprint: fp,
                        expected: format!("the key for {entry} in {}", path.display()),
                    };
                }
                Ok(false) | Err(_) => {}
            }
        }
        if self.accept_new {
            return Verdict::AcceptedNew { key: openssh(key) };
        }
        Verdict::Unknown { fingerprint: fp }
    }
}

fn parse(k: &str) -> Option<PublicKey> {
    let blob = k.split_whitespace().nth(1)?;
    russh::keys::parse_public_key_base64(blob).ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const A: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDiioBpi0yC3EBErvTcPzKrMVo0rxopVC/A9+EphBJqt";
    const B: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJL432FL2KKXvvTbv5WLHHjoKEQtUEOktJLdB+LajMKi";

    fn key(k: &str) -> PublicKey {
        parse(k).unwrap()
    }

    fn policy(pinned: &[&str], known_hosts: Option<PathBuf>, accept_new: bool) -> HostKeyPolicy {
        HostKeyPolicy {
            pinned: pinned.iter().map(|s| s.to_string()).collect(),
            known_hosts,
            accept_new,
        }
    }

    #[test]
    fn pinned_keys_decide_alone() {
        assert_eq!(
            policy(&[A], None, false).check("h", 22, &key(A)),
            Verdict::Verified
        );
        let v = policy(&[A], None, true).check("h", 22, &key(B));
        assert!(
            matches!(v, Verdict::Changed { .. }),
            "accept_new never covers a change: {v:?}"
        );
    }

    #[test]
    fn known_hosts_with_port_form_and_a_changed_line() {
        let dir = tempfile::tempdir().unwrap();
        let kh = dir.path().join("known_hosts");
        std::fs::write(&kh, format!("# comment\n[127.0.0.2]:2222 {A}\n")).unwrap();
        let p = policy(&[], Some(kh.clone()), false);
        assert_eq!(p.check("127.0.0.2", 2222, &key(A)), Verdict::Verified);
        match p.check("127.0.0.2", 2222, &key(B)) {
            Verdict::Changed { expected, .. } => {
                assert!(
                    expected.starts_with("the key for [127.0.0.2]:2222 in "),
                    "{expected}"
                )
            }
            v => panic!("{v:?}"),
        }
        assert!(matches!(
            p.check("127.0.0.3", 2222, &key(A)),
            Verdict::Unknown { .. }
        ));
        let accept = policy(&[], Some(kh), true);
        assert_eq!(
            accept.check("127.0.0.3", 2222, &key(A)),
            Verdict::AcceptedNew { key: A.to_string() }
        );
    }
}
