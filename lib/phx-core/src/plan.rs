//! Plans as people read them: every tool's `plan` verb prints its changes
//! as one table on stderr (stdout keeps the document, where the same list
//! sits under `status.<tool>.plan`).

use crate::status::PlannedChange;

/// The changes as an aligned table with a closing count; `subject` names
/// what is up to date when there are none (`the network`).
pub fn render(changes: &[PlannedChange], subject: &str) -> String {
    if changes.is_empty() {
        return format!("no changes: {subject} matches the spec\n");
    }
    let action_w = changes.iter().map(|c| c.action.len()).max().unwrap_or(7).max(7);
    let kind_w = changes.iter().map(|c| c.kind.len()).max().unwrap_or(4).max(4);
    let name_w = changes.iter().map(|c| c.name.len()).max().unwrap_or(4).max(4);
    let mut out = format!(
        "{:<action_w$} {:<kind_w$} {:<name_w$} DETAIL\n",
        "ACTION", "KIND", "NAME"
    );
    for c in changes {
        out.push_str(&format!(
            "{:<action_w$} {:<kind_w$} {:<name_w$} {}\n",
            c.action, c.kind, c.name, c.detail
        ));
    }
    // Counts per action, in the order the actions first appear; the three
    // common ones always, so a reader sees "0 to delete" at a glance.
    let mut actions: Vec<&str> = vec!["create", "change", "delete"];
    for c in changes {
        if !actions.contains(&c.action.as_str()) {
            actions.push(&c.action);
        }
    }
    let counts: Vec<String> = actions
        .iter()
        .map(|a| (a, changes.iter().filter(|c| c.action == *a).count()))
        .filter(|(a, n)| *n > 0 || ["create", "change", "delete"].contains(a))
        .map(|(a, n)| format!("{n} to {a}"))
        .collect();
    out.push_str(&counts.join(", "));
    out.push('\n');
    out
}

impl PlannedChange {
    pub fn new(action: &str, kind: &str, name: &str, detail: impl Into<String>) -> PlannedChange {
        PlannedChange {
            action: action.to_string(),
            kind: kind.to_string(),
            name: name.to_string(),
            detail: detail.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_and_counts() {
        let t = render(
            &[
                PlannedChange::new("create", "vpc", "vpc", ""),
                PlannedChange::new("change", "security-group", "sg/workers", "allow tcp 22"),
            ],
            "the network",
        );
        assert_eq!(
            t,
            "ACTION  KIND           NAME       DETAIL\n\
             create  vpc            vpc        \n\
             change  security-group sg/workers allow tcp 22\n\
             1 to create, 1 to change, 0 to delete\n"
        );
        assert_eq!(render(&[], "IAM"), "no changes: IAM matches the spec\n");
    }
}
