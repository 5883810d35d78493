//! The scripts phx runs on nodes. They live as files beside this crate
//! (checked by shellcheck in CI), are embedded in the binary, and are sent
//! on stdin to `sudo bash -s` after a header of shell-quoted variables:
//! nothing is left on the node, and secrets never appear in a command line.

pub const PREPARE: &str = include_str!("../scripts/prepare.sh");
pub const INIT: &str = include_str!("../scripts/init.sh");
pub const JOIN: &str = include_str!("../scripts/join.sh");
pub const STATE: &str = include_str!("../scripts/state.sh");
pub const RESET: &str = include_str!("../scripts/reset.sh");
pub const ETCD_API: &str = include_str!("../scripts/etcd-api.sh");
/// etcd's own tools, sent ahead of `BACKUP` and `RESTORE`.
pub const ETCD_LIB: &str = include_str!("../scripts/etcd-lib.sh");
pub const BACKUP: &str = include_str!("../scripts/backup.sh");
pub const RESTORE: &str = include_str!("../scripts/restore.sh");
pub const UPGRADE: &str = include_str!("../scripts/upgrade.sh");

/// The command every script runs under.
pub const RUN_AS_ROOT: &str = "sudo -n bash -s";

/// `script` preceded by `NAME='value'` lines.
pub fn with_vars(script: &str, vars: &[(&str, &str)]) -> Vec<u8> {
    let mut out = String::new();
    for (k, v) in vars {
        out.push_str(&format!("{k}={}\n", quote(v)));
    }
    out.push_str(script);
    out.into_bytes()
}

/// Single-quoted for the shell (`'` becomes `'\''`).
pub fn quote(v: &str) -> String {
    format!("'{}'", v.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_quoted_for_the_shell() {
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        let s = String::from_utf8(with_vars("echo \"$X\"\n", &[("X", "$(rm -rf /)")])).unwrap();
        assert_eq!(s, "X='$(rm -rf /)'\necho \"$X\"\n");
    }
}
