//! A latency proxy in front of the emulator (`scripts/latency-proxy.py`):
//! every request waits a fixed delay, as against a real AWS endpoint.

use crate::bins::workspace_root;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

#[derive(Debug)]
pub struct LatencyProxy {
    child: Child,
    port: u16,
}

impl LatencyProxy {
    pub fn start(upstream_port: u16, delay_ms: u64) -> LatencyProxy {
        let port = crate::moto::free_port();
        let mut child = Command::new("python3")
            .arg(workspace_root().join("scripts/latency-proxy.py"))
            .args([upstream_port.to_string(), port.to_string(), delay_ms.to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .expect("starting the latency proxy");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("proxy stdout");
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("proxy ready line");
        assert_eq!(line.trim(), "ready", "latency proxy did not start");
        LatencyProxy { child, port }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for LatencyProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
