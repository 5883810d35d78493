//! Client authentication: the keys `ssh-agent` offers (`SSH_AUTH_SOCK`),
//! then the private key file, as OpenSSH does. The file is read once and
//! shared by every connection.

use phx_core::{Error, Result};
use russh::client::Handle;
use russh::keys::{PrivateKey, PrivateKeyWithHashAlg};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, Clone, Default)]
pub struct Credentials {
    pub use_agent: bool,
    pub key: Option<Arc<PrivateKey>>,
    pub key_path: Option<PathBuf>,
}

impl Credentials {
    /// The agent when `SSH_AUTH_SOCK` is set, and the key file when given
    /// (an encrypted key needs the agent).
    pub fn load(key_file: Option<&Path>) -> Result<Credentials> {
        let use_agent = std::env::var_os("SSH_AUTH_SOCK").is_some_and(|s| !s.is_empty());
        let key = match key_file {
            Some(p) => Some(Arc::new(russh::keys::load_secret_key(p, None).map_err(|e| {
                Error::invalid(format!(
                    "private key {}: {e} (an encrypted key must be loaded into ssh-agent)",
                    p.display()
                ))
            })?)),
            None => None,
        };
        if !use_agent && key.is_none() {
            return Err(Error::invalid(
                "no SSH credentials: start ssh-agent with the key loaded, or set spec.nodes.ssh.privateKeyFile",
            ));
        }
        Ok(Credentials {
            use_agent,
            key,
            key_path: key_file.map(Path::to_path_buf),
        })
    }

    pub async fn authenticate<H: russh::client::Handler>(
        &self,
        handle: &mut Handle<H>,
        user: &str,
    ) -> Result<()> {
        if self.use_agent && self.try_agent(handle, user).await {
            return Ok(());
        }
        if let Some(key) = &self.key {
            let hash = handle.best_supported_rsa_hash().await.ok().flatten().flatten();
            let res = handle
                .authenticate_publickey(user, PrivateKeyWithHashAlg::new(key.clone(), hash))
                .await
                .map_err(|e| Error::failed(format!("authenticating: {e}")))?;
            if res.success() {
                return Ok(());
            }
        }
        let tried = match (&self.key_path, self.use_agent) {
            (Some(p), true) => format!("ssh-agent's keys and {}", p.display()),
            (Some(p), false) => p.display().to_string(),
            (None, _) => "ssh-agent's keys".to_string(),
        };
        Err(Error::failed(format!(
            "permission denied for {user} (tried {tried})"
        )))
    }

    async fn try_agent<H: russh::client::Handler>(&self, handle: &mut Handle<H>, user: &str) -> bool {
        let Ok(mut agent) = russh::keys::agent::client::AgentClient::connect_env().await else {
            return false;
        };
        let Ok(ids) = agent.request_identities().await else {
            return false;
        };
        for id in ids {
            let russh::keys::agent::AgentIdentity::PublicKey { key, .. } = id else {
                continue;
            };
            let hash = handle.best_supported_rsa_hash().await.ok().flatten().flatten();
            if let Ok(r) = handle
                .authenticate_publickey_with(user, key, hash, &mut agent)
                .await
            {
                if r.success() {
                    return true;
                }
            }
        }
        false
    }
}
