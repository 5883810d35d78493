//! A cluster's identity as kubeadm defines it: the CA certificate hash,
//! `sha256:` + the SHA-256 of the CA's DER SubjectPublicKeyInfo, the value
//! of `kubeadm join --discovery-token-ca-cert-hash`. phx-kubeadm records it
//! in `status.kubeadm.caCertHash`; the Kubernetes tools compare the CA of
//! the kubeconfig they are given with it before they write or delete
//! anything, so a kubeconfig of another cluster is refused.

use crate::error::{Error, Result};
use base64::Engine;

/// The hash of the first certificate in `pem` (PEM text).
pub fn ca_cert_hash(pem: &[u8]) -> Result<String> {
    let (_, block) = x509_parser::pem::parse_x509_pem(pem)
        .map_err(|e| Error::failed(format!("not a PEM certificate: {e}")))?;
    let cert = block
        .parse_x509()
        .map_err(|e| Error::failed(format!("not an X.509 certificate: {e}")))?;
    Ok(format!(
        "sha256:{}",
        crate::digest::sha256_hex(cert.public_key().raw)
    ))
}

/// The hash of a kubeconfig's `certificate-authority-data` (base64 of PEM).
pub fn ca_data_hash(base64_pem: &str) -> Result<String> {
    let pem = base64::engine::general_purpose::STANDARD
        .decode(base64_pem.trim())
        .map_err(|e| Error::failed(format!("certificate-authority-data is not base64: {e}")))?;
    ca_cert_hash(&pem)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A CA made with `openssl req -x509 -newkey ec -pkeyopt
    /// ec_paramgen_curve:P-256`; its hash computed as kubeadm's docs say:
    /// `openssl x509 -pubkey -noout | openssl pkey -pubin -outform der |
    /// sha256sum`.
    const CA: &str = "-----BEGIN CERTIFICATE-----
MIIBgDCCASegAwIBAgIUT9z7UPLS41V37pRrnmpmyrQf+xAwCgYIKoZIzj0EAwIw
FTETMBEGA1UEAwwKa3ViZXJuZXRlczAgFw0yNjEyMDEwNDE3NTBaGA8yMTI2MTEw
NzA0MTc1MFowFTETMBEGA1UEAwwKa3ViZXJuZXRlczBZMBMGByqGSM49AgEGCCqG
SM49AwEHA0IABIfoOj3DztVmvbfc8Cx3bDue2G4DaZx8Ze3pWtCDotqcTzY4QEsf
vBm9TKSMIYlaqxREI8mQMK/57aXALCcNLcijUzBRMB0GA1UdDgQWBBQl24qX6GY6
3fAROqjpehtGY++t8TAfBgNVHSMEGDAWgBQl24qX6GY63fAROqjpehtGY++t8TAP
BgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0cAMEQCIEEyGbPfNoiodV9GCi5t
TUGcWNH4rzJ47wP7ulCaTdrSAiAipSNYGV4jrKvJBLy92xozV1zHZdZx9mKvVofu
F0wEqQ==
-----END CERTIFICATE-----
";

    #[test]
    fn the_hash_is_kubeadms() {
        assert_eq!(ca_cert_hash(CA.as_bytes()).unwrap(), EXPECTED);
        let b64 = base64::engine::general_purpose::STANDARD.encode(CA);
        assert_eq!(ca_data_hash(&b64).unwrap(), EXPECTED);
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(ca_cert_hash(b"random 64 bytes").is_err());
        assert!(ca_data_hash("!!").is_err());
    }

    const EXPECTED: &str = "sha256:963a3052ed5f0e708afb322efb1879db1680aee1f6bbc7a2135e5d5627bed2c7";
}
