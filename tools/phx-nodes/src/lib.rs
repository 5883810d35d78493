//! `phx-nodes`: the cluster's machines, what the reference platform's
//! `ec2.tf` did: the key pair, the image and the EC2 instances.
//!
//! `apply` and `plan` share one path: check the input without a call
//! ([`key`], [`desired`]), find what exists by tags ([`observed`]), match
//! by node name ([`plan`]). `apply` then imports the key, launches what is
//! missing ([`launch`]), records every instance in `status.nodes` at once
//! (so an interrupted wait loses nothing) and waits ([`wait`]).

pub mod cli;
pub mod desired;
pub mod destroy;
pub mod hostkeys;
pub mod image;
pub mod key;
pub mod launch;
pub mod list;
pub mod observed;
pub mod plan;
mod status;
pub mod targets;
pub mod wait;

use cli::{ApplyArgs, Verb};
use desired::Inputs;
use phx_aws::ec2::types::InstanceType;
use phx_aws::ec2::Client;
use phx_aws::{ClusterTags, Sent};
use phx_core::stage::{self, Mine};
use phx_core::status::{key as owner, Node, NodesStatus, PlannedChange};
use phx_core::{io, Document, Error, Result};
use std::process::ExitCode;
use std::time::Duration;

pub const TOOL: &str = "phx-nodes";

pub fn main() -> ExitCode {
    phx_core::cli::main(TOOL, cli::command(), run)
}

pub async fn run(verb: Verb) -> Result<()> {
    match verb {
        Verb::Apply(args) => {
            stage::run::<owner::Nodes>(TOOL, async |doc| converge(doc, &args, false).await).await
        }
        Verb::Plan(args) => {
            stage::run::<owner::Nodes>(TOOL, async |doc| converge(doc, &args, true).await).await
        }
        Verb::Destroy(w) => stage::run::<owner::Nodes>(TOOL, async |doc| teardown(doc, &w).await).await,
        Verb::Status(args) => status(&args).await,
        Verb::List => list().await,
    }
}

/// The document as phx-nodes holds it: `status.nodes` writable.
type Doc<'a> = Mine<'a, owner::Nodes>;

async fn teardown(doc: &mut Doc<'_>, w: &cli::WaitArgs) -> Result<()> {
    let (aws, tags) = connect(doc, Some(w.timeout)).await?;
    let ec2 = aws.ec2();
    let mut result = destroy::destroy(&ec2, &tags, w.timeout).await;
    // The machines are gone: so are the API load balancers' targets.
    for tg in targets::load_balancers(doc)?
        .into_iter()
        .filter_map(|lb| lb.target_group_arn)
    {
        if result.is_ok() {
            result = targets::deregister_all(&aws.elbv2(), &tg).await;
        }
    }
    // What is left (a timeout) stays recorded.
    let left = observed::instances(&ec2, &tags, observed::ALIVE).await;
    match (&result, left) {
        (Ok(()), _) => doc.machines_gone(),
        (Err(_), Ok(left)) => record(doc, &left)?,
        (Err(_), Err(_)) => {}
    }
    result
}

/// AWS for the cluster of `doc`; with `timeout` (`--timeout`), no
/// request outlasts it, its retries included.
async fn connect(doc: &Document, timeout: Option<Duration>) -> Result<(phx_aws::Aws, ClusterTags)> {
    let aws = phx_aws::load(doc.spec().region.as_deref()).await?.capped(timeout);
    Ok((aws, ClusterTags::new(doc.name())))
}

fn previous(doc: &Document) -> Result<Vec<Node>> {
    Ok(doc.get::<owner::Nodes>()?.unwrap_or_default().instances)
}

/// Record the instances found (what a last `plan` found to do is dropped:
/// apply has done it).
fn record(doc: &mut Doc<'_>, haves: &[observed::Have]) -> Result<()> {
    let prev = previous(doc)?;
    let instances = status::build(doc.name(), &doc.spec().nodes.ssh, &prev, haves);
    doc.set(&NodesStatus {
        instances,
        plan: None,
    });
    Ok(())
}

/// What exists of the cluster's machines, what the spec wants, and what
/// apply would do: `apply`, `plan` and `status` all start here.
struct Survey {
    spec: phx_core::spec::NodesSpec,
    public_key: key::PublicKey,
    inputs: Inputs,
    ec2: Client,
    elbv2: phx_aws::elbv2::Client,
    tags: ClusterTags,
    haves: Vec<observed::Have>,
    /// The API target group and the IPs registered in it.
    /// Each made API load balancer's name, target group and registered IPs.
    api_targets: Vec<(String, String, Vec<String>)>,
    plan: plan::Plan,
    key_step: key::KeyStep,
    image: Option<image::Image>,
    changes: Vec<PlannedChange>,
}

impl Survey {
    /// `planning`: a fresh cluster's network and roles may still be to make.
    async fn take(doc: &Document, args: &ApplyArgs, planning: bool) -> Result<Survey> {
        // Everything that can be wrong with the input, before any call.
        let spec = doc.spec().nodes.clone();
        let public_key = key::PublicKey::find(spec.ssh.public_key_file.as_deref())?;
        desired::check_fields(&spec)?;
        for e in spec.ssh.endpoints.values() {
            status::endpoint(e)?;
        }
        let inputs = match Inputs::from_status(doc.get::<owner::Network>()?, doc.get::<owner::Iam>()?) {
            // A fresh cluster's plan: the network and roles are planned, not made.
            Err(_) if planning => Inputs::to_be_made(&doc.spec().network),
            other => other?,
        };
        let wants = desired::nodes(doc.name(), &spec, &inputs)?;

        let (aws, tags) = connect(doc, Some(args.wait.timeout)).await?;
        let (ec2, elbv2) = (aws.ec2(), aws.elbv2());
        let api_lbs = targets::load_balancers(doc)?;
        let registered = futures::future::try_join_all(api_lbs.iter().filter_map(|lb| {
            let tg = lb.target_group_arn.clone()?;
            let elbv2 = &elbv2;
            Some(async move {
                let ips = targets::registered(elbv2, &tg).await?;
                Ok::<_, Error>((lb.name.clone(), tg, ips))
            })
        }));
        let (haves, key_have, api_targets) = tokio::try_join!(
            observed::instances(&ec2, &tags, observed::ALIVE),
            key::observe(&ec2, &tags),
            registered
        )?;
        let mut plan = plan::plan(doc.name(), &wants, &haves);
        // Control planes beyond the count go only once phx-kubeadm says
        // they left the cluster (their etcd members with them).
        let kubeadm = doc.get::<owner::Kubeadm>()?.unwrap_or_default();
        plan.retire(|name| {
            kubeadm
                .nodes
                .get(name)
                .is_some_and(|p| !p.member && p.error.is_none())
        });
        let key_step = key::step(&key_have, &public_key);
        if key_have == key::KeyHave::Foreign {
            tracing::warn!(
                "key pair {} exists and was not imported by phx: nodes are launched with it as it is",
                tags.name("key")
            );
        }
        let image = match plan.launch.is_empty() {
            true => None,
            false => {
                check_instance_types(&ec2, &plan.launch).await?;
                let choice = match (&spec.image.id, cluster_image(&haves)) {
                    (Some(id), _) => image::Choice::Spec(id),
                    (None, Some(id)) if !args.newest_image => image::Choice::Cluster(id),
                    _ => image::Choice::Newest,
                };
                Some(image::resolve(&ec2, choice).await?)
            }
        };

        let mut changes = match key_step {
            key::KeyStep::Import => vec![change("import", &tags, &public_key)],
            key::KeyStep::Replace => vec![change("replace", &tags, &public_key)],
            key::KeyStep::None => vec![],
        };
        changes.extend(plan.changes(args.allow_remove));
        // With --allow-remove, retired control planes are no targets.
        let staying: Vec<_> = haves
            .iter()
            .filter(|h| !(args.allow_remove && plan.retired.iter().any(|r| r.instance_id == h.instance_id)))
            .cloned()
            .collect();
        for (lb, _, ips) in &api_targets {
            changes.extend(targets::changes(doc.name(), &staying, ips).planned(lb));
        }
        for lb in &api_lbs {
            changes.extend(targets::planned_launches(&plan.launch, &lb.name));
        }
        if let Some(img) = &image {
            tracing::info!("image for new nodes: {} ({}, {})", img.id, img.name, img.why);
        }
        for h in &plan.extra_control_plane {
            tracing::warn!(
                "{} is beyond spec.nodes.controlPlane.count; it stays until it has left the cluster \
             (phx-kubeadm apply --allow-remove)",
                h.name
            );
        }
        Ok(Survey {
            spec,
            public_key,
            inputs,
            ec2,
            elbv2,
            tags,
            haves,
            api_targets,
            plan,
            key_step,
            image,
            changes,
        })
    }
}

/// `status`: the instances found and what apply would change, as JSON on
/// stdout; the document is read, not written.
async fn status(args: &ApplyArgs) -> Result<()> {
    let doc = io::read_stdin()?;
    let survey = Survey::take(&doc, args, true).await?;
    let rows = list::rows(doc.name(), &survey.haves);
    io::write_json(&serde_json::json!({
        "inSync": survey.changes.is_empty(),
        "changes": survey.changes,
        "instances": rows,
    }))
}

async fn converge(doc: &mut Doc<'_>, args: &ApplyArgs, dry_run: bool) -> Result<()> {
    let Survey {
        spec,
        public_key,
        inputs,
        ec2,
        elbv2,
        tags,
        haves,
        api_targets,
        plan,
        key_step,
        image,
        changes,
    } = Survey::take(doc, args, dry_run).await?;
    if dry_run {
        phx_core::progress::eprint(&phx_core::plan::render(&changes, "the nodes"));
        // The instances stay as recorded: a plan reads, it does not look
        // them up for later stages.
        let instances = previous(doc)?;
        doc.set(&NodesStatus {
            instances,
            plan: Some(changes),
        });
        return Ok(());
    }
    if !plan.surplus.is_empty() && !args.allow_remove {
        let names: Vec<&str> = plan.surplus.iter().map(|h| h.name.as_str()).collect();
        return Err(Error::invalid(format!(
            "spec.nodes.workers.count is {} but {} exist: drain them first (kubectl drain NODE \
             --ignore-daemonsets --delete-emptydir-data), then re-run with --allow-remove",
            spec.workers.count,
            names.join(", ")
        )));
    }
    for h in &plan.duplicates {
        if !args.allow_remove {
            tracing::warn!(
                "{} is a second instance named {}: --allow-remove terminates it",
                h.instance_id,
                h.name
            );
        }
    }
    for c in &changes {
        tracing::info!("{} {} {} {}", c.action, c.kind, c.name, c.detail);
    }

    key::converge(&ec2, &tags, &public_key, key_step).await?;
    let mut known = haves.clone();
    let mut failures = Vec::new();
    if let Some(image) = &image {
        let key_name = tags.name("key");
        let launcher = launch::Launcher {
            ec2: &ec2,
            tags: &tags,
            image,
            key_name: &key_name,
            vpc_id: &inputs.vpc_id,
        };
        let launched = phx_aws::fan_out(plan.launch.iter().map(|w| launcher.launch(w))).await;
        for r in launched {
            match r {
                Ok(h) => known.push(h),
                Err(e) => failures.push(e),
            }
        }
    }
    let start: Vec<String> = plan.start.iter().map(|h| h.instance_id.clone()).collect();
    if !start.is_empty() {
        if let Err(e) = ec2
            .start_instances()
            .set_instance_ids(Some(start))
            .send()
            .await
            .phx()
        {
            failures.push(e.context("starting stopped nodes"));
        }
    }
    let removals: Vec<String> = match args.allow_remove {
        true => plan.removals().iter().map(|h| h.instance_id.clone()).collect(),
        false => Vec::new(),
    };
    if !removals.is_empty() {
        if let Err(e) = destroy::terminate(&ec2, &removals).await {
            failures.push(e);
        }
    }
    // Record at once what exists, before any wait can fail.
    known.retain(|h| !removals.contains(&h.instance_id));
    record(doc, &known)?;
    if let Some(e) = first(failures) {
        return Err(e);
    }

    let ids: Vec<String> = previous(doc)?
        .iter()
        .filter_map(|n| n.instance_id.clone())
        .collect();
    let (ready, gone) = tokio::join!(
        wait::ready(&ec2, &ids, args.wait.timeout),
        wait::terminated(&ec2, &removals, args.wait.timeout)
    );
    let ready = ready?;
    gone?;
    record(doc, &ready)?;
    fill_host_keys(doc, &ec2).await?;
    // The control planes behind the API load balancers, now they have IPs.
    for (_, tg, registered) in &api_targets {
        targets::changes(doc.name(), &ready, registered)
            .apply(&elbv2, tg)
            .await?;
    }
    Ok(())
}

fn change(action: &str, tags: &ClusterTags, key: &key::PublicKey) -> phx_core::status::PlannedChange {
    let from = format!("from {}", key.path.display());
    phx_core::status::PlannedChange::new(action, "key-pair", &tags.name("key"), from)
}

fn first(errors: Vec<Error>) -> Option<Error> {
    let n = errors.len();
    let mut it = errors.into_iter();
    let e = it.next()?;
    Some(match n {
        1 => e,
        _ => e.context(format!("{n} nodes failed; the first")),
    })
}

/// The image the cluster's nodes run: control plane 1's, else any node's.
fn cluster_image(haves: &[observed::Have]) -> Option<&str> {
    let mut alive: Vec<_> = haves.iter().filter(|h| h.is_alive()).collect();
    alive.sort_by_key(|h| !h.name.contains("-control-plane-"));
    alive.into_iter().find_map(|h| h.image_id.as_deref())
}

/// AWS is asked whether the instance types exist before anything launches,
/// so a typo is one clear error rather than a half-launched cluster.
async fn check_instance_types(ec2: &Client, launch: &[desired::NodeWant]) -> Result<()> {
    let mut types: Vec<&str> = launch.iter().map(|w| w.instance_type.as_str()).collect();
    types.sort_unstable();
    types.dedup();
    let req = ec2
        .describe_instance_types()
        .set_instance_types(Some(types.iter().map(|t| InstanceType::from(*t)).collect()));
    match req.send().await.phx() {
        Ok(_) => Ok(()),
        Err(e) if e.has_code(&["InvalidInstanceType"]) => Err(Error::invalid(format!(
            "spec.nodes: instance type {} is not offered in this region ({e})",
            types.join(" or ")
        ))),
        Err(e) => Err(e.context("checking instance types")),
    }
}

/// Host keys from the console of nodes that have none yet.
async fn fill_host_keys(doc: &mut Doc<'_>, ec2: &Client) -> Result<()> {
    let mut nodes = previous(doc)?;
    let fetches = nodes.iter().map(|n| async move {
        match (&n.instance_id, n.ssh.host_keys.is_empty()) {
            (Some(id), true) => hostkeys::fetch(ec2, id).await,
            _ => Vec::new(),
        }
    });
    let found = phx_aws::fan_out(fetches).await;
    for (n, keys) in nodes.iter_mut().zip(found) {
        if !keys.is_empty() {
            n.ssh.host_keys = keys;
        }
    }
    let unknown: Vec<&str> = nodes
        .iter()
        .filter(|n| n.ssh.host_keys.is_empty())
        .map(|n| n.name.as_str())
        .collect();
    if !unknown.is_empty() {
        tracing::info!(
            "no host keys on the console yet for {}: phx-kubeadm will check known_hosts",
            unknown.join(", ")
        );
    }
    doc.set(&NodesStatus {
        instances: nodes,
        plan: None,
    });
    Ok(())
}

/// `list`: read-only, prints nodes rather than the document.
async fn list() -> Result<()> {
    let doc = io::read_stdin()?;
    let (aws, tags) = connect(&doc, None).await?;
    let haves = observed::instances(&aws.ec2(), &tags, observed::NOT_TERMINATED).await?;
    let rows = list::rows(doc.name(), &haves);
    if io::stdout_is_terminal() {
        return io::write_bytes(list::table(&rows).as_bytes());
    }
    let value = serde_json::to_value(&rows).map_err(|e| Error::failed(format!("encoding the list: {e}")))?;
    io::write_json(&value)
}
