//! The kubelet's command line and its `KubeletConfiguration` file, as the
//! kubeadm systemd drop-in passes them: only the settings this kubelet acts
//! on are read; the rest are accepted and ignored, so kubeadm's own flags
//! file never makes it fail.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// What the kubelet was told to do.
#[derive(Debug, Clone)]
pub struct Flags {
    pub kubeconfig: PathBuf,
    pub bootstrap_kubeconfig: Option<PathBuf>,
    pub hostname_override: Option<String>,
    pub node_ip: Option<String>,
    pub external_cloud: bool,
    pub register_with_taints: Vec<String>,
    pub node_labels: Vec<(String, String)>,
    pub static_pod_path: PathBuf,
    pub healthz: String,
    pub version: bool,
}

pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Flags, String> {
    let mut map: BTreeMap<String, String> = BTreeMap::new();
    let mut version = false;
    let mut args = args.into_iter().peekable();
    while let Some(a) = args.next() {
        let Some(flag) = a.strip_prefix("--") else {
            return Err(format!("unexpected argument {a:?}"));
        };
        if flag == "version" {
            version = true;
            continue;
        }
        match flag.split_once('=') {
            Some((k, v)) => map.insert(k.to_string(), v.to_string()),
            None => {
                let v = match args.peek() {
                    Some(v) if !v.starts_with("--") => args.next().unwrap_or_default(),
                    _ => "true".to_string(),
                };
                map.insert(flag.to_string(), v)
            }
        };
    }
    let config: serde_yaml::Value = match map.get("config") {
        Some(p) => std::fs::read_to_string(p)
            .map_err(|e| format!("--config {p}: {e}"))
            .and_then(|t| serde_yaml::from_str(&t).map_err(|e| format!("--config {p}: {e}")))?,
        None => serde_yaml::Value::Null,
    };
    let conf_str = |k: &str| config.get(k).and_then(|v| v.as_str()).map(String::from);
    let healthz_port = config
        .get("healthzPort")
        .and_then(|v| v.as_u64())
        .unwrap_or(10248);
    let list = |k: &str| -> Vec<String> {
        map.get(k)
            .map(|v| v.split(',').filter(|s| !s.is_empty()).map(String::from).collect())
            .unwrap_or_default()
    };
    Ok(Flags {
        kubeconfig: map
            .get("kubeconfig")
            .map_or_else(|| "/etc/kubernetes/kubelet.conf".into(), PathBuf::from),
        bootstrap_kubeconfig: map.get("bootstrap-kubeconfig").map(PathBuf::from),
        hostname_override: map.get("hostname-override").cloned(),
        node_ip: map.get("node-ip").cloned(),
        external_cloud: map.get("cloud-provider").is_some_and(|v| v == "external"),
        register_with_taints: list("register-with-taints"),
        node_labels: list("node-labels")
            .into_iter()
            .filter_map(|l| l.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
            .collect(),
        static_pod_path: conf_str("staticPodPath")
            .or_else(|| map.get("pod-manifest-path").cloned())
            .map_or_else(|| "/etc/kubernetes/manifests".into(), PathBuf::from),
        healthz: format!(
            "{}:{healthz_port}",
            conf_str("healthzBindAddress").unwrap_or_else(|| "127.0.0.1".into())
        ),
        version,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn kubeadm_drop_in_arguments() {
        let scratch = tempfile::tempdir().unwrap();
        let dir = scratch.path().to_path_buf();
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("config.yaml");
        std::fs::write(
            &config,
            "kind: KubeletConfiguration\nstaticPodPath: /m\nhealthzPort: 12\n",
        )
        .unwrap();
        let args = [
            "--bootstrap-kubeconfig=/b.conf",
            "--kubeconfig",
            "/k.conf",
            &format!("--config={}", config.display()),
            "--container-runtime-endpoint=unix:///run/containerd/containerd.sock",
            "--hostname-override=ip-10-0-1-5.ec2.internal",
            "--cloud-provider=external",
            "--node-labels=a=b,c=d",
        ];
        let f = parse(args.iter().map(|s| s.to_string())).unwrap();
        assert_eq!(f.kubeconfig, PathBuf::from("/k.conf"));
        assert_eq!(f.bootstrap_kubeconfig, Some("/b.conf".into()));
        assert_eq!(f.hostname_override.as_deref(), Some("ip-10-0-1-5.ec2.internal"));
        assert!(f.external_cloud);
        assert_eq!(f.static_pod_path, PathBuf::from("/m"));
        assert_eq!(f.healthz, "127.0.0.1:12");
        assert_eq!(
            f.node_labels,
            vec![("a".into(), "b".into()), ("c".into(), "d".into())]
        );
        assert!(parse(["stray".to_string()]).is_err());
    }
}
