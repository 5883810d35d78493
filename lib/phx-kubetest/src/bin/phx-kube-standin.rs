//! The Kubernetes API stand-in as a process, for the local sandbox
//! (`scripts/sandbox.sh`): no kube-apiserver can run here, so this serves
//! the same emulation the contract tests use, over TLS with a cluster PKI
//! of its own. It writes `DIR/pki/` (read by the kubeadm stand-in on the
//! sandbox nodes, which puts it into admin.conf as kubeadm would),
//! `DIR/kubeconfig` and `DIR/address`, then serves until SIGTERM or Ctrl-C.

use clap::Parser;
use phx_kubetest::pki::Pki;
use phx_kubetest::state::State;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

#[derive(Parser)]
#[command(about = "Kubernetes API stand-in for the phx sandbox (not a cluster)")]
struct Args {
    /// Where the PKI, kubeconfig and address are written (the PKI is kept
    /// and reused when already there).
    #[arg(long)]
    dir: PathBuf,
    /// Address to listen on (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
    /// Objects turn ready on their Nth read (as controllers would act).
    #[arg(long, default_value_t = 2)]
    ready_after: u32,
}

fn main() {
    if let Err(e) = run(Args::parse()) {
        eprintln!("phx-kube-standin: {e}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<(), String> {
    let pki_dir = args.dir.join("pki");
    let pki = match Pki::read(&pki_dir) {
        Ok(p) => p,
        Err(_) => {
            let p = Pki::generate().map_err(|e| format!("generating the PKI: {e}"))?;
            p.write(&pki_dir)
                .map_err(|e| format!("writing {}: {e}", pki_dir.display()))?;
            p
        }
    };
    let tls = tokio_rustls::TlsAcceptor::from(Arc::new(pki.server_config()?));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .map_err(|e| format!("listening on {}: {e}", args.listen))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let server = format!("https://{addr}");
        let write = |name: &str, text: &str| {
            let p = args.dir.join(name);
            std::fs::write(&p, text).map_err(|e| format!("writing {}: {e}", p.display()))
        };
        write("kubeconfig", &pki.admin_kubeconfig(&server))?;
        write("address", &format!("{addr}\n"))?;
        eprintln!("phx-kube-standin: serving {server}");
        let state = Arc::new(Mutex::new(State::new(Some(args.ready_after))));
        let stop = async {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .expect("SIGTERM handler");
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        };
        phx_kubetest::serve(listener, state, stop, Some(tls)).await;
        Ok(())
    })
}
