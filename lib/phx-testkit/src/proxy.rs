//! A proxy in front of the emulator (`scripts/aws-proxy.py`) for what a
//! real endpoint does that moto does not: latency on every request, and
//! throttling (a seeded share of requests answered with the service's own
//! throttling error). It counts the calls, the throttled ones and the most
//! in flight at once.

use crate::bins::workspace_root;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// What the proxy does to requests.
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    /// Every request waits this long first.
    pub delay_ms: u64,
    /// The share of requests answered with a throttling error (0.0–1.0).
    pub throttle: f64,
    /// The seed of the draws that pick them.
    pub seed: u64,
}

#[derive(Debug)]
pub struct AwsProxy {
    child: Child,
    port: u16,
}

/// What the proxy saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProxyStats {
    pub requests: u64,
    pub throttled: u64,
    pub max_in_flight: u64,
}

impl AwsProxy {
    /// Every request to `upstream_port` delayed by `delay_ms`.
    pub fn latency(upstream_port: u16, delay_ms: u64) -> AwsProxy {
        AwsProxy::start(
            upstream_port,
            Faults {
                delay_ms,
                ..Faults::default()
            },
        )
    }

    pub fn start(upstream_port: u16, faults: Faults) -> AwsProxy {
        let port = crate::moto::free_port();
        let mut child = Command::new("python3")
            .arg(workspace_root().join("scripts/aws-proxy.py"))
            .args([upstream_port.to_string(), port.to_string()])
            .args(["--delay-ms", &faults.delay_ms.to_string()])
            .args(["--throttle", &faults.throttle.to_string()])
            .args(["--seed", &faults.seed.to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .expect("starting the AWS proxy");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("proxy stdout");
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("proxy ready line");
        assert_eq!(line.trim(), "ready", "the AWS proxy did not start");
        AwsProxy { child, port }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn stats(&self) -> ProxyStats {
        let body = ureq::get(&format!("{}/_proxy/stats", self.endpoint()))
            .call()
            .expect("the proxy's stats")
            .body_mut()
            .read_to_string()
            .expect("the proxy's stats body");
        serde_json::from_str(&body).expect("the proxy's stats as JSON")
    }
}

impl Drop for AwsProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
