//! Which machine image new nodes boot: the spec's, else the one the
//! cluster's nodes already run (so a worker added next year matches the
//! others), else the newest Canonical Ubuntu 24.04 LTS amd64 image.

use phx_aws::ec2::types::Filter;
use phx_aws::ec2::Client;
use phx_aws::Sent;
use phx_core::{Error, Result};

/// Canonical's AWS account, the publisher of the official Ubuntu images.
pub const CANONICAL: &str = "099720109477";
pub const UBUNTU_2404_AMD64: &str = "ubuntu/images/hvm-ssd*/ubuntu-noble-24.04-amd64-server-*";

#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    pub id: String,
    pub name: String,
    /// Where the root volume attaches (`/dev/sda1` on Ubuntu).
    pub root_device: String,
    pub why: &'static str,
}

/// Where the image comes from, in order of precedence.
#[derive(Debug)]
pub enum Choice<'a> {
    Spec(&'a str),
    Cluster(&'a str),
    Newest,
}

pub async fn resolve(ec2: &Client, choice: Choice<'_>) -> Result<Image> {
    match choice {
        Choice::Spec(id) => by_id(ec2, id, "spec.nodes.image.id").await.map_err(|e| {
            if e.has_code(&["InvalidAMIID.NotFound", "InvalidAMIID.Malformed"]) {
                Error::invalid(format!("spec.nodes.image.id: {id}: no such image in this region"))
            } else {
                e
            }
        }),
        Choice::Cluster(id) => by_id(ec2, id, "the cluster's current image").await,
        Choice::Newest => newest(ec2).await,
    }
}

async fn by_id(ec2: &Client, id: &str, why: &'static str) -> Result<Image> {
    let out = ec2
        .describe_images()
        .image_ids(id)
        .send()
        .await
        .phx_in(format!("looking up image {id}"))?;
    let img = out
        .images()
        .first()
        .ok_or_else(|| Error::failed(format!("image {id} not found")).with_code("InvalidAMIID.NotFound"))?;
    Ok(Image {
        id: id.to_string(),
        name: img.name().unwrap_or_default().to_string(),
        root_device: img.root_device_name().unwrap_or("/dev/sda1").to_string(),
        why,
    })
}

async fn newest(ec2: &Client) -> Result<Image> {
    let filter = |k: &str, v: &str| Filter::builder().name(k).values(v).build();
    let out = ec2
        .describe_images()
        .owners(CANONICAL)
        .filters(filter("name", UBUNTU_2404_AMD64))
        .filters(filter("architecture", "x86_64"))
        .filters(filter("state", "available"))
        .send()
        .await
        .phx_in("looking up Ubuntu 24.04 images")?;
    let best = out
        .images()
        .iter()
        .filter(|i| i.owner_id() == Some(CANONICAL))
        .max_by(|a, b| {
            a.creation_date()
                .cmp(&b.creation_date())
                .then(a.name().cmp(&b.name()))
        })
        .ok_or_else(|| {
            Error::failed(format!(
                "no Canonical Ubuntu 24.04 amd64 image ({UBUNTU_2404_AMD64}, owner {CANONICAL}) in this \
                 region; set spec.nodes.image.id"
            ))
        })?;
    Ok(Image {
        id: best.image_id().unwrap_or_default().to_string(),
        name: best.name().unwrap_or_default().to_string(),
        root_device: best.root_device_name().unwrap_or("/dev/sda1").to_string(),
        why: "the newest Ubuntu 24.04 LTS amd64",
    })
}
