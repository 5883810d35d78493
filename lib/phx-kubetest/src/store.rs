//! Objects and server-side apply, as the API server does it where phx
//! depends on it: create (201) or merge (200); fields this field manager
//! set before and dropped now are pruned, unless another manager owns
//! them; uid, resourceVersion and generation (bumped on a spec change)
//! maintained; dry runs computed and not stored.

use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// (group, plural, namespace, name); namespace empty for cluster scope.
pub type Key = (String, String, String, String);

#[derive(Debug, Clone)]
pub struct Stored {
    pub value: Value,
    /// Field manager -> the leaf paths it set.
    pub managed: BTreeMap<String, BTreeSet<String>>,
}

/// Metadata the server owns: never part of a manager's fields.
const SERVER_FIELDS: &[&str] = &[
    "metadata.uid",
    "metadata.resourceVersion",
    "metadata.generation",
    "metadata.creationTimestamp",
    "metadata.managedFields",
];

/// Leaf paths of an applied configuration (lists are atomic, as lists
/// without merge keys are).
pub fn paths(v: &Value) -> BTreeSet<String> {
    fn walk(prefix: &str, v: &Value, out: &mut BTreeSet<String>) {
        match v {
            Value::Object(m) if !m.is_empty() => {
                for (k, x) in m {
                    let p = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&p, x, out);
                }
            }
            _ => {
                if !prefix.is_empty() && !SERVER_FIELDS.contains(&prefix) {
                    out.insert(prefix.to_string());
                }
            }
        }
    }
    let mut out = BTreeSet::new();
    walk("", v, &mut out);
    out
}

fn remove_path(v: &mut Value, path: &str) {
    let parts: Vec<&str> = path.split('.').collect();
    fn rec(v: &mut Value, parts: &[&str]) {
        let Some(m) = v.as_object_mut() else { return };
        match parts {
            [last] => {
                m.remove(*last);
            }
            [first, rest @ ..] => {
                if let Some(child) = m.get_mut(*first) {
                    rec(child, rest);
                    if child.as_object().is_some_and(Map::is_empty) {
                        m.remove(*first);
                    }
                }
            }
            [] => {}
        }
    }
    rec(v, &parts);
}

fn merge(into: &mut Value, from: &Value) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(k) {
                    Some(x) if x.is_object() && v.is_object() => merge(x, v),
                    _ => {
                        a.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (into, from) => *into = from.clone(),
    }
}

/// Everything but metadata and status: what bumps the generation.
fn spec_of(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(m) = v.as_object_mut() {
        m.remove("metadata");
        m.remove("status");
    }
    v
}

/// A field another manager owns that `config` would set to another value:
/// (that manager, the field).
pub fn conflict(old: &Stored, config: &Value, manager: &str) -> Option<(String, String)> {
    let at = |v: &Value, path: &str| path.split('.').try_fold(v, |v, k| v.get(k)).cloned();
    for path in paths(config) {
        for (other, fields) in old.managed.iter().filter(|(m, _)| m.as_str() != manager) {
            if fields.contains(&path) && at(&old.value, &path) != at(config, &path) {
                return Some((other.clone(), path));
            }
        }
    }
    None
}

/// Apply `config` as `manager` onto `existing`; returns the new object.
pub fn apply(
    existing: Option<&Stored>,
    config: &Value,
    manager: &str,
    uid: &str,
    rv: u64,
    now: &str,
) -> Stored {
    let new_paths = paths(config);
    let Some(old) = existing else {
        let mut value = config.clone();
        value["metadata"]["uid"] = json!(uid);
        value["metadata"]["resourceVersion"] = json!(rv.to_string());
        value["metadata"]["generation"] = json!(1);
        value["metadata"]["creationTimestamp"] = json!(now);
        return Stored {
            value,
            managed: BTreeMap::from([(manager.to_string(), new_paths)]),
        };
    };
    let mut value = old.value.clone();
    let others: BTreeSet<&String> = old
        .managed
        .iter()
        .filter(|(m, _)| m.as_str() != manager)
        .flat_map(|(_, p)| p)
        .collect();
    if let Some(mine) = old.managed.get(manager) {
        for dropped in mine.difference(&new_paths) {
            if !others.contains(dropped) {
                remove_path(&mut value, dropped);
            }
        }
    }
    merge(&mut value, config);
    let mut managed = old.managed.clone();
    managed.insert(manager.to_string(), new_paths);
    if value != old.value {
        value["metadata"]["resourceVersion"] = json!(rv.to_string());
        if spec_of(&value) != spec_of(&old.value) {
            let g = old.value["metadata"]["generation"].as_i64().unwrap_or(1);
            value["metadata"]["generation"] = json!(g + 1);
        }
    }
    Stored { value, managed }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_field_is_pruned_and_a_same_apply_changes_nothing() {
        let c1 = json!({"metadata": {"name": "x", "labels": {"a": "1", "b": "2"}}, "spec": {"r": 1}});
        let s1 = apply(None, &c1, "phx", "u", 1, "t");
        assert_eq!(s1.value["metadata"]["generation"], 1);
        let same = apply(Some(&s1), &c1, "phx", "u", 2, "t");
        assert_eq!(same.value, s1.value, "no change, no new resourceVersion");
        let c2 = json!({"metadata": {"name": "x", "labels": {"a": "1"}}, "spec": {"r": 2}});
        let s2 = apply(Some(&s1), &c2, "phx", "u", 3, "t");
        assert!(
            s2.value["metadata"]["labels"].get("b").is_none(),
            "pruned: {}",
            s2.value
        );
        assert_eq!(s2.value["metadata"]["generation"], 2);
        assert_eq!(s2.value["metadata"]["resourceVersion"], "3");
    }

    #[test]
    fn another_managers_field_survives() {
        let c1 = json!({"metadata": {"name": "x"}, "spec": {"a": 1}});
        let s1 = apply(None, &c1, "phx", "u", 1, "t");
        let s2 = apply(Some(&s1), &json!({"spec": {"b": 2}}), "kubectl", "u", 2, "t");
        let s3 = apply(
            Some(&s2),
            &json!({"metadata": {"name": "x"}, "spec": {"a": 1}}),
            "phx",
            "u",
            3,
            "t",
        );
        assert_eq!(s3.value["spec"]["b"], 2);
    }
}
