//! `spec`: what the user wants, with the reference topology as defaults.
//!
//! Every field has a default, so a document may say as little as it likes;
//! tools read this typed view, while the document itself keeps the user's
//! text untouched (see [`crate::Document`]). `phx-state new` prints
//! `Spec::reference(..)` in full so users can see and edit every knob.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct Spec {
    /// AWS region of the cluster; when absent the standard AWS chain
    /// (`AWS_REGION`, profile) decides.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Where the document's state is stored and locked (`phx-state`).
    pub state: StateSpec,
    pub network: NetworkSpec,
    pub nodes: NodesSpec,
    pub kubernetes: KubernetesSpec,
    pub cni: CniSpec,
    pub cloud_provider: CloudProviderSpec,
    pub platform: PlatformSpec,
    /// etcd snapshots in the state bucket (`phx-kubeadm backup`).
    pub backup: BackupSpec,
}

impl Spec {
    /// The checks every tool shares, made by the document reader: the
    /// fields that reach every AWS client (a region that is not one would
    /// otherwise fail late inside the SDK, or not at all in an emulator).
    /// Each tool checks the fields it reads itself.
    pub fn validate(&self) -> crate::Result<()> {
        for (path, region) in [
            ("spec.region", &self.region),
            ("spec.state.region", &self.state.region),
        ] {
            if let Some(r) = region.as_deref().filter(|r| !is_region(r)) {
                return Err(crate::Error::invalid(format!(
                    "{path}: {r:?} is not an AWS region (like us-east-1)"
                )));
            }
        }
        let cp = self.nodes.control_plane.count;
        if cp.is_multiple_of(2) || cp > 7 {
            return Err(crate::Error::invalid(format!(
                "spec.nodes.controlPlane.count: {cp} is not 1, 3, 5 or 7 (etcd needs an odd number of members)"
            )));
        }
        if cp > 1 && self.kubernetes.api_load_balancer == ApiLoadBalancer::None {
            return Err(crate::Error::invalid(format!(
                "spec.nodes.controlPlane.count: {cp} control planes need spec.kubernetes.apiLoadBalancer \
                 (internet-facing or internal), not none"
            )));
        }
        Ok(())
    }

    /// The reference platform: three zones, one control plane, three
    /// workers, Kubernetes 1.34 with Calico, the AWS cloud controller
    /// manager and the platform add-ons.
    pub fn reference(region: &str) -> Spec {
        Spec {
            region: Some(region.to_string()),
            ..Spec::default()
        }
    }
}

/// An AWS region's form: `us-east-1`, `us-gov-west-1`, `ap-southeast-4`.
pub fn is_region(r: &str) -> bool {
    let parts: Vec<&str> = r.split('-').collect();
    let lower = |p: &&str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase());
    parts.len() >= 3
        && parts[0].len() == 2
        && parts[..parts.len() - 1].iter().all(lower)
        && parts[parts.len() - 1].len() <= 2
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty()
}

/// An IPv4 CIDR (`10.96.0.0/12`); else an input error naming `path`.
pub fn check_ipv4_cidr(path: &str, v: &str) -> crate::Result<()> {
    let ok = v.split_once('/').is_some_and(|(ip, len)| {
        ip.parse::<std::net::Ipv4Addr>().is_ok()
            && len.bytes().all(|b| b.is_ascii_digit())
            && len.parse::<u8>().is_ok_and(|l| l <= 32)
    });
    if ok {
        Ok(())
    } else {
        Err(crate::Error::invalid(format!(
            "{path}: {v:?} is not an IPv4 CIDR (like 10.96.0.0/12)"
        )))
    }
}

/// The state backend. With `bucket` set the S3 backend is used (locking in
/// DynamoDB `lockTable`, or S3 itself with `lock: s3`); otherwise the local
/// backend keeps the state in `dir`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct StateSpec {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    /// Object key (S3) or file name (local); default `<metadata.name>.json`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lock_table: Option<String>,
    /// Lock mechanism for the S3 backend: `dynamodb` (default) or `s3`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lock: Option<LockMechanism>,
    /// Region of the bucket and table; default `spec.region`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Directory of the local backend; default `.phx-state`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dir: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LockMechanism {
    /// A conditional write of an item in a DynamoDB table.
    Dynamodb,
    /// A `<key>.lock` object written with `If-None-Match: *`.
    S3,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct NetworkSpec {
    pub vpc_cidr: String,
    /// Availability zones; empty means the region's first `zoneCount`.
    pub zones: Vec<String>,
    pub zone_count: u8,
    /// Private subnets behind a NAT gateway.
    pub nat_gateway: bool,
    /// CIDRs allowed to reach SSH and the Kubernetes API. Required by
    /// `phx-net`.
    pub admin_cidrs: Vec<String>,
    /// Permit `0.0.0.0/0` in `adminCidrs` (refused otherwise).
    pub allow_world_ssh: bool,
    /// CIDRs allowed to reach NodePorts; empty means the VPC and `adminCidrs`.
    pub node_port_cidrs: Vec<String>,
    /// Bring your own VPC: use this VPC and `subnetIds`, create only the
    /// security groups, and never delete what phx did not create.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subnet_ids: Vec<String>,
}

impl Default for NetworkSpec {
    fn default() -> Self {
        NetworkSpec {
            vpc_cidr: "10.0.0.0/16".into(),
            zones: Vec::new(),
            zone_count: 3,
            nat_gateway: true,
            admin_cidrs: Vec::new(),
            allow_world_ssh: false,
            node_port_cidrs: Vec::new(),
            vpc_id: None,
            subnet_ids: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct NodesSpec {
    pub control_plane: NodeGroupSpec,
    pub workers: NodeGroupSpec,
    pub image: ImageSpec,
    pub ssh: SshSpec,
}

impl Default for NodesSpec {
    fn default() -> Self {
        NodesSpec {
            control_plane: NodeGroupSpec {
                count: 1,
                instance_type: "t3.large".into(),
                disk_gib: 50,
            },
            workers: NodeGroupSpec {
                count: 3,
                instance_type: "t3.xlarge".into(),
                disk_gib: 50,
            },
            image: ImageSpec::default(),
            ssh: SshSpec::default(),
        }
    }
}

/// A group of identical nodes. Root volumes are always encrypted gp3.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeGroupSpec {
    pub count: u32,
    pub instance_type: String,
    #[serde(rename = "diskGiB")]
    pub disk_gib: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct ImageSpec {
    /// A fixed AMI; default the newest Canonical Ubuntu 24.04 LTS amd64.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct SshSpec {
    pub user: String,
    /// Default `~/.ssh/id_ed25519.pub`, then `~/.ssh/id_rsa.pub`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_key_file: Option<String>,
    /// Used when no `ssh-agent` offers the key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_key_file: Option<String>,
    /// `user@host:port` of a bastion to reach the nodes through.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jump_host: Option<String>,
    /// Node name to `host:port` where its SSH is reached instead of its
    /// public IP on 22 (a port forward, a NAT rule, a local sandbox).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub endpoints: BTreeMap<String, String>,
}

impl Default for SshSpec {
    fn default() -> Self {
        SshSpec {
            user: "ubuntu".into(),
            public_key_file: None,
            private_key_file: None,
            jump_host: None,
            endpoints: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct KubernetesSpec {
    /// `MAJOR.MINOR` (the package repository) or `MAJOR.MINOR.PATCH`.
    pub version: String,
    pub container_runtime: ContainerRuntime,
    pub pod_cidr: String,
    pub service_cidr: String,
    /// A DNS name or load balancer in front of the API server, used in
    /// the kubeconfig and certificate SANs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_endpoint: Option<String>,
    /// The network load balancer in front of the API servers (phx-net):
    /// its name is kubeadm's `controlPlaneEndpoint` from the first init, so
    /// control planes can be added later. `none` puts the first control
    /// plane's name there instead: one control plane for the cluster's life.
    pub api_load_balancer: ApiLoadBalancer,
    /// kubeadm preflight checks to report as warnings instead of errors
    /// (kubeadm's `nodeRegistration.ignorePreflightErrors`, like `NumCPU`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ignore_preflight_errors: Vec<String>,
    /// kubeadm phases not to run on init and join (kubeadm's `skipPhases`,
    /// like `addon/kube-proxy` for a CNI that replaces it).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skip_phases: Vec<String>,
}

impl Default for KubernetesSpec {
    fn default() -> Self {
        KubernetesSpec {
            version: "1.34".into(),
            container_runtime: ContainerRuntime::Containerd,
            pod_cidr: "192.168.0.0/16".into(),
            service_cidr: "10.96.0.0/12".into(),
            api_endpoint: None,
            api_load_balancer: ApiLoadBalancer::default(),
            ignore_preflight_errors: Vec::new(),
            skip_phases: Vec::new(),
        }
    }
}

/// `spec.backup`: which etcd snapshots `phx-kubeadm backup` keeps.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct BackupSpec {
    pub keep: Keep,
}

/// The snapshots kept after each backup, counted as restic's `forget`
/// does: the `last` newest, then the newest of each of the `hourly` most
/// recent hours (UTC) that have one, then of each of the `daily` most
/// recent days. The newest is always kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct Keep {
    pub last: u32,
    pub hourly: u32,
    pub daily: u32,
}

impl Default for Keep {
    fn default() -> Self {
        Keep {
            last: 4,
            hourly: 24,
            daily: 30,
        }
    }
}

/// `spec.kubernetes.apiLoadBalancer`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ApiLoadBalancer {
    /// Reachable from `spec.network.adminCidrs` and the VPC.
    #[default]
    InternetFacing,
    /// Reachable from the VPC only (admins come through a VPN or bastion).
    Internal,
    /// No load balancer: the first control plane's name is the endpoint.
    None,
}

impl ApiLoadBalancer {
    /// The elbv2 scheme, or `None` for no load balancer.
    pub fn scheme(self) -> Option<&'static str> {
        match self {
            ApiLoadBalancer::InternetFacing => Some("internet-facing"),
            ApiLoadBalancer::Internal => Some("internal"),
            ApiLoadBalancer::None => None,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ContainerRuntime {
    #[default]
    Containerd,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct CniSpec {
    pub plugin: CniPlugin,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CniPlugin {
    #[default]
    Calico,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct CloudProviderSpec {
    pub name: CloudProvider,
    /// The cloud controller manager image; default the release matching
    /// `spec.kubernetes.version`'s minor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CloudProvider {
    /// The AWS cloud controller manager (`cloud-provider: external`).
    #[default]
    Aws,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct PlatformSpec {
    /// Add-on name to enabled. Unknown names are refused by `phx-platform`.
    pub addons: BTreeMap<String, bool>,
    /// The app-of-apps Application for the booking services' config repo.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gitops: Option<GitopsSpec>,
    /// The service mesh's settings (when the istio add-on is on).
    pub istio: IstioSpec,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct IstioSpec {
    /// Mesh-wide mutual TLS: `strict` (the default: plain text between
    /// workloads is refused) or `permissive` (accepted too, while
    /// workloads move into the mesh).
    pub mtls: Mtls,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Mtls {
    #[default]
    Strict,
    Permissive,
}

/// Add-ons of the reference platform, on by default.
pub const DEFAULT_ADDONS: &[&str] = &[
    "argocd",
    "aws-load-balancer-controller",
    "aws-ebs-csi-driver",
    "istio",
];

/// Add-ons available on request through `spec.platform.addons`.
pub const OPTIONAL_ADDONS: &[&str] = &[
    "cert-manager",
    "kube-prometheus-stack",
    "fluent-bit",
    "opensearch",
    "vault",
    "external-secrets",
    "harbor",
];

impl Default for PlatformSpec {
    fn default() -> Self {
        let on = DEFAULT_ADDONS.iter().map(|a| (a.to_string(), true));
        let off = OPTIONAL_ADDONS.iter().map(|a| (a.to_string(), false));
        PlatformSpec {
            addons: on.chain(off).collect(),
            gitops: None,
            istio: IstioSpec::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GitopsSpec {
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    #[serde(default = "GitopsSpec::default_path")]
    pub path: String,
    #[serde(default = "GitopsSpec::default_revision")]
    pub target_revision: String,
    /// The namespace phx makes for the booking services and the
    /// app-of-apps deploys into (labelled for Istio's sidecar injection
    /// when Istio is on).
    #[serde(default = "GitopsSpec::default_namespace")]
    pub namespace: String,
}

impl GitopsSpec {
    fn default_path() -> String {
        ".".into()
    }
    fn default_revision() -> String {
        "HEAD".into()
    }
    fn default_namespace() -> String {
        "phoenix-booking".into()
    }
}
