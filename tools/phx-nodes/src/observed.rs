//! The cluster's instances as EC2 reports them, found by the cluster tag
//! (the document's instance ids are only hints; a run killed after
//! RunInstances still left tagged instances, and they are found here).

use phx_aws::ec2::types::{Filter, Instance};
use phx_aws::ec2::Client;
use phx_aws::ClusterTags;
use phx_core::Result;
use serde::Serialize;

/// States in which an instance still exists for the cluster.
pub const ALIVE: &[&str] = &["pending", "running", "stopping", "stopped"];

/// [`ALIVE`] and those on their way out: what destroy and list still see.
pub const NOT_TERMINATED: &[&str] = &["pending", "running", "stopping", "stopped", "shutting-down"];

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Have {
    pub name: String,
    pub instance_id: String,
    pub state: String,
    pub zone: Option<String>,
    pub instance_type: Option<String>,
    pub image_id: Option<String>,
    pub private_ip: Option<String>,
    pub private_dns: Option<String>,
    pub public_ip: Option<String>,
    #[serde(skip)]
    pub launched: Option<i64>,
    #[serde(skip)]
    pub http_tokens: Option<String>,
}

impl Have {
    pub fn from_instance(i: &Instance) -> Have {
        let name = i
            .tags()
            .iter()
            .find(|t| t.key() == Some("Name"))
            .and_then(|t| t.value())
            .unwrap_or_default();
        let s = |v: Option<&str>| v.filter(|v| !v.is_empty()).map(str::to_string);
        Have {
            name: name.to_string(),
            instance_id: i.instance_id().unwrap_or_default().to_string(),
            state: i
                .state()
                .and_then(|s| s.name())
                .map(|n| n.as_str().to_string())
                .unwrap_or_default(),
            zone: s(i.placement().and_then(|p| p.availability_zone())),
            instance_type: i.instance_type().map(|t| t.as_str().to_string()),
            image_id: s(i.image_id()),
            private_ip: s(i.private_ip_address()),
            private_dns: s(i.private_dns_name()),
            public_ip: s(i.public_ip_address()),
            launched: i.launch_time().map(|t| t.secs()),
            http_tokens: i
                .metadata_options()
                .and_then(|m| m.http_tokens())
                .map(|t| t.as_str().to_string()),
        }
    }

    pub fn is_alive(&self) -> bool {
        ALIVE.contains(&self.state.as_str())
    }
}

/// Instances tagged for the cluster in the given states (all when empty).
pub async fn instances(ec2: &Client, tags: &ClusterTags, states: &[&str]) -> Result<Vec<Have>> {
    let mut req = ec2.describe_instances().filters(
        Filter::builder()
            .name(format!("tag:{}", tags.cluster_key()))
            .values(phx_aws::tags::OWNED)
            .build(),
    );
    if !states.is_empty() {
        let mut f = Filter::builder().name("instance-state-name");
        for s in states {
            f = f.values(*s);
        }
        req = req.filters(f.build());
    }
    by_request(req).await
}

/// The given instances, in whatever state.
pub async fn by_ids(ec2: &Client, ids: &[String]) -> Result<Vec<Have>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    by_request(ec2.describe_instances().set_instance_ids(Some(ids.to_vec()))).await
}

async fn by_request(
    req: phx_aws::ec2::operation::describe_instances::builders::DescribeInstancesFluentBuilder,
) -> Result<Vec<Have>> {
    let mut pages = req.into_paginator().send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| phx_aws::AwsError::into_phx(e).context("describing instances"))?;
        for r in page.reservations() {
            out.extend(r.instances().iter().map(Have::from_instance));
        }
    }
    // Oldest first: of two instances with one name, the first launched wins.
    out.sort_by(|a, b| {
        a.launched
            .cmp(&b.launched)
            .then(a.instance_id.cmp(&b.instance_id))
    });
    Ok(out)
}
