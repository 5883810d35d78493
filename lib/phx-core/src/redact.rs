//! The one filter between a secret and anything phx prints or stores.
//!
//! phx never asks a node to print a secret (kubeadm runs with
//! `--skip-token-print --skip-certificate-key-print`, join secrets travel
//! on stdin into a root-only file), but a node's output is not phx's to
//! control: a hand-edited script, a kubeadm of another version, a
//! kubeconfig `cat` by mistake. So every line a node sends is passed
//! through here before it reaches the log, and every `.error` message
//! before it reaches the document: defence in depth, not the mechanism.
//!
//! Masked: kubeadm bootstrap tokens (`abcdef.0123456789abcdef`), kubeadm
//! certificate keys (64 hex digits on a line of their own, as kubeadm
//! prints them; a digest inside a sentence, such as a CA hash or an
//! artifact's sha256, is public and stays), PEM private key blocks, and
//! the values of fields and flags that carry them (`token:`,
//! `client-key-data:`, `certificateKey:`, `--token`, `--certificate-key`).

use regex::{Captures, Regex};
use std::borrow::Cow;
use std::sync::LazyLock;

/// What a secret is replaced with.
pub const MASK: &str = "<redacted>";

static TOKEN: LazyLock<Regex> = LazyLock::new(|| re(r"\b[a-z0-9]{6}\.[a-z0-9]{16}\b"));
/// 64 hex digits alone on their line: kubeadm's `Using certificate key:`
/// puts the key on the next line.
static HEX64: LazyLock<Regex> = LazyLock::new(|| re(r"(?mi)^(\s*)[a-f0-9]{64}(\s*)$"));
static FIELD: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"(?i)((?:client-key-data|certificate-?key|token|password|secret-access-key)["']?\s*[:=]\s*|--(?:token|certificate-key)[ =])["']?[^\s"',}]+"#,
    )
});
static PEM_BLOCK: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?s)(-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----).*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|\z)")
});
static PEM_BEGIN: LazyLock<Regex> = LazyLock::new(|| re(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----"));
static PEM_END: LazyLock<Regex> = LazyLock::new(|| re(r"-----END [A-Z0-9 ]*PRIVATE KEY-----"));

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("the redaction patterns are valid")
}

/// `text` with every secret masked (any number of lines).
pub fn redact(text: &str) -> Cow<'_, str> {
    let text = PEM_BLOCK.replace_all(text, |c: &Captures| {
        let end = c.get(2).map_or("", |m| m.as_str());
        format!("{} {MASK} {end}", &c[1])
    });
    let text = then(text, |t| {
        FIELD.replace_all(t, |c: &Captures| format!("{}{MASK}", &c[1]))
    });
    let text = then(text, |t| TOKEN.replace_all(t, MASK));
    then(text, |t| {
        HEX64.replace_all(t, |c: &Captures| format!("{}{MASK}{}", &c[1], &c[2]))
    })
}

/// The next replacement on `text`, borrowing from the input as long as
/// nothing was replaced.
fn then<'a>(text: Cow<'a, str>, step: impl for<'t> Fn(&'t str) -> Cow<'t, str>) -> Cow<'a, str> {
    match step(&text) {
        Cow::Borrowed(_) => text,
        Cow::Owned(s) => Cow::Owned(s),
    }
}

/// [`redact`] for a stream of lines, which also masks the lines inside a
/// PEM private key block (each of them alone looks like any base64).
#[derive(Debug, Default)]
pub struct Lines {
    in_private_key: bool,
}

impl Lines {
    pub fn line<'a>(&mut self, line: &'a str) -> Cow<'a, str> {
        if self.in_private_key {
            if PEM_END.is_match(line) {
                self.in_private_key = false;
                return Cow::Borrowed(line);
            }
            return Cow::Borrowed(MASK);
        }
        if PEM_BEGIN.is_match(line) && !PEM_END.is_match(line) {
            self.in_private_key = true;
            return Cow::Borrowed(line);
        }
        redact(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    const CERT_KEY: &str = "0f5b7c2a9e4d1f3b6a8c0e2d4f6b8a0c1e3d5f7b9a2c4e6d8f0b1a3c5e7d9f2b";

    #[test]
    fn kubeadm_init_output_loses_its_secrets_and_keeps_the_rest() {
        let out = format!(
            "[upload-certs] Using certificate key:\n{CERT_KEY}\n[bootstrap-token] Using token: abcdef.0123456789abcdef\n\
             kubeadm join ip-10-0-0-5.ec2.internal:6443 --token k8s001.zyxwvutsrq987654 \\\n\
             \t--discovery-token-ca-cert-hash {HASH} --control-plane --certificate-key {CERT_KEY}\n"
        );
        let r = redact(&out);
        for secret in [CERT_KEY, "abcdef.0123456789abcdef", "k8s001.zyxwvutsrq987654"] {
            assert!(!r.contains(secret), "{secret} survived:\n{r}");
        }
        assert!(r.contains(HASH), "the CA hash is public and stays:\n{r}");
        assert!(r.contains("ip-10-0-0-5.ec2.internal:6443"), "{r}");
        assert!(r.contains("[upload-certs] Using certificate key:"), "{r}");
    }

    #[test]
    fn yaml_and_json_fields_are_masked() {
        for (line, secret) in [
            (
                "    client-key-data: LS0tLS1CRUdJTiBFQyBQUklWQVRFIEtFWS0tLS0t",
                "LS0tLS1CRUdJTiBF",
            ),
            ("    token: 07401b.f395accd246ae52d", "07401b.f395accd246ae52d"),
            ("certificateKey: \"s3cr3t-value\"", "s3cr3t-value"),
            (r#"{"token":"opaque-bearer-value"}"#, "opaque-bearer-value"),
            ("kubeadm join x:6443 --token=opaque", "opaque"),
        ] {
            let r = redact(line);
            assert!(!r.contains(secret), "{line} -> {r}");
            assert!(r.contains(MASK), "{line} -> {r}");
        }
    }

    #[test]
    fn a_private_key_block_is_masked_whole_and_line_by_line() {
        let pem = "x\n-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIAbc\ndef==\n-----END EC PRIVATE KEY-----\ny";
        let r = redact(pem);
        assert!(!r.contains("MHcCAQEEIAbc") && !r.contains("def=="), "{r}");
        assert!(r.starts_with("x\n") && r.ends_with("\ny"), "{r}");
        let mut lines = Lines::default();
        let out: Vec<String> = pem.lines().map(|l| lines.line(l).into_owned()).collect();
        assert_eq!(
            out,
            [
                "x",
                "-----BEGIN EC PRIVATE KEY-----",
                MASK,
                MASK,
                "-----END EC PRIVATE KEY-----",
                "y"
            ]
        );
        // Cut off before its end (an error's last lines): still masked.
        assert!(!redact("-----BEGIN PRIVATE KEY----- MIIEv").contains("MIIEv"));
    }

    #[test]
    fn ordinary_lines_pass_unchanged() {
        for line in [
            "phx: prepared (changed=0)",
            "[init] Using Kubernetes version: v1.34.2",
            "created vpc vpc-0a1b2c3d4e5f6a7b8 (10.0.0.0/16)",
            "calico.yaml: sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "sha256 mismatch: expected 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08, got \
             0f5b7c2a9e4d1f3b6a8c0e2d4f6b8a0c1e3d5f7b9a2c4e6d8f0b1a3c5e7d9f2b",
            "ip-10-0-1-23.ec2.internal Ready",
        ] {
            assert_eq!(redact(line), line);
        }
    }
}
