//! The admin kubeconfig: fetched from the control plane, its server
//! rewritten to the endpoint users reach (the private DNS name kubeadm put
//! there resolves only inside the VPC), written 0600 atomically.

use phx_core::{Error, Result};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Replace every cluster's `server:` with `server`. kubeadm writes
/// admin.conf in one fixed layout (`    server: https://...`).
pub fn rewrite_server(kubeconfig: &str, server: &str) -> Result<String> {
    let mut found = false;
    let text: Vec<String> = kubeconfig
        .lines()
        .map(|l| {
            let t = l.trim_start();
            match t.strip_prefix("server:") {
                Some(_) => {
                    found = true;
                    format!("{}server: {server}", &l[..l.len() - t.len()])
                }
                None => l.to_string(),
            }
        })
        .collect();
    if !found {
        return Err(Error::failed("admin.conf has no `server:` line"));
    }
    Ok(text.join("\n") + "\n")
}

/// The cluster's CA hash (`sha256:` of its public key, kubeadm's
/// `--discovery-token-ca-cert-hash`) from admin.conf's
/// `certificate-authority-data`.
pub fn ca_cert_hash(kubeconfig: &str) -> Result<String> {
    let data = kubeconfig
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("certificate-authority-data:"))
        .ok_or_else(|| Error::failed("admin.conf has no certificate-authority-data"))?;
    phx_core::pki::ca_data_hash(data).map_err(|e| e.context("admin.conf"))
}

/// Write `text` to `path` with mode 0600 (the directory 0700 if made):
/// into a temporary file beside it, then renamed, so a reader never sees
/// half a file and the mode is right from the first byte.
pub fn write_private(path: &Path, text: &str) -> Result<()> {
    let err = |e: std::io::Error| Error::failed(format!("writing {}: {e}", path.display()));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            std::fs::create_dir_all(dir).map_err(err)?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(err)?;
        }
    }
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(err)?;
    f.write_all(text.as_bytes()).map_err(err)?;
    f.sync_all().map_err(err)?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600)).map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const ADMIN: &str = "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: LS0t\n    \
                         server: https://ip-10-0-0-5.ec2.internal:6443\n  name: kubernetes\n";

    #[test]
    fn the_server_is_rewritten_and_nothing_else() {
        let out = rewrite_server(ADMIN, "https://54.1.2.3:6443").unwrap();
        assert_eq!(
            out,
            ADMIN.replace("https://ip-10-0-0-5.ec2.internal:6443", "https://54.1.2.3:6443")
        );
        assert!(rewrite_server("kind: Config\n", "x").is_err());
    }

    #[test]
    fn written_0600_even_over_a_looser_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("kube/phx.conf");
        write_private(&p, "a").unwrap();
        assert_eq!(std::fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(
            std::fs::metadata(p.parent().unwrap())
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o700
        );
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&p, "b").unwrap();
        assert_eq!(std::fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "b");
    }
}
