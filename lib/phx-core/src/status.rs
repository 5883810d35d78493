//! `status.<tool>`: what each tool found or made.
//!
//! Each tool writes only its own key. The parts other tools and scripts rely
//! on are typed here, in one place, so the JSON Schema (`phx-state schema`)
//! and every reader agree; a tool's private details may stay untyped until
//! another tool needs them.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The status keys, one per tool.
pub mod keys {
    pub const STATE: &str = "state";
    pub const NETWORK: &str = "network";
    pub const IAM: &str = "iam";
    pub const NODES: &str = "nodes";
    pub const KUBEADM: &str = "kubeadm";
    pub const CNI: &str = "cni";
    pub const CCM: &str = "ccm";
    pub const PLATFORM: &str = "platform";
}

/// The whole `status` object, for the schema.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<StateStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iam: Option<IamStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nodes: Option<NodesStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kubeadm: Option<KubeadmStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cni: Option<AddonStatus<CniStatus>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ccm: Option<AddonStatus<CcmStatus>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<AddonStatus<PlatformStatus>>,
}

/// A `status` key and the type stored under it. Reading any key is open to
/// every tool ([`crate::Document::get`]); writing one takes the owner's
/// handle ([`crate::stage::Mine`]), so "a tool writes only its own status"
/// is checked by the compiler, not by review.
pub trait Key {
    const NAME: &'static str;
    type Value: Serialize + serde::de::DeserializeOwned;
}

/// The keys as types, one per tool, for [`Key`].
pub mod key {
    use super::*;

    macro_rules! keys {
        ($($name:ident = $key:ident: $value:ty;)*) => {$(
            #[derive(Debug)]
            pub enum $name {}
            impl Key for $name {
                const NAME: &'static str = keys::$key;
                type Value = $value;
            }
        )*};
    }

    keys! {
        State = STATE: StateStatus;
        Network = NETWORK: NetworkStatus;
        Iam = IAM: IamStatus;
        Nodes = NODES: NodesStatus;
        Kubeadm = KUBEADM: KubeadmStatus;
        Cni = CNI: AddonStatus<CniStatus>;
        Ccm = CCM: AddonStatus<CcmStatus>;
        Platform = PLATFORM: AddonStatus<PlatformStatus>;
    }
}

/// `status.cni`, `status.ccm` and `status.platform`: what an add-on tool
/// applied (absent until it has), whether it was ready when the tool
/// finished, and what its last `plan` found to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "Addon{T}")]
pub struct AddonStatus<T> {
    #[serde(flatten)]
    pub applied: Option<T>,
    #[serde(default)]
    pub ready: bool,
    /// What `plan` found to do (absent after apply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<Vec<PlannedChange>>,
}

/// Nothing applied, not ready, no plan (derived `Default` would ask the
/// same of `T`).
impl<T> Default for AddonStatus<T> {
    fn default() -> Self {
        AddonStatus {
            applied: None,
            ready: false,
            plan: None,
        }
    }
}

/// `status.cni`, written by `phx-cni`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CniStatus {
    pub plugin: String,
    pub version: String,
    pub pod_cidr: String,
    /// How many objects the manifest holds.
    pub objects: usize,
}

/// `status.ccm`, written by `phx-ccm`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CcmStatus {
    pub image: String,
    pub cluster_name: String,
}

/// `status.platform`, written by `phx-platform`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlatformStatus {
    pub storage_class: String,
    /// The Argo CD release applied.
    pub argocd: String,
    /// Every enabled add-on, by Application name.
    pub applications: std::collections::BTreeMap<String, PlatformApplication>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gitops: Option<GitopsStatus>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlatformApplication {
    pub chart: String,
    pub version: String,
    pub namespace: String,
}

/// The app-of-apps of `spec.platform.gitops`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GitopsStatus {
    pub application: String,
    #[serde(rename = "repoURL")]
    pub repo_url: String,
}

/// `status.state`, written by `phx-state`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StateStatus {
    /// Increments on every push; a push based on an older serial is refused.
    pub serial: u64,
    /// Fixed when the state is first stored; another lineage is refused.
    pub lineage: String,
    /// Where the state lives (`s3://bucket/key` or `file:///dir/key`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Who stored this serial and when.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated: Option<Updated>,
    /// Present while the document travels a pipeline under a lock.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lock: Option<LockInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Updated {
    pub by: String,
    pub at: String,
}

/// Who holds a state lock, as stored beside the lock and in the document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LockInfo {
    pub id: String,
    pub operation: String,
    /// `user@host`.
    pub who: String,
    /// RFC 3339 UTC.
    pub created: String,
    /// The phx version that took the lock.
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `status.network`, written by `phx-net`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    pub vpc_cidr: String,
    /// False for a VPC the user brought (`spec.network.vpcId`).
    pub owned: bool,
    pub zones: Vec<String>,
    pub subnets: Vec<SubnetStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internet_gateway_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nat_gateway_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nat_public_ip: Option<String>,
    #[serde(default)]
    pub route_tables: std::collections::BTreeMap<String, String>,
    pub security_groups: SecurityGroups,
    /// The network load balancer in front of the API servers, of the
    /// spec's scheme: what admins and the kubeconfig reach.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_load_balancer: Option<ApiLoadBalancerStatus>,
    /// The internal load balancer beside an internet-facing one: the
    /// cluster's endpoint (kubeadm's `controlPlaneEndpoint`) for nodes and
    /// everything inside the VPC, which cannot use the public one on AWS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_internal_load_balancer: Option<ApiLoadBalancerStatus>,
    /// What `phx-net plan` found to do (absent after apply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<Vec<PlannedChange>>,
}

/// `status.network.apiLoadBalancer` (and `apiInternalLoadBalancer`):
/// kubeadm's `controlPlaneEndpoint` is the internal one's `dnsName:6443`
/// when there is one, else this one's; phx-nodes registers the control
/// planes in each target group by private IP.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiLoadBalancerStatus {
    pub name: String,
    /// `internet-facing` or `internal`.
    pub scheme: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_group_arn: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubnetStatus {
    pub id: String,
    pub zone: String,
    pub cidr: String,
    pub public: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecurityGroups {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_plane: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workers: Option<String>,
    /// The API load balancer's group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_load_balancer: Option<String>,
}

/// One line of a plan (`create subnet subnet/public/us-east-1a 10.0.0.0/20`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlannedChange {
    pub action: String,
    pub kind: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// `status.iam`, written by `phx-iam`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IamStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_plane: Option<NodeIdentity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workers: Option<NodeIdentity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<Vec<PlannedChange>>,
}

/// The role and instance profile of one node role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeIdentity {
    pub role: String,
    pub role_arn: String,
    pub instance_profile: String,
    pub instance_profile_arn: String,
    /// Inline policy names and attached managed policy ARNs.
    pub policies: Vec<String>,
}

/// `status.nodes`, written by `phx-nodes`: the cluster's machines, control
/// plane first, and what its last `plan` found to do.
///
/// (Documents stored before the plan was recorded here hold the bare list;
/// [`crate::Document`] reads that shape as `instances`.)
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodesStatus {
    #[serde(default)]
    pub instances: Vec<Node>,
    /// What `plan` found to do (absent after apply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<Vec<PlannedChange>>,
}

/// One machine of the cluster (`status.nodes.instances[]`, written by
/// `phx-nodes`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Node {
    pub name: String,
    pub role: NodeRole,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_dns: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_ip: Option<String>,
    /// The machine image it was launched from; new nodes keep using the
    /// cluster's image until the user asks for a newer one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<String>,
    pub ssh: SshEndpoint,
}

impl NodeRole {
    /// The name phx gives a cluster's node: `<cluster>-<role>-<n>`, n from 1.
    pub fn node_name(self, cluster: &str, index: u32) -> String {
        format!("{cluster}-{}-{index}", self.as_str())
    }

    /// The role and number of a node name of this cluster (`node_name`'s
    /// inverse); None for any other name.
    pub fn parse_name(cluster: &str, name: &str) -> Option<(NodeRole, u32)> {
        let rest = name.strip_prefix(cluster)?.strip_prefix('-')?;
        let (role, n) = rest.rsplit_once('-')?;
        let role = match role {
            "control-plane" => NodeRole::ControlPlane,
            "worker" => NodeRole::Worker,
            _ => return None,
        };
        Some((role, n.parse().ok().filter(|n| *n > 0)?))
    }

    /// `control-plane` or `worker`, as in node names and tags.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeRole::ControlPlane => "control-plane",
            NodeRole::Worker => "worker",
        }
    }
}

impl std::fmt::Display for NodeRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum NodeRole {
    ControlPlane,
    Worker,
}

/// How to reach a node over SSH, and which host keys to expect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SshEndpoint {
    pub host: String,
    #[serde(default = "SshEndpoint::default_port")]
    pub port: u16,
    pub user: String,
    /// OpenSSH public keys (`ssh-ed25519 AAAA...`); empty means unknown.
    #[serde(default)]
    pub host_keys: Vec<String>,
}

impl SshEndpoint {
    fn default_port() -> u16 {
        22
    }
}

/// `status.kubeadm`, written by `phx-kubeadm`: where the cluster's API is
/// and how to verify it; never a token, key or certificate.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KubeadmStatus {
    /// The admin kubeconfig written locally (mode 0600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubeconfig: Option<String>,
    /// `https://host:port` as written into the kubeconfig.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_endpoint: Option<String>,
    /// `sha256:...` of the cluster CA's public key (kubeadm's discovery hash).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_cert_hash: Option<String>,
    /// The leading control plane: the one `kubeadm init` ran on, or the
    /// first that holds the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_plane: Option<String>,
    /// kubeadm's `controlPlaneEndpoint` (`host:port`) the cluster was
    /// initialized with: kubeadm cannot move it, so it decides whether
    /// control planes can be added (only behind the API load balancer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_plane_endpoint: Option<String>,
    /// Per node (by name): how far it got.
    #[serde(default)]
    pub nodes: std::collections::BTreeMap<String, NodeProgress>,
    /// What `plan` found to do (absent after apply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<Vec<PlannedChange>>,
    /// The etcd snapshots in the state bucket, newest first, as the last
    /// backup left them (the bucket is the record; `phx-kubeadm backups`
    /// reads it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backups: Vec<Backup>,
    /// A restore under way or done: how far it got, so that an interrupted
    /// one resumes where it stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore: Option<Restore>,
    /// The Kubernetes version the API servers run (`v1.35.4`), as the last
    /// `phx-kubeadm upgrade` found or left it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// An upgrade under way or done: each node's last step, so that an
    /// interrupted one resumes where it stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade: Option<Upgrade>,
}

/// `status.kubeadm.upgrade`: a rolling upgrade, node by node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Upgrade {
    /// The API servers' version before (`v1.34.4`).
    pub from: String,
    /// The version upgraded to (`v1.35.4`).
    pub to: String,
    /// RFC 3339 UTC.
    pub started: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished: Option<String>,
    /// Per node (by name): its kubelet's version and the last step done
    /// (`kubeadm`, `drained`, `kubelet`, `uncordoned`).
    #[serde(default)]
    pub nodes: std::collections::BTreeMap<String, UpgradeNode>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpgradeNode {
    pub version: String,
    pub step: String,
}

/// One etcd snapshot in the state bucket (its data is only there).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Backup {
    /// `<name>/etcd/<UTC time>-rev<revision>.db` in `spec.state.bucket`.
    pub key: String,
    /// When it was taken, RFC 3339 UTC.
    pub time: String,
    /// etcd's revision in it.
    pub revision: u64,
    /// Bytes.
    pub size: u64,
}

/// `status.kubeadm.restore`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Restore {
    /// The snapshot's key.
    pub from: String,
    /// etcd's new cluster token: names this restore on the nodes, so a
    /// resumed one knows which steps are already done.
    pub token: String,
    /// The last step completed on every control plane: `stopped`,
    /// `restored`, `started`, then `verified`.
    pub step: String,
    /// When it started and, once verified, ended (RFC 3339 UTC).
    pub started: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeProgress {
    pub prepared: bool,
    /// Initialized (control plane) or joined (worker).
    pub member: bool,
    /// The step that failed and why, until a run completes the node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `.error`: the stage that failed and why. Later stages pass the document
/// through untouched and `phx-state push` stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StageError {
    pub tool: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back() {
        assert_eq!(
            NodeRole::parse_name("phoenix", "phoenix-worker-12"),
            Some((NodeRole::Worker, 12))
        );
        assert_eq!(
            NodeRole::parse_name("phoenix", "phoenix-control-plane-1"),
            Some((NodeRole::ControlPlane, 1))
        );
        assert_eq!(NodeRole::parse_name("phoenix", "phoenix2-worker-1"), None);
        assert_eq!(NodeRole::parse_name("phoenix", "phoenix-bastion-1"), None);
        assert_eq!(NodeRole::parse_name("phoenix", "phoenix-worker-0"), None);
        assert_eq!(
            NodeRole::parse_name("phoenix", &NodeRole::Worker.node_name("phoenix", 3)),
            Some((NodeRole::Worker, 3))
        );
    }
}
