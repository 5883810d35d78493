//! Waiting on instances, all at once with one poll for the lot: until
//! each is running with its status checks passed, or until each is
//! terminated. A timeout names the nodes still waited for and their state.

use crate::observed::{self, Have};
use phx_aws::ec2::types::SummaryStatus;
use phx_aws::ec2::Client;
use phx_aws::Sent;
use phx_core::backoff::Backoff;
use phx_core::progress::Waiting;
use phx_core::{Error, Result};
use std::collections::BTreeMap;
use std::time::Duration;

/// Poll until every instance is running and passes its status checks.
/// Returns the instances as last described (with their IPs).
pub async fn ready(ec2: &Client, ids: &[String], timeout: Duration) -> Result<Vec<Have>> {
    let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(10), timeout);
    let progress = Waiting::start(format!("{} instances to run", ids.len()));
    loop {
        let haves = observed::by_ids(ec2, ids).await?;
        let checks = status_checks(ec2, ids).await?;
        let mut waiting = Vec::new();
        for h in &haves {
            match h.state.as_str() {
                "running" => match checks.get(&h.instance_id) {
                    Some(c) if c == "ok" => {}
                    c => waiting.push(format!(
                        "{} running, status checks {}",
                        h.name,
                        c.map_or("not reported", String::as_str)
                    )),
                },
                "pending" => waiting.push(format!("{} pending", h.name)),
                other => {
                    return Err(Error::failed(format!(
                        "{} ({}) is {other} while waiting for it to run",
                        h.name, h.instance_id
                    )))
                }
            }
        }
        if waiting.is_empty() {
            return Ok(haves);
        }
        progress.set(format!(
            "{} of {} instances: {}",
            waiting.len(),
            ids.len(),
            waiting.join(", ")
        ));
        if !backoff.wait().await {
            return Err(timed_out(timeout, ids.len(), &waiting));
        }
    }
}

/// Poll until every instance is terminated.
pub async fn terminated(ec2: &Client, ids: &[String], timeout: Duration) -> Result<()> {
    let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(10), timeout);
    let progress = Waiting::start(format!("{} instances to terminate", ids.len()));
    loop {
        let waiting: Vec<String> = observed::by_ids(ec2, ids)
            .await?
            .iter()
            .filter(|h| h.state != "terminated")
            .map(|h| format!("{} {}", h.name, h.state))
            .collect();
        if waiting.is_empty() {
            return Ok(());
        }
        progress.set(format!(
            "{} of {} instances to terminate: {}",
            waiting.len(),
            ids.len(),
            waiting.join(", ")
        ));
        if !backoff.wait().await {
            return Err(timed_out(timeout, ids.len(), &waiting));
        }
    }
}

fn timed_out(timeout: Duration, total: usize, waiting: &[String]) -> Error {
    Error::failed(format!(
        "timed out after {} waiting for {} of {total} nodes: {}",
        phx_core::time::format_duration(timeout),
        waiting.len(),
        waiting.join(", ")
    ))
}

/// Instance id to the worse of its instance and system status checks.
async fn status_checks(ec2: &Client, ids: &[String]) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let mut pages = ec2
        .describe_instance_status()
        .set_instance_ids(Some(ids.to_vec()))
        .include_all_instances(true)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.phx_in("describing instance status")?;
        for s in page.instance_statuses() {
            let of = |x: Option<&SummaryStatus>| x.map_or("unknown", |s| s.as_str()).to_string();
            let inst = of(s.instance_status().and_then(|x| x.status()));
            let sys = of(s.system_status().and_then(|x| x.status()));
            let worse = if inst == "ok" { sys } else { inst };
            out.insert(s.instance_id().unwrap_or_default().to_string(), worse);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_timeout_names_the_slow_nodes_and_their_state() {
        let e = super::timed_out(
            std::time::Duration::from_secs(600),
            4,
            &[
                "phoenix-worker-2 pending".into(),
                "phoenix-worker-3 running, status checks initializing".into(),
            ],
        );
        assert_eq!(
            e.to_string(),
            "timed out after 10m waiting for 2 of 4 nodes: phoenix-worker-2 pending, \
             phoenix-worker-3 running, status checks initializing"
        );
    }
}
