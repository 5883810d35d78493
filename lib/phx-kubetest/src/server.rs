//! HTTP around [`State`]: a hyper server on its own thread and runtime,
//! so tests stay synchronous and the tools under test are real processes.

use crate::pki::Pki;
use crate::state::State;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

#[derive(Debug)]
pub struct FakeApi {
    pub state: Arc<Mutex<State>>,
    pub port: u16,
    /// The cluster PKI it serves with (as kubeadm would make it).
    pub pki: Pki,
    dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl FakeApi {
    /// Serve on a free port; objects turn ready after `ready_after` GETs
    /// (`None`: never).
    pub fn start(ready_after: Option<u32>) -> FakeApi {
        let state = Arc::new(Mutex::new(State::new(ready_after)));
        let pki = Pki::generate().expect("a PKI");
        let tls =
            tokio_rustls::TlsAcceptor::from(Arc::new(pki.server_config().expect("a TLS configuration")));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let port = listener.local_addr().expect("local addr").port();
        listener.set_nonblocking(true).expect("non-blocking");
        let (tx, rx) = tokio::sync::oneshot::channel();
        let st = state.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                    return;
                };
                serve(
                    listener,
                    st,
                    async move {
                        let _ = rx.await;
                    },
                    Some(tls),
                )
                .await;
            });
        });
        let dir = tempfile::tempdir().expect("temp dir");
        let api = FakeApi {
            state,
            port,
            pki,
            dir,
            shutdown: Some(tx),
        };
        std::fs::write(api.kubeconfig(), api.kubeconfig_text()).expect("kubeconfig");
        api
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// kubeadm's hash of this cluster's CA (`status.kubeadm.caCertHash`).
    pub fn ca_cert_hash(&self) -> String {
        phx_core::pki::ca_cert_hash(self.pki.ca_crt.as_bytes()).expect("the CA parses")
    }

    /// `status.kubeadm` as phx-kubeadm records it for this cluster.
    pub fn kubeadm_status(&self) -> Value {
        json!({"kubeconfig": self.kubeconfig(), "apiEndpoint": self.url(),
               "caCertHash": self.ca_cert_hash()})
    }

    /// A kubeconfig pointing at this server.
    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    fn kubeconfig_text(&self) -> String {
        self.pki.admin_kubeconfig(&self.url())
    }

    /// Nodes as kubeadm leaves them: not ready, tainted uninitialized.
    pub fn add_nodes(&self, names: &[&str]) {
        let mut st = self.lock();
        for n in names {
            st.put(
                json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": n,
                       "labels": {"kubernetes.io/hostname": n}},
                       "spec": {"taints": [{"key": "node.cloudprovider.kubernetes.io/uninitialized",
                                            "value": "true", "effect": "NoSchedule"}]}}),
                "kubelet",
            );
        }
    }

    pub fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn get(&self, group: &str, plural: &str, ns: &str, name: &str) -> Option<Value> {
        self.lock().get(group, plural, ns, name).cloned()
    }

    /// Objects of a type (all namespaces).
    pub fn all(&self, group: &str, plural: &str) -> Vec<Value> {
        self.lock()
            .objects
            .iter()
            .filter(|((g, p, _, _), _)| g == group && p == plural)
            .map(|(_, s)| s.value.clone())
            .collect()
    }

    pub fn requests(&self) -> Vec<String> {
        self.lock().log.clone()
    }

    /// Requests that change something (apply without dry run, delete).
    pub fn writes(&self) -> Vec<String> {
        self.requests()
            .into_iter()
            .filter(|r| (r.starts_with("PATCH") && !r.contains("dryRun=All")) || r.starts_with("DELETE"))
            .collect()
    }
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Serve `state` on `listener` until `stop` resolves, over TLS through
/// `tls` (plain HTTP without).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<Mutex<State>>,
    stop: impl std::future::Future<Output = ()>,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    tokio::pin!(stop);
    loop {
        let conn = tokio::select! {
            c = listener.accept() => c,
            () = &mut stop => return,
        };
        let Ok((stream, _)) = conn else { continue };
        let st = state.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| handle(req, st.clone()));
            let http = hyper::server::conn::http1::Builder::new();
            match tls {
                Some(acceptor) => {
                    if let Ok(stream) = acceptor.accept(stream).await {
                        let _ = http.serve_connection(TokioIo::new(stream), svc).await;
                    }
                }
                None => {
                    let _ = http.serve_connection(TokioIo::new(stream), svc).await;
                }
            }
        });
    }
}

/// A service error: hyper closes the connection without an answer.
type Lost = Box<dyn std::error::Error + Send + Sync>;

async fn handle(req: Request<Incoming>, state: Arc<Mutex<State>>) -> Result<Response<Full<Bytes>>, Lost> {
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or_default().to_string();
    let body = req.into_body().collect().await?.to_bytes();
    let (code, value) = {
        let mut st = state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let answer = st.handle(&method, &path, &query, &body);
        if st.answer_lost() {
            return Err("answer lost (a fault the test asked for)".into());
        }
        answer
    };
    let resp = Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(value.to_string())));
    Ok(resp.unwrap_or_else(|_| Response::new(Full::new(Bytes::new()))))
}
