//! The pinned upstream files. A test checks each pin against the test
//! mirror's `index.json`, so a pin and its mirror copy cannot drift apart.

use crate::Artifact;

/// How the pinned bytes relate to the file at the upstream URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upstream {
    /// The URL serves exactly the pinned bytes.
    Whole,
    /// The pinned bytes are lines `from..=to` (1-based, with their newlines)
    /// of the upstream file, whose own sha256 is `file_sha256` (a JSON code
    /// block inside a Markdown document).
    Lines {
        file_sha256: &'static str,
        from: usize,
        to: usize,
    },
}

/// Calico's manifest (phx-cni).
pub const CALICO_MANIFEST: Artifact = Artifact {
    name: "calico-v3.32.1-calico.yaml",
    url: "https://raw.githubusercontent.com/projectcalico/calico/v3.32.1/manifests/calico.yaml",
    sha256: "a1df919d9721cf667accdc3e72848911b0cb25cfab7d2478ad0c996302c95744",
    upstream: Upstream::Whole,
};

/// Argo CD's install manifest (phx-platform).
pub const ARGOCD_INSTALL: Artifact = Artifact {
    name: "argocd-v3.5.1-install.yaml",
    url: "https://raw.githubusercontent.com/argoproj/argo-cd/v3.5.1/manifests/install.yaml",
    sha256: "795a3a972224da6a7f9d32c3e946445f062b60fb46028476715affeb688236e3",
    upstream: Upstream::Whole,
};

/// The AWS Load Balancer Controller's IAM policy (phx-iam, worker role).
pub const LBC_IAM_POLICY: Artifact = Artifact {
    name: "aws-load-balancer-controller-v3.5.0-iam_policy.json",
    url: "https://raw.githubusercontent.com/kubernetes-sigs/aws-load-balancer-controller/v3.5.0/docs/install/iam_policy.json",
    sha256: "16f232c9d9f79366fe949c4550ad517a202380058a9e48d45a4e215044a20a6a",
    upstream: Upstream::Whole,
};

const CCM_PREREQUISITES: &str =
    "https://raw.githubusercontent.com/kubernetes/cloud-provider-aws/v1.36.1/docs/prerequisites.md";
const CCM_PREREQUISITES_SHA256: &str = "b403fd5170c9dd9f2db3d813d6dd617c0486545a9c8e7dca8da2285967771c47";

/// cloud-provider-aws's documented control-plane policy (phx-iam).
pub const CCM_CONTROL_PLANE_POLICY: Artifact = Artifact {
    name: "ccm-v1.36.1-prerequisites-control-plane-policy.json",
    url: CCM_PREREQUISITES,
    sha256: "58c01539b6179e206157a7103c2e2cf3b217ea4852a71264861f1171623f444a",
    upstream: Upstream::Lines {
        file_sha256: CCM_PREREQUISITES_SHA256,
        from: 17,
        to: 86,
    },
};

/// cloud-provider-aws's documented node policy (phx-iam).
pub const CCM_NODE_POLICY: Artifact = Artifact {
    name: "ccm-v1.36.1-prerequisites-node-policy.json",
    url: CCM_PREREQUISITES,
    sha256: "a749a45d14bb5c4fef55c8227038a834949a695a5d0abdf4ab7ce983c0ed529a",
    upstream: Upstream::Lines {
        file_sha256: CCM_PREREQUISITES_SHA256,
        from: 92,
        to: 111,
    },
};

/// Every pin, for listings and the pin test.
pub const ALL: &[Artifact] = &[
    CALICO_MANIFEST,
    ARGOCD_INSTALL,
    LBC_IAM_POLICY,
    CCM_CONTROL_PLANE_POLICY,
    CCM_NODE_POLICY,
];
