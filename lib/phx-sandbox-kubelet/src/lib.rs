//! The phx sandbox's kubelet. The sandbox has no container runtime, so the
//! real kubelet cannot run; this one does what a kubelet does that the
//! rest of the cluster sees, against the real API server, controller
//! manager and kubeadm:
//!
//! - serves `healthz` where its KubeletConfiguration says (kubeadm waits on it);
//! - runs the static pods kubeadm writes as processes (`static_pods`);
//! - performs the TLS bootstrap from `bootstrap-kubelet.conf` (`bootstrap`);
//! - registers its Node with the machine's capacity, keeps its Lease and
//!   Ready condition (`node`);
//! - runs the pods bound to it whose images have a built binary, and
//!   reports every other one Running without running it (`pods`).
//!
//! It is started the way kubeadm's systemd drop-in starts the kubelet (the
//! sandbox's `systemctl` plays systemd), with the same flags.

mod bootstrap;
mod flags;
mod node;
mod pods;
mod process;
mod static_pods;
mod status;
mod volumes;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// The Kubernetes version this kubelet reports (the sandbox's pinned one).
fn version() -> String {
    std::env::var("PHX_KUBELET_VERSION").unwrap_or_else(|_| "v0.0.0-phx-sandbox".into())
}

pub fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PHX_LOG").unwrap_or_else(|_| "info".into()),
        )
        .init();
    let flags = match flags::parse(std::env::args().skip(1)) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("kubelet: {e}");
            return ExitCode::from(2);
        }
    };
    if flags.version {
        println!("Kubernetes {}", version());
        return ExitCode::SUCCESS;
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kubelet: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(flags)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kubelet: {e}");
            ExitCode::FAILURE
        }
    }
}

/// This machine's address: the source address of its default route.
fn host_ip() -> String {
    std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| {
            s.connect("192.0.2.1:9")?;
            s.local_addr()
        })
        .map_or_else(|_| "127.0.0.1".into(), |a| a.ip().to_string())
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

async fn healthz(addr: String) {
    let listener = loop {
        match tokio::net::TcpListener::bind(&addr).await {
            Ok(l) => break l,
            Err(e) => {
                tracing::warn!("healthz on {addr}: {e}; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    };
    loop {
        let Ok((mut s, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(async move {
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf).await;
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
                .await;
        });
    }
}

fn instance_env(sandbox: Option<&PathBuf>) -> Vec<(String, String)> {
    sandbox
        .and_then(|d| std::fs::read_to_string(d.join("instance.env")).ok())
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

async fn run(f: flags::Flags) -> Result<()> {
    let name = f.hostname_override.clone().unwrap_or_else(hostname);
    let ip = f.node_ip.clone().unwrap_or_else(host_ip);
    let sandbox = std::env::var_os("PHX_SANDBOX").map(PathBuf::from);
    let images =
        std::env::var_os("PHX_SANDBOX_IMAGES").map_or_else(|| PathBuf::from("/nonexistent"), PathBuf::from);
    tracing::info!(node = %name, ip = %ip, "kubelet {} starting", version());
    tokio::spawn(healthz(f.healthz.clone()));

    // Static pods run whether or not an API server is reachable (the
    // control plane is one of them).
    let statics = std::sync::Arc::new(tokio::sync::Mutex::new(static_pods::StaticPods::new(
        f.static_pod_path.clone(),
        images.clone(),
        name.clone(),
        ip.clone(),
        PathBuf::from("/"),
    )));
    {
        let statics = statics.clone();
        tokio::spawn(async move {
            loop {
                statics.lock().await.reconcile();
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }

    // Pod processes stop with the kubelet (a restarted kubelet starts
    // them again); static pods keep running, as containers would.
    let pods = std::sync::Arc::new(tokio::sync::Mutex::new(None));
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let r = tokio::select! {
        r = api(f, name, ip, images, sandbox, statics, pods.clone()) => r,
        _ = term.recv() => Ok(()),
        _ = tokio::signal::ctrl_c() => Ok(()),
    };
    tracing::info!("stopping");
    if let Some(p) = pods.lock().await.as_mut() {
        p.stop_all();
    }
    r
}

/// Everything that needs the API server: credentials, the Node, its
/// heartbeat, mirror pods and the pods bound here.
async fn api(
    f: flags::Flags,
    name: String,
    ip: String,
    images: PathBuf,
    sandbox: Option<PathBuf>,
    statics: std::sync::Arc<tokio::sync::Mutex<static_pods::StaticPods>>,
    shared: std::sync::Arc<tokio::sync::Mutex<Option<pods::Pods>>>,
) -> Result<()> {
    // Credentials: kubelet.conf, or the TLS bootstrap to make it.
    loop {
        if f.kubeconfig.exists() {
            break;
        }
        match &f.bootstrap_kubeconfig {
            Some(b) if b.exists() => {
                match bootstrap::bootstrap(b, &f.kubeconfig, &name, Duration::from_secs(120)).await {
                    Ok(()) => break,
                    Err(e) => tracing::warn!("TLS bootstrap: {e}; retrying"),
                }
            }
            _ => {}
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let client = loop {
        match bootstrap::client(&f.kubeconfig).await {
            Ok(c) => break c,
            Err(e) => tracing::warn!("{}: {e}; retrying", f.kubeconfig.display()),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    let machine = node::Machine::read(name.clone(), ip.clone(), sandbox.as_deref());
    let registered = loop {
        match node::register(&client, &machine, &f, &version()).await {
            Ok(n) => break n,
            Err(e) => tracing::debug!("registering the node: {e}; retrying"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    let node_uid = registered.metadata.uid.clone().unwrap_or_default();
    let (server, _) = bootstrap::server_and_ca(&f.kubeconfig)?;
    let hostport = server
        .trim_start_matches("https://")
        .trim_end_matches('/')
        .to_string();
    let api = match hostport.rsplit_once(':') {
        Some((h, p)) => (h.to_string(), p.to_string()),
        None => (hostport.clone(), "443".to_string()),
    };
    *shared.lock().await = Some(pods::Pods::new(pods::Context {
        host_ip: ip,
        images,
        instance_env: instance_env(sandbox.as_ref()),
        api,
    }));
    let nodes: kube::Api<k8s_openapi::api::core::v1::Node> = kube::Api::all(client.clone());
    let mut last_beat = Instant::now() - Duration::from_secs(60);
    let mut beats = 0u32;
    let mut pod_cidr: Option<String> = None;
    loop {
        if last_beat.elapsed() >= Duration::from_secs(10) {
            // The Ready condition every minute, the Lease every 10 s.
            match node::heartbeat(&client, &registered, beats.is_multiple_of(6)).await {
                Ok(()) => {
                    last_beat = Instant::now();
                    beats += 1;
                }
                Err(e) => tracing::warn!("heartbeat: {e}"),
            }
        }
        // One list of the pods bound here serves the mirror pods and the rest.
        match pods::bound_to(&client, &name).await {
            Ok(bound) => {
                if let Err(e) = statics.lock().await.mirror(&client, &node_uid, &bound).await {
                    tracing::warn!("mirror pods: {e}");
                }
                if pod_cidr.is_none() {
                    // Set once by the controller manager; read until it is.
                    pod_cidr = nodes
                        .get_opt(&name)
                        .await
                        .ok()
                        .flatten()
                        .and_then(|n| n.spec?.pod_cidr);
                }
                if let Some(pods) = shared.lock().await.as_mut() {
                    if let Err(e) = pods.sync(&client, &bound, pod_cidr.as_deref()).await {
                        tracing::warn!("pods: {e}");
                    }
                }
            }
            Err(e) => tracing::warn!("listing the pods bound here: {e}"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
