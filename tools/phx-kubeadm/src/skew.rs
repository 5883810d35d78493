//! Which upgrade a cluster may take: the version rules kubeadm and
//! Kubernetes set, as a pure function of what the cluster runs and what
//! `spec.kubernetes.version` asks. `phx-kubeadm upgrade` checks them
//! before anything changes; a refusal is an input error (exit 65).
//!
//! - one minor at a time (kubeadm upgrades from N to N+1 only);
//! - no downgrade (kubeadm has none; an etcd snapshot from before the
//!   upgrade is the way back);
//! - every node Ready;
//! - kubelets never newer than the API server and at most three minors
//!   older than the version upgraded to (the version skew policy), so the
//!   rule holds at every step of a roll that upgrades control planes
//!   first.

use crate::config::Version;
use phx_core::{Error, Result};
use std::fmt;

/// A Kubernetes `v1.MINOR.PATCH` (the major is 1; pre-release and build
/// suffixes, as in `v1.35.0-rc.1`, are ignored).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Semver {
    pub minor: u32,
    pub patch: u32,
}

impl Semver {
    pub fn parse(v: &str) -> Option<Semver> {
        let v = v.strip_prefix('v').unwrap_or(v);
        let v = v.split(['-', '+']).next()?;
        let mut parts = v.split('.');
        if parts.next()? != "1" {
            return None;
        }
        let minor = parts.next()?.parse().ok()?;
        let patch = parts.next()?.parse().ok()?;
        parts.next().is_none().then_some(Semver { minor, patch })
    }
}

impl fmt::Display for Semver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v1.{}.{}", self.minor, self.patch)
    }
}

/// One Node as the API server reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeFacts {
    pub name: String,
    pub ready: bool,
    pub kubelet: Semver,
    pub unschedulable: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// The cluster runs what the spec asks, every kubelet included.
    Nothing,
    Upgrade {
        from: Semver,
        /// `None`: the newest patch the minor's repository has (known once
        /// the first control plane is upgraded).
        to: Option<Semver>,
        minor: u32,
    },
}

/// The upgrade from `api` (the API server's version) to `want`, given the
/// cluster's Nodes; a refusal says why and what to do.
pub fn decide(api: Semver, want: &Version, nodes: &[NodeFacts]) -> Result<Decision> {
    let (minor, patch) = wanted(want)?;
    let downgrade = minor < api.minor || (minor == api.minor && patch.is_some_and(|p| p < api.patch));
    if downgrade {
        return Err(Error::invalid(format!(
            "spec.kubernetes.version {} is older than the cluster's {api}: kubeadm cannot downgrade \
             (an etcd snapshot taken before the upgrade, restored on nodes of the old version, is \
             the way back); nothing was changed",
            want_text(want)
        )));
    }
    if minor > api.minor + 1 {
        return Err(Error::invalid(format!(
            "spec.kubernetes.version {} skips a minor: the cluster runs {api} and kubeadm upgrades \
             one minor at a time; set 1.{} and deploy, then {}; nothing was changed",
            want_text(want),
            api.minor + 1,
            want_text(want)
        )));
    }
    let to = match (minor == api.minor, patch) {
        (_, Some(p)) => Some(Semver { minor, patch: p }),
        (true, None) => Some(api),
        (false, None) => None,
    };
    if to == Some(api) && nodes.iter().all(|n| n.kubelet == api) {
        return Ok(Decision::Nothing);
    }
    let not_ready: Vec<&str> = nodes
        .iter()
        .filter(|n| !n.ready)
        .map(|n| n.name.as_str())
        .collect();
    if !not_ready.is_empty() {
        return Err(Error::invalid(format!(
            "every node must be Ready before an upgrade; not Ready: {}; nothing was changed",
            not_ready.join(", ")
        )));
    }
    for n in nodes {
        if n.kubelet.minor > api.minor {
            return Err(Error::invalid(format!(
                "{}: its kubelet {} is newer than the API server's {api}, which the version skew \
                 policy does not allow; nothing was changed",
                n.name, n.kubelet
            )));
        }
        if n.kubelet.minor + 3 < minor {
            return Err(Error::invalid(format!(
                "{}: its kubelet {} would be more than three minors older than 1.{minor}; upgrade \
                 it to the cluster's {api} first; nothing was changed",
                n.name, n.kubelet
            )));
        }
    }
    Ok(Decision::Upgrade { from: api, to, minor })
}

/// `spec.kubernetes.version` as numbers: its minor and, if pinned, patch.
fn wanted(want: &Version) -> Result<(u32, Option<u32>)> {
    let bad = || {
        Error::invalid(format!(
            "spec.kubernetes.version {}: not 1.MINOR[.PATCH]",
            want_text(want)
        ))
    };
    let minor = want
        .minor
        .strip_prefix("1.")
        .and_then(|m| m.parse().ok())
        .ok_or_else(bad)?;
    let patch = match want.package.as_str() {
        "" => None,
        p => Some(Semver::parse(p).ok_or_else(bad)?.patch),
    };
    Ok((minor, patch))
}

fn want_text(want: &Version) -> &str {
    match want.package.as_str() {
        "" => &want.minor,
        p => p,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Semver {
        Semver::parse(s).unwrap()
    }

    fn node(name: &str, kubelet: &str, ready: bool) -> NodeFacts {
        NodeFacts {
            name: name.into(),
            ready,
            kubelet: v(kubelet),
            unschedulable: false,
        }
    }

    fn want(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    fn refusal(api: &str, spec: &str, nodes: &[NodeFacts]) -> String {
        let e = decide(v(api), &want(spec), nodes).unwrap_err();
        assert_eq!(e.kind().code(), 65, "{e}");
        e.to_string()
    }

    #[test]
    fn versions_parse_as_kubernetes_prints_them() {
        assert_eq!(v("v1.34.4"), Semver { minor: 34, patch: 4 });
        assert_eq!(v("1.35.0-rc.1"), Semver { minor: 35, patch: 0 });
        assert_eq!(v("v1.35.4").to_string(), "v1.35.4");
        assert!(v("v1.35.4") > v("v1.34.10"));
        for bad in ["v2.0.0", "v1.34", "1.x.0", "v1.34.4.1", ""] {
            assert_eq!(Semver::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_next_minor_is_an_upgrade_pinned_or_to_the_newest_patch() {
        let nodes = [node("cp", "v1.34.4", true), node("w", "v1.34.4", true)];
        assert_eq!(
            decide(v("v1.34.4"), &want("1.35.4"), &nodes).unwrap(),
            Decision::Upgrade {
                from: v("v1.34.4"),
                to: Some(v("v1.35.4")),
                minor: 35
            }
        );
        assert_eq!(
            decide(v("v1.34.4"), &want("1.35"), &nodes).unwrap(),
            Decision::Upgrade {
                from: v("v1.34.4"),
                to: None,
                minor: 35
            }
        );
    }

    #[test]
    fn the_same_version_everywhere_is_nothing_to_do_and_kubelets_behind_are_finished() {
        let same = [node("cp", "v1.35.4", true), node("w", "v1.35.4", true)];
        assert_eq!(
            decide(v("v1.35.4"), &want("1.35"), &same).unwrap(),
            Decision::Nothing
        );
        assert_eq!(
            decide(v("v1.35.4"), &want("1.35.4"), &same).unwrap(),
            Decision::Nothing
        );
        // An upgrade stopped after the control plane: the kubelets follow.
        let behind = [node("cp", "v1.35.4", true), node("w", "v1.34.4", true)];
        assert_eq!(
            decide(v("v1.35.4"), &want("1.35"), &behind).unwrap(),
            Decision::Upgrade {
                from: v("v1.35.4"),
                to: Some(v("v1.35.4")),
                minor: 35
            }
        );
        // A patch upgrade within the minor.
        assert_eq!(
            decide(v("v1.35.4"), &want("1.35.6"), &same).unwrap(),
            Decision::Upgrade {
                from: v("v1.35.4"),
                to: Some(v("v1.35.6")),
                minor: 35
            }
        );
    }

    #[test]
    fn skipping_a_minor_and_downgrading_are_refused_saying_the_way() {
        let nodes = [node("cp", "v1.34.4", true)];
        let skip = refusal("v1.34.4", "1.36", &nodes);
        assert!(
            skip.contains("one minor at a time") && skip.contains("set 1.35"),
            "{skip}"
        );
        let down = refusal("v1.35.4", "1.34", &nodes);
        assert!(down.contains("cannot downgrade"), "{down}");
        let patch_down = refusal("v1.35.4", "1.35.2", &[node("cp", "v1.35.4", true)]);
        assert!(patch_down.contains("cannot downgrade"), "{patch_down}");
    }

    #[test]
    fn a_node_not_ready_or_a_kubelet_out_of_skew_is_refused() {
        let not_ready = refusal(
            "v1.34.4",
            "1.35",
            &[node("cp", "v1.34.4", true), node("w-2", "v1.34.4", false)],
        );
        assert!(not_ready.contains("not Ready: w-2"), "{not_ready}");
        let old = refusal("v1.34.4", "1.35", &[node("w-1", "v1.31.2", true)]);
        assert!(old.contains("w-1") && old.contains("three minors"), "{old}");
        let newer = refusal("v1.34.4", "1.35", &[node("w-1", "v1.35.0", true)]);
        assert!(newer.contains("newer than the API server"), "{newer}");
        // Three minors behind the target is within the policy.
        assert!(decide(v("v1.34.4"), &want("1.35"), &[node("w", "v1.32.0", true)]).is_ok());
    }
}
