//! The sandbox cluster's PKI, as kubeadm would make it: a cluster CA, the
//! API server's serving certificate (for 127.0.0.1 and localhost) and the
//! `kubernetes-admin` client certificate. The stand-in serves TLS with it
//! and the kubeadm stand-in on the sandbox nodes writes it into
//! `/etc/kubernetes/admin.conf`, so the tools connect exactly as they would
//! to a real control plane: https, the CA verified, a client certificate.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use std::path::Path;

/// PEM texts of one cluster PKI.
#[derive(Debug, Clone)]
pub struct Pki {
    pub ca_crt: String,
    pub server_crt: String,
    pub server_key: String,
    pub admin_crt: String,
    pub admin_key: String,
}

/// The files [`Pki::write`] makes and [`Pki::read`] reads, in a directory.
const FILES: [&str; 5] = [
    "ca.crt",
    "apiserver.crt",
    "apiserver.key",
    "admin.crt",
    "admin.key",
];

impl Pki {
    /// kubeadm's layout: the admin in group `kubeadm:cluster-admins` (which
    /// kubeadm binds to cluster-admin).
    pub fn generate() -> Result<Pki, rcgen::Error> {
        Pki::generate_with_admin_group("kubeadm:cluster-admins")
    }

    /// The admin in `group`: `system:masters` for a control plane that no
    /// kubeadm set up (nothing binds kubeadm's group there).
    pub fn generate_with_admin_group(group: &str) -> Result<Pki, rcgen::Error> {
        let ca_key = KeyPair::generate()?;
        let mut ca = CertificateParams::new(Vec::<String>::new())?;
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name.push(DnType::CommonName, "kubernetes");
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::CrlSign,
        ];
        let ca_crt = ca.self_signed(&ca_key)?.pem();
        let issuer = Issuer::new(ca, ca_key);

        let server_key = KeyPair::generate()?;
        let mut server = CertificateParams::new(vec![
            "127.0.0.1".to_string(),
            "localhost".to_string(),
            "kubernetes".to_string(),
            "kubernetes.default".to_string(),
            "kubernetes.default.svc".to_string(),
            "kubernetes.default.svc.cluster.local".to_string(),
            "10.96.0.1".to_string(),
        ])?;
        server
            .distinguished_name
            .push(DnType::CommonName, "kube-apiserver");
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_crt = server.signed_by(&server_key, &issuer)?.pem();

        let admin_key = KeyPair::generate()?;
        let mut admin = CertificateParams::new(Vec::<String>::new())?;
        admin
            .distinguished_name
            .push(DnType::CommonName, "kubernetes-admin");
        admin.distinguished_name.push(DnType::OrganizationName, group);
        admin.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let admin_crt = admin.signed_by(&admin_key, &issuer)?.pem();

        Ok(Pki {
            ca_crt,
            server_crt,
            server_key: server_key.serialize_pem(),
            admin_crt,
            admin_key: admin_key.serialize_pem(),
        })
    }

    /// A new key pair as PEM `(private, public)`, e.g. for signing
    /// service-account tokens.
    pub fn new_key_pair() -> Result<(String, String), rcgen::Error> {
        let k = KeyPair::generate()?;
        Ok((k.serialize_pem(), k.public_key_pem()))
    }

    fn texts(&self) -> [&String; 5] {
        [
            &self.ca_crt,
            &self.server_crt,
            &self.server_key,
            &self.admin_crt,
            &self.admin_key,
        ]
    }

    /// Into `dir` (made if missing), keys readable by the owner only.
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(dir)?;
        for (name, text) in FILES.iter().zip(self.texts()) {
            let path = dir.join(name);
            std::fs::write(&path, text)?;
            let mode = if name.ends_with(".key") { 0o600 } else { 0o644 };
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))?;
        }
        Ok(())
    }

    /// What [`Pki::write`] left in `dir`.
    pub fn read(dir: &Path) -> std::io::Result<Pki> {
        let [ca_crt, server_crt, server_key, admin_crt, admin_key] =
            FILES.map(|f| std::fs::read_to_string(dir.join(f)));
        Ok(Pki {
            ca_crt: ca_crt?,
            server_crt: server_crt?,
            server_key: server_key?,
            admin_crt: admin_crt?,
            admin_key: admin_key?,
        })
    }

    /// The rustls configuration the stand-in serves with.
    pub fn server_config(&self) -> Result<rustls::ServerConfig, String> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let chain = CertificateDer::pem_slice_iter(self.server_crt.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("serving certificate: {e}"))?;
        let key = PrivateKeyDer::from_pem_slice(self.server_key.as_bytes())
            .map_err(|e| format!("serving key: {e}"))?;
        rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| e.to_string())
    }

    /// An admin kubeconfig for `server`, as kubeadm writes admin.conf.
    pub fn admin_kubeconfig(&self, server: &str) -> String {
        use base64::Engine as _;
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    certificate-authority-data: {}\n    \
             server: {server}\n  name: kubernetes\ncontexts:\n- context:\n    cluster: kubernetes\n    \
             user: kubernetes-admin\n  name: kubernetes-admin@kubernetes\n\
             current-context: kubernetes-admin@kubernetes\npreferences: {{}}\nusers:\n\
             - name: kubernetes-admin\n  user:\n    client-certificate-data: {}\n    client-key-data: {}\n",
            b64(&self.ca_crt),
            b64(&self.admin_crt),
            b64(&self.admin_key)
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn written_with_private_keys_read_back_and_served() {
        let dir = tempfile::tempdir().unwrap();
        let pki = Pki::generate().unwrap();
        pki.write(dir.path()).unwrap();
        for key in ["apiserver.key", "admin.key"] {
            let mode = std::fs::metadata(dir.path().join(key))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{key}");
        }
        let back = Pki::read(dir.path()).unwrap();
        assert_eq!(back.ca_crt, pki.ca_crt);
        assert_eq!(back.admin_key, pki.admin_key);
        assert!(back.server_config().is_ok());
        let kc = pki.admin_kubeconfig("https://127.0.0.1:6443");
        assert!(kc.contains("server: https://127.0.0.1:6443\n"));
        assert!(!kc.contains("BEGIN"), "certificate data is base64, not PEM");
    }
}
