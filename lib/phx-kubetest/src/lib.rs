//! A Kubernetes API stand-in for phx's contract tests: no kube-apiserver
//! can run here, so this small server behaves like the real one where phx
//! depends on it, and is honest about being nothing more (the README calls
//! these contract tests, not a cluster).
//!
//! - discovery: `/api`, `/apis`, resource lists per group-version; a CRD,
//!   once applied, is Established and its types are served;
//! - server-side apply: create (201) or merge (200), fields the same
//!   manager dropped are pruned, dry runs; get, list with label selectors,
//!   delete; `Status` bodies for 404, 409, 422; uid, resourceVersion and
//!   generation; a namespaced object in a missing namespace refused;
//! - readiness ([`readiness`]): Deployments, DaemonSets, Nodes and Argo CD
//!   Applications turn ready on their Nth GET, or never.
//!
//! In tests ([`FakeApi`]) it serves TLS on 127.0.0.1 with a cluster PKI of
//! its own ([`pki`]) and writes an admin kubeconfig for it, so the tools
//! under test load their client, and check the cluster's CA, exactly as
//! they would for a real cluster. The sandbox runs it as a process,
//! `phx-kube-standin`.

pub mod pki;
pub mod readiness;
pub mod resources;
mod server;
pub mod state;
pub mod store;

pub use server::{serve, FakeApi};
