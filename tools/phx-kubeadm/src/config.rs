//! The kubeadm configuration for `kubeadm init`, generated from the spec
//! and the control plane's addresses: node name = the EC2 private DNS name
//! and `cloud-provider: external` (both required by the AWS cloud
//! controller manager), the control-plane endpoint on the API load
//! balancer's name (else the first control plane's private DNS name: one
//! control plane for life), and certificate SANs for every name the API is
//! reached by.

use phx_core::spec::KubernetesSpec;
use phx_core::{Error, Result};

/// `1.34` or `1.34.2`, split into what the packages and kubeadm need.
#[derive(Debug, Clone, PartialEq)]
pub struct Version {
    /// `1.34`: the pkgs.k8s.io repository.
    pub minor: String,
    /// `1.34.2` to pin the packages, or empty for the repository's newest.
    pub package: String,
    /// `v1.34.2`, or `installed` (the packaged kubeadm's own version).
    pub kubeadm: String,
}

impl Version {
    pub fn parse(v: &str) -> Result<Version> {
        let v = v.strip_prefix('v').unwrap_or(v);
        let parts: Vec<&str> = v.split('.').collect();
        let numeric = parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        if !numeric || !(2..=3).contains(&parts.len()) || parts[0] != "1" {
            return Err(Error::invalid(format!(
                "spec.kubernetes.version: {v:?} is not MAJOR.MINOR or MAJOR.MINOR.PATCH (like 1.34)"
            )));
        }
        let minor = format!("{}.{}", parts[0], parts[1]);
        Ok(match parts.len() {
            3 => Version {
                minor,
                package: v.to_string(),
                kubeadm: format!("v{v}"),
            },
            _ => Version {
                minor,
                package: String::new(),
                kubeadm: "installed".into(),
            },
        })
    }
}

/// Addresses of the control plane node, and the load balancer in front of
/// the control planes when there is one.
#[derive(Debug, Clone)]
pub struct ControlPlane<'a> {
    /// The endpoint when set: `status.network.apiInternalLoadBalancer.dnsName`,
    /// else `apiLoadBalancer.dnsName`.
    pub load_balancer: Option<&'a str>,
    /// `status.network.apiLoadBalancer.dnsName` beside an internal endpoint:
    /// admins reach the API by it, so the certificate names it.
    pub admin_load_balancer: Option<&'a str>,
    pub private_dns: &'a str,
    pub private_ip: Option<&'a str>,
    pub public_ip: Option<&'a str>,
    /// `spec.kubernetes.apiEndpoint`'s host, when set.
    pub api_host: Option<&'a str>,
}

pub fn init_config(
    cluster: &str,
    k8s: &KubernetesSpec,
    version: &Version,
    cp: &ControlPlane<'_>,
) -> Result<String> {
    // The certificate SANs, each checked under the name of its field.
    let named = [
        ("the endpoint load balancer's dnsName", cp.load_balancer),
        ("status.network.apiLoadBalancer.dnsName", cp.admin_load_balancer),
        ("spec.kubernetes.apiEndpoint", cp.api_host),
        ("status.nodes.instances[].publicIp", cp.public_ip),
        ("status.nodes.instances[].privateDns", Some(cp.private_dns)),
        ("status.nodes.instances[].privateIp", cp.private_ip),
    ];
    let mut sans: Vec<&str> = Vec::new();
    for (what, v) in named.iter().filter_map(|(w, v)| v.map(|v| (*w, v))) {
        plain(what, v)?;
        if !sans.contains(&v) {
            sans.push(v);
        }
    }
    plain("metadata.name", cluster)?;
    let (skip, ignore) = kubeadm_lists(k8s)?;
    phx_core::spec::check_ipv4_cidr("spec.kubernetes.podCidr", &k8s.pod_cidr)?;
    phx_core::spec::check_ipv4_cidr("spec.kubernetes.serviceCidr", &k8s.service_cidr)?;
    let sans: String = sans.iter().map(|s| format!("  - {s}\n")).collect();
    Ok(format!(
        "apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
{skip}nodeRegistration:
  name: {node}
{ignore}  kubeletExtraArgs:
  - name: cloud-provider
    value: external
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
clusterName: {cluster}
kubernetesVersion: {version}
controlPlaneEndpoint: {endpoint}:6443
networking:
  podSubnet: {pods}
  serviceSubnet: {services}
apiServer:
  certSANs:
{sans}controllerManager:
  extraArgs:
  - name: cloud-provider
    value: external
",
        node = cp.private_dns,
        endpoint = cp.load_balancer.unwrap_or(cp.private_dns),
        version = version.kubeadm,
        pods = k8s.pod_cidr,
        services = k8s.service_cidr,
    ))
}

/// What a worker needs to join: kubeadm's `JoinConfiguration`, which
/// phx-kubeadm sends on the join script's stdin and the script writes to a
/// root-only file for `kubeadm join --config` (removed when it ends): the
/// token never appears on a command line, so never in the process list.
/// With a certificate key, the node joins as a control plane.
pub fn join_config(
    join: &crate::join::JoinCommand,
    node_name: &str,
    k8s: &KubernetesSpec,
    control_plane: Option<&crate::apply::CertificateKey>,
) -> Result<String> {
    for (what, v) in [
        ("the join endpoint", join.api.as_str()),
        ("the CA hash", join.ca_hash.as_str()),
        ("status.nodes.instances[].privateDns", node_name),
    ] {
        plain(what, v)?;
    }
    if !crate::join::is_token(&join.token) {
        return Err(Error::failed(
            "kubeadm made a bootstrap token of an unexpected form",
        ));
    }
    let (skip, ignore) = kubeadm_lists(k8s)?;
    let control_plane = match control_plane {
        Some(k) if crate::apply::is_certificate_key(&k.0) => {
            format!("controlPlane:\n  certificateKey: {}\n", k.0)
        }
        Some(_) => {
            return Err(Error::failed(
                "kubeadm made a certificate key of an unexpected form",
            ))
        }
        None => String::new(),
    };
    Ok(format!(
        "apiVersion: kubeadm.k8s.io/v1beta4
kind: JoinConfiguration
{skip}{control_plane}discovery:
  bootstrapToken:
    apiServerEndpoint: {api}
    token: {token}
    caCertHashes:
    - {hash}
nodeRegistration:
  name: {node_name}
{ignore}  kubeletExtraArgs:
  - name: cloud-provider
    value: external
",
        api = join.api,
        token = join.token,
        hash = join.ca_hash,
    ))
}

/// `skipPhases:` (top level) and `ignorePreflightErrors:` (under
/// nodeRegistration) as YAML lines, empty when not set; each value checked.
fn kubeadm_lists(k8s: &KubernetesSpec) -> Result<(String, String)> {
    Ok((
        yaml_list("skipPhases", &k8s.skip_phases, "")?,
        yaml_list("ignorePreflightErrors", &k8s.ignore_preflight_errors, "  ")?,
    ))
}

/// `what:` and its items at `indent`, empty when there are none; each item
/// must be a kubeadm phase or check name (it goes into YAML unquoted).
fn yaml_list(what: &str, items: &[String], indent: &str) -> Result<String> {
    if items.is_empty() {
        return Ok(String::new());
    }
    let mut out = format!("{indent}{what}:\n");
    for i in items {
        let ok = !i.is_empty()
            && !i.starts_with('-')
            && i.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '/' | '_' | '.'));
        if !ok {
            return Err(Error::invalid(format!(
                "spec.kubernetes.{what}: {i:?} is not a kubeadm phase or check name"
            )));
        }
        out.push_str(&format!("{indent}- {i}\n"));
    }
    Ok(out)
}

/// The UpgradeConfiguration for `kubeadm upgrade plan|apply|node`: the
/// phases skipped and preflight errors ignored as for init and join
/// (`spec.kubernetes`); the version is the command's argument.
pub fn upgrade_config(k8s: &KubernetesSpec) -> Result<String> {
    let skip = yaml_list("skipPhases", &k8s.skip_phases, "  ")?;
    let ignore = yaml_list("ignorePreflightErrors", &k8s.ignore_preflight_errors, "  ")?;
    Ok(format!(
        "apiVersion: kubeadm.k8s.io/v1beta4\nkind: UpgradeConfiguration\n\
         apply:\n  forceUpgrade: false\n{skip}{ignore}\
         node:\n  certificateRenewal: true\n{skip}{ignore}\
         plan:\n  printConfig: false\n{ignore}"
    ))
}

/// Values go into YAML unquoted: only host names, addresses and CIDRs.
pub fn plain(what: &str, v: &str) -> Result<()> {
    let ok = !v.is_empty()
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '/'))
        && !v.starts_with('-');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "{what}: {v:?} is not a host name, address or CIDR"
        )))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The init configuration of the reference spec for `cp`.
    fn default_config(cp: &ControlPlane<'_>) -> String {
        init_config(
            "phoenix",
            &KubernetesSpec::default(),
            &Version::parse("1.34").unwrap(),
            cp,
        )
        .unwrap()
    }

    #[test]
    fn versions() {
        let v = Version::parse("1.34").unwrap();
        assert_eq!(
            (v.minor.as_str(), v.package.as_str(), v.kubeadm.as_str()),
            ("1.34", "", "installed")
        );
        let v = Version::parse("v1.34.2").unwrap();
        assert_eq!(
            (v.minor.as_str(), v.package.as_str(), v.kubeadm.as_str()),
            ("1.34", "1.34.2", "v1.34.2")
        );
        for bad in ["1", "1.x", "2.0", "1.34.2.1", ""] {
            assert!(Version::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn config_names_the_node_by_private_dns_and_externalizes_the_cloud() {
        let cp = ControlPlane {
            load_balancer: None,
            admin_load_balancer: None,
            private_dns: "ip-10-0-0-5.ec2.internal",
            private_ip: Some("10.0.0.5"),
            public_ip: Some("54.1.2.3"),
            api_host: Some("api.phoenix-project.online"),
        };
        let c = default_config(&cp);
        assert!(
            c.contains("nodeRegistration:\n  name: ip-10-0-0-5.ec2.internal\n"),
            "{c}"
        );
        assert!(c.contains("controlPlaneEndpoint: ip-10-0-0-5.ec2.internal:6443\n"));
        assert!(c.contains("kubernetesVersion: installed\n"));
        assert!(c.contains("podSubnet: 192.168.0.0/16\n"));
        assert_eq!(
            c.matches("value: external").count(),
            2,
            "kubelet and controller manager"
        );
        assert!(c.contains(
            "  certSANs:\n  - api.phoenix-project.online\n  - 54.1.2.3\n  - ip-10-0-0-5.ec2.internal\n  - 10.0.0.5\n"
        ), "{c}");
    }

    #[test]
    fn the_internal_load_balancer_is_the_endpoint_and_both_are_sans() {
        let cp = ControlPlane {
            load_balancer: Some("phoenix-api-int-1.elb.us-east-1.amazonaws.com"),
            admin_load_balancer: Some("phoenix-api-1.elb.us-east-1.amazonaws.com"),
            private_dns: "ip-10-0-0-5.ec2.internal",
            private_ip: Some("10.0.0.5"),
            public_ip: Some("54.1.2.3"),
            api_host: None,
        };
        let c = default_config(&cp);
        assert!(
            c.contains("controlPlaneEndpoint: phoenix-api-int-1.elb.us-east-1.amazonaws.com:6443\n"),
            "{c}"
        );
        assert!(c.contains(
            "  certSANs:\n  - phoenix-api-int-1.elb.us-east-1.amazonaws.com\n  - phoenix-api-1.elb.us-east-1.amazonaws.com\n  - 54.1.2.3\n"
        ), "{c}");
    }

    #[test]
    fn the_load_balancer_is_the_endpoint_and_a_san() {
        let cp = ControlPlane {
            load_balancer: Some("phoenix-api-1.us-east-1.elb.amazonaws.com"),
            admin_load_balancer: None,
            private_dns: "ip-10-0-0-5.ec2.internal",
            private_ip: Some("10.0.0.5"),
            public_ip: None,
            api_host: None,
        };
        let c = default_config(&cp);
        assert!(
            c.contains("controlPlaneEndpoint: phoenix-api-1.us-east-1.elb.amazonaws.com:6443\n"),
            "{c}"
        );
        assert!(
            c.contains("nodeRegistration:\n  name: ip-10-0-0-5.ec2.internal\n"),
            "{c}"
        );
        assert!(c.contains(
            "  certSANs:\n  - phoenix-api-1.us-east-1.elb.amazonaws.com\n  - ip-10-0-0-5.ec2.internal\n  - 10.0.0.5\n"
        ), "{c}");
    }

    #[test]
    fn the_join_configuration_carries_the_token_and_the_node_name() {
        let j = crate::join::JoinCommand {
            api: "ip-10-0-0-5.ec2.internal:6443".into(),
            token: "abcdef.0123456789abcdef".into(),
            ca_hash: format!("sha256:{}", "a".repeat(64)),
        };
        let c = join_config(&j, "ip-10-0-1-7.ec2.internal", &KubernetesSpec::default(), None).unwrap();
        assert!(c.contains("kind: JoinConfiguration\n"), "{c}");
        assert!(
            c.contains(
                "    apiServerEndpoint: ip-10-0-0-5.ec2.internal:6443\n    token: abcdef.0123456789abcdef\n"
            ),
            "{c}"
        );
        assert!(c.contains("    caCertHashes:\n    - sha256:aaaa"), "{c}");
        assert!(
            c.contains("nodeRegistration:\n  name: ip-10-0-1-7.ec2.internal\n"),
            "{c}"
        );
        let bad = crate::join::JoinCommand {
            token: "x\ntoken: y".into(),
            ..j.clone()
        };
        assert!(join_config(&bad, "n", &KubernetesSpec::default(), None).is_err());
        assert!(join_config(&j, "n\nkind: Evil", &KubernetesSpec::default(), None).is_err());
    }

    #[test]
    fn skipped_phases_and_ignored_checks_reach_init_and_join() {
        let k8s = KubernetesSpec {
            skip_phases: vec!["preflight".into()],
            ignore_preflight_errors: vec!["NumCPU".into()],
            ..KubernetesSpec::default()
        };
        let cp = ControlPlane {
            load_balancer: None,
            admin_load_balancer: None,
            private_dns: "ip-10-0-0-5.ec2.internal",
            private_ip: None,
            public_ip: None,
            api_host: None,
        };
        let c = init_config("phoenix", &k8s, &Version::parse("1.34").unwrap(), &cp).unwrap();
        assert!(c.contains("kind: InitConfiguration\nskipPhases:\n- preflight\nnodeRegistration:\n  name: ip-10-0-0-5.ec2.internal\n  ignorePreflightErrors:\n  - NumCPU\n  kubeletExtraArgs:"), "{c}");
        let j = crate::join::JoinCommand {
            api: "ip-10-0-0-5.ec2.internal:6443".into(),
            token: "abcdef.0123456789abcdef".into(),
            ca_hash: format!("sha256:{}", "a".repeat(64)),
        };
        let c = join_config(&j, "ip-10-0-1-7.ec2.internal", &k8s, None).unwrap();
        assert!(
            c.contains("kind: JoinConfiguration\nskipPhases:\n- preflight\ndiscovery:"),
            "{c}"
        );
        assert!(c.contains("  ignorePreflightErrors:\n  - NumCPU\n"), "{c}");
        let bad = KubernetesSpec {
            skip_phases: vec!["x\nkind: Evil".into()],
            ..KubernetesSpec::default()
        };
        let e = init_config("phoenix", &bad, &Version::parse("1.34").unwrap(), &cp).unwrap_err();
        assert!(e.to_string().contains("spec.kubernetes.skipPhases"), "{e}");
    }

    #[test]
    fn odd_values_are_refused_not_injected() {
        let cp = ControlPlane {
            load_balancer: None,
            admin_load_balancer: None,
            private_dns: "x\nkind: Evil",
            private_ip: None,
            public_ip: None,
            api_host: None,
        };
        assert!(init_config(
            "p",
            &KubernetesSpec::default(),
            &Version::parse("1.34").unwrap(),
            &cp
        )
        .is_err());
    }

    #[test]
    fn the_upgrade_configuration_carries_the_skipped_phases_and_ignored_checks() {
        let k8s = KubernetesSpec {
            skip_phases: vec!["preflight".into()],
            ignore_preflight_errors: vec!["NumCPU".into()],
            ..KubernetesSpec::default()
        };
        let c = upgrade_config(&k8s).unwrap();
        assert_eq!(
            c,
            "apiVersion: kubeadm.k8s.io/v1beta4\nkind: UpgradeConfiguration\n\
             apply:\n  forceUpgrade: false\n  skipPhases:\n  - preflight\n  ignorePreflightErrors:\n  - NumCPU\n\
             node:\n  certificateRenewal: true\n  skipPhases:\n  - preflight\n  ignorePreflightErrors:\n  - NumCPU\n\
             plan:\n  printConfig: false\n  ignorePreflightErrors:\n  - NumCPU\n"
        );
        let bad = KubernetesSpec {
            skip_phases: vec!["x: y".into()],
            ..KubernetesSpec::default()
        };
        assert!(upgrade_config(&bad).is_err());
    }
}
