//! The roles the cluster's nodes need, with the permissions of what runs
//! on them under the instance profile (no IRSA, as the reference platform):
//!
//! - control plane: cloud-provider-aws's control-plane policy (the AWS cloud
//!   controller manager runs there) and its node policy, ECR read-only;
//! - workers: the node policy, the AWS Load Balancer Controller's upstream
//!   policy, the EBS CSI driver's AWS-managed policy, ECR read-only.
//!
//! Upstream policy texts are artifacts: pinned, verified, cached.

use phx_artifacts::{Artifact, Source};
use phx_core::{Error, Result};
use serde_json::Value;

#[derive(Debug, Clone)]
pub struct RoleWant {
    /// `control-plane` or `worker`: the component and the name suffix.
    pub component: &'static str,
    pub name: String,
    pub inline: Vec<(String, Value)>,
    pub managed: Vec<String>,
}

const CONTROL_PLANE_POLICIES: &[(&str, Artifact)] = &[
    ("ccm-control-plane", phx_artifacts::CCM_CONTROL_PLANE_POLICY),
    ("ccm-node", phx_artifacts::CCM_NODE_POLICY),
];
const WORKER_POLICIES: &[(&str, Artifact)] = &[
    ("ccm-node", phx_artifacts::CCM_NODE_POLICY),
    ("aws-load-balancer-controller", phx_artifacts::LBC_IAM_POLICY),
];

/// Who may assume the roles: EC2 instances.
pub fn assume_role_policy(partition: &str) -> Value {
    let service = if partition == "aws-cn" {
        "ec2.amazonaws.com.cn"
    } else {
        "ec2.amazonaws.com"
    };
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]
    })
}

/// Both roles, with the upstream policies fetched (concurrently).
pub async fn roles(cluster: &str, partition: &str) -> Result<Vec<RoleWant>> {
    let source = Source::from_env();
    let fetch = |list: &'static [(&'static str, Artifact)]| {
        let source = source.clone();
        async move {
            let mut out = Vec::new();
            for (name, artifact) in list {
                let bytes = source.fetch(*artifact).await?;
                let doc: Value = serde_json::from_slice(&bytes)
                    .map_err(|e| Error::failed(format!("artifact {} is not JSON: {e}", artifact.name)))?;
                out.push((name.to_string(), doc));
            }
            Ok::<_, Error>(out)
        }
    };
    let (cp, workers) = tokio::try_join!(fetch(CONTROL_PLANE_POLICIES), fetch(WORKER_POLICIES))?;
    let managed = |name: &str| format!("arn:{partition}:iam::aws:policy/{name}");
    Ok(vec![
        RoleWant {
            component: "control-plane",
            name: format!("{cluster}-control-plane"),
            inline: cp,
            managed: vec![managed("AmazonEC2ContainerRegistryReadOnly")],
        },
        RoleWant {
            component: "worker",
            name: format!("{cluster}-worker"),
            inline: workers,
            managed: vec![
                managed("AmazonEC2ContainerRegistryReadOnly"),
                managed("service-role/AmazonEBSCSIDriverPolicy"),
            ],
        },
    ])
}
