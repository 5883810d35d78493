//! The emulator's request recorder, read back as classified API calls.
//!
//! The recorder stores each request as a JSON line with method, URL,
//! headers and a base64 body. The action is found the way AWS routes it:
//! `X-Amz-Target` (JSON protocols such as DynamoDB), `Action=` in the form
//! body (query protocols: EC2, IAM, STS, ELB), or method + path (S3, REST).

use base64::Engine;
use serde::Deserialize;

#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub url: String,
    /// `PutItem`, `CreateVpc`, or for REST calls `PUT /bucket/key`.
    pub action: String,
}

impl Call {
    /// Whether the call changes something.
    pub fn is_mutating(&self) -> bool {
        const READS: &[&str] = &["Describe", "Get", "List", "Head", "Query", "Scan", "BatchGet"];
        if self.action.contains(' ') {
            // A REST call: reads are GET and HEAD.
            return !matches!(self.method.as_str(), "GET" | "HEAD");
        }
        !READS.iter().any(|r| self.action.starts_with(r))
    }
}

/// Start (or restart) recording the calls the emulator at `endpoint` sees.
pub fn start(endpoint: &str) {
    post(endpoint, "/moto-api/recorder/reset-recording");
    post(endpoint, "/moto-api/recorder/start-recording");
}

/// Stop recording at `endpoint` and return what was recorded.
pub fn stop(endpoint: &str) -> Recording {
    post(endpoint, "/moto-api/recorder/stop-recording");
    let text = ureq::get(&format!("{endpoint}/moto-api/recorder/download-recording"))
        .call()
        .expect("downloading the recording")
        .body_mut()
        .read_to_string()
        .expect("recording text");
    Recording::parse(&text)
}

fn post(endpoint: &str, path: &str) {
    ureq::post(&format!("{endpoint}{path}"))
        .send_empty()
        .unwrap_or_else(|e| panic!("POST {path}: {e}"));
}

#[derive(Debug, Clone, Default)]
pub struct Recording {
    pub calls: Vec<Call>,
}

#[derive(Deserialize)]
struct Line {
    method: String,
    url: String,
    #[serde(default)]
    headers: std::collections::HashMap<String, String>,
    #[serde(default)]
    body: Option<String>,
}

impl Recording {
    pub fn parse(text: &str) -> Recording {
        let calls = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .filter_map(|l| serde_json::from_str::<Line>(l).ok())
            .filter(|l| !l.url.contains("/moto-api/"))
            .map(|l| {
                let action = action_of(&l);
                Call {
                    method: l.method,
                    url: l.url,
                    action,
                }
            })
            .collect();
        Recording { calls }
    }

    pub fn mutating(&self) -> Vec<&Call> {
        self.calls.iter().filter(|c| c.is_mutating()).collect()
    }

    pub fn actions(&self) -> Vec<&str> {
        self.calls.iter().map(|c| c.action.as_str()).collect()
    }

    pub fn len(&self) -> usize {
        self.calls.len()
    }

    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }
}

fn action_of(l: &Line) -> String {
    let header = |name: &str| {
        l.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    if let Some(target) = header("X-Amz-Target") {
        return target.rsplit('.').next().unwrap_or(target).to_string();
    }
    let body = l
        .body
        .as_deref()
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let form_action = body
        .split('&')
        .chain(l.url.split(['?', '&']))
        .find_map(|kv| kv.strip_prefix("Action="));
    if let Some(a) = form_action {
        return a.to_string();
    }
    let path = l
        .url
        .split_once("://")
        .and_then(|(_, rest)| rest.split_once('/'))
        .map(|(_, p)| p)
        .unwrap_or("");
    format!("{} /{}", l.method, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_the_three_protocols() {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let lines = [
            serde_json::json!({"method":"POST","url":"http://h/","headers":{"X-Amz-Target":"DynamoDB_20120810.PutItem"},"body":""}),
            serde_json::json!({"method":"POST","url":"http://h/","headers":{},"body":b64("Action=DescribeVpcs&Version=2016-11-15")}),
            serde_json::json!({"method":"GET","url":"http://h/bucket/key?versionId=1","headers":{},"body":""}),
            serde_json::json!({"method":"PUT","url":"http://h/bucket/key","headers":{},"body":""}),
        ];
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        let r = Recording::parse(&text);
        assert_eq!(
            r.actions(),
            vec![
                "PutItem",
                "DescribeVpcs",
                "GET /bucket/key?versionId=1",
                "PUT /bucket/key"
            ]
        );
        let m: Vec<_> = r.mutating().iter().map(|c| c.action.clone()).collect();
        assert_eq!(m, vec!["PutItem", "PUT /bucket/key"]);
    }
}
