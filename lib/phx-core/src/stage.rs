//! The pipeline rules every stage keeps.
//!
//! State is never lost: a stage that fails after parsing the document still
//! writes it, with what it made in its status and `.error` naming the stage,
//! and a stage that receives a document carrying `.error` passes it through
//! untouched and exits non-zero, so the last stage (`phx-state push`) stores
//! it and releases the lock.

use crate::document::Document;
use crate::error::{Error, Result};
use crate::io;
use crate::status::StageError;

/// If an earlier stage failed, write the document unchanged and return the
/// error to exit with; otherwise `Ok(())` and the stage goes on.
pub fn pass_through_failure(doc: &Document) -> Result<()> {
    let Some(e) = doc.error() else { return Ok(()) };
    io::write_stdout(doc)?;
    Err(Error::failed(format!(
        "skipped: {} failed earlier: {}",
        e.tool, e.message
    )))
}

/// Finish a stage: write the document, marked with `.error` when the stage
/// failed, and hand back the stage's result for the exit status.
pub fn finish(mut doc: Document, tool: &str, result: Result<()>) -> Result<()> {
    if let Err(e) = &result {
        if !e.is_quiet() {
            doc.set_error(&StageError {
                tool: tool.to_string(),
                message: e.to_string(),
                at: Some(crate::time::now_rfc3339()),
            });
        }
    }
    io::write_stdout(&doc)?;
    result
}

/// A whole stage: read the document, pass an earlier failure through,
/// run `work` on it, and write it (marked with `.error` if `work` failed).
///
/// Ctrl-C or SIGTERM stops `work` where it is (its requests are dropped)
/// and the document is written as it stands, marked interrupted: what the
/// stage recorded is kept, and anything it made but had not yet recorded
/// carries the cluster's tags, so the next run finds it.
pub async fn run(tool: &str, work: impl AsyncFnOnce(&mut Document) -> Result<()>) -> Result<()> {
    let mut doc = io::read_stdin()?;
    pass_through_failure(&doc)?;
    let result = {
        let work = work(&mut doc);
        tokio::select! {
            r = work => r,
            signal = crate::signal::interrupted() => Err(Error::new(
                crate::error::ExitKind::Interrupted,
                format!("interrupted by {signal}; re-run to finish (what was made is recorded or tagged)"),
            )),
        }
    };
    finish(doc, tool, result)
}
