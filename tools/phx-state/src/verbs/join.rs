//! `join`: the documents of stages that ran side by side, made one again
//! (the rules are [`phx_core::join`]'s). Each FILE is one stage's copy; its
//! file name names the stage in messages, so scripts/lib/pipeline.sh writes
//! them as `<dir>/<n>/<tool>`.

use phx_core::join::{join as join_copies, Copy};
use phx_core::{io, Error, Result};
use std::path::{Path, PathBuf};

pub fn join(files: &[PathBuf]) -> Result<()> {
    let base = io::read_stdin()?;
    let copies = files
        .iter()
        .map(|f| Copy {
            stage: f
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| f.display().to_string()),
            written: read_copy(f),
        })
        .collect();
    let (joined, broken) = join_copies(&base, copies);
    io::write_stdout(&joined)?;
    match (broken, joined.error()) {
        (true, Some(e)) => Err(Error::failed(format!("{}: {}", e.tool, e.message))),
        _ => Ok(()),
    }
}

/// A stage's copy, or why it has none (killed before writing, or garbage).
fn read_copy(file: &Path) -> std::result::Result<phx_core::Document, String> {
    let bytes = std::fs::read(file).map_err(|e| format!("wrote no document ({e})"))?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err("wrote no document (stopped before writing?); \
            what it made carries the cluster's tags and the next run finds it"
            .into());
    }
    io::read_from(&bytes[..]).map_err(|e| format!("wrote no valid document: {e}"))
}
