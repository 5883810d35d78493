//! The control planes as targets of the API load balancers' target groups
//! (`status.network.apiLoadBalancer.targetGroupArn` and, beside an
//! internet-facing one, `apiInternalLoadBalancer`'s, made by phx-net): by
//! private IP on 6443, registered as soon as they have one, and
//! deregistered when they are gone or no longer control planes. The target
//! group comes from the document, where phx-net recorded it after proving
//! it the cluster's; phx-nodes never looks one up by name.

use crate::observed::Have;
use phx_aws::elbv2::types::TargetDescription;
use phx_aws::elbv2::Client;
use phx_aws::Sent;
use phx_core::status::{key, ApiLoadBalancerStatus, NodeRole, PlannedChange};
use phx_core::{Document, Result};

/// The API server's port on the targets.
const PORT: i32 = 6443;

/// The document's API load balancers, made or planned (their
/// `targetGroupArn` once made).
pub fn load_balancers(doc: &Document) -> Result<Vec<ApiLoadBalancerStatus>> {
    Ok(doc
        .get::<key::Network>()?
        .map(|n| {
            n.api_load_balancer
                .into_iter()
                .chain(n.api_internal_load_balancer)
                .collect()
        })
        .unwrap_or_default())
}

/// The control planes to launch, as the targets they will be of `lb`.
pub fn planned_launches(launch: &[crate::desired::NodeWant], lb: &str) -> Vec<PlannedChange> {
    launch
        .iter()
        .filter(|w| w.role == NodeRole::ControlPlane)
        .map(|w| {
            PlannedChange::new(
                "register",
                "api-target",
                &w.name,
                format!("<private IP>:{PORT} in {lb} once launched"),
            )
        })
        .collect()
}

/// The IPs registered now.
pub async fn registered(elbv2: &Client, tg: &str) -> Result<Vec<String>> {
    let out = elbv2
        .describe_target_health()
        .target_group_arn(tg)
        .send()
        .await
        .phx_in("describing the API targets")?;
    Ok(out
        .target_health_descriptions()
        .iter()
        .filter_map(|d| d.target()?.id().map(str::to_string))
        .collect())
}

/// What to register (the cluster's control planes alive with an IP, by
/// name and IP) and what to deregister (every other registered IP).
#[derive(Debug, Default, PartialEq)]
pub struct Changes {
    pub register: Vec<(String, String)>,
    pub deregister: Vec<String>,
}

pub fn changes(cluster: &str, haves: &[Have], registered: &[String]) -> Changes {
    let control_plane = |h: &Have| {
        matches!(
            NodeRole::parse_name(cluster, &h.name),
            Some((NodeRole::ControlPlane, _))
        )
    };
    let want: Vec<(String, String)> = haves
        .iter()
        .filter(|h| h.is_alive() && control_plane(h))
        .filter_map(|h| Some((h.name.clone(), h.private_ip.clone()?)))
        .collect();
    Changes {
        register: want
            .iter()
            .filter(|(_, ip)| !registered.contains(ip))
            .cloned()
            .collect(),
        deregister: registered
            .iter()
            .filter(|ip| !want.iter().any(|(_, w)| w == *ip))
            .cloned()
            .collect(),
    }
}

/// Every target out of the group (the machines are gone).
pub async fn deregister_all(elbv2: &Client, tg: &str) -> Result<()> {
    let ips = registered(elbv2, tg).await?;
    changes("", &[], &ips).apply(elbv2, tg).await
}

impl Changes {
    /// The changes as plan lines, for the load balancer named `lb`.
    pub fn planned(&self, lb: &str) -> Vec<PlannedChange> {
        let register = self.register.iter().map(|(name, ip)| {
            PlannedChange::new("register", "api-target", name, format!("{ip}:{PORT} in {lb}"))
        });
        let deregister = self
            .deregister
            .iter()
            .map(|ip| PlannedChange::new("deregister", "api-target", ip, format!("{ip}:{PORT} from {lb}")));
        register.chain(deregister).collect()
    }

    pub async fn apply(&self, elbv2: &Client, tg: &str) -> Result<()> {
        let target = |ip: &str| TargetDescription::builder().id(ip).port(PORT).build();
        if !self.register.is_empty() {
            let targets = self.register.iter().map(|(_, ip)| target(ip)).collect();
            elbv2
                .register_targets()
                .target_group_arn(tg)
                .set_targets(Some(targets))
                .send()
                .await
                .phx_in("registering the control planes with the API load balancer")?;
            let names: Vec<&str> = self.register.iter().map(|(n, _)| n.as_str()).collect();
            tracing::info!("registered {} with the API load balancer", names.join(", "));
        }
        if !self.deregister.is_empty() {
            let targets = self.deregister.iter().map(|ip| target(ip)).collect();
            elbv2
                .deregister_targets()
                .target_group_arn(tg)
                .set_targets(Some(targets))
                .send()
                .await
                .phx_in("deregistering from the API load balancer")?;
            tracing::info!(
                "deregistered {} from the API load balancer",
                self.deregister.join(", ")
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn have(name: &str, ip: Option<&str>, state: &str) -> Have {
        Have {
            name: name.into(),
            instance_id: format!("i-{name}"),
            state: state.into(),
            zone: None,
            instance_type: None,
            image_id: None,
            private_ip: ip.map(str::to_string),
            private_dns: None,
            public_ip: None,
            launched: None,
            http_tokens: None,
        }
    }

    #[test]
    fn control_planes_in_everything_else_out() {
        let haves = [
            have("p-control-plane-1", Some("10.0.0.5"), "running"),
            have("p-control-plane-2", Some("10.0.16.5"), "running"),
            have("p-control-plane-3", None, "pending"),
            have("p-worker-1", Some("10.0.0.9"), "running"),
        ];
        let c = changes(
            "p",
            &haves,
            &["10.0.0.5".into(), "10.0.0.9".into(), "10.0.32.7".into()],
        );
        assert_eq!(c.register, vec![("p-control-plane-2".into(), "10.0.16.5".into())]);
        assert_eq!(
            c.deregister,
            vec!["10.0.0.9".to_string(), "10.0.32.7".to_string()]
        );
        let done = changes("p", &haves[..2], &["10.0.0.5".into(), "10.0.16.5".into()]);
        assert_eq!(done, Changes::default());
        // Another cluster's name that merely contains "-control-plane-".
        let worker = [have("p-control-plane-x-worker-1", Some("10.0.0.7"), "running")];
        assert_eq!(changes("p-control-plane-x", &worker, &[]), Changes::default());
    }
}
