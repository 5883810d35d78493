//! The pods the scheduler binds to this node. A pod whose every image has
//! a binary built for it (the AWS cloud controller manager) runs as
//! processes with the pod's arguments, environment and volumes; every other
//! pod is reported Running and Ready without running anything (as kwok
//! does), annotated `sandbox.phx.dev/simulated`. A pod being deleted is
//! stopped and its deletion finished, as the kubelet finishes it.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, Preconditions};
use kube::{Api, Client};

use crate::process::{binary_for, container_args, Launch, Proc};
use crate::status::{self, rfc3339, Mode};
use crate::Result;

#[derive(Debug)]
struct Running {
    launches: Vec<Launch>,
    procs: Vec<Option<Proc>>,
    restarts: u32,
    retry_at: Instant,
    started: SystemTime,
}

/// What every pod this kubelet runs gets from the machine and the cluster.
#[derive(Debug, Clone)]
pub struct Context {
    pub host_ip: String,
    pub images: PathBuf,
    /// From the machine (the sandbox's stand-in for the instance metadata
    /// service and VPC endpoints): AWS endpoint, region, credentials.
    pub instance_env: Vec<(String, String)>,
    /// `KUBERNETES_SERVICE_HOST`/`PORT`: the API server this kubelet talks
    /// to (there is no kube-proxy to reach the Service's cluster IP).
    pub api: (String, String),
}

/// The pods bound to this node.
#[derive(Debug)]
pub struct Pods {
    ctx: Context,
    running: BTreeMap<String, Running>,
    reported: BTreeMap<String, String>,
    ips: BTreeMap<String, String>,
    next_ip: u32,
}

/// The pods bound to NODE: what a kubelet may read (the node authorizer
/// lets it list them by this field selector, not get others by name).
pub async fn bound_to(client: &Client, node: &str) -> Result<Vec<Pod>> {
    let all: Api<Pod> = Api::all(client.clone());
    let lp = ListParams::default().fields(&format!("spec.nodeName={node}"));
    Ok(all.list(&lp).await?.items)
}

/// A static pod's mirror in the API (the kubelet's, not the scheduler's).
pub fn is_mirror(p: &Pod) -> bool {
    p.metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key("kubernetes.io/config.mirror"))
}

impl Pods {
    pub fn new(ctx: Context) -> Pods {
        Pods {
            ctx,
            running: BTreeMap::new(),
            reported: BTreeMap::new(),
            ips: BTreeMap::new(),
            next_ip: 2,
        }
    }

    fn pod_ip(&mut self, pod: &Pod, uid: &str, cidr: Option<&str>) -> String {
        if pod.spec.as_ref().and_then(|s| s.host_network) == Some(true) {
            return self.ctx.host_ip.clone();
        }
        if let Some(ip) = self.ips.get(uid) {
            return ip.clone();
        }
        let base = cidr
            .and_then(|c| c.split('/').next())
            .and_then(|a| a.parse::<Ipv4Addr>().ok());
        let ip = match base {
            Some(b) => Ipv4Addr::from(u32::from(b) + self.next_ip).to_string(),
            None => self.ctx.host_ip.clone(),
        };
        self.next_ip += 1;
        self.ips.insert(uid.to_string(), ip.clone());
        ip
    }

    async fn launches(&self, client: &Client, pod: &Pod) -> Result<Option<Vec<Launch>>> {
        let spec = pod.spec.clone().unwrap_or_default();
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let mut out = Vec::new();
        for c in &spec.containers {
            let Some(binary) = c.image.as_deref().and_then(|i| binary_for(&self.ctx.images, i)) else {
                return Ok(None);
            };
            let args = container_args(c);
            let mut env = self.ctx.instance_env.clone();
            env.push(("KUBERNETES_SERVICE_HOST".into(), self.ctx.api.0.clone()));
            env.push(("KUBERNETES_SERVICE_PORT".into(), self.ctx.api.1.clone()));
            env.push(("HOSTNAME".into(), name.clone()));
            env.extend(crate::volumes::env(client, pod, c, &self.ctx.host_ip).await?);
            out.push(Launch {
                binary,
                args,
                env,
                mounts: crate::volumes::mounts(client, pod, c).await?,
                log: PathBuf::from(format!("/var/log/pods/{ns}_{name}_{uid}/{}/0.log", c.name)),
            });
        }
        Ok(Some(out))
    }

    /// One pass: every pod bound here brought to what its spec says.
    pub async fn sync(&mut self, client: &Client, bound: &[Pod], pod_cidr: Option<&str>) -> Result<()> {
        let mut seen = BTreeSet::new();
        for pod in bound.iter().filter(|p| !is_mirror(p)) {
            let uid = pod.metadata.uid.clone().unwrap_or_default();
            let ns = pod.metadata.namespace.clone().unwrap_or_default();
            let name = pod.metadata.name.clone().unwrap_or_default();
            let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
            seen.insert(uid.clone());
            if pod.metadata.deletion_timestamp.is_some() {
                if let Some(r) = self.running.remove(&uid) {
                    for p in r.procs.into_iter().flatten() {
                        p.stop(Duration::from_secs(5));
                    }
                }
                let dp = DeleteParams {
                    grace_period_seconds: Some(0),
                    preconditions: Some(Preconditions {
                        uid: Some(uid.clone()),
                        resource_version: None,
                    }),
                    ..Default::default()
                };
                match api.delete(&name, &dp).await {
                    Ok(_) => tracing::info!(pod = %format!("{ns}/{name}"), "deleted"),
                    Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {}
                    Err(e) => return Err(e.into()),
                }
                continue;
            }
            let phase = pod
                .status
                .as_ref()
                .and_then(|s| s.phase.clone())
                .unwrap_or_default();
            if phase == "Succeeded" || phase == "Failed" {
                continue;
            }
            if !self.running.contains_key(&uid) && !self.reported.contains_key(&uid) {
                if let Some(launches) = self.launches(client, pod).await? {
                    self.running.insert(
                        uid.clone(),
                        Running {
                            procs: launches.iter().map(|_| None).collect(),
                            launches,
                            restarts: 0,
                            retry_at: Instant::now(),
                            started: SystemTime::now(),
                        },
                    );
                }
            }
            let mode = match self.running.get_mut(&uid) {
                Some(r) => {
                    let restart = Instant::now() >= r.retry_at;
                    for (slot, launch) in r.procs.iter_mut().zip(&r.launches) {
                        if slot.as_mut().is_some_and(Proc::alive) || !restart {
                            continue;
                        }
                        if slot.take().is_some() {
                            r.restarts += 1;
                            tracing::warn!(pod = %format!("{ns}/{name}"), "exited: restarting");
                        }
                        r.retry_at = Instant::now() + Duration::from_secs(u64::from(r.restarts.min(10)));
                        match Proc::start(launch) {
                            Ok(p) => {
                                tracing::info!(pod = %format!("{ns}/{name}"), pid = p.pid, "started {}", launch.binary.display());
                                *slot = Some(p);
                            }
                            Err(e) => tracing::warn!(pod = %format!("{ns}/{name}"), "cannot start: {e}"),
                        }
                    }
                    Mode::Run {
                        ready: r.procs.iter_mut().all(|p| p.as_mut().is_some_and(Proc::alive)),
                        restarts: r.restarts,
                    }
                }
                None => Mode::Simulated,
            };
            let key = format!("{mode:?}");
            if self.reported.get(&uid) != Some(&key) || phase.is_empty() || phase == "Pending" {
                let started = self.running.get(&uid).map_or_else(SystemTime::now, |r| r.started);
                let ip = self.pod_ip(pod, &uid, pod_cidr);
                let patch = status::patch(pod, mode, &self.ctx.host_ip, &ip, &rfc3339(started));
                api.patch_status(&name, &PatchParams::default(), &Patch::Strategic(patch))
                    .await?;
                self.reported.insert(uid, key);
            }
        }
        let gone: Vec<String> = self
            .running
            .keys()
            .filter(|u| !seen.contains(*u))
            .cloned()
            .collect();
        for uid in gone {
            if let Some(r) = self.running.remove(&uid) {
                for p in r.procs.into_iter().flatten() {
                    p.stop(Duration::from_secs(5));
                }
            }
        }
        self.reported.retain(|u, _| seen.contains(u));
        self.ips.retain(|u, _| seen.contains(u));
        Ok(())
    }

    /// Every process this kubelet started for a pod, stopped.
    pub fn stop_all(&mut self) {
        for (_, r) in std::mem::take(&mut self.running) {
            for p in r.procs.into_iter().flatten() {
                p.stop(Duration::from_secs(5));
            }
        }
    }
}
