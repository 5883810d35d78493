//! What phx-kubeadm writes for kubeadm, and what it reads back from it,
//! checked against the real kubeadm (the pinned upstream binary,
//! `scripts/k8s-bins.sh`): the InitConfiguration and JoinConfiguration are
//! valid kubeadm v1beta4 (a field the real API rejects fails here); the
//! certificates kubeadm makes from the init configuration carry the SANs
//! phx asked for; and the admin.conf kubeadm writes is one phx-kubeadm
//! parses: its CA hash is kubeadm's, its server rewrite is a kubeconfig
//! kubectl reads.
//!
//! kubeadm runs only in phases that write where they are told
//! (`certificatesDir`, `--kubeconfig-dir`: a temporary directory), never
//! `init` itself; the test checks that /etc/kubernetes stays absent.

#![allow(clippy::unwrap_used)]

use phx_core::spec::KubernetesSpec;
use phx_kubeadm::apply::CertificateKey;
use phx_kubeadm::config::{init_config, join_config, ControlPlane, Version};
use phx_kubeadm::join::JoinCommand;
use phx_kubeadm::kubeconfig;
use phx_testkit::{k8s_bin, pinned};
use std::path::Path;
use std::process::{Command, Output};

fn kubeadm(args: &[&str]) -> Output {
    Command::new(k8s_bin("kubeadm")).args(args).output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn validate(dir: &Path, name: &str, config: &str) -> Output {
    let path = dir.join(name);
    std::fs::write(&path, config).unwrap();
    kubeadm(&["config", "validate", "--config", path.to_str().unwrap()])
}

/// With the API load balancer: its name is the endpoint.
const LB: &str = "phoenix-api-0a1b2c3d4e5f6789.elb.us-east-1.amazonaws.com";

const CP: ControlPlane<'static> = ControlPlane {
    load_balancer: Some(LB),
    admin_load_balancer: None,
    private_dns: "ip-10-0-0-5.ec2.internal",
    private_ip: Some("10.0.0.5"),
    public_ip: Some("54.1.2.3"),
    api_host: Some("api.phoenix.example.com"),
};

#[test]
fn the_init_configuration_is_kubeadms_and_so_are_its_certificates_and_admin_conf() {
    let etc_existed = Path::new("/etc/kubernetes").exists();
    let dir = tempfile::tempdir().unwrap();
    let version = Version::parse(&pinned("KUBERNETES_VERSION")).unwrap();
    let config = init_config("phoenix", &KubernetesSpec::default(), &version, &CP).unwrap();

    let out = validate(dir.path(), "init.yaml", &config);
    assert!(
        out.status.success(),
        "the real kubeadm refused phx's configuration: {}",
        text(&out)
    );
    // The control: the same check refuses what it should.
    let broken = config.replace("podSubnet: 192.168.0.0/16", "podSubnet: banana");
    let out = validate(dir.path(), "broken.yaml", &broken);
    assert!(
        !out.status.success() && text(&out).contains("networking.podSubnet"),
        "{}",
        text(&out)
    );

    // The certificates and admin.conf kubeadm makes from it, in the temp dir.
    let pki = dir.path().join("pki");
    let local = config.replace(
        "clusterName: phoenix\n",
        &format!("clusterName: phoenix\ncertificatesDir: {}\n", pki.display()),
    );
    let path = dir.path().join("local.yaml");
    std::fs::write(&path, local).unwrap();
    let p = path.to_str().unwrap();
    let out = kubeadm(&["init", "phase", "certs", "all", "--config", p]);
    assert!(out.status.success(), "{}", text(&out));
    let kc_dir = dir.path().to_str().unwrap();
    let out = kubeadm(&[
        "init",
        "phase",
        "kubeconfig",
        "admin",
        "--config",
        p,
        "--kubeconfig-dir",
        kc_dir,
    ]);
    assert!(out.status.success(), "{}", text(&out));

    let sans = Command::new("openssl")
        .args(["x509", "-noout", "-ext", "subjectAltName", "-in"])
        .arg(pki.join("apiserver.crt"))
        .output()
        .unwrap();
    let sans = String::from_utf8_lossy(&sans.stdout);
    for want in [
        &format!("DNS:{LB}"),
        "DNS:api.phoenix.example.com",
        "DNS:ip-10-0-0-5.ec2.internal",
        "IP Address:54.1.2.3",
        "IP Address:10.0.0.5",
    ] {
        assert!(
            sans.contains(want),
            "{want} not in the API server's certificate: {sans}"
        );
    }

    // phx reads kubeadm's admin.conf: the CA hash is kubeadm's (the value
    // `kubeadm join --discovery-token-ca-cert-hash` checks) ...
    let admin = std::fs::read_to_string(dir.path().join("admin.conf")).unwrap();
    let hash = kubeconfig::ca_cert_hash(&admin).unwrap();
    let spki = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "openssl x509 -pubkey -noout -in {} | openssl pkey -pubin -outform der | sha256sum",
            pki.join("ca.crt").display()
        ))
        .output()
        .unwrap();
    let expected = String::from_utf8_lossy(&spki.stdout);
    assert_eq!(
        hash,
        format!("sha256:{}", expected.split_whitespace().next().unwrap())
    );
    assert!(admin.contains(&format!("server: https://{LB}:6443")), "{admin}");

    // ... and the rewritten kubeconfig is one kubectl reads, pointing
    // where users reach the API, everything else as kubeadm wrote it.
    let rewritten = kubeconfig::rewrite_server(&admin, "https://api.phoenix.example.com:6443").unwrap();
    let out_path = dir.path().join("phx.conf");
    kubeconfig::write_private(&out_path, &rewritten).unwrap();
    let view = Command::new(k8s_bin("kubectl"))
        .arg("--kubeconfig")
        .arg(&out_path)
        .args([
            "config",
            "view",
            "--raw",
            "-o",
            "jsonpath={.clusters[0].cluster.server} {.users[0].name}",
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&view.stdout),
        "https://api.phoenix.example.com:6443 kubernetes-admin",
        "{}",
        text(&view)
    );
    assert_eq!(kubeconfig::ca_cert_hash(&rewritten).unwrap(), hash);

    assert_eq!(
        Path::new("/etc/kubernetes").exists(),
        etc_existed,
        "kubeadm touched the host's /etc"
    );
}

/// What the real-Kubernetes sandbox sets (and users may): kubeadm knows
/// both fields and the phase and check names.
#[test]
fn skipped_phases_and_ignored_checks_are_kubeadms() {
    let dir = tempfile::tempdir().unwrap();
    let k8s = KubernetesSpec {
        skip_phases: vec!["preflight".into(), "addon/kube-proxy".into()],
        ignore_preflight_errors: vec!["NumCPU".into(), "Mem".into()],
        ..KubernetesSpec::default()
    };
    let version = Version::parse(&pinned("KUBERNETES_VERSION")).unwrap();
    let config = init_config("phoenix", &k8s, &version, &CP).unwrap();
    let out = validate(dir.path(), "init.yaml", &config);
    assert!(out.status.success(), "the real kubeadm refused: {}", text(&out));
    // The control: a misplaced field is refused by the same check.
    let broken = config.replace("\nskipPhases:", "\nskipPhasez:");
    let out = validate(dir.path(), "broken.yaml", &broken);
    assert!(!out.status.success(), "an unknown field passed: {}", text(&out));
}

#[test]
fn the_join_configuration_is_kubeadms() {
    let dir = tempfile::tempdir().unwrap();
    let join = JoinCommand {
        api: "ip-10-0-0-5.ec2.internal:6443".into(),
        token: "abcdef.0123456789abcdef".into(),
        ca_hash: format!(
            "sha256:{}",
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
        ),
    };
    let config = join_config(
        &join,
        "ip-10-0-1-7.ec2.internal",
        &KubernetesSpec::default(),
        None,
    )
    .unwrap();
    let out = validate(dir.path(), "join.yaml", &config);
    assert!(
        out.status.success(),
        "the real kubeadm refused phx's join: {}",
        text(&out)
    );
    // The control: a token kubeadm would not accept is refused by it.
    let broken = config.replace("token: abcdef.0123456789abcdef", "token: abcdef");
    let out = validate(dir.path(), "broken.yaml", &broken);
    assert!(!out.status.success(), "a malformed token passed: {}", text(&out));
    assert!(text(&out).to_lowercase().contains("token"), "{}", text(&out));

    // A control plane's join: kubeadm reads its certificate key.
    let key = CertificateKey("0f".repeat(32));
    let cp = join_config(
        &join,
        "ip-10-0-16-5.ec2.internal",
        &KubernetesSpec::default(),
        Some(&key),
    )
    .unwrap();
    assert!(cp.contains("controlPlane:\n  certificateKey: "), "{cp}");
    let out = validate(dir.path(), "join-cp.yaml", &cp);
    assert!(
        out.status.success(),
        "the real kubeadm refused phx's control plane join: {}",
        text(&out)
    );
    let broken = cp.replace("certificateKey: ", "certificateKey: zz");
    let out = validate(dir.path(), "broken-cp.yaml", &broken);
    assert!(
        !out.status.success(),
        "a malformed certificate key passed: {}",
        text(&out)
    );
}
