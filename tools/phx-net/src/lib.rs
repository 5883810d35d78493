//! `phx-net`: the cluster's network, what Terraform's `vpc.tf` and
//! `security.tf` did for the reference platform, convergent and with a
//! destroy that leaves nothing behind.
//!
//! `apply` and `plan` share one path: validate the spec ([`desired`]), find
//! what exists by tags ([`observed`]), compute the steps ([`plan`]); `apply`
//! then runs them as a dependency graph ([`apply`]). `destroy` has its own
//! ordered teardown ([`destroy`]).

pub mod apply;
pub mod cli;
pub mod desired;
pub mod destroy;
pub mod observed;
pub mod plan;
pub mod rules;
mod status;

use apply::{Executor, Registry};
use clap::Parser;
use cli::{Cli, Verb};
use desired::Desired;
use phx_aws::ClusterTags;
use phx_core::status::keys;
use phx_core::{stage, Document, Result};
use std::process::ExitCode;
use std::sync::Arc;

pub const TOOL: &str = "phx-net";

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    phx_core::cli::run(TOOL, &cli.global, run(cli.verb))
}

pub async fn run(verb: Verb) -> Result<()> {
    stage::run(TOOL, async |doc| match verb {
        Verb::Apply => converge(doc, false).await,
        Verb::Plan => converge(doc, true).await,
        Verb::Destroy {
            delete_volumes,
            timeout,
        } => destroy::destroy(doc, delete_volumes, timeout).await,
    })
    .await
}

/// Plan, and unless `dry_run`, apply; `status.network` records the outcome
/// (what exists, including anything made before a failure).
async fn converge(doc: &mut Document, dry_run: bool) -> Result<()> {
    let want = Desired::from_spec(&doc.spec().network, doc.spec().region.as_deref())?;
    let aws = phx_aws::load(doc.spec().region.as_deref()).await?;
    let ec2 = aws.ec2();
    let tags = ClusterTags::new(doc.name());
    let zones_wanted = want.zones.is_none().then_some(want.zone_count);
    let obs = observed::observe(&ec2, &tags, want.byo.as_ref(), zones_wanted).await?;
    if let (Some(byo), None) = (&want.byo, &obs.vpc) {
        return Err(phx_core::Error::failed(format!(
            "spec.network.vpcId: VPC {} not found",
            byo.vpc_id
        )));
    }
    let zones = status::zones(&want, &obs)?;
    let steps = plan::plan(&want, &obs, &zones);
    let changes: Vec<_> = steps.iter().map(plan::Step::change).collect();
    let registry = Arc::new(Registry::default());
    status::seed(&registry, &obs);
    if dry_run {
        eprint!("{}", phx_core::plan::render(&changes, "the network"));
        let mut st = status::build(&want, &obs, &zones, &registry);
        st.plan = Some(changes);
        doc.set_status(keys::NETWORK, &st);
        return Ok(());
    }
    if steps.is_empty() {
        tracing::info!("network up to date");
    }
    let exec = Arc::new(Executor::new(
        ec2,
        tags,
        want.vpc_cidr.to_string(),
        registry.clone(),
    ));
    let result = exec.run(steps).await;
    doc.set_status(keys::NETWORK, &status::build(&want, &obs, &zones, &registry));
    result
}
