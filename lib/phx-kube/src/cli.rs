//! Flags the Kubernetes tools share.

use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, clap::Args)]
pub struct KubeArgs {
    /// Kubeconfig to use instead of status.kubeadm.kubeconfig
    #[arg(long, value_name = "FILE", env = "PHX_KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// How long to wait for readiness (or deletion)
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = phx_core::time::parse_duration)]
    pub timeout: Duration,
}
