//! The tags every phx-created AWS resource carries, and by which phx finds
//! it again: stored ids are only hints, tags are the truth.
//!
//! - `kubernetes.io/cluster/<name>` = `owned` (created by phx, deleted by
//!   destroy) or `shared` (brought by the user, never deleted);
//! - `Name` = `<name>-<what>`, for people in the console;
//! - `phx:component` = a stable role within the cluster (`vpc`,
//!   `subnet/public/us-east-1a`, `sg/workers`), so a re-run maps what it
//!   finds onto what it wants without guessing.

pub const COMPONENT: &str = "phx:component";
pub const OWNED: &str = "owned";
pub const SHARED: &str = "shared";

#[derive(Debug, Clone)]
pub struct ClusterTags {
    cluster: String,
}

impl ClusterTags {
    pub fn new(cluster: &str) -> ClusterTags {
        ClusterTags {
            cluster: cluster.to_string(),
        }
    }

    pub fn cluster(&self) -> &str {
        &self.cluster
    }

    /// `kubernetes.io/cluster/<name>`.
    pub fn cluster_key(&self) -> String {
        format!("kubernetes.io/cluster/{}", self.cluster)
    }

    /// `<cluster>-<suffix>`, the Name tag and the name of IAM objects.
    pub fn name(&self, suffix: &str) -> String {
        format!("{}-{suffix}", self.cluster)
    }

    /// The (key, value) pairs of an owned resource with this component.
    pub fn owned(&self, component: &str, name_suffix: &str) -> Vec<(String, String)> {
        vec![
            (self.cluster_key(), OWNED.to_string()),
            ("Name".to_string(), self.name(name_suffix)),
            (COMPONENT.to_string(), component.to_string()),
        ]
    }
}
