//! Pod status as a kubelet reports it: Running and Ready for a container
//! that runs (or is simulated), Succeeded for a simulated run-to-completion
//! pod, with the marks that say which.

use k8s_openapi::api::core::v1::Pod;
use serde_json::{json, Value};

/// Seconds since the epoch.
pub fn epoch(t: std::time::SystemTime) -> u64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// T as the API writes times (`2026-12-01T06:50:32Z`).
pub fn rfc3339(t: std::time::SystemTime) -> String {
    k8s_openapi::jiff::Timestamp::from_second(i64::try_from(epoch(t)).unwrap_or(0))
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// How the sandbox treats a pod's containers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    /// Run as processes; `ready` while they live.
    Run { ready: bool, restarts: u32 },
    /// Nothing runs; reported as a kubelet would report it running.
    Simulated,
}

pub const SIMULATED_ANNOTATION: &str = "sandbox.phx.dev/simulated";
pub const SIMULATED_TEXT: &str =
    "not run: the phx sandbox has no container runtime; this pod is reported Running without running";

/// The status patch (and, for simulated pods, the annotation) for POD.
pub fn patch(pod: &Pod, mode: Mode, host_ip: &str, pod_ip: &str, started: &str) -> Value {
    let spec = pod.spec.clone().unwrap_or_default();
    let completes = matches!(spec.restart_policy.as_deref(), Some("Never" | "OnFailure"));
    let (phase, ready, restarts) = match mode {
        Mode::Run { ready, restarts } => ("Running", ready, restarts),
        Mode::Simulated if completes => ("Succeeded", false, 0),
        Mode::Simulated => ("Running", true, 0),
    };
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let kind = if mode == Mode::Simulated {
        "simulated"
    } else {
        "process"
    };
    let state = |name: &str| {
        if phase == "Succeeded" {
            json!({"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": started, "finishedAt": started,
                                  "containerID": format!("phx-sandbox://{kind}/{uid}/{name}")}})
        } else if ready {
            json!({"running": {"startedAt": started}})
        } else {
            json!({"waiting": {"reason": "CrashLoopBackOff", "message": "the process exited; restarting"}})
        }
    };
    let statuses = |cs: &[k8s_openapi::api::core::v1::Container], init: bool| -> Vec<Value> {
        cs.iter()
            .map(|c| {
                let done = init || phase == "Succeeded";
                json!({"name": c.name, "image": c.image.clone().unwrap_or_default(),
                       "imageID": format!("phx-sandbox://{}", c.image.clone().unwrap_or_default()),
                       "containerID": format!("phx-sandbox://{kind}/{uid}/{}", c.name),
                       "ready": ready && !init, "started": ready && !init, "restartCount": restarts,
                       "state": if done { json!({"terminated": {"exitCode": 0, "reason": "Completed",
                                 "startedAt": started, "finishedAt": started}}) } else { state(&c.name) }})
            })
            .collect()
    };
    let cond = |ty: &str, ok: bool| {
        json!({"type": ty, "status": if ok { "True" } else { "False" }, "lastTransitionTime": started,
               "lastProbeTime": null})
    };
    let is_ready = ready && phase == "Running";
    let mut status = json!({
        "phase": phase,
        "hostIP": host_ip, "hostIPs": [{"ip": host_ip}],
        "podIP": pod_ip, "podIPs": [{"ip": pod_ip}],
        "startTime": started,
        "conditions": [cond("PodReadyToStartContainers", true), cond("Initialized", true),
                       cond("Ready", is_ready), cond("ContainersReady", is_ready), cond("PodScheduled", true)],
        "containerStatuses": statuses(&spec.containers, false),
    });
    if let Some(init) = spec.init_containers.as_deref().filter(|i| !i.is_empty()) {
        status["initContainerStatuses"] = Value::Array(statuses(init, true));
    }
    let mut out = json!({"status": status});
    if mode == Mode::Simulated {
        out["metadata"] = json!({"annotations": {SIMULATED_ANNOTATION: SIMULATED_TEXT}});
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn pod(policy: &str) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "p", "uid": "u1"},
            "spec": {"restartPolicy": policy, "containers": [{"name": "c", "image": "quay.io/x/y:1"}]}}))
        .unwrap()
    }

    #[test]
    fn simulated_pods_say_so_and_jobs_complete() {
        let p = patch(
            &pod("Always"),
            Mode::Simulated,
            "10.0.1.5",
            "192.168.0.2",
            "2026-01-01T00:00:00Z",
        );
        assert_eq!(p["status"]["phase"], "Running");
        assert_eq!(p["status"]["containerStatuses"][0]["ready"], true);
        assert_eq!(p["metadata"]["annotations"][SIMULATED_ANNOTATION], SIMULATED_TEXT);
        let j = patch(
            &pod("Never"),
            Mode::Simulated,
            "10.0.1.5",
            "192.168.0.2",
            "2026-01-01T00:00:00Z",
        );
        assert_eq!(j["status"]["phase"], "Succeeded");
        let r = patch(
            &pod("Always"),
            Mode::Run {
                ready: false,
                restarts: 2,
            },
            "h",
            "h",
            "t",
        );
        assert_eq!(r["status"]["containerStatuses"][0]["restartCount"], 2);
        assert_eq!(r["status"]["conditions"][2]["status"], "False");
        assert!(r.get("metadata").is_none());
    }
}
