//! `phx-iam`: the node roles and instance profiles, what the reference
//! platform's `iam.tf` did: one role per node role, named after the cluster
//! and tagged, with the permissions of what runs on those nodes.
//!
//! One read (`GetAccountAuthorizationDetails`) finds what exists; each
//! role's plan ([`converge::RolePlan`]) is shown by `plan` and carried out
//! by `apply`, both roles at once.

pub mod cli;
pub mod converge;
pub mod desired;
pub mod destroy;
pub mod observed;

use cli::Verb;
use converge::RolePlan;
use phx_aws::ClusterTags;
use phx_core::stage::{self, Mine};
use phx_core::status::{key, IamStatus, PlannedChange};
use phx_core::{io, Document, Error, Result};
use std::process::ExitCode;
use std::time::Duration;

pub const TOOL: &str = "phx-iam";

pub fn main() -> ExitCode {
    phx_core::cli::main(TOOL, cli::command(), run)
}

pub async fn run(verb: Verb) -> Result<()> {
    match verb {
        Verb::Apply { timeout } => {
            stage::run::<key::Iam>(TOOL, async |doc| converge(doc, Some(timeout)).await).await
        }
        Verb::Plan => stage::run::<key::Iam>(TOOL, async |doc| converge(doc, None).await).await,
        Verb::Destroy => stage::run::<key::Iam>(TOOL, async |doc| destroy(doc).await).await,
        Verb::Status => status().await,
    }
}

/// The roles wanted, what exists of them, and each role's plan.
struct Survey {
    wants: Vec<desired::RoleWant>,
    haves: std::collections::HashMap<String, observed::RoleHave>,
    plans: Vec<RolePlan>,
}

impl Survey {
    async fn take(doc: &Document, iam: &phx_aws::iam::Client, partition: &str) -> Result<Survey> {
        let wants = desired::roles(doc.name(), partition).await?;
        let names: Vec<String> = wants.iter().map(|w| w.name.clone()).collect();
        let haves = observed::observe(iam, &names).await?;
        let plans = wants
            .iter()
            .map(|w| RolePlan::new(w, haves.get(&w.name), partition))
            .collect();
        Ok(Survey { wants, haves, plans })
    }

    fn changes(&self) -> Vec<PlannedChange> {
        self.plans
            .iter()
            .zip(&self.wants)
            .flat_map(|(p, w)| p.changes(w))
            .collect()
    }
}

/// `status`: which roles exist and what apply would change, as JSON on
/// stdout; the document is read, not written.
async fn status() -> Result<()> {
    let doc = io::read_stdin()?;
    let aws = phx_aws::load(doc.spec().region.as_deref()).await?;
    let survey = Survey::take(&doc, &aws.iam(), aws.partition()).await?;
    let changes = survey.changes();
    let roles: serde_json::Map<String, serde_json::Value> = survey
        .wants
        .iter()
        .map(|w| (w.name.clone(), survey.haves.contains_key(&w.name).into()))
        .collect();
    io::write_json(&serde_json::json!({
        "inSync": changes.is_empty(),
        "changes": changes,
        "roles": roles,
    }))
}

/// Plan; with `apply` (`Some` of apply's `--timeout`: no request, its
/// retries included, outlasts it) also apply.
async fn converge(doc: &mut Mine<'_, key::Iam>, apply: Option<Duration>) -> Result<()> {
    let aws = phx_aws::load(doc.spec().region.as_deref()).await?.capped(apply);
    let iam = aws.iam();
    let partition = aws.partition();
    let tags = ClusterTags::new(doc.name());
    let survey = Survey::take(doc, &iam, partition).await?;
    let changes = survey.changes();
    let Survey { wants, haves, plans } = survey;
    if apply.is_none() {
        phx_core::progress::eprint(&phx_core::plan::render(&changes, "IAM"));
        let mut st = doc.mine()?.unwrap_or_default();
        st.plan = Some(changes);
        doc.set(&st);
        return Ok(());
    }
    for c in &changes {
        tracing::info!("{} {} {} {}", c.action, c.kind, c.name, c.detail);
    }
    let runs = plans
        .iter()
        .zip(&wants)
        .map(|(p, w)| p.execute(&iam, &tags, w, haves.get(&w.name), partition));
    let [cp, workers]: [Result<_>; 2] = futures::future::join_all(runs)
        .await
        .try_into()
        .map_err(|_| Error::failed("expected two roles"))?;
    let st = IamStatus {
        control_plane: cp.as_ref().ok().cloned(),
        workers: workers.as_ref().ok().cloned(),
        plan: None,
    };
    doc.set(&st);
    cp.map_err(|e| e.context(format!("role {}", wants[0].name)))?;
    workers.map_err(|e| e.context(format!("role {}", wants[1].name)))?;
    Ok(())
}

async fn destroy(doc: &mut Mine<'_, key::Iam>) -> Result<()> {
    let aws = phx_aws::load(doc.spec().region.as_deref()).await?;
    let iam = aws.iam();
    let names: Vec<String> = ["control-plane", "worker"]
        .iter()
        .map(|r| format!("{}-{r}", doc.name()))
        .collect();
    let haves = observed::observe(&iam, &names).await?;
    let runs = names.iter().map(|n| destroy::role(&iam, n, haves.get(n)));
    let results = futures::future::join_all(runs).await;
    if let Some(e) = results.into_iter().find_map(Result::err) {
        return Err(e);
    }
    doc.clear();
    Ok(())
}
