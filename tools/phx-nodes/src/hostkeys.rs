//! SSH host keys from the instance console: cloud-init prints the keys it
//! generated between `-----BEGIN SSH HOST KEY KEYS-----` and
//! `-----END SSH HOST KEY KEYS-----`, so the first SSH connection can be
//! verified instead of trusted blindly. Absent that block, none are known.

use phx_aws::ec2::Client;

/// The OpenSSH public keys (`type base64`) printed in `console`.
pub fn parse(console: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut inside = false;
    for line in console.lines() {
        // Console lines may carry a kernel timestamp or cloud-init prefix.
        if line.contains("-----BEGIN SSH HOST KEY KEYS-----") {
            inside = true;
            continue;
        }
        if line.contains("-----END SSH HOST KEY KEYS-----") {
            break;
        }
        if !inside {
            continue;
        }
        let mut fields = line.split_whitespace().skip_while(|f| !is_key_type(f));
        if let (Some(kind), Some(blob)) = (fields.next(), fields.next()) {
            if phx_aws::base64::decode(blob).is_ok() {
                keys.push(format!("{kind} {blob}"));
            }
        }
    }
    keys
}

fn is_key_type(f: &str) -> bool {
    f.starts_with("ssh-") || f.starts_with("ecdsa-sha2-")
}

/// The host keys an instance printed, or none (console not yet available,
/// or no cloud-init). Never fails: unknown keys are handled at connect time.
pub async fn fetch(ec2: &Client, instance_id: &str) -> Vec<String> {
    let out = ec2
        .get_console_output()
        .instance_id(instance_id)
        .latest(true)
        .send()
        .await;
    let Some(text) = out.ok().and_then(|o| o.output().map(str::to_string)) else {
        return Vec::new();
    };
    match phx_aws::base64::decode(text.trim()) {
        Ok(bytes) => parse(&String::from_utf8_lossy(&bytes)),
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What an Ubuntu 24.04 instance's console shows at the end of first boot.
    const CONSOLE: &str = "\
[   12.345678] cloud-init[1234]: Cloud-init v. 24.1.3 running 'modules:final'
<14>Nov 27 01:02:03 cloud-init: #############################################################
<14>Nov 27 01:02:03 cloud-init: -----BEGIN SSH HOST KEY FINGERPRINTS-----
<14>Nov 27 01:02:03 cloud-init: 256 SHA256:abc root@ip-10-0-0-5 (ECDSA)
<14>Nov 27 01:02:03 cloud-init: -----END SSH HOST KEY FINGERPRINTS-----
-----BEGIN SSH HOST KEY KEYS-----
ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTY= root@ip-10-0-0-5
ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJ1c3k= root@ip-10-0-0-5
-----END SSH HOST KEY KEYS-----
[   13.0] cloud-init[1234]: Cloud-init v. 24.1.3 finished
ssh-rsa AAAAB3NzaC1yc2E= not-inside-the-block
";

    #[test]
    fn keys_between_the_markers_are_taken_without_comments() {
        assert_eq!(
            parse(CONSOLE),
            [
                "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTY=",
                "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJ1c3k="
            ]
        );
    }

    #[test]
    fn no_block_means_no_keys() {
        assert!(parse("Linux version 6.8.0\nlogin:").is_empty());
        assert!(parse("-----BEGIN SSH HOST KEY KEYS-----\nnot a key\n").is_empty());
    }
}
