//! Stages that run side by side, joined back into one document.
//!
//! Stages that need nothing from each other (phx-net and phx-iam: the
//! network and the roles) run at the same time on the same input, and each
//! writes its own copy of the document. Joining the copies is safe because a
//! stage writes only its own `status.<key>` and `.error` ([`crate::stage::Mine`]):
//! the join takes from every copy the status keys it changed, and the first
//! `.error` in stage order, so the result is what running them one after the
//! other would have written.
//!
//! Anything else is a broken stage, and state is never lost to it: a copy
//! that is missing (its stage was killed before writing) or unreadable, a
//! key two copies changed differently, or a change outside `status` marks
//! the joined document failed, naming the stage, while every status key a
//! copy made is still kept (the first, on a clash).

use crate::document::Document;
use crate::status::StageError;
use serde_json::{Map, Value};

/// What one side-by-side stage wrote: its name (for messages) and its copy,
/// or why there is none.
#[derive(Debug)]
pub struct Copy {
    pub stage: String,
    pub written: Result<Document, String>,
}

/// `base` with every copy's own changes; `.error` set when a copy failed
/// or broke the rules. The second value says whether the join itself found
/// a problem (a copy missing or breaking the rules), as opposed to a stage
/// reporting its own failure.
pub fn join(base: &Document, copies: Vec<Copy>) -> (Document, bool) {
    let mut out = base.clone();
    let mut changed_by: Vec<(String, String)> = Vec::new(); // (key, stage)
    let mut problems: Vec<StageError> = Vec::new();
    let mut first_error: Option<StageError> = base.error();
    let (before, base_outside) = (statuses(base), base.desired());
    for copy in copies {
        let doc = match copy.written {
            Ok(doc) => doc,
            Err(why) => {
                problems.push(error(&copy.stage, why));
                continue;
            }
        };
        if doc.desired().as_json() != base_outside.as_json() {
            problems.push(error(
                &copy.stage,
                "changed the document outside status and .error; those changes are dropped".into(),
            ));
        }
        let after = statuses(&doc);
        let keys = before
            .keys()
            .chain(after.keys())
            .cloned()
            .collect::<std::collections::BTreeSet<_>>();
        for key in keys {
            let value = after.get(&key);
            if value == before.get(&key) {
                continue;
            }
            if let Some((_, other)) = changed_by.iter().find(|(k, _)| *k == key) {
                if out.status_value(&key) != value {
                    problems.push(error(
                        &copy.stage,
                        format!("changed status.{key}, which {other} changed too; {other}'s is kept"),
                    ));
                }
                continue;
            }
            changed_by.push((key.clone(), copy.stage.clone()));
            let status = out.status_object();
            match value {
                Some(v) => status.insert(key, v.clone()),
                None => status.remove(&key),
            };
        }
        if first_error.is_none() {
            first_error = doc.error();
        }
    }
    let broken = !problems.is_empty();
    if let Some(e) = first_error.or_else(|| problems.into_iter().next()) {
        out.set_error(&e);
    }
    (out, broken)
}

fn error(stage: &str, message: String) -> StageError {
    StageError {
        tool: stage.to_string(),
        message,
        at: Some(crate::time::now_rfc3339()),
    }
}

fn statuses(doc: &Document) -> Map<String, Value> {
    match doc.as_json().get("status") {
        Some(Value::Object(m)) => m.clone(),
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(v: Value) -> Document {
        let mut raw = json!({"apiVersion":"phx/v1","kind":"Cluster","metadata":{"name":"c"},"spec":{}});
        for (k, x) in v.as_object().unwrap() {
            raw[k] = x.clone();
        }
        Document::from_value(raw).unwrap()
    }

    fn copy(stage: &str, v: Value) -> Copy {
        Copy {
            stage: stage.into(),
            written: Ok(doc(v)),
        }
    }

    /// base, copies -> (status, error tool, broken)
    fn run(base: Value, copies: Vec<Copy>) -> (Value, Option<String>, bool) {
        let (out, broken) = join(&doc(base), copies);
        let j = out.into_json();
        (
            j["status"].clone(),
            j["error"]["tool"].as_str().map(str::to_string),
            broken,
        )
    }

    #[test]
    fn each_copy_brings_its_own_keys() {
        let base = json!({"status":{"state":{"serial":1},"network":{"old":1}}});
        let r = run(
            base,
            vec![
                copy(
                    "phx-net",
                    json!({"status":{"state":{"serial":1},"network":{"vpcId":"v"}}}),
                ),
                copy(
                    "phx-iam",
                    json!({"status":{"state":{"serial":1},"network":{"old":1},"iam":{"r":1}}}),
                ),
            ],
        );
        assert_eq!(
            r,
            (
                json!({"state":{"serial":1},"network":{"vpcId":"v"},"iam":{"r":1}}),
                None,
                false
            )
        );
    }

    #[test]
    fn a_removed_key_is_removed() {
        let r = run(
            json!({"status":{"network":{"a":1},"iam":{"b":2}}}),
            vec![
                copy("phx-net", json!({"status":{"iam":{"b":2}}})),
                copy("phx-iam", json!({"status":{}})),
            ],
        );
        assert_eq!(r, (json!({}), None, false));
    }

    #[test]
    fn the_first_error_in_stage_order_wins_and_both_keys_stay() {
        let r = run(
            json!({}),
            vec![
                copy(
                    "phx-net",
                    json!({"status":{"network":{"a":1}},"error":{"tool":"phx-net","message":"x"}}),
                ),
                copy(
                    "phx-iam",
                    json!({"status":{"iam":{"b":2}},"error":{"tool":"phx-iam","message":"y"}}),
                ),
            ],
        );
        assert_eq!(
            r,
            (
                json!({"network":{"a":1},"iam":{"b":2}}),
                Some("phx-net".into()),
                false
            )
        );
    }

    #[test]
    fn a_missing_copy_fails_the_join_and_keeps_the_others() {
        let r = run(
            json!({}),
            vec![
                Copy {
                    stage: "phx-net".into(),
                    written: Err("wrote no document".into()),
                },
                copy("phx-iam", json!({"status":{"iam":{"b":2}}})),
            ],
        );
        assert_eq!(r, (json!({"iam":{"b":2}}), Some("phx-net".into()), true));
    }

    #[test]
    fn a_clash_keeps_the_first_and_names_the_second() {
        let (out, broken) = join(
            &doc(json!({})),
            vec![
                copy("a", json!({"status":{"k":1}})),
                copy("b", json!({"status":{"k":2}})),
            ],
        );
        let j = out.into_json();
        assert!(broken);
        assert_eq!(j["status"], json!({"k":1}));
        assert_eq!(j["error"]["tool"], "b");
        assert!(
            j["error"]["message"]
                .as_str()
                .unwrap()
                .contains("which a changed too"),
            "{j}"
        );
    }

    #[test]
    fn the_same_change_twice_is_no_clash() {
        let r = run(
            json!({}),
            vec![
                copy("a", json!({"status":{"k":1}})),
                copy("b", json!({"status":{"k":1}})),
            ],
        );
        assert_eq!(r, (json!({"k":1}), None, false));
    }

    #[test]
    fn a_change_outside_status_is_dropped_and_named() {
        let (out, broken) = join(
            &doc(json!({})),
            vec![copy("a", json!({"spec":{"region":"eu-west-1"},"status":{"k":1}}))],
        );
        let j = out.into_json();
        assert!(broken);
        assert_eq!(j["spec"], json!({}));
        assert_eq!(j["status"], json!({"k":1}));
        assert!(
            j["error"]["message"].as_str().unwrap().contains("outside status"),
            "{j}"
        );
    }

    #[test]
    fn an_earlier_failure_passes_through() {
        let failed = json!({"error":{"tool":"phx-state","message":"x"}});
        let r = run(failed.clone(), vec![copy("a", failed.clone()), copy("b", failed)]);
        assert_eq!(r, (Value::Null, Some("phx-state".into()), false));
    }
}
