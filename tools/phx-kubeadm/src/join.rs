//! Parsing the join command `kubeadm token create --print-join-command`
//! prints (or `kubeadm init` at its end): one command, possibly split over
//! lines with `\` and trailing spaces, as the real output is.

use phx_core::{Error, Result};

/// The parts of a join command; the token is a secret and never leaves
/// memory except on the worker's script stdin.
#[derive(Clone, PartialEq)]
pub struct JoinCommand {
    pub api: String,
    pub token: String,
    pub ca_hash: String,
}

impl std::fmt::Debug for JoinCommand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinCommand")
            .field("api", &self.api)
            .field("token", &"<redacted>")
            .field("ca_hash", &self.ca_hash)
            .finish()
    }
}

/// A kubeadm bootstrap token: `[a-z0-9]{6}.[a-z0-9]{16}`.
pub fn is_token(t: &str) -> bool {
    let ok =
        |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    t.split_once('.')
        .is_some_and(|(id, secret)| ok(id, 6) && ok(secret, 16))
}

pub fn parse(output: &str) -> Result<JoinCommand> {
    // Continuation lines: a backslash, maybe spaces, then the line break.
    let mut joined = String::new();
    for line in output.lines() {
        let t = line.trim_end();
        match t.strip_suffix('\\') {
            Some(head) => {
                joined.push_str(head);
                joined.push(' ');
            }
            None => {
                joined.push_str(t);
                joined.push('\n');
            }
        }
    }
    let line = joined
        .lines()
        .find(|l| l.trim_start().starts_with("kubeadm join "))
        .ok_or_else(|| Error::failed("no `kubeadm join` command in kubeadm's output"))?;
    let words: Vec<&str> = line.split_whitespace().collect();
    let flag = |name: &str| {
        words
            .iter()
            .position(|w| *w == name)
            .and_then(|i| words.get(i + 1))
            .map(|s| s.to_string())
    };
    let api = words
        .get(2)
        .filter(|w| !w.starts_with('-'))
        .map(|s| s.to_string());
    match (api, flag("--token"), flag("--discovery-token-ca-cert-hash")) {
        (Some(api), Some(token), Some(ca_hash)) if ca_hash.starts_with("sha256:") => {
            Ok(JoinCommand { api, token, ca_hash })
        }
        _ => Err(Error::failed(
            "kubeadm's join command lacks the endpoint, --token or --discovery-token-ca-cert-hash",
        )),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const HASH: &str = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    #[test]
    fn the_init_output_form_split_over_lines_with_trailing_spaces() {
        let out = format!(
            "Then you can join any number of worker nodes by running the following on each as root:\n\n\
             kubeadm join ip-10-0-0-5.ec2.internal:6443 --token abcdef.0123456789abcdef \\ \n\
             \t--discovery-token-ca-cert-hash {HASH} \n"
        );
        let j = parse(&out).unwrap();
        assert_eq!(j.api, "ip-10-0-0-5.ec2.internal:6443");
        assert_eq!(j.token, "abcdef.0123456789abcdef");
        assert_eq!(j.ca_hash, HASH);
        assert!(
            !format!("{j:?}").contains("0123456789abcdef"),
            "the token is not logged"
        );
    }

    #[test]
    fn the_print_join_command_form_on_one_line() {
        let j = parse(&format!(
            "kubeadm join 10.0.0.5:6443 --token a.b --discovery-token-ca-cert-hash {HASH} \n"
        ))
        .unwrap();
        assert_eq!(j.api, "10.0.0.5:6443");
    }

    #[test]
    fn anything_else_is_an_error() {
        assert!(parse("error: timed out").is_err());
        assert!(parse("kubeadm join --token a.b").is_err());
        assert!(parse("kubeadm join h:6443 --token a.b --discovery-token-ca-cert-hash md5:x").is_err());
    }
}
