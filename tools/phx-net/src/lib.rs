//! `phx-net`: the cluster's network, what Terraform's `vpc.tf` and
//! `security.tf` did for the reference platform, convergent and with a
//! destroy that leaves nothing behind.
//!
//! `apply` and `plan` share one path: validate the spec ([`desired`]), find
//! what exists by tags ([`observed`]), compute the steps ([`plan`]); `apply`
//! then runs them as a dependency graph ([`apply`]). `destroy` has its own
//! ordered teardown ([`destroy`]).

pub mod api_lb;
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
use std::time::Duration;

pub const TOOL: &str = "phx-net";

pub fn main() -> ExitCode {
    phx_core::cli::main(TOOL, cli::command(), run)
}

pub async fn run(verb: Verb) -> Result<()> {
    match verb {
        Verb::Apply { timeout } => {
            stage::run::<key::Network>(TOOL, async |doc| converge(doc, Some(timeout)).await).await
        }
        Verb::Plan => stage::run::<key::Network>(TOOL, async |doc| converge(doc, None).await).await,
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
    cluster: String,
    want: Desired,
    obs: observed::Observed,
    zones: Vec<String>,
    steps: Vec<plan::Step>,
    registry: Arc<Registry>,
}

impl Survey {
    async fn take(
        doc: &Document,
        ec2: &phx_aws::ec2::Client,
        elbv2: &phx_aws::elbv2::Client,
        tags: &ClusterTags,
    ) -> Result<Survey> {
        let want = Desired::from_spec(&doc.spec().network, doc.spec().region.as_deref())?
            .with_api_lb(doc.spec().kubernetes.api_load_balancer);
        let zones_wanted = want.zones.is_none().then_some(want.zone_count);
        let recorded = doc.get::<key::Network>()?.is_some();
        let roles = want.api_lb_roles();
        let obs = observed::observe(
            ec2,
            Some((elbv2, &roles)),
            tags,
            want.byo.as_ref(),
            zones_wanted,
            recorded,
        )
        .await?;
        if let (Some(byo), None) = (&want.byo, &obs.vpc) {
            return Err(phx_core::Error::failed(format!(
                "spec.network.vpcId: VPC {} not found",
                byo.vpc_id
            )));
        }
        check_api_lb(&want, &obs)?;
        let zones = status::zones(&want, &obs)?;
        let steps = plan::plan(&want, &obs, &zones);
        let registry = Arc::new(Registry::default());
        status::seed(&registry, &obs);
        Ok(Survey {
            cluster: doc.name().to_string(),
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
        status::build(&self.cluster, &self.want, &self.obs, &self.zones, &self.registry)
    }
}

/// The API load balancer is the cluster's endpoint, in every certificate
/// and kubeconfig: a spec that would replace or drop it is refused, not
/// carried out.
fn check_api_lb(want: &Desired, obs: &observed::Observed) -> Result<()> {
    let Some(have) = obs.api_lbs.get(&api_lb::Role::Admin) else {
        return Ok(());
    };
    match want.api_lb {
        Some(scheme) if scheme == have.scheme => Ok(()),
        Some(scheme) => Err(phx_core::Error::invalid(format!(
            "spec.kubernetes.apiLoadBalancer: {scheme}, but the cluster's API load balancer is {}: \
             its name is the cluster's endpoint and cannot change (destroy and redeploy the cluster)",
            have.scheme
        ))),
        None => Err(phx_core::Error::invalid(format!(
            "spec.kubernetes.apiLoadBalancer: none, but the cluster's endpoint is the {} load balancer \
             {}: it stays (destroy and redeploy the cluster to drop it)",
            have.scheme, have.dns_name
        ))),
    }
}

/// `status`: what exists and what apply would change, as JSON on stdout;
/// the document is read, not written.
async fn status() -> Result<()> {
    let doc = io::read_stdin()?;
    let aws = phx_aws::load(doc.spec().region.as_deref()).await?;
    let survey = Survey::take(&doc, &aws.ec2(), &aws.elbv2(), &ClusterTags::new(doc.name())).await?;
    let changes = survey.changes();
    io::write_json(&serde_json::json!({
        "inSync": changes.is_empty(),
        "changes": changes,
        "network": survey.status(),
    }))
}

/// Plan; with `apply` (`Some` of apply's `--timeout`: no request, its
/// retries included, and no wait outlasts it) also apply. `status.network`
/// records the outcome (what exists, including anything made before a
/// failure).
async fn converge(doc: &mut Mine<'_, key::Network>, apply: Option<Duration>) -> Result<()> {
    let aws = phx_aws::load(doc.spec().region.as_deref()).await?.capped(apply);
    let (ec2, elbv2) = (aws.ec2(), aws.elbv2());
    let tags = ClusterTags::new(doc.name());
    let mut survey = Survey::take(doc, &ec2, &elbv2, &tags).await?;
    let Some(timeout) = apply else {
        let changes = survey.changes();
        phx_core::progress::eprint(&phx_core::plan::render(&changes, "the network"));
        let mut st = survey.status();
        st.plan = Some(changes);
        doc.set(&st);
        return Ok(());
    };
    if survey.steps.is_empty() {
        tracing::info!("network up to date");
    }
    let exec = Arc::new(
        Executor::new(
            ec2,
            elbv2,
            tags,
            survey.want.vpc_cidr.to_string(),
            survey.registry.clone(),
        )
        .waiting_at_most(timeout),
    );
    let result = exec.run(std::mem::take(&mut survey.steps)).await;
    doc.set(&survey.status());
    result
}
