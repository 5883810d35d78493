//! Static pods: the manifests kubeadm writes to the static pod path run as
//! processes (etcd, the API server, the controller manager, the scheduler),
//! restarted when they exit or when their manifest changes (an upgrade
//! rewrites it), stopped when it goes; each has its mirror pod in the API.
//! The processes outlive a kubelet restart, as containers do: a pid file
//! lets the next kubelet adopt them instead of bouncing the control plane.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use sha2::{Digest, Sha256};

use crate::process::{binary_for, container_args, Launch, Proc};
use crate::status::{self, epoch, rfc3339, Mode};

#[derive(Debug)]
struct Entry {
    pod: Pod,
    hash: String,
    proc: Option<Proc>,
    runnable: bool,
    restarts: u32,
    retry_at: Instant,
    reported: Option<String>,
}

/// The static pods of one node.
#[derive(Debug)]
pub struct StaticPods {
    dir: PathBuf,
    images: PathBuf,
    node: String,
    host_ip: String,
    /// `/` on a node; where `var/lib/kubelet` and `var/log/pods` are.
    root: PathBuf,
    pods: BTreeMap<String, Entry>,
}

impl StaticPods {
    pub fn new(dir: PathBuf, images: PathBuf, node: String, host_ip: String, root: PathBuf) -> StaticPods {
        StaticPods {
            dir,
            images,
            node,
            host_ip,
            root,
            pods: BTreeMap::new(),
        }
    }

    fn manifests(&self) -> BTreeMap<String, (Pod, String)> {
        let mut out = BTreeMap::new();
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return out;
        };
        for e in entries.flatten() {
            let file = e.file_name().to_string_lossy().into_owned();
            if file.starts_with('.')
                || !(file.ends_with(".yaml") || file.ends_with(".yml") || file.ends_with(".json"))
            {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(e.path()) else {
                continue;
            };
            match serde_yaml::from_str::<Pod>(&text) {
                Ok(pod) => {
                    let hash = hex::encode(&Sha256::digest(text.as_bytes())[..8]);
                    out.insert(file, (pod, hash));
                }
                Err(err) => tracing::warn!(manifest = %file, "not a pod: {err}"),
            }
        }
        out
    }

    fn launch(&self, pod: &Pod, hash: &str) -> Option<Launch> {
        let spec = pod.spec.as_ref()?;
        let c = spec.containers.first()?;
        let binary = binary_for(&self.images, c.image.as_deref()?)?;
        let args = container_args(c);
        let host_paths: BTreeMap<String, String> = spec
            .volumes
            .iter()
            .flatten()
            .filter_map(|v| Some((v.name.clone(), v.host_path.as_ref()?.path.clone())))
            .collect();
        let mounts = c
            .volume_mounts
            .iter()
            .flatten()
            .filter_map(|m| {
                Some((
                    PathBuf::from(host_paths.get(&m.name)?),
                    PathBuf::from(&m.mount_path),
                ))
            })
            .collect();
        let env = c
            .env
            .iter()
            .flatten()
            .filter_map(|e| Some((e.name.clone(), e.value.clone()?)))
            .collect();
        let name = pod.metadata.name.clone().unwrap_or_default();
        Some(Launch {
            binary,
            args,
            env,
            mounts,
            log: self.root.join(format!(
                "var/log/pods/kube-system_{name}-{}_{hash}/{}/0.log",
                self.node, c.name
            )),
        })
    }

    fn state_dir(&self) -> PathBuf {
        self.root.join("var/lib/kubelet/phx-sandbox/static")
    }

    fn pid_file(&self, file: &str) -> PathBuf {
        self.state_dir().join(format!("{file}.pid"))
    }

    /// The processes made to match the manifests.
    pub fn reconcile(&mut self) {
        let want = self.manifests();
        let gone: Vec<String> = self
            .pods
            .keys()
            .filter(|k| !want.contains_key(*k))
            .cloned()
            .collect();
        for file in gone {
            if let Some(e) = self.pods.remove(&file) {
                tracing::info!(manifest = %file, "removed: stopping");
                if let Some(p) = e.proc {
                    p.stop(Duration::from_secs(10));
                }
                let _ = std::fs::remove_file(self.pid_file(&file));
            }
        }
        for (file, (pod, hash)) in want {
            if self.pods.get(&file).is_some_and(|e| e.hash != hash) {
                tracing::info!(manifest = %file, "changed: restarting");
                if let Some(p) = self.pods.remove(&file).and_then(|e| e.proc) {
                    p.stop(Duration::from_secs(10));
                }
            }
            let launch = self.launch(&pod, &hash);
            let pid_file = self.pid_file(&file);
            let state_dir = self.state_dir();
            let entry = self.pods.entry(file.clone()).or_insert_with(|| {
                // A process the previous kubelet started for this manifest.
                let adopted = std::fs::read_to_string(&pid_file).ok().and_then(|t| {
                    let mut w = t.split_whitespace();
                    let (pid, h, at) = (w.next()?.parse().ok()?, w.next()?, w.next()?.parse().ok()?);
                    (h == hash).then(|| Proc::adopt(pid, UNIX_EPOCH + Duration::from_secs(at)))?
                });
                Entry {
                    pod,
                    hash: hash.clone(),
                    proc: adopted,
                    runnable: launch.is_some(),
                    restarts: 0,
                    retry_at: Instant::now(),
                    reported: None,
                }
            });
            let Some(launch) = launch else { continue };
            if entry.proc.as_mut().is_some_and(Proc::alive) || Instant::now() < entry.retry_at {
                continue;
            }
            if entry.proc.take().is_some() {
                entry.restarts += 1;
                tracing::warn!(manifest = %file, restarts = entry.restarts, "exited: restarting");
            }
            // Back off as the kubelet does, up to 10 s between starts.
            entry.retry_at = Instant::now() + Duration::from_secs(u64::from(entry.restarts.min(10)));
            match Proc::start(&launch) {
                Ok(p) => {
                    let _ = std::fs::create_dir_all(&state_dir);
                    let _ = std::fs::write(&pid_file, format!("{} {hash} {}", p.pid, epoch(p.started)));
                    tracing::info!(manifest = %file, pid = p.pid, "started {}", launch.binary.display());
                    entry.proc = Some(p);
                }
                Err(e) => tracing::warn!(manifest = %file, "cannot start {}: {e}", launch.binary.display()),
            }
        }
    }

    /// The mirror pods made to match, and their status reported.
    /// BOUND: the pods bound to this node (`pods::bound_to`).
    pub async fn mirror(&mut self, client: &Client, node_uid: &str, bound: &[Pod]) -> crate::Result<()> {
        let mut bound: BTreeMap<(String, String), &Pod> = bound
            .iter()
            .map(|p| {
                let key = (
                    p.metadata.namespace.clone().unwrap_or_default(),
                    p.metadata.name.clone().unwrap_or_default(),
                );
                (key, p)
            })
            .collect();
        for e in self.pods.values_mut() {
            let ns = e
                .pod
                .metadata
                .namespace
                .clone()
                .unwrap_or_else(|| "kube-system".into());
            let name = format!(
                "{}-{}",
                e.pod.metadata.name.clone().unwrap_or_default(),
                self.node
            );
            let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
            let mut existing = bound.remove(&(ns.clone(), name.clone())).cloned();
            let current = existing.as_ref().and_then(|p| {
                p.metadata
                    .annotations
                    .as_ref()?
                    .get("kubernetes.io/config.mirror")
                    .cloned()
            });
            if existing.is_some() && current.as_deref() != Some(e.hash.as_str()) {
                api.delete(&name, &DeleteParams::default().grace_period(0))
                    .await?;
                e.reported = None;
                continue;
            }
            if existing.is_none() {
                let mut pod = e.pod.clone();
                pod.metadata.name = Some(name.clone());
                pod.metadata.namespace = Some(ns.clone());
                let started = e.proc.as_ref().map_or_else(SystemTime::now, |p| p.started);
                let ann = pod.metadata.annotations.get_or_insert_with(Default::default);
                for k in ["kubernetes.io/config.hash", "kubernetes.io/config.mirror"] {
                    ann.insert(k.into(), e.hash.clone());
                }
                ann.insert("kubernetes.io/config.source".into(), "file".into());
                ann.insert("kubernetes.io/config.seen".into(), rfc3339(started));
                pod.metadata.owner_references = Some(vec![OwnerReference {
                    api_version: "v1".into(),
                    kind: "Node".into(),
                    name: self.node.clone(),
                    uid: node_uid.into(),
                    controller: Some(true),
                    ..Default::default()
                }]);
                if let Some(s) = pod.spec.as_mut() {
                    s.node_name = Some(self.node.clone());
                }
                pod.status = None;
                match api.create(&PostParams::default(), &pod).await {
                    Ok(made) => {
                        tracing::info!(pod = %name, "mirror pod created");
                        existing = Some(made);
                    }
                    Err(kube::Error::Api(err)) if err.code == 409 => continue,
                    Err(err) => return Err(err.into()),
                }
                e.reported = None;
            }
            let mode = if e.runnable {
                Mode::Run {
                    ready: e.proc.as_mut().is_some_and(Proc::alive),
                    restarts: e.restarts,
                }
            } else {
                Mode::Simulated
            };
            let started = rfc3339(e.proc.as_ref().map_or_else(SystemTime::now, |p| p.started));
            let key = format!("{mode:?}");
            if e.reported.as_deref() != Some(key.as_str()) {
                let Some(pod) = existing else { continue };
                let patch = status::patch(&pod, mode, &self.host_ip, &self.host_ip, &started);
                api.patch_status(&name, &PatchParams::default(), &Patch::Strategic(patch))
                    .await?;
                e.reported = Some(key);
            }
        }
        // What is left of BOUND matches no manifest: mirror pods whose
        // manifest is gone.
        for ((ns, name), p) in bound {
            if crate::pods::is_mirror(p) {
                Api::<Pod>::namespaced(client.clone(), &ns)
                    .delete(&name, &DeleteParams::default().grace_period(0))
                    .await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn pid_of(s: &mut StaticPods) -> Option<u32> {
        s.pods
            .get_mut("api.yaml")
            .and_then(|e| e.proc.as_ref().map(|p| p.pid))
    }

    fn alive(pid: u32) -> bool {
        Proc::adopt(pid, SystemTime::now()).is_some()
    }

    /// A manifest's process starts, restarts when the manifest changes (an
    /// upgrade rewrites it), is adopted by a restarted kubelet, and stops
    /// when the manifest goes.
    #[test]
    fn manifests_run_restart_on_change_and_stop_when_removed() {
        let scratch = tempfile::tempdir().unwrap();
        let tmp = scratch.path().to_path_buf();
        let (manifests, images) = (tmp.join("manifests"), tmp.join("images"));
        std::fs::create_dir_all(&manifests).unwrap();
        std::fs::create_dir_all(&images).unwrap();
        let bin = images.join("server");
        std::fs::write(&bin, "#!/bin/sh\nexec sleep 60\n").unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        let manifest = |v: &str| {
            format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: api\n  namespace: kube-system\nspec:\n  containers:\n  - name: api\n    image: registry.k8s.io/server:{v}\n    command: [server, --v={v}]\n")
        };
        let new = || {
            StaticPods::new(
                manifests.clone(),
                images.clone(),
                "n1".into(),
                "10.0.0.4".into(),
                tmp.clone(),
            )
        };
        std::fs::write(manifests.join("api.yaml"), manifest("1")).unwrap();
        let mut s = new();
        s.reconcile();
        let first = pid_of(&mut s).unwrap();
        assert!(alive(first));
        s.reconcile();
        assert_eq!(
            pid_of(&mut s),
            Some(first),
            "an unchanged manifest leaves its process alone"
        );

        // A kubelet restart: the next one adopts the process.
        let mut again = new();
        again.reconcile();
        assert_eq!(pid_of(&mut again), Some(first), "adopted, not restarted");

        std::fs::write(manifests.join("api.yaml"), manifest("2")).unwrap();
        again.reconcile();
        let second = pid_of(&mut again).unwrap();
        assert_ne!(second, first);
        assert!(!alive(first), "the old process was stopped");
        assert!(alive(second));

        std::fs::remove_file(manifests.join("api.yaml")).unwrap();
        again.reconcile();
        assert!(again.pods.is_empty());
        assert!(!alive(second), "a removed manifest's process was stopped");
    }
}
