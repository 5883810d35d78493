//! The client: `--kubeconfig`, else the kubeconfig phx-kubeadm recorded in
//! `status.kubeadm.kubeconfig`, else kube's own default (`KUBECONFIG`,
//! `~/.kube/config`).

use phx_core::status::{keys, KubeadmStatus};
use phx_core::{Document, Error, Result};
use std::path::{Path, PathBuf};

pub fn kubeconfig_path(doc: &Document, flag: Option<&Path>) -> Result<Option<PathBuf>> {
    if let Some(p) = flag {
        return Ok(Some(p.to_path_buf()));
    }
    let st: Option<KubeadmStatus> = doc.status(keys::KUBEADM)?;
    Ok(st.and_then(|s| s.kubeconfig).map(PathBuf::from))
}

/// Whether there is no cluster to connect to yet: no `--kubeconfig` and
/// phx-kubeadm has not run (its status is absent). Plans then assume an
/// empty cluster instead of failing.
pub fn before_cluster(doc: &Document, flag: Option<&Path>) -> Result<bool> {
    Ok(flag.is_none() && doc.status::<KubeadmStatus>(keys::KUBEADM)?.is_none())
}

pub async fn connect(doc: &Document, flag: Option<&Path>) -> Result<kube::Client> {
    // More than one TLS crypto provider is compiled in when the workspace
    // is built together (the AWS SDK brings aws-lc-rs, kube ring): rustls
    // then needs to be told. Already installed is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = match kubeconfig_path(doc, flag)? {
        Some(path) => {
            let kc = kube::config::Kubeconfig::read_from(&path)
                .map_err(|e| Error::invalid(format!("kubeconfig {}: {e}", path.display())))?;
            kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
                .await
                .map_err(|e| Error::invalid(format!("kubeconfig {}: {e}", path.display())))?
        }
        None => kube::Config::infer().await.map_err(|e| {
            Error::invalid(format!(
                "no kubeconfig: status.kubeadm.kubeconfig is not set (run phx-kubeadm apply) and {e}"
            ))
        })?,
    };
    kube::Client::try_from(config).map_err(|e| Error::failed(format!("Kubernetes client: {e}")))
}
