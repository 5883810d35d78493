//! Paths under the user's home: `~/` expansion, and the SSH keys phx looks
//! for when the spec names none, written once for phx-nodes (the public key
//! it imports), phx-kubeadm (the private key it signs with) and the man
//! pages.

use std::path::PathBuf;

macro_rules! key {
    (ed25519 $suffix:literal) => {
        concat!("~/.ssh/id_ed25519", $suffix)
    };
    (rsa $suffix:literal) => {
        concat!("~/.ssh/id_rsa", $suffix)
    };
}

/// The private keys tried in order when `spec.nodes.ssh.privateKeyFile` is unset.
pub const SSH_PRIVATE_KEYS: [&str; 2] = [key!(ed25519 ""), key!(rsa "")];
/// The public keys tried in order when `spec.nodes.ssh.publicKeyFile` is unset.
pub const SSH_PUBLIC_KEYS: [&str; 2] = [key!(ed25519 ".pub"), key!(rsa ".pub")];
/// The same lists, as the man pages print them.
pub const SSH_PRIVATE_KEYS_TEXT: &str = concat!(key!(ed25519 ""), ", ", key!(rsa ""));
pub const SSH_PUBLIC_KEYS_TEXT: &str = concat!(key!(ed25519 ".pub"), ", ", key!(rsa ".pub"));

/// `~/x` is `$HOME/x`; anything else is as written.
pub fn expand_home(p: &str) -> PathBuf {
    match p.strip_prefix("~/") {
        Some(rest) => PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(rest),
        None => PathBuf::from(p),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lists_agree() {
        assert_eq!(SSH_PRIVATE_KEYS_TEXT, SSH_PRIVATE_KEYS.join(", "));
        assert_eq!(SSH_PUBLIC_KEYS_TEXT, SSH_PUBLIC_KEYS.join(", "));
        for (private, public) in SSH_PRIVATE_KEYS.iter().zip(SSH_PUBLIC_KEYS) {
            assert_eq!(format!("{private}.pub"), public);
        }
        assert!(expand_home("~/.ssh/x").ends_with(".ssh/x"));
        assert_eq!(expand_home("/etc/x"), PathBuf::from("/etc/x"));
    }
}
