//! A run pod's volumes, made as the kubelet makes them under
//! `/var/lib/kubelet/pods/UID/volumes`: config maps, secrets, the
//! projected service account token (a TokenRequest bound to the pod) and
//! downward API files; host paths as they are. Returned as bind mounts
//! for the container's mount paths.

use std::path::{Path, PathBuf};

use k8s_openapi::api::authentication::v1::{BoundObjectReference, TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{ConfigMap, Container, KeyToPath, Pod, Secret, ServiceAccount};
use kube::api::PostParams;
use kube::{Api, Client};

use crate::Result;

fn put(dir: &Path, rel: &str, bytes: &[u8]) -> Result<()> {
    let path = dir.join(rel);
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d)?;
    }
    crate::bootstrap::write_private(&path, bytes)?;
    Ok(())
}

fn items<'a>(
    data: impl Iterator<Item = (String, Vec<u8>)> + 'a,
    wanted: Option<&'a Vec<KeyToPath>>,
) -> impl Iterator<Item = (String, Vec<u8>)> + 'a {
    data.filter_map(move |(k, v)| match wanted {
        None => Some((k, v)),
        Some(list) => list.iter().find(|i| i.key == k).map(|i| (i.path.clone(), v)),
    })
}

async fn config_map(client: &Client, ns: &str, name: &str) -> Result<Vec<(String, Vec<u8>)>> {
    let cm = Api::<ConfigMap>::namespaced(client.clone(), ns).get(name).await?;
    Ok(cm
        .data
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.into_bytes()))
        .collect())
}

async fn secret(client: &Client, ns: &str, name: &str) -> Result<Vec<(String, Vec<u8>)>> {
    let s = Api::<Secret>::namespaced(client.clone(), ns).get(name).await?;
    Ok(s.data
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.0))
        .collect())
}

async fn token(
    client: &Client,
    pod: &Pod,
    audience: Option<&String>,
    seconds: Option<i64>,
) -> Result<String> {
    let ns = pod.metadata.namespace.clone().unwrap_or_default();
    let sa = pod
        .spec
        .as_ref()
        .and_then(|s| s.service_account_name.clone())
        .unwrap_or_else(|| "default".into());
    let req = TokenRequest {
        spec: TokenRequestSpec {
            audiences: audience.cloned().into_iter().collect(),
            expiration_seconds: Some(seconds.unwrap_or(3607)),
            bound_object_ref: Some(BoundObjectReference {
                api_version: Some("v1".into()),
                kind: Some("Pod".into()),
                name: pod.metadata.name.clone(),
                uid: pod.metadata.uid.clone(),
            }),
        },
        ..Default::default()
    };
    let made = Api::<ServiceAccount>::namespaced(client.clone(), &ns)
        .create_token_request(&sa, &PostParams::default(), &req)
        .await?;
    Ok(made.status.map(|s| s.token).unwrap_or_default())
}

fn field(pod: &Pod, path: &str) -> String {
    match path {
        "metadata.name" => pod.metadata.name.clone().unwrap_or_default(),
        "metadata.namespace" => pod.metadata.namespace.clone().unwrap_or_default(),
        "metadata.uid" => pod.metadata.uid.clone().unwrap_or_default(),
        "spec.nodeName" => pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .unwrap_or_default(),
        "spec.serviceAccountName" => pod
            .spec
            .as_ref()
            .and_then(|s| s.service_account_name.clone())
            .unwrap_or_default(),
        "status.hostIP" | "status.podIP" => pod
            .status
            .as_ref()
            .and_then(|s| s.host_ip.clone())
            .unwrap_or_default(),
        _ => String::new(),
    }
}

/// KEY's value in a config map's or secret's DATA, as text.
fn value_of(data: Vec<(String, Vec<u8>)>, key: &str) -> String {
    data.into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| String::from_utf8_lossy(&v).into_owned())
        .unwrap_or_default()
}

/// The value of each `env` entry the sandbox can resolve.
pub async fn env(client: &Client, pod: &Pod, c: &Container, host_ip: &str) -> Result<Vec<(String, String)>> {
    let ns = pod.metadata.namespace.clone().unwrap_or_default();
    let mut out = Vec::new();
    for e in c.env.iter().flatten() {
        let v = match (&e.value, &e.value_from) {
            (Some(v), _) => v.clone(),
            (None, Some(from)) => {
                if let Some(f) = &from.field_ref {
                    match f.field_path.as_str() {
                        "status.hostIP" | "status.podIP" => host_ip.to_string(),
                        p => field(pod, p),
                    }
                } else if let Some(k) = &from.config_map_key_ref {
                    value_of(config_map(client, &ns, &k.name).await?, &k.key)
                } else if let Some(k) = &from.secret_key_ref {
                    value_of(secret(client, &ns, &k.name).await?, &k.key)
                } else {
                    continue;
                }
            }
            (None, None) => String::new(),
        };
        out.push((e.name.clone(), v));
    }
    Ok(out)
}

/// Make POD's volumes; the bind mounts container C needs.
pub async fn mounts(client: &Client, pod: &Pod, c: &Container) -> Result<Vec<(PathBuf, PathBuf)>> {
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let ns = pod.metadata.namespace.clone().unwrap_or_default();
    let base = PathBuf::from(format!("/var/lib/kubelet/pods/{uid}/volumes"));
    let mut made: Vec<(String, PathBuf)> = Vec::new();
    for v in pod
        .spec
        .as_ref()
        .and_then(|s| s.volumes.clone())
        .unwrap_or_default()
    {
        let dir = base.join(&v.name);
        if let Some(h) = &v.host_path {
            made.push((v.name.clone(), PathBuf::from(&h.path)));
            continue;
        }
        std::fs::create_dir_all(&dir)?;
        if let Some(cm) = &v.config_map {
            let optional = cm.optional.unwrap_or(false);
            match config_map(client, &ns, &cm.name).await {
                Ok(data) => {
                    for (k, d) in items(data.into_iter(), cm.items.as_ref()) {
                        put(&dir, &k, &d)?;
                    }
                }
                Err(_) if optional => {}
                Err(e) => return Err(e),
            }
        } else if let Some(s) = &v.secret {
            let name = s.secret_name.clone().unwrap_or_default();
            match secret(client, &ns, &name).await {
                Ok(data) => {
                    for (k, d) in items(data.into_iter(), s.items.as_ref()) {
                        put(&dir, &k, &d)?;
                    }
                }
                Err(_) if s.optional.unwrap_or(false) => {}
                Err(e) => return Err(e),
            }
        } else if let Some(p) = &v.projected {
            for src in p.sources.iter().flatten() {
                if let Some(t) = &src.service_account_token {
                    let tok = token(client, pod, t.audience.as_ref(), t.expiration_seconds).await?;
                    put(&dir, &t.path, tok.as_bytes())?;
                }
                if let Some(cm) = &src.config_map {
                    for (k, d) in items(
                        config_map(client, &ns, &cm.name).await?.into_iter(),
                        cm.items.as_ref(),
                    ) {
                        put(&dir, &k, &d)?;
                    }
                }
                if let Some(s) = &src.secret {
                    for (k, d) in items(secret(client, &ns, &s.name).await?.into_iter(), s.items.as_ref()) {
                        put(&dir, &k, &d)?;
                    }
                }
                if let Some(d) = &src.downward_api {
                    for i in d.items.iter().flatten() {
                        if let Some(f) = &i.field_ref {
                            put(&dir, &i.path, field(pod, &f.field_path).as_bytes())?;
                        }
                    }
                }
            }
        } else if let Some(d) = &v.downward_api {
            for i in d.items.iter().flatten() {
                if let Some(f) = &i.field_ref {
                    put(&dir, &i.path, field(pod, &f.field_path).as_bytes())?;
                }
            }
        }
        // emptyDir and anything else: an empty directory.
        made.push((v.name.clone(), dir));
    }
    Ok(c.volume_mounts
        .iter()
        .flatten()
        .filter_map(|m| {
            let (_, src) = made.iter().find(|(n, _)| *n == m.name)?;
            let src = match m.sub_path.as_deref().filter(|s| !s.is_empty()) {
                Some(sub) => src.join(sub),
                None => src.clone(),
            };
            Some((src, PathBuf::from(&m.mount_path)))
        })
        .collect())
}
