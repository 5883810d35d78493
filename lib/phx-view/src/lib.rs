//! The terminal view of a phx pipeline (`phx-state view`, run by deploy.sh
//! and destroy.sh when stderr is a terminal): one line per stage, waiting
//! → running (spinner, elapsed time, what it is doing) → `✓ 21 created,
//! 3 changed · 3.1 s`, `✗` and the one-line error, or skipped; then a
//! closing table. Every line the stages print goes, timestamped, to the
//! log file instead of the screen.
//!
//! Input: the stages' stderr, each line as `INDEX<TAB>TEXT` (INDEX from 1,
//! in the order the stages were given; lines without one are the
//! script's own and only logged). [`stage`] reads the lines; this draws.

pub mod solo;
pub mod stage;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use stage::{Stage, State};
use std::fs::File;
use std::io::{self, BufRead, Write};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

/// How each stage ended, for the caller's exit status.
#[derive(Debug)]
pub struct Outcome {
    pub stages: Vec<Stage>,
}

impl Outcome {
    pub fn failed(&self) -> bool {
        self.stages.iter().any(|s| matches!(s.state, State::Failed(_)))
    }
}

/// Draw `commands`' progress from `input` until it ends; every line into
/// `log` (appended). `draw` is where the view goes (stderr, or hidden in
/// tests).
pub fn run(
    commands: &[String],
    input: impl BufRead,
    log: &mut File,
    draw: ProgressDrawTarget,
) -> io::Result<Outcome> {
    let mut stages: Vec<Stage> = commands.iter().map(|c| Stage::new(c)).collect();
    let width = stages.iter().map(|s| s.name().len()).max().unwrap_or(0);
    let mp = MultiProgress::with_draw_target(draw);
    let bars: Vec<ProgressBar> = stages
        .iter()
        .map(|s| {
            let b = mp.add(ProgressBar::new_spinner());
            b.set_style(waiting_style());
            b.set_prefix(format!("{:<width$}", s.name()));
            b.set_message("waiting");
            b
        })
        .collect();
    for line in input.lines() {
        let line = line?;
        let (index, text) = match line.split_once('\t') {
            Some((i, t)) => (i.parse::<usize>().ok(), t),
            None => (None, line.as_str()),
        };
        let at = humantime::format_rfc3339_millis(SystemTime::now());
        let Some(i) = index.filter(|i| (1..=stages.len()).contains(i)).map(|i| i - 1) else {
            writeln!(log, "{at} {text}")?;
            continue;
        };
        writeln!(log, "{at} {} | {}", stages[i].name(), text.trim_start())?;
        let before = stages[i].state.clone();
        stages[i].line(text, Instant::now());
        show(&bars[i], &stages[i], &before);
    }
    for (b, s) in bars.iter().zip(&stages) {
        if !b.is_finished() {
            b.set_style(ended_style());
            b.finish_with_message(match s.state {
                State::Waiting => "· not run".to_string(),
                _ => "? ended without saying how (interrupted?)".to_string(),
            });
        }
    }
    log.flush()?;
    Ok(Outcome { stages })
}

/// The bar after a line changed its stage.
fn show(bar: &ProgressBar, s: &Stage, before: &State) {
    match &s.state {
        State::Running => {
            if *before == State::Waiting {
                bar.set_style(running_style());
                bar.reset_elapsed();
                bar.enable_steady_tick(Duration::from_millis(120));
            }
            bar.set_message(s.activity.clone());
        }
        State::Done => {
            bar.set_style(ended_style());
            bar.finish_with_message(s.done_message());
        }
        State::Failed(e) => {
            bar.set_style(ended_style());
            bar.finish_with_message(format!("✗ {e}"));
        }
        State::Skipped => {
            bar.set_style(ended_style());
            bar.finish_with_message("– skipped (an earlier stage failed)");
        }
        State::Waiting => {}
    }
}

/// The closing table: each stage's result and time; a failed stage's last
/// lines under it; how many AWS requests were sent again in all.
pub fn table(outcome: &Outcome) -> String {
    let width = outcome
        .stages
        .iter()
        .map(|s| s.name().len())
        .max()
        .unwrap_or(0)
        .max(5);
    let mut out = format!("{:<width$}  {:<8}  result\n", "stage", "time");
    for s in &outcome.stages {
        let time = s
            .took
            .map(|t| format!("{:.1} s", t.as_secs_f64()))
            .unwrap_or_else(|| "-".into());
        let result = match &s.state {
            State::Done => format!("✓ {}", s.summary()),
            State::Failed(e) => format!("✗ {e}"),
            State::Skipped => "– skipped".into(),
            State::Waiting => "· not run".into(),
            State::Running => "? did not finish".into(),
        };
        out.push_str(&format!("{:<width$}  {time:<8}  {result}\n", s.name()));
        if matches!(s.state, State::Failed(_)) {
            for l in s.last.iter().filter(|l| !l.trim().is_empty()) {
                out.push_str(&format!("{:<width$}  {:<8}  | {l}\n", "", ""));
            }
        }
    }
    match outcome.stages.iter().map(|s| s.retries).sum::<u64>() {
        0 => {}
        n => out.push_str(&format!(
            "{:<width$}  {:<8}  {n} AWS request{} sent again (throttled or dropped)\n",
            "total",
            "",
            if n == 1 { "" } else { "s" }
        )),
    }
    out
}

fn waiting_style() -> ProgressStyle {
    template("  {prefix}  {msg:.dim}")
}

pub(crate) fn running_style() -> ProgressStyle {
    template("{spinner:.cyan} {prefix}  {elapsed:>4}  {wide_msg}").tick_chars("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏ ")
}

pub(crate) fn ended_style() -> ProgressStyle {
    template("  {prefix}  {msg}")
}

fn template(t: &str) -> ProgressStyle {
    // The templates are constants: a bad one is a bug caught by the tests.
    ProgressStyle::with_template(t).unwrap_or_else(|_| ProgressStyle::default_spinner())
}

/// Create (0600, its directory 0700) the log file at `path`.
pub fn create_log(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_is_logged_and_the_table_says_how_each_stage_ended() {
        let dir = std::env::temp_dir().join(format!("phx-view-{}", std::process::id()));
        let path = dir.join("logs/deploy.log");
        let mut log = create_log(&path).unwrap();
        let input = "1\t INFO phx-net: started\n1\t INFO create vpc vpc-1\n\
                     1\t INFO sandbox-worker-1 | phx: prepared (changed=3)\n1\t INFO phx-net: done in 3.1 s; 4 retries\n\
                     2\t INFO phx-ccm: started\n2\t INFO phx-ccm: failed after 1.0 s\n\
                     2\tphx-ccm: applying: no answer\n3\tphx-cni: skipped: phx-ccm failed earlier\n\
                     deploy.sh: a line of the script's own\n";
        let commands = [
            "phx-net apply",
            "phx-ccm apply",
            "phx-cni apply",
            "phx-platform apply",
        ]
        .map(String::from);
        let out = run(
            &commands,
            input.as_bytes(),
            &mut log,
            ProgressDrawTarget::hidden(),
        )
        .unwrap();
        assert!(out.failed());
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 9);
        assert!(
            text.contains(" phx-net | INFO sandbox-worker-1 | phx: prepared"),
            "{text}"
        );
        assert!(text.contains(" deploy.sh: a line of the script's own"), "{text}");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let t = table(&out);
        let rows: Vec<&str> = t.lines().collect();
        assert!(
            rows[1].starts_with("phx-net") && rows[1].ends_with("3.1 s     ✓ 1 created, 4 retries"),
            "{t}"
        );
        assert!(rows[2].contains("✗ phx-ccm: applying: no answer"), "{t}");
        assert!(
            t.contains("| phx-ccm: applying: no answer"),
            "the failed stage's last lines: {t}"
        );
        assert!(t.contains("– skipped") && t.contains("· not run"), "{t}");
        assert!(
            rows.last().unwrap().starts_with("total")
                && rows
                    .last()
                    .unwrap()
                    .ends_with("4 AWS requests sent again (throttled or dropped)"),
            "{t}"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn the_styles_are_valid_templates() {
        for t in [
            "  {prefix}  {msg:.dim}",
            "{spinner:.cyan} {prefix}  {elapsed:>4}  {wide_msg}",
            "  {prefix}  {msg}",
        ] {
            assert!(ProgressStyle::with_template(t).is_ok(), "{t}");
        }
    }
}
