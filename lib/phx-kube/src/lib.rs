//! Kubernetes for the phx add-on tools (phx-cni, phx-ccm, phx-platform):
//!
//! - [`client`]: a client from the kubeconfig phx-kubeadm recorded (or
//!   `--kubeconfig`), proven to be this cluster's;
//! - [`retry`]: requests that got no answer are sent again;
//! - [`manifest`]: upstream multi-document YAML as dynamic objects;
//! - [`apply`]: server-side apply as field manager `phx`, namespaces and
//!   CRDs first, then (once the CRDs are Established and discovery is
//!   refreshed) everything else; every object labelled with the tool that
//!   owns it; a dry run for `plan`;
//! - [`wait`]: readiness with a timeout that names what is not ready and
//!   why;
//! - [`destroy`]: deleting exactly what a tool applied, found by label;
//! - [`addon`]: the stage all three are, verbs and all; each tool brings
//!   its objects and what "ready" means.

pub mod addon;
pub mod apply;
pub mod cli;
pub mod client;
pub mod destroy;
pub mod manifest;
pub mod retry;
pub mod wait;

pub use apply::{Applied, Applier, Outcome};

/// The field manager of every phx apply.
pub const MANAGER: &str = "phx";
/// Label on everything phx applies.
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// Label naming the phx tool that applied the object.
pub const TOOL_LABEL: &str = "phx.dev/tool";

/// A kube error as one phx line.
pub fn err(context: impl std::fmt::Display, e: kube::Error) -> phx_core::Error {
    let text = match &e {
        kube::Error::Api(s) => format!("{} ({}): {}", s.reason, s.code, s.message),
        // A transport error, after retry::OnNoAnswer sent it again: the
        // whole chain, since hyper's top line ("client error
        // (SendRequest)") names no cause.
        kube::Error::Service(top) => {
            let mut text = format!(
                "no answer from the API server (tried {} times): {top}",
                retry::TRIES
            );
            let mut cause = std::error::Error::source(top.as_ref());
            while let Some(c) = cause {
                text.push_str(&format!(": {c}"));
                cause = c.source();
            }
            text
        }
        other => other.to_string(),
    };
    phx_core::Error::failed(format!("{context}: {text}"))
}
