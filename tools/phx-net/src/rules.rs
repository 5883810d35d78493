//! Security group rules as comparable values.
//!
//! AWS returns rules grouped by protocol and ports with lists of sources;
//! phx flattens both sides to one (protocol, ports, source) per rule, so the
//! desired and the observed sets compare exactly and a converged group makes
//! no call. Descriptions are carried but never compared.

use phx_aws::ec2::types::{IpPermission, IpRange, UserIdGroupPair};
use std::cmp::Ordering;
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Source {
    Cidr(String),
    /// One of phx's groups, by component (`sg/workers`).
    Group(String),
    /// A group phx does not manage, by id.
    ForeignGroup(String),
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub protocol: String,
    pub from: Option<i32>,
    pub to: Option<i32>,
    pub source: Source,
    pub description: String,
}

impl Rule {
    pub fn tcp(from: i32, to: i32, source: Source, description: &str) -> Rule {
        Rule::proto("tcp", Some((from, to)), source, description)
    }

    pub fn proto(protocol: &str, ports: Option<(i32, i32)>, source: Source, description: &str) -> Rule {
        Rule {
            protocol: protocol.to_string(),
            from: ports.map(|p| p.0),
            to: ports.map(|p| p.1),
            source,
            description: description.to_string(),
        }
    }

    fn key(&self) -> (&str, Option<i32>, Option<i32>, &Source) {
        (&self.protocol, self.from, self.to, &self.source)
    }

    /// `tcp 22 from 203.0.113.7/32`, for plans and logs.
    pub fn describe(&self) -> String {
        let ports = match (self.from, self.to) {
            (Some(a), Some(b)) if a == b && a >= 0 => format!(" {a}"),
            (Some(a), Some(b)) if a >= 0 => format!(" {a}-{b}"),
            _ => String::new(),
        };
        let proto = match self.protocol.as_str() {
            "-1" => "all",
            "4" => "ipip",
            p => p,
        };
        let from = match &self.source {
            Source::Cidr(c) => c.clone(),
            Source::Group(g) => g.clone(),
            Source::ForeignGroup(id) => id.clone(),
        };
        format!("{proto}{ports} from {from}")
    }

    /// The API form; `group_ids` maps components to group ids.
    pub fn to_permission(&self, group_ids: &HashMap<String, String>) -> IpPermission {
        let mut p = IpPermission::builder()
            .ip_protocol(&self.protocol)
            .set_from_port(self.from)
            .set_to_port(self.to);
        p = match &self.source {
            Source::Cidr(c) => p.ip_ranges(
                IpRange::builder()
                    .cidr_ip(c)
                    .description(&self.description)
                    .build(),
            ),
            Source::Group(g) => p.user_id_group_pairs(
                UserIdGroupPair::builder()
                    .set_group_id(group_ids.get(g).cloned())
                    .description(&self.description)
                    .build(),
            ),
            Source::ForeignGroup(id) => {
                p.user_id_group_pairs(UserIdGroupPair::builder().group_id(id).build())
            }
        };
        p.build()
    }
}

impl PartialEq for Rule {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}
impl Eq for Rule {}
impl PartialOrd for Rule {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Rule {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

/// Flatten AWS's permissions; `components` maps group ids to components.
pub fn flatten(perms: &[IpPermission], components: &HashMap<String, String>) -> Vec<Rule> {
    let mut out = Vec::new();
    for p in perms {
        let protocol = p.ip_protocol().unwrap_or("-1").to_string();
        let (from, to) = if protocol == "-1" {
            (None, None)
        } else {
            (p.from_port(), p.to_port())
        };
        let rule = |source, description: Option<&str>| Rule {
            protocol: protocol.clone(),
            from,
            to,
            source,
            description: description.unwrap_or_default().to_string(),
        };
        for r in p.ip_ranges() {
            if let Some(c) = r.cidr_ip() {
                out.push(rule(Source::Cidr(c.to_string()), r.description()));
            }
        }
        for g in p.user_id_group_pairs() {
            let id = g.group_id().unwrap_or_default();
            let source = match components.get(id) {
                Some(c) => Source::Group(c.clone()),
                None => Source::ForeignGroup(id.to_string()),
            };
            out.push(rule(source, g.description()));
        }
    }
    out.sort();
    out
}

/// What to authorize and what to revoke to go from `have` to `want`.
pub fn diff(want: &[Rule], have: &[Rule]) -> (Vec<Rule>, Vec<Rule>) {
    let add = want.iter().filter(|r| !have.contains(r)).cloned().collect();
    let remove = have.iter().filter(|r| !want.contains(r)).cloned().collect();
    (add, remove)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_do_not_make_a_difference() {
        let a = Rule::tcp(22, 22, Source::Cidr("1.2.3.4/32".into()), "ssh");
        let b = Rule::tcp(22, 22, Source::Cidr("1.2.3.4/32".into()), "other");
        assert_eq!(diff(&[a], &[b]), (vec![], vec![]));
    }

    #[test]
    fn flatten_round_trips_to_permission() {
        let ids: HashMap<String, String> = [("sg/workers".to_string(), "sg-1".to_string())].into();
        let comps: HashMap<String, String> = [("sg-1".to_string(), "sg/workers".to_string())].into();
        let rules = vec![
            Rule::proto("-1", None, Source::Group("sg/workers".into()), "all"),
            Rule::proto("4", Some((-1, -1)), Source::Group("sg/workers".into()), "ipip"),
            Rule::tcp(30000, 32767, Source::Cidr("10.0.0.0/16".into()), "np"),
        ];
        let perms: Vec<_> = rules.iter().map(|r| r.to_permission(&ids)).collect();
        let mut want = rules.clone();
        want.sort();
        assert_eq!(flatten(&perms, &comps), want);
        assert_eq!(rules[2].describe(), "tcp 30000-32767 from 10.0.0.0/16");
    }
}
