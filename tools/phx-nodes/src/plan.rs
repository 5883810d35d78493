//! Matching the nodes the spec wants against the instances that exist, by
//! name: what to launch, start, keep and terminate. Pure, so `plan` and
//! `apply` agree and the matching is tested without AWS.

use crate::desired::NodeWant;
use crate::observed::Have;
use phx_core::status::{NodeRole, PlannedChange};
use std::collections::BTreeMap;

#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    /// Wanted and present (the oldest instance of that name).
    pub keep: Vec<Have>,
    pub launch: Vec<NodeWant>,
    /// Wanted and present but stopped: started again, never replaced.
    pub start: Vec<Have>,
    /// Workers beyond the count: terminated only with `--allow-remove`.
    pub surplus: Vec<Have>,
    /// A second instance of one name (two unlocked applies at once):
    /// terminated only with `--allow-remove`.
    pub duplicates: Vec<Have>,
    /// Control plane nodes beyond the count: never removed by a count.
    pub extra_control_plane: Vec<Have>,
    /// Control planes beyond the count that have left the cluster
    /// (phx-kubeadm apply --allow-remove): terminated only with
    /// `--allow-remove`.
    pub retired: Vec<Have>,
}

pub fn plan(cluster: &str, wants: &[NodeWant], haves: &[Have]) -> Plan {
    let mut by_name: BTreeMap<&str, Vec<&Have>> = BTreeMap::new();
    for h in haves.iter().filter(|h| h.is_alive()) {
        by_name.entry(h.name.as_str()).or_default().push(h);
    }
    let mut p = Plan::default();
    for (name, hs) in &by_name {
        p.duplicates.extend(hs.iter().skip(1).map(|h| (*h).clone()));
        let first = hs[0].clone();
        if wants.iter().any(|w| w.name == *name) {
            if matches!(first.state.as_str(), "stopped" | "stopping") {
                p.start.push(first.clone());
            }
            p.keep.push(first);
            continue;
        }
        match NodeRole::parse_name(cluster, name) {
            Some((NodeRole::Worker, _)) => p.surplus.push(first),
            Some((NodeRole::ControlPlane, _)) => {
                p.extra_control_plane.push(first.clone());
                p.keep.push(first);
            }
            // Tagged for the cluster but not a phx node name: not ours to manage.
            None => {}
        }
    }
    p.launch = wants
        .iter()
        .filter(|w| !by_name.contains_key(w.name.as_str()))
        .cloned()
        .collect();
    // Highest-numbered first, so a partial removal takes the newest.
    p.surplus
        .sort_by_key(|h| std::cmp::Reverse(NodeRole::parse_name(cluster, &h.name).map(|(_, i)| i)));
    p
}

impl Plan {
    /// The control planes beyond the count for which `left` holds move
    /// from kept to retired.
    pub fn retire(&mut self, left: impl Fn(&str) -> bool) {
        let (gone, extra): (Vec<Have>, Vec<Have>) = std::mem::take(&mut self.extra_control_plane)
            .into_iter()
            .partition(|h| left(&h.name));
        self.keep
            .retain(|k| !gone.iter().any(|g| g.instance_id == k.instance_id));
        self.extra_control_plane = extra;
        self.retired = gone;
    }

    /// What would change, for `plan` and the log.
    pub fn changes(&self, allow_remove: bool) -> Vec<PlannedChange> {
        let mut out: Vec<PlannedChange> = self
            .launch
            .iter()
            .map(|w| {
                let what = format!(
                    "{} in {}, {} GiB gp3 encrypted",
                    w.instance_type, w.zone, w.disk_gib
                );
                PlannedChange::new("launch", "instance", &w.name, what)
            })
            .collect();
        for h in &self.start {
            out.push(PlannedChange::new("start", "instance", &h.name, &h.instance_id));
        }
        let gate = if allow_remove {
            ""
        } else {
            "; needs --allow-remove"
        };
        for h in &self.surplus {
            let why = format!("{} beyond spec.nodes.workers.count{gate}", h.instance_id);
            out.push(PlannedChange::new("terminate", "instance", &h.name, why));
        }
        for h in &self.retired {
            let why = format!("{}, a control plane that left the cluster{gate}", h.instance_id);
            out.push(PlannedChange::new("terminate", "instance", &h.name, why));
        }
        for h in &self.duplicates {
            let why = format!("{}, a duplicate{gate}", h.instance_id);
            out.push(PlannedChange::new("terminate", "instance", &h.name, why));
        }
        out
    }

    /// Instances `apply --allow-remove` terminates.
    pub fn removals(&self) -> Vec<&Have> {
        self.surplus
            .iter()
            .chain(&self.retired)
            .chain(&self.duplicates)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::desired::{nodes, Inputs};
    use phx_core::spec::NodesSpec;

    fn wants(workers: u32) -> Vec<NodeWant> {
        let mut spec = NodesSpec::default();
        spec.workers.count = workers;
        let inputs = Inputs {
            subnets: vec![("z".into(), "subnet-1".into())],
            vpc_id: "vpc".into(),
            sg: ["a".into(), "b".into()],
            profile: ["c".into(), "d".into()],
        };
        nodes("p", &spec, &inputs).unwrap()
    }

    fn have(name: &str, id: &str, state: &str, launched: i64) -> Have {
        Have {
            name: name.into(),
            instance_id: id.into(),
            state: state.into(),
            zone: None,
            instance_type: None,
            image_id: None,
            private_ip: None,
            private_dns: None,
            public_ip: None,
            launched: Some(launched),
            http_tokens: None,
        }
    }

    #[test]
    fn only_missing_nodes_are_launched() {
        let haves = [
            have("p-control-plane-1", "i-1", "running", 1),
            have("p-worker-2", "i-2", "pending", 2),
            have("p-worker-1", "i-0", "terminated", 0),
        ];
        let p = plan("p", &wants(3), &haves);
        let launch: Vec<_> = p.launch.iter().map(|w| w.name.as_str()).collect();
        assert_eq!(launch, ["p-worker-1", "p-worker-3"]);
        assert_eq!(p.keep.len(), 2);
        assert!(p.surplus.is_empty() && p.duplicates.is_empty());
    }

    #[test]
    fn lower_count_makes_the_highest_numbered_workers_surplus() {
        let haves: Vec<_> = (1..=5)
            .map(|i| have(&format!("p-worker-{i}"), &format!("i-{i}"), "running", i))
            .chain([have("p-control-plane-1", "i-c", "running", 0)])
            .collect();
        let p = plan("p", &wants(3), &haves);
        let gone: Vec<_> = p.surplus.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(gone, ["p-worker-5", "p-worker-4"]);
        assert!(p.launch.is_empty());
        let c = p.changes(false);
        assert!(
            c.iter().all(|c| c.detail.contains("needs --allow-remove")),
            "{c:?}"
        );
    }

    #[test]
    fn the_oldest_of_two_same_named_instances_is_kept() {
        let haves = [
            have("p-worker-1", "i-new", "running", 9),
            have("p-worker-1", "i-old", "running", 1),
        ];
        let mut sorted = haves.to_vec();
        sorted.sort_by_key(|h| h.launched);
        let p = plan("p", &wants(1), &sorted);
        assert_eq!(p.keep[0].instance_id, "i-old");
        assert_eq!(p.duplicates[0].instance_id, "i-new");
    }

    #[test]
    fn control_plane_beyond_the_count_is_kept_and_stopped_nodes_started() {
        let haves = [
            have("p-control-plane-1", "i-1", "stopped", 1),
            have("p-control-plane-2", "i-2", "running", 2),
            have("p-bastion", "i-3", "running", 3),
        ];
        let p = plan("p", &wants(0), &haves);
        assert_eq!(p.start.len(), 1);
        assert_eq!(p.extra_control_plane[0].name, "p-control-plane-2");
        assert!(
            p.surplus.is_empty(),
            "control plane and foreign names are never surplus"
        );
        assert_eq!(p.keep.len(), 2);
    }
}
