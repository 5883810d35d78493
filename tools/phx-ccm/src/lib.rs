//! `phx-ccm`: the AWS cloud controller manager ([`objects`]), applied
//! server-side; `apply` waits until every node has a `providerID` and has
//! lost the `node.cloudprovider.kubernetes.io/uninitialized` taint, which
//! is the cloud controller manager doing its job. The verbs are phx-kube's
//! add-on stage ([`phx_kube::addon`]).

pub mod objects;

use k8s_openapi::api::apps::v1::DaemonSet;
use kube::api::{ApiResource, DynamicObject};
use phx_core::status::{key, CcmStatus};
use phx_core::{Document, Result};
use phx_kube::addon::Addon;
use phx_kube::wait::Check;
use phx_kube::Applied;
use std::process::ExitCode;

pub const TOOL: &str = "phx-ccm";

/// The man page's extras: those of every add-on tool.
pub const DOCS: phx_core::cli::Docs = phx_kube::addon::DOCS;

/// `phx-ccm`'s command, for parsing and for its man page.
pub fn command() -> clap::Command {
    phx_kube::addon::command(
        TOOL,
        "The AWS cloud controller manager, as typed Kubernetes objects.\n\n\
        Service account, RBAC and a DaemonSet on the control plane nodes (tolerating the taints it \
        exists to remove), image matching spec.kubernetes.version's minor (spec.cloudProvider.image \
        overrides), --cloud-provider=aws and --cluster-name=<name>. Writes status.ccm.",
        [
            (
                "apply",
                "Apply and wait until every node has a providerID and no uninitialized taint",
                "Example:\n  phx-state lock < cluster.json | phx-kubeadm apply | phx-ccm apply | phx-state push --unlock",
            ),
            (
                "plan",
                "Show the objects apply would create or change (server-side dry run)",
                "The table goes to stderr; the same list is in status.ccm.plan.\n\n\
            Example:\n  phx-state pull < cluster.json | phx-ccm plan > /dev/null",
            ),
            (
                "destroy",
                "Delete everything phx-ccm applied",
                "Example:\n  phx-state lock < cluster.json | phx-ccm destroy | phx-state push --unlock",
            ),
            (
                "status",
                "Print whether the controller runs and the nodes are initialized (JSON)",
                "Example:\n  phx-state pull < cluster.json | phx-ccm status",
            ),
        ],
    )
}

pub fn main() -> ExitCode {
    phx_kube::addon::main(command(), &CloudControllerManager)
}

/// The AWS cloud controller manager, as an add-on.
#[derive(Debug)]
pub struct CloudControllerManager;

impl Addon for CloudControllerManager {
    const TOOL: &'static str = TOOL;
    const SUBJECT: &'static str = "the cloud controller manager";
    const NAMESPACE: &'static str = objects::NAMESPACE;
    type Status = CcmStatus;
    type Key = key::Ccm;

    async fn objects(&self, doc: &Document) -> Result<Vec<DynamicObject>> {
        objects::all(doc.name(), &image(doc)?)
    }

    fn checks(&self, _doc: &Document) -> Result<Vec<Check>> {
        Ok(vec![
            Check::Workload {
                resource: ApiResource::erase::<DaemonSet>(&()),
                namespace: objects::NAMESPACE.into(),
                name: objects::NAME.into(),
            },
            Check::NodesInitialized,
        ])
    }

    fn status(&self, doc: &Document, _applied: &[Applied]) -> Result<CcmStatus> {
        Ok(CcmStatus {
            image: image(doc)?,
            cluster_name: doc.name().to_string(),
        })
    }
}

fn image(doc: &Document) -> Result<String> {
    let spec = doc.spec();
    objects::image(&spec.kubernetes.version, spec.cloud_provider.image.as_deref())
}
