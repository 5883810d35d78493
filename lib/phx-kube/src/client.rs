//! The client for this cluster, and only this one.
//!
//! The kubeconfig is `--kubeconfig` or the one phx-kubeadm recorded in
//! `status.kubeadm.kubeconfig`; never `KUBECONFIG` or `~/.kube/config`,
//! which name whatever cluster the user last looked at. And a kubeconfig
//! is trusted only once it proves to be this cluster's: its CA must hash
//! to `status.kubeadm.caCertHash` (kubeadm's `sha256:` of the CA's public
//! key, recorded at deploy) and TLS verification must be on, so the API
//! server that answers holds a certificate of this cluster's CA. A
//! kubeconfig that fails this is refused before any request is made.

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
/// phx-kubeadm has recorded none (it has not run, or only planned). Plans
/// then assume an empty cluster instead of failing.
pub fn before_cluster(doc: &Document, flag: Option<&Path>) -> Result<bool> {
    Ok(flag.is_none() && kubeconfig_path(doc, None)?.is_none())
}

/// A client for this cluster's API server (see the module docs); no
/// kubeconfig at all is an input error (exit 65: nothing was touched).
pub async fn connect(doc: &Document, flag: Option<&Path>) -> Result<kube::Client> {
    let path = kubeconfig_path(doc, flag)?.ok_or_else(|| {
        Error::invalid(
            "no kubeconfig for this cluster: status.kubeadm.kubeconfig is not set \
             (run phx-kubeadm apply first, or pass --kubeconfig)",
        )
    })?;
    open(doc, &path).await
}

/// [`connect`] for `destroy`: `None` when this cluster's kubeconfig is
/// gone (never recorded, or the file no longer exists), so the in-cluster
/// step can be skipped; an explicit `--kubeconfig` must exist.
pub async fn connect_if_present(doc: &Document, flag: Option<&Path>) -> Result<Option<kube::Client>> {
    match kubeconfig_path(doc, flag)? {
        None => Ok(None),
        Some(p) if flag.is_none() && !p.exists() => Ok(None),
        Some(p) => open(doc, &p).await.map(Some),
    }
}

async fn open(doc: &Document, path: &Path) -> Result<kube::Client> {
    // More than one TLS crypto provider is compiled in when the workspace
    // is built together (the AWS SDK brings aws-lc-rs, kube ring): rustls
    // then needs to be told. Already installed is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let at = || format!("kubeconfig {}", path.display());
    let expected = doc
        .status::<KubeadmStatus>(keys::KUBEADM)?
        .and_then(|s| s.ca_cert_hash);
    // Reading the file (and a CA file it names) blocks: off the runtime.
    let owned = path.to_path_buf();
    let kc = tokio::task::spawn_blocking(move || {
        let kc = kube::config::Kubeconfig::read_from(&owned).map_err(|e| Error::failed(e.to_string()))?;
        verify(&kc, &owned, expected.as_deref())?;
        Ok::<_, Error>(kc)
    })
    .await
    .map_err(Error::failed)?
    .map_err(|e| e.context(at()))?;
    let mut config = kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
        .await
        .map_err(|e| Error::failed(format!("{}: {e}", at())))?;
    // phx makes short requests only (no watch, exec or port-forward): an
    // answer that takes longer than this is a connection to a machine that
    // is gone, which never resets; counted from the request, not from when
    // the pooled connection went idle.
    config.read_timeout = Some(READ_TIMEOUT);
    config.reset_reader_on_write = true;
    let client = kube::client::ClientBuilder::try_from(config)
        .map_err(|e| Error::failed(format!("Kubernetes client: {e}")))?
        // The retry needs a service it can call again: the buffer is one.
        .with_layer(&tower::buffer::BufferLayer::new(256))
        .with_layer(&tower::retry::RetryLayer::new(crate::retry::OnNoAnswer::default()))
        .build();
    Ok(client)
}

/// The longest wait for an answer to one request (see [`open`]).
const READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The identity check: the current context's cluster is served over
/// verified TLS with a CA whose hash is `expected`.
fn verify(kc: &kube::config::Kubeconfig, path: &Path, expected: Option<&str>) -> Result<()> {
    let context = kc
        .current_context
        .as_deref()
        .ok_or_else(|| Error::failed("no current-context"))?;
    let cluster_name = kc
        .contexts
        .iter()
        .find(|c| c.name == context)
        .and_then(|c| c.context.as_ref())
        .map(|c| c.cluster.clone())
        .ok_or_else(|| Error::failed(format!("context {context:?} is not defined")))?;
    let cluster = kc
        .clusters
        .iter()
        .find(|c| c.name == cluster_name)
        .and_then(|c| c.cluster.as_ref())
        .ok_or_else(|| Error::failed(format!("cluster {cluster_name:?} is not defined")))?;
    let server = cluster.server.as_deref().unwrap_or_default();
    if !server.starts_with("https://") {
        return Err(Error::failed(format!(
            "server {server:?} is not https: an API server's identity is its TLS certificate"
        )));
    }
    if cluster.insecure_skip_tls_verify == Some(true) {
        return Err(Error::failed(
            "insecure-skip-tls-verify is set: the API server's identity cannot be checked",
        ));
    }
    let actual = match (
        &cluster.certificate_authority_data,
        &cluster.certificate_authority,
    ) {
        (Some(data), _) => phx_core::pki::ca_data_hash(data)?,
        (None, Some(file)) => {
            let file = path.parent().unwrap_or(Path::new(".")).join(file);
            let pem = std::fs::read(&file).map_err(|e| Error::failed(format!("{}: {e}", file.display())))?;
            phx_core::pki::ca_cert_hash(&pem)?
        }
        (None, None) => {
            return Err(Error::failed(
                "no certificate-authority: the API server's identity cannot be checked",
            ))
        }
    };
    match expected {
        Some(e) if e == actual => Ok(()),
        Some(e) => Err(Error::failed(format!(
            "its API server is not this cluster's: its CA is {actual}, this cluster's \
             (status.kubeadm.caCertHash) is {e}; nothing was changed"
        ))),
        None => Err(Error::failed(format!(
            "cannot prove it is this cluster's (its CA is {actual}): status.kubeadm.caCertHash is \
             not recorded; re-run phx-kubeadm apply, which records it; nothing was changed"
        ))),
    }
}
