//! Terminating every instance of the cluster (found by tag, not only those
//! in the document), waiting until they are gone, and deleting the key
//! pair phx imported. A second destroy finds nothing and changes nothing.

use crate::observed;
use crate::{key, wait};
use phx_aws::ec2::Client;
use phx_aws::{ClusterTags, Sent};
use phx_core::Result;
use std::time::Duration;

pub async fn destroy(ec2: &Client, tags: &ClusterTags, timeout: Duration) -> Result<()> {
    let haves = observed::instances(ec2, tags, observed::NOT_TERMINATED).await?;
    let ids: Vec<String> = haves.iter().map(|h| h.instance_id.clone()).collect();
    if !ids.is_empty() {
        terminate(ec2, &ids).await?;
        let names: Vec<&str> = haves.iter().map(|h| h.name.as_str()).collect();
        tracing::info!("terminating {}", names.join(", "));
        wait::terminated(ec2, &ids, timeout).await?;
    }
    if let key::KeyHave::Ours { .. } = key::observe(ec2, tags).await? {
        key::delete(ec2, &tags.name("key")).await?;
    }
    Ok(())
}

pub async fn terminate(ec2: &Client, ids: &[String]) -> Result<()> {
    ec2.terminate_instances()
        .set_instance_ids(Some(ids.to_vec()))
        .send()
        .await
        .phx_in(format!("terminating {}", ids.join(", ")))?;
    Ok(())
}
