//! The kubelet's credentials: `kubelet.conf` when it exists, else the TLS
//! bootstrap a joining node performs. With the bootstrap token's
//! kubeconfig, post a CertificateSigningRequest for `system:node:NAME`
//! (signer `kubernetes.io/kube-apiserver-client-kubelet`), wait for the
//! controller manager to approve and sign it (kubeadm's RBAC lets it
//! auto-approve), and write the key and certificate and a `kubelet.conf`
//! pointing at them, as the kubelet does.

use std::path::Path;
use std::time::{Duration, Instant};

use k8s_openapi::api::certificates::v1::{CertificateSigningRequest, CertificateSigningRequestSpec};
use k8s_openapi::ByteString;
use kube::api::{ObjectMeta, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};

use crate::Result;

pub const PKI_DIR: &str = "/var/lib/kubelet/pki";
const SIGNER: &str = "kubernetes.io/kube-apiserver-client-kubelet";

pub async fn client(kubeconfig: &Path) -> Result<Client> {
    let kc = Kubeconfig::read_from(kubeconfig)?;
    let config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default()).await?;
    Ok(Client::try_from(config)?)
}

/// The API server's URL and CA (base64) in KUBECONFIG's current context.
pub fn server_and_ca(kubeconfig: &Path) -> Result<(String, String)> {
    let kc = Kubeconfig::read_from(kubeconfig)?;
    let ctx_name = kc.current_context.clone().unwrap_or_default();
    let ctx = kc
        .contexts
        .iter()
        .find(|c| c.name == ctx_name)
        .and_then(|c| c.context.clone())
        .ok_or_else(|| format!("{}: no current context", kubeconfig.display()))?;
    let cluster = kc
        .clusters
        .iter()
        .find(|c| c.name == ctx.cluster)
        .and_then(|c| c.cluster.clone())
        .ok_or_else(|| format!("{}: no cluster {}", kubeconfig.display(), ctx.cluster))?;
    let server = cluster.server.ok_or("kubeconfig: no server")?;
    let ca = match (cluster.certificate_authority_data, cluster.certificate_authority) {
        (Some(d), _) => d,
        (None, Some(f)) => {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode(std::fs::read(f)?)
        }
        (None, None) => return Err("kubeconfig: no certificate authority".into()),
    };
    Ok((server, ca))
}

/// The TLS bootstrap: returns once KUBECONFIG holds the node's own
/// credentials.
pub async fn bootstrap(bootstrap: &Path, kubeconfig: &Path, node: &str, timeout: Duration) -> Result<()> {
    let (server, ca) = server_and_ca(bootstrap)?;
    let client = client(bootstrap).await?;
    let key = rcgen::KeyPair::generate()?;
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, format!("system:node:{node}"));
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "system:nodes");
    let request = params.serialize_request(&key)?.pem()?;
    let csrs: Api<CertificateSigningRequest> = Api::all(client);
    let csr = CertificateSigningRequest {
        metadata: ObjectMeta {
            generate_name: Some("node-csr-".into()),
            ..Default::default()
        },
        spec: CertificateSigningRequestSpec {
            request: ByteString(request.into_bytes()),
            signer_name: SIGNER.into(),
            usages: Some(vec!["digital signature".into(), "client auth".into()]),
            ..Default::default()
        },
        status: None,
    };
    let made = csrs.create(&PostParams::default(), &csr).await?;
    let name = made.metadata.name.unwrap_or_default();
    tracing::info!(csr = %name, "certificate signing request posted");
    let deadline = Instant::now() + timeout;
    let cert = loop {
        let c = csrs.get(&name).await?;
        let status = c.status.unwrap_or_default();
        if let Some(cert) = status.certificate.filter(|c| !c.0.is_empty()) {
            break cert.0;
        }
        if let Some(bad) = status
            .conditions
            .unwrap_or_default()
            .into_iter()
            .find(|c| c.type_ == "Denied" || c.type_ == "Failed")
        {
            return Err(format!("csr {name}: {}: {}", bad.type_, bad.message.unwrap_or_default()).into());
        }
        if Instant::now() > deadline {
            return Err(format!("csr {name}: not signed within {timeout:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let pem_path = write_pem(&cert, &key.serialize_pem())?;
    write_private(kubeconfig, node_kubeconfig(&server, &ca, &pem_path))?;
    tracing::info!(csr = %name, "signed: {} written", kubeconfig.display());
    Ok(())
}

/// `kubelet-client-<time>.pem` (certificate and key) and the
/// `kubelet-client-current.pem` link to it.
fn write_pem(cert: &[u8], key: &str) -> Result<String> {
    std::fs::create_dir_all(PKI_DIR)?;
    let stamp = crate::status::epoch(std::time::SystemTime::now());
    let file = format!("{PKI_DIR}/kubelet-client-{stamp}.pem");
    write_private(Path::new(&file), [cert, key.as_bytes()].concat())?;
    let current = format!("{PKI_DIR}/kubelet-client-current.pem");
    let _ = std::fs::remove_file(&current);
    std::os::unix::fs::symlink(&file, &current)?;
    Ok(current)
}

fn node_kubeconfig(server: &str, ca: &str, pem: &str) -> String {
    format!(
        "apiVersion: v1
kind: Config
clusters:
- cluster:
    certificate-authority-data: {ca}
    server: {server}
  name: default-cluster
contexts:
- context:
    cluster: default-cluster
    namespace: default
    user: default-auth
  name: default-context
current-context: default-context
preferences: {{}}
users:
- name: default-auth
  user:
    client-certificate: {pem}
    client-key: {pem}
"
    )
}

/// Written 0600 from the start (a key is in it), replaced atomically.
pub fn write_private(path: &Path, bytes: impl AsRef<[u8]>) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("phx-tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(bytes.as_ref())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}
