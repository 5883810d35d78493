//! A tool run alone on a terminal draws its own line, as deploy.sh draws
//! one per stage: from its `started` line a spinner with the elapsed time
//! and what it is doing, then `✓ 21 created, 3 changed · 3.1 s` or `✗
//! failed after 3.1 s` with its last lines; the details (every INFO line)
//! go, timestamped, to a 0600 log file named when the line appears.
//! Warnings and errors still show, above the line.
//!
//! It is fed the tool's log output (`phx_core::cli` turns it on: stderr a
//! terminal, no -v, -q or RUST_LOG, not under deploy.sh). Before a stage
//! starts and after it ends, lines go to stderr as they would without it:
//! verbs that run no stage (`plan`, `show`) look as they always did.

use crate::stage::{Mark, Stage, State};
use indicatif::{ProgressBar, ProgressDrawTarget};
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

pub struct Solo {
    tool: String,
    log_path: PathBuf,
    draw: fn() -> ProgressDrawTarget,
    /// Lines that are not the stage's go here (stderr, or a test's buffer).
    out: Mutex<Box<dyn Write + Send>>,
    running: Mutex<Option<Running>>,
}

impl std::fmt::Debug for Solo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Solo")
            .field("tool", &self.tool)
            .field("log_path", &self.log_path)
            .finish_non_exhaustive()
    }
}

impl Solo {
    /// `tool`'s line on stderr, its details into `log_path`.
    pub fn new(tool: &str, log_path: PathBuf) -> Solo {
        Solo::with(
            tool,
            log_path,
            ProgressDrawTarget::stderr,
            Box::new(std::io::stderr()),
        )
    }

    fn with(
        tool: &str,
        log_path: PathBuf,
        draw: fn() -> ProgressDrawTarget,
        out: Box<dyn Write + Send>,
    ) -> Solo {
        Solo {
            tool: tool.to_string(),
            log_path,
            draw,
            out: Mutex::new(out),
            running: Mutex::new(None),
        }
    }

    /// One log event's text (a line or more, as the tool formatted it).
    pub fn event(&self, text: &str) {
        let Ok(mut running) = self.running.lock() else {
            return;
        };
        for line in text.lines() {
            let Some(r) = running.as_mut() else {
                // The stage reads the line: only its start starts one.
                let mut stage = Stage::new(&self.tool);
                match stage.line(line, Instant::now()) {
                    Mark::Started => {
                        *running = Some(Running {
                            stage,
                            first: line.to_string(),
                            drawn: None,
                        })
                    }
                    _ => self.plain(line),
                }
                continue;
            };
            let mark = r.stage.line(line, Instant::now());
            let ended = matches!(mark, Mark::Done | Mark::FailedAfter);
            if r.drawn.is_none() {
                if ended {
                    // It said nothing between its start and end.
                    *running = None;
                    continue;
                }
                r.drawn = Some(self.draw(&r.first));
            }
            r.show(line, mark);
            if ended {
                *running = None;
            }
        }
    }

    /// Run `f` (a question on the terminal) with the line out of the way.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        let bar = self
            .running
            .lock()
            .ok()
            .and_then(|r| r.as_ref().and_then(|r| r.drawn.as_ref()).map(|d| d.bar.clone()));
        match bar {
            Some(b) => b.suspend(f),
            None => f(),
        }
    }

    /// The line and the log file, from the stage's first line after its
    /// start: a stage that says nothing (`plan`, which prints its table)
    /// draws nothing.
    fn draw(&self, first: &str) -> Drawn {
        let bar = ProgressBar::with_draw_target(None, (self.draw)());
        bar.set_style(crate::running_style());
        bar.set_prefix(self.tool.clone());
        bar.enable_steady_tick(Duration::from_millis(120));
        let log = match crate::create_log(&self.log_path) {
            Ok(f) => {
                bar.println(format!("{}: details in {}", self.tool, self.log_path.display()));
                Some(f)
            }
            Err(e) => {
                bar.println(format!(
                    "{}: no log file ({}: {e}); the details are not kept",
                    self.tool,
                    self.log_path.display()
                ));
                None
            }
        };
        let mut d = Drawn { bar, log };
        d.log(first);
        d
    }

    fn plain(&self, line: &str) {
        if let Ok(mut out) = self.out.lock() {
            let _ = writeln!(out, "{line}");
        }
    }
}

/// A stage under way.
struct Running {
    stage: Stage,
    /// Its `started` line, logged once it is drawn.
    first: String,
    drawn: Option<Drawn>,
}

struct Drawn {
    bar: ProgressBar,
    log: Option<File>,
}

impl Running {
    /// Draw one line the stage has read (`mark`: what it was).
    fn show(&mut self, line: &str, mark: Mark) {
        let Some(d) = self.drawn.as_mut() else {
            return;
        };
        d.log(line);
        let t = line.trim_start();
        if t.starts_with("WARN ") || t.starts_with("ERROR ") {
            d.bar.println(t);
        }
        if self.stage.state == State::Done {
            d.bar.set_style(crate::ended_style());
            d.bar.finish_with_message(self.stage.done_message());
        } else if mark == Mark::FailedAfter {
            let took = self.stage.took.map_or(0.0, |t| t.as_secs_f64());
            d.bar.set_style(crate::ended_style());
            d.bar.finish_with_message(format!("✗ failed after {took:.1} s"));
            // Its last lines, but the stage line just logged.
            let last = &self.stage.last[..self.stage.last.len().saturating_sub(1)];
            for l in last.iter().filter(|l| !l.trim().is_empty()) {
                d.bar.println(format!("  | {}", l.trim_start()));
            }
        } else {
            d.bar.set_message(self.stage.activity.clone());
        }
    }
}

impl Drawn {
    fn log(&mut self, line: &str) {
        if let Some(f) = self.log.as_mut() {
            let at = humantime::format_rfc3339_millis(SystemTime::now());
            let _ = writeln!(f, "{at} {}", line.trim_start());
        }
    }
}

/// Where logs go: `$PHX_LOG_DIR`, else `$XDG_STATE_HOME/phx/logs`, else
/// `~/.local/state/phx/logs` (as the pipeline scripts say).
pub fn log_dir() -> PathBuf {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    var("PHX_LOG_DIR").unwrap_or_else(|| {
        var("XDG_STATE_HOME")
            .or_else(|| var("HOME").map(|h| h.join(".local/state")))
            .unwrap_or_else(|| PathBuf::from("."))
            .join("phx/logs")
    })
}

/// `DIR/TOOL-UTCTIME.log` for a tool run alone (`phx-net-20261202T053000Z.log`).
pub fn log_path(tool: &str) -> PathBuf {
    let now = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    let stamp: String = now.chars().filter(|c| *c != '-' && *c != ':').collect();
    log_dir().join(format!("{tool}-{stamp}.log"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_stage_s_lines_go_to_the_log_and_the_rest_to_stderr() {
        let dir = std::env::temp_dir().join(format!("phx-solo-{}", std::process::id()));
        let path = dir.join("logs/phx-net.log");
        let out = Buf::default();
        let solo = Solo::with(
            "phx-net",
            path.clone(),
            ProgressDrawTarget::hidden,
            Box::new(out.clone()),
        );
        solo.event(" WARN before the stage\n");
        solo.event(" INFO phx-net: started\n");
        solo.event(" INFO create vpc vpc-1\n INFO create subnet subnet-1\n");
        solo.event(" INFO phx-net: done in 1.5 s\n");
        solo.event(" INFO after it\n");
        // A stage that says nothing between its start and end: no log.
        let quiet = dir.join("logs/quiet.log");
        let solo = Solo::with(
            "phx-net",
            quiet.clone(),
            ProgressDrawTarget::hidden,
            Box::new(out.clone()),
        );
        solo.event(" INFO phx-net: started\n INFO phx-net: done in 0.1 s\n");
        assert!(!quiet.exists());
        let shown = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert_eq!(shown, " WARN before the stage\n INFO after it\n");
        let log = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = log.lines().collect();
        assert_eq!(lines.len(), 4, "{log}");
        assert!(lines[1].ends_with(" INFO create vpc vpc-1"), "{log}");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn logs_go_where_the_environment_says() {
        let p = log_path("phx-net");
        let name = p.file_name().unwrap().to_str().unwrap().to_string();
        assert!(name.starts_with("phx-net-2") && name.ends_with("Z.log"), "{name}");
        assert_eq!(name.len(), "phx-net-20261202T053000Z.log".len(), "{name}");
    }
}
