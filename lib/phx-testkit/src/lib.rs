//! Test harness for phx: real parts on loopback, never real AWS.
//!
//! - [`Moto`]: a moto server (the AWS emulator) of the test's own, on a free
//!   loopback port, killed when the test ends (and if the test process dies).
//! - [`Recording`]: the API calls the emulator saw, classified as reads or
//!   writes, so tests can say "this made no mutating call".
//! - [`Sandbox`]: real sshd nodes on loopback in mount namespaces of their
//!   own, with stand-ins for what would change the machine.
//! - [`LocalSandbox`]: `scripts/sandbox.sh` as users run it, for the
//!   end-to-end tests of the pipelines.
//! - [`ControlPlane`]: a real Kubernetes control plane (upstream etcd,
//!   kube-apiserver, kube-controller-manager) on loopback.
//! - [`bin`]: the path of a workspace binary for tests outside its crate.
//!
//! A missing prerequisite (moto not installed) is a test failure that says
//! how to install it, never a skip: `scripts/test.sh` installs everything.

#![allow(unsafe_code)] // pre_exec hooks (children die with the test) and signals to them

mod bins;
mod kube;
mod local;
mod moto;
mod output;
mod proxy;
mod recording;
mod sandbox;

pub use bins::{bin, bin_of_package, path_with_bins, workspace_root};
pub use kube::{k8s_bin, k8s_bin_dir, pinned, ControlPlane};
pub use local::LocalSandbox;
pub use moto::{free_port, Moto};
pub use output::{lines_of, mirror, ok, run_with_stdin, signal_group, ssh_key, start, success};
pub use proxy::{AwsProxy, Faults, ProxyStats};

/// Run `f` on a current-thread runtime: a test's own SDK or API calls
/// (setting up drift, reading what a tool made) next to the tools it runs.
#[allow(clippy::unwrap_used)] // a test helper: a panic is the report
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}
pub use recording::{Call, Recording};
pub use sandbox::{Sandbox, SandboxNode};
