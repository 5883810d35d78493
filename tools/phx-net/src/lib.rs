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
use cli::Verb;
use desired::Desired;
use phx_aws::ClusterTags;
use phx_core::stage::{self, Mine};
use phx_core::status::{key, NetworkStatus, PlannedChange};
use phx_core::{io, Document, Result};
use std::process::ExitCode;
use std::sync::Arc;

pub const TOOL: &str = "phx-net";

pub fn main() -> ExitCode {
    phx_core::cli::main(TOOL, cli::command(), run)
}

pub async fn run(verb: Verb) -> Result<()> {
    match verb {
        Verb::Apply => stage::run::<key::Network>(TOOL, async |doc| converge(doc, false).await).await,
        Verb::Plan => stage::run::<key::Network>(TOOL, async |doc| converge(doc, true).await).await,
        Verb::Destroy {
            delete_volumes,
            timeout,
        } => {
            stage::run::<key::Network>(TOOL, async |doc| {
                destroy::destroy(doc, delete_volumes, timeout).await
            })
            .await
        }
        Verb::Status => status().await,
    }
}

/// What the cloud holds for this cluster now and what apply would do about it.
struct Survey {
    want: Desired,
    obs: observed::Observed,
    zones: Vec<String>,
    steps: Vec<plan::Step>,
    registry: Arc<Registry>,
}

impl Survey {
    async fn take(doc: &Document, ec2: &phx_aws::ec2::Client, tags: &ClusterTags) -> Result<Survey> {
        let want = Desired::from_spec(&doc.spec().network, doc.spec().region.as_deref())?;
        let zones_wanted = want.zones.is_none().then_some(want.zone_count);
        let recorded = doc.get::<key::Network>()?.is_some();
        let obs = observed::observe(ec2, tags, want.byo.as_ref(), zones_wanted, recorded).await?;
        if let (Some(byo), None) = (&want.byo, &obs.vpc) {
            return Err(phx_core::Error::failed(format!(
                "spec.network.vpcId: VPC {} not found",
                byo.vpc_id
            )));
        }
        let zones = status::zones(&want, &obs)?;
        let steps = plan::plan(&want, &obs, &zones);
        let registry = Arc::new(Registry::default());
        status::seed(&registry, &obs);
        Ok(Survey {
            want,
            obs,
            zones,
            steps,
            registry,
        })
    }

    fn changes(&self) -> Vec<PlannedChange> {
        self.steps.iter().map(plan::Step::change).collect()
    }

    /// `status.network` as things stand (made so far included).
    fn status(&self) -> NetworkStatus {
        status::build(&self.want, &self.obs, &self.zones, &self.registry)
    }
}

/// `status`: what exists and what apply would change, as JSON on stdout;
/// the document is read, not written.
async fn status() -> Result<()> {
    let doc = io::read_stdin()?;
    let aws = phx_aws::load(doc.spec().region.as_deref()).await?;
    let survey = Survey::take(&doc, &aws.ec2(), &ClusterTags::new(doc.name())).await?;
    let changes = survey.changes();
    io::write_json(&serde_json::json!({
        "inSync": changes.is_empty(),
        "changes": changes,
        "network": survey.status(),
    }))
}

/// Plan, and unless `dry_run`, apply; `status.network` records the outcome
/// (what exists, including anything made before a failure).
async fn converge(doc: &mut Mine<'_, key::Network>, dry_run: bool) -> Result<()> {
    let aws = phx_aws::load(doc.spec().region.as_deref()).await?;
    let ec2 = aws.ec2();
    let tags = ClusterTags::new(doc.name());
    let mut survey = Survey::take(doc, &ec2, &tags).await?;
    if dry_run {
        let changes = survey.changes();
        eprint!("{}", phx_core::plan::render(&changes, "the network"));
        let mut st = survey.status();
        st.plan = Some(changes);
        doc.set(&st);
        return Ok(());
    }
    if survey.steps.is_empty() {
        tracing::info!("network up to date");
    }
    let exec = Arc::new(Executor::new(
        ec2,
        tags,
        survey.want.vpc_cidr.to_string(),
        survey.registry.clone(),
    ));
    let result = exec.run(std::mem::take(&mut survey.steps)).await;
    doc.set(&survey.status());
    result
}
