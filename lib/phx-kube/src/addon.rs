//! The add-on stage: phx-cni, phx-ccm and phx-platform are one tool with
//! three sets of objects. Each says *which objects* it applies and *what
//! "ready" means* ([`Addon`]); this file owns everything else they share,
//! so their verbs behave alike and cannot drift:
//!
//! - `apply`: build the objects (bad input stops here, before any
//!   request), server-side apply them as field manager `phx`, record
//!   `status.<tool>` with `ready: false`, wait for the checks, record
//!   `ready: true`; a tool whose parts depend on each other applies them
//!   in waves ([`Addon::waves`]), each waited for before the next, and a
//!   wave that never gets ready is named with the waves it holds up;
//! - `plan`: the same apply as a server-side dry run (or, before the
//!   cluster exists, everything to create), printed as a table on stderr
//!   and recorded in `status.<tool>.plan`;
//! - `destroy`: the tool's own last words ([`Addon::before_destroy`]),
//!   then every object labelled with the tool, waited out; a cluster whose
//!   kubeconfig is gone is skipped with a warning;
//! - `status`: the checks once, without waiting, as JSON (or the tool's
//!   own view, [`Addon::report`]); reads the document, writes none.

use crate::cli::KubeArgs;
use crate::wait::Check;
use crate::{apply, client, destroy, wait, Applied, Applier};
use kube::api::DynamicObject;
use kube::Client;
use phx_core::stage::{self, Mine};
use phx_core::status::{AddonStatus, Key};
use phx_core::{io, Document, Result};
use serde_json::{json, Map, Value};
use std::time::Duration;

/// The man page extras every add-on tool shares.
pub const DOCS: phx_core::cli::Docs = phx_core::cli::Docs {
    environment: phx_artifacts::DOC_ENVIRONMENT,
    files: &[
        (
            "~/.kube/phx-<name>.conf",
            "the admin kubeconfig phx-kubeadm wrote (status.kubeadm.kubeconfig), used to reach the API",
        ),
        phx_artifacts::DOC_FILE,
    ],
    ..phx_core::cli::Docs::LOCAL
};

/// The verbs every add-on tool has, with the same flags. Each tool words
/// their help for itself (`mut_subcommand` in its `Cli`).
#[derive(Debug, clap::Subcommand)]
pub enum Verb {
    /// Apply and wait until ready
    Apply(KubeArgs),
    /// Show the objects apply would create or change (server-side dry run)
    Plan(KubeArgs),
    /// Delete everything this tool applied
    Destroy(KubeArgs),
    /// Print whether it is ready (JSON); changes nothing
    Status(KubeArgs),
}

/// An add-on tool's command line.
pub type Cli = phx_core::cli::Cli<Verb>;

/// What each verb's help says for one tool: `(verb, about, after-help)`.
pub type VerbHelp = [(&'static str, &'static str, &'static str); 4];

/// The add-on tool `name`'s command: `description` as for every tool
/// ([`Cli::command_for`]), and each verb's help worded for it.
pub fn command(name: &'static str, description: &'static str, verbs: VerbHelp) -> clap::Command {
    verbs.into_iter().fold(
        Cli::command_for(name, description),
        |cmd, (verb, about, after)| cmd.mut_subcommand(verb, |c| c.about(about).after_help(after)),
    )
}

/// A whole add-on tool's `main`.
pub fn main<A: Addon>(cmd: clap::Command, addon: &A) -> std::process::ExitCode {
    phx_core::cli::main(A::TOOL, cmd, |verb| run(addon, verb))
}

/// A part of an add-on that must be ready before the next is applied.
#[derive(Debug)]
pub struct Wave {
    /// What the part is called in messages (`wave 1 (istio-base)`).
    pub name: String,
    pub objects: Vec<DynamicObject>,
    pub checks: Vec<Check>,
}

/// One add-on tool: its objects and its readiness.
#[allow(async_fn_in_trait)] // used generically within the workspace, never as `dyn`
pub trait Addon {
    /// The tool's name, its field manager label and its error prefix.
    const TOOL: &'static str;
    /// What a plan without changes calls the whole (`Calico`).
    const SUBJECT: &'static str;
    /// Where objects that name no namespace go.
    const NAMESPACE: &'static str;
    /// What the tool records in its status key once applied.
    type Status;
    /// The tool's status key.
    type Key: Key<Value = AddonStatus<Self::Status>>;

    /// Everything `apply` applies. Bad input in the spec is refused here,
    /// before any request.
    async fn objects(&self, doc: &Document) -> Result<Vec<DynamicObject>>;

    /// What must hold for `apply` to be done.
    fn checks(&self, doc: &Document) -> Result<Vec<Check>>;

    /// The order `apply` applies in: by default one wave, everything at
    /// once. A plan and `status` see all waves at once.
    async fn waves(&self, doc: &Document) -> Result<Vec<Wave>> {
        Ok(vec![Wave {
            name: Self::SUBJECT.to_string(),
            objects: self.objects(doc).await?,
            checks: self.checks(doc)?,
        }])
    }

    /// What to record once `applied` went through.
    fn status(&self, doc: &Document, applied: &[Applied]) -> Result<Self::Status>;

    /// Facts the `status` verb prints beside `ready` and `waitingFor`.
    fn facts(&self) -> Map<String, Value> {
        Map::new()
    }

    /// Work `destroy` does before deleting the tool's objects by label.
    async fn before_destroy(&self, _client: &Client, _timeout: Duration) -> Result<()> {
        Ok(())
    }

    /// The `status` verb's output: by default the facts, whether the checks
    /// hold, and the first that does not.
    async fn report(&self, _client: &Client, _doc: &Document, ready: Result<()>) -> Result<()> {
        let mut out = self.facts();
        out.insert("ready".into(), json!(ready.is_ok()));
        out.insert("waitingFor".into(), json!(ready.err().map(|e| e.to_string())));
        io::write_json(&Value::Object(out))
    }
}

/// Run `verb` for `addon`; everything but `status` is a pipeline stage.
pub async fn run<A: Addon>(addon: &A, verb: Verb) -> Result<()> {
    match verb {
        Verb::Apply(args) => {
            stage::run::<A::Key>(A::TOOL, async |doc| converge(addon, doc, &args, false).await).await
        }
        Verb::Plan(args) => {
            stage::run::<A::Key>(A::TOOL, async |doc| converge(addon, doc, &args, true).await).await
        }
        Verb::Destroy(args) => {
            stage::run::<A::Key>(A::TOOL, async |doc| teardown(addon, doc, &args).await).await
        }
        Verb::Status(args) => status(addon, &args).await,
    }
}

async fn converge<A: Addon>(
    addon: &A,
    doc: &mut Mine<'_, A::Key>,
    args: &KubeArgs,
    dry_run: bool,
) -> Result<()> {
    let waves = addon.waves(doc).await?;
    let flag = args.kubeconfig.as_deref();
    if dry_run {
        let objects: Vec<DynamicObject> = waves.into_iter().flat_map(|w| w.objects).collect();
        if client::before_cluster(doc, flag)? {
            return record_plan::<A>(doc, &apply::all_created(&objects));
        }
        let client = client::connect(doc, flag).await?;
        let mut applier = Applier::new(client, A::TOOL, A::NAMESPACE).await?;
        return record_plan::<A>(doc, &applier.apply(objects, true, args.timeout).await?);
    }
    let client = client::connect(doc, flag).await?;
    let mut applier = Applier::new(client.clone(), A::TOOL, A::NAMESPACE).await?;
    let names: Vec<String> = waves.iter().map(|w| w.name.clone()).collect();
    let mut applied = Vec::new();
    let mut st = AddonStatus::default();
    for (i, wave) in waves.into_iter().enumerate() {
        if names.len() > 1 {
            phx_core::progress::activity(&format!("wave {}/{}: {}", i + 1, names.len(), wave.name));
        }
        let done = applier.apply(wave.objects, false, args.timeout).await?;
        if names.len() > 1 {
            tracing::info!("{}: {}", wave.name, apply::summary(&done));
        }
        applied.extend(done);
        st.applied = Some(addon.status(doc, &applied)?);
        doc.set(&st);
        wait::until_ready(&client, &wave.checks, args.timeout)
            .await
            .map_err(|e| match &names[i + 1..] {
                [] => e,
                later => e.context(format!("{} holds up {}", wave.name, later.join(", "))),
            })?;
    }
    tracing::info!("{}: {}", A::SUBJECT, apply::summary(&applied));
    phx_core::progress::result(apply::summary(&applied));
    st.ready = true;
    doc.set(&st);
    Ok(())
}

/// The plan as a table on stderr and in `status.<tool>.plan`, beside what
/// the status already recorded.
fn record_plan<A: Addon>(doc: &mut Mine<'_, A::Key>, applied: &[Applied]) -> Result<()> {
    let changes = apply::changes(applied);
    phx_core::progress::eprint(&phx_core::plan::render(&changes, A::SUBJECT));
    let mut st = doc.mine()?.unwrap_or_default();
    st.plan = Some(changes);
    doc.set(&st);
    Ok(())
}

async fn teardown<A: Addon>(addon: &A, doc: &mut Mine<'_, A::Key>, args: &KubeArgs) -> Result<()> {
    let Some(client) = destroy::client_or_skip(doc, args.kubeconfig.as_deref()).await? else {
        return Ok(());
    };
    addon.before_destroy(&client, args.timeout).await?;
    let n = destroy::by_tool(&client, A::TOOL, args.timeout).await?;
    tracing::info!("deleted {n} objects");
    phx_core::progress::result(format!("{n} deleted"));
    doc.clear();
    Ok(())
}

async fn status<A: Addon>(addon: &A, args: &KubeArgs) -> Result<()> {
    let doc = io::read_stdin()?;
    let client = client::connect(&doc, args.kubeconfig.as_deref()).await?;
    let ready = wait::until_ready(&client, &addon.checks(&doc)?, Duration::ZERO).await;
    addon.report(&client, &doc, ready).await
}
