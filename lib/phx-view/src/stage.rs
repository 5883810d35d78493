//! One pipeline stage as its stderr tells it, line by line: waiting, then
//! running (and doing what), then done with what it changed and the time
//! it took, or failed with its one-line error, or skipped. Pure: the
//! terminal drawing ([`crate::render`]) only reads it.
//!
//! The tools' lines are plain text (`phx_core::cli` writes no colour to a
//! pipe): ` INFO create vpc vpc-1`, ` INFO phx-net: done in 3.1 s`
//! (`phx_core::progress`, with `PHX_STAGE_LINES`), and the last line a
//! failing tool prints, `phx-net: context: cause`. A tool speaking for
//! itself otherwise says where it is (` INFO phx-kubeadm: nodes: 4/4
//! prepared, control plane up`): that stays the activity shown until the
//! next such line or a wait's `waiting for …`, over the details between.
//! Its done line may carry its result (`done in 3.1 s (3 joined)`), shown
//! instead of the count of AWS changes it announced.

use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq)]
pub enum State {
    Waiting,
    Running,
    Done,
    Failed(String),
    /// An earlier stage failed; this one passed the document through.
    Skipped,
}

/// What a line was, for a caller that follows a stage's start and end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// `tool: started`.
    Started,
    /// `tool: done in 3.1 s`.
    Done,
    /// `tool: failed after 3.1 s`.
    FailedAfter,
    /// Anything else.
    Other,
}

#[derive(Debug, Clone)]
pub struct Stage {
    /// What the pipeline runs (`phx-net apply & phx-iam apply`).
    pub command: String,
    /// Its tools (`phx-net`, `phx-iam`).
    pub tools: Vec<String>,
    name: String,
    pub state: State,
    /// The latest thing it said it is doing.
    pub activity: String,
    /// Whether the activity is the stage's own word on where it is, which
    /// detail lines do not replace.
    said_where: bool,
    /// What its tools said they did, from their done lines.
    results: Vec<String>,
    /// Requests its tools sent again (AWS throttling, errors).
    pub retries: u64,
    pub started: Option<Instant>,
    /// As the tools reported it (the longest member's).
    pub took: Option<Duration>,
    pub created: usize,
    pub changed: usize,
    pub deleted: usize,
    done: usize,
    /// Its last lines, for a failure's context.
    pub last: Vec<String>,
}

/// How many of a stage's lines a failure shows.
const LAST: usize = 5;

impl Stage {
    pub fn new(command: &str) -> Stage {
        let members: Vec<Vec<&str>> = command
            .split(" & ")
            .map(|m| m.split_whitespace().collect())
            .collect();
        let tools: Vec<String> = members
            .iter()
            .filter_map(|m| m.first())
            .map(|t| t.to_string())
            .collect();
        // The verb only when it is not the pipeline's usual one: a tool can
        // be two stages (`phx-kubeadm upgrade`, then `phx-kubeadm`).
        let name = members
            .iter()
            .filter_map(|m| {
                let tool = m.first()?;
                Some(match m.get(1) {
                    Some(v) if !["apply", "destroy"].contains(v) => format!("{tool} {v}"),
                    _ => tool.to_string(),
                })
            })
            .collect::<Vec<_>>()
            .join(" & ");
        Stage {
            command: command.to_string(),
            tools,
            name,
            state: State::Waiting,
            activity: String::new(),
            said_where: false,
            results: Vec::new(),
            retries: 0,
            started: None,
            took: None,
            created: 0,
            changed: 0,
            deleted: 0,
            done: 0,
            last: Vec::new(),
        }
    }

    /// The name shown: its tools joined (`phx-net & phx-iam`), with the
    /// verb when it is not apply or destroy (`phx-kubeadm upgrade`).
    pub fn name(&self) -> String {
        self.name.clone()
    }

    /// One line of the stage's stderr, at `now`; what it was.
    pub fn line(&mut self, line: &str, now: Instant) -> Mark {
        let (level, text) = split_level(line);
        self.last.push(line.trim_end().to_string());
        if self.last.len() > LAST {
            self.last.remove(0);
        }
        if let Some((tool, said)) = self.own(text) {
            if said == "started" {
                if self.started.is_none() {
                    self.started = Some(now);
                }
                self.state = State::Running;
                return Mark::Started;
            }
            let (said, retries) = retries_of(said);
            self.retries += retries;
            if let Some((t, result)) = said.strip_prefix("done in ").and_then(done) {
                self.took = Some(self.took.map_or(t, |k| k.max(t)));
                self.results.extend(result);
                self.done += 1;
                if self.done >= self.tools.len() && self.state == State::Running {
                    self.state = State::Done;
                }
                return Mark::Done;
            }
            if let Some(t) = said.strip_prefix("failed after ").and_then(seconds) {
                self.took = Some(self.took.map_or(t, |k| k.max(t)));
                return Mark::FailedAfter;
            }
            if said.starts_with("skipped:") {
                self.state = State::Skipped;
                self.activity = said.to_string();
                return Mark::Other;
            }
            if level.is_none() {
                // The error line `main` prints: the tool's last word.
                self.state = State::Failed(format!("{tool}: {said}"));
                return Mark::Other;
            }
            // Where it is, in its own words.
            self.start(now);
            self.activity = said.to_string();
            self.said_where = true;
            return Mark::Other;
        }
        if level.is_some() {
            // A tool that logs before its stage line (or runs without
            // PHX_STAGE_LINES): it is running all the same.
            self.start(now);
        }
        // The tools announce each change with its verb first.
        match text.split_whitespace().next() {
            Some("create" | "import" | "launch" | "register") => self.created += 1,
            Some("change") => self.changed += 1,
            Some("delete" | "deleted" | "terminate" | "deregister") => self.deleted += 1,
            _ => {}
        }
        let waiting = text.starts_with("waiting for ") || text.starts_with("backing off: ");
        if level.is_some() && !text.is_empty() && (waiting || !self.said_where) {
            self.activity = text.to_string();
        }
        Mark::Other
    }

    /// A finished stage's line: `✓ 21 created, 3 changed · 3.1 s`.
    pub fn done_message(&self) -> String {
        let took = self
            .took
            .map(|t| format!(" · {:.1} s", t.as_secs_f64()))
            .unwrap_or_default();
        format!("✓ {}{took}", self.summary())
    }

    fn start(&mut self, now: Instant) {
        if self.state == State::Waiting {
            self.state = State::Running;
            self.started.get_or_insert(now);
        }
    }

    /// `tool: said` when the line is one of this stage's tools speaking
    /// for itself.
    fn own<'a>(&self, text: &'a str) -> Option<(&'a str, &'a str)> {
        let (tool, said) = text.split_once(": ")?;
        self.tools.iter().any(|t| t == tool).then_some((tool, said))
    }

    /// The stage's one-line result: what its tools said they did (`1
    /// initialized, 3 joined`), else the AWS changes they announced (`21
    /// created, 3 changed`), else `done`.
    pub fn summary(&self) -> String {
        let summary = self.said_or_counted();
        match self.retries {
            0 => summary,
            1 => format!("{summary}, 1 retry"),
            n => format!("{summary}, {n} retries"),
        }
    }

    fn said_or_counted(&self) -> String {
        if !self.results.is_empty() {
            return self.results.join("; ");
        }
        let parts: Vec<String> = [
            (self.created, "created"),
            (self.changed, "changed"),
            (self.deleted, "deleted"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, w)| format!("{n} {w}"))
        .collect();
        match parts.is_empty() {
            true => "done".into(),
            false => parts.join(", "),
        }
    }
}

/// ` INFO text` -> (Some("INFO"), "text"); a line without a level (a
/// tool's error line, a script's message) -> (None, line).
fn split_level(line: &str) -> (Option<&str>, &str) {
    let t = line.trim();
    for level in ["ERROR", "WARN", "INFO", "DEBUG", "TRACE"] {
        if let Some(rest) = t.strip_prefix(level) {
            if rest.starts_with(' ') {
                return (Some(level), rest.trim_start());
            }
        }
    }
    (None, t)
}

/// `done in 3.1 s; 12 retries` -> (`done in 3.1 s`, 12).
fn retries_of(said: &str) -> (&str, u64) {
    if let Some((head, tail)) = said.rsplit_once("; ") {
        let n = tail
            .strip_suffix(" retries")
            .or_else(|| tail.strip_suffix(" retry"))
            .and_then(|n| n.parse().ok());
        if let Some(n) = n {
            return (head, n);
        }
    }
    (said, 0)
}

/// `3.1 s (3 joined)` -> (3.1 s, Some("3 joined")).
fn done(s: &str) -> Option<(Duration, Option<String>)> {
    let (t, rest) = match s.split_once(" (") {
        Some((t, r)) => (t, r.strip_suffix(')').map(str::to_string)),
        None => (s, None),
    };
    Some((seconds(t)?, rest.filter(|r| !r.is_empty())))
}

/// `3.1 s` -> 3.1 s.
fn seconds(s: &str) -> Option<Duration> {
    let n: f64 = s.strip_suffix(" s")?.parse().ok()?;
    Duration::try_from_secs_f64(n).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(stage: &mut Stage, lines: &[&str]) {
        let now = Instant::now();
        for l in lines {
            stage.line(l, now);
        }
    }

    #[test]
    fn a_stage_runs_counts_its_changes_and_finishes_with_its_time() {
        let mut s = Stage::new("phx-net apply & phx-iam apply");
        assert_eq!(s.name(), "phx-net & phx-iam");
        assert_eq!(Stage::new("phx-kubeadm upgrade").name(), "phx-kubeadm upgrade");
        assert_eq!(Stage::new("phx-nodes apply --allow-remove").name(), "phx-nodes");
        feed(&mut s, &[" INFO phx-net: started", " INFO phx-iam: started"]);
        assert_eq!(s.state, State::Running);
        feed(
            &mut s,
            &[
                " INFO create vpc vpc-1",
                " INFO create subnet subnet-1",
                " INFO change iam-role r put inline policy p",
                " INFO waiting for NAT gateway nat-1 to be available (10 s)",
            ],
        );
        assert_eq!(s.activity, "waiting for NAT gateway nat-1 to be available (10 s)");
        feed(&mut s, &[" INFO phx-iam: done in 1.2 s"]);
        assert_eq!(s.state, State::Running, "one of two done");
        feed(&mut s, &[" INFO phx-net: done in 3.1 s"]);
        assert_eq!(s.state, State::Done);
        assert_eq!(s.took, Some(Duration::from_millis(3100)));
        assert_eq!(s.summary(), "2 created, 1 changed");
    }

    #[test]
    fn a_stage_s_own_word_on_where_it_is_stays_over_details_and_its_result_is_shown() {
        let mut s = Stage::new("phx-kubeadm apply");
        feed(
            &mut s,
            &[
                " INFO phx-kubeadm: started",
                " INFO phx-kubeadm: nodes: 2/4 prepared",
                " INFO worker-1 | phx: prepared (changed=3)",
            ],
        );
        assert_eq!(s.activity, "nodes: 2/4 prepared", "a detail does not replace it");
        feed(&mut s, &[" INFO waiting for the API server (10 s)"]);
        assert_eq!(s.activity, "waiting for the API server (10 s)", "a wait does");
        feed(
            &mut s,
            &[
                " INFO phx-kubeadm: nodes: 4/4 prepared, control plane up, 2/3 joined",
                " INFO create vpc vpc-1",
                " INFO phx-kubeadm: done in 12.5 s (1 initialized, 3 joined)",
            ],
        );
        assert_eq!(s.activity, "nodes: 4/4 prepared, control plane up, 2/3 joined");
        assert_eq!(s.state, State::Done);
        assert_eq!(s.took, Some(Duration::from_millis(12500)));
        assert_eq!(
            s.summary(),
            "1 initialized, 3 joined",
            "its word over the counted changes"
        );
        assert_eq!(done("3.0 s ()"), Some((Duration::from_secs(3), None)));
        assert_eq!(done("3 joined"), None);
    }

    #[test]
    fn a_stage_backing_off_says_so_and_its_retries_are_counted() {
        let mut s = Stage::new("phx-net apply & phx-iam apply");
        feed(
            &mut s,
            &[
                " INFO phx-net: started",
                " INFO phx-net: nodes: whatever it says",
                " INFO backing off: AWS answered RequestLimitExceeded (HTTP 503); 3 retries so far",
            ],
        );
        assert!(
            s.activity.starts_with("backing off: AWS answered"),
            "{}",
            s.activity
        );
        feed(
            &mut s,
            &[
                " INFO create vpc vpc-1",
                " INFO phx-net: done in 3.0 s; 12 retries",
                " INFO phx-iam: done in 1.0 s; 1 retry",
            ],
        );
        assert_eq!(s.state, State::Done);
        assert_eq!(s.summary(), "1 created, 13 retries");
        assert_eq!(
            retries_of("failed after 2.0 s; 7 retries"),
            ("failed after 2.0 s", 7)
        );
        assert_eq!(retries_of("done in 2.0 s (a; b)"), ("done in 2.0 s (a; b)", 0));
    }

    #[test]
    fn a_failure_keeps_the_error_line_and_the_last_lines() {
        let mut s = Stage::new("phx-ccm apply");
        feed(
            &mut s,
            &[
                " INFO phx-ccm: started",
                " INFO applying DaemonSet",
                " INFO phx-ccm: failed after 2.0 s",
                "phx-ccm: DaemonSet kube-system/ccm: no answer from the API server",
            ],
        );
        assert_eq!(
            s.state,
            State::Failed("phx-ccm: DaemonSet kube-system/ccm: no answer from the API server".into())
        );
        assert_eq!(s.took, Some(Duration::from_secs(2)));
        assert_eq!(s.last.len(), 4);
    }

    #[test]
    fn a_stage_after_a_failure_is_skipped_and_others_lines_are_not_its_own() {
        let mut s = Stage::new("phx-cni apply");
        feed(&mut s, &["phx-cni: skipped: phx-ccm failed earlier: boom"]);
        assert_eq!(s.state, State::Skipped);
        let mut t = Stage::new("phx-cni apply");
        feed(&mut t, &["phx-ccm: something else"]);
        assert_eq!(t.state, State::Waiting);
        assert_eq!(t.summary(), "done");
    }
}
