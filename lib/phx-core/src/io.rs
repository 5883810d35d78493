//! The document on stdin and stdout.
//!
//! stdout carries only the document: compact when it goes to a pipe or a
//! file, pretty on a terminal. Reading refuses a terminal (a tool waiting
//! silently for input looks hung) and caps the size, so a garbage stream is
//! an input error, not an out-of-memory.

use crate::document::Document;
use crate::error::{Error, ExitKind, Result};
use std::io::{IsTerminal, Read, Write};

/// Far above any real document (a 1000-node status is well under 1 MiB).
pub const MAX_DOCUMENT_BYTES: u64 = 32 * 1024 * 1024;

/// Read and validate the cluster document from stdin (errors exit 65;
/// a terminal on stdin is a usage error).
pub fn read_stdin() -> Result<Document> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Err(Error::usage(
            "expects the cluster document on stdin (for example: < cluster.json)",
        ));
    }
    read_from(stdin.lock()).map_err(|e| e.context("reading the cluster document"))
}

pub fn read_from(reader: impl Read) -> Result<Document> {
    let mut bytes = Vec::new();
    reader
        .take(MAX_DOCUMENT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::invalid(format!("cannot read: {e}")))?;
    if bytes.len() as u64 > MAX_DOCUMENT_BYTES {
        return Err(Error::invalid(format!(
            "larger than {} MiB",
            MAX_DOCUMENT_BYTES / 1024 / 1024
        )));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::invalid("empty input (no document on stdin)"));
    }
    Document::from_slice(&bytes)
}

/// Write the document to stdout.
pub fn write_stdout(doc: &Document) -> Result<()> {
    let stdout = std::io::stdout();
    let pretty = stdout.is_terminal();
    write_bytes(&doc.to_bytes(pretty))
}

/// Write any JSON value (listings, schemas) to stdout, pretty on a terminal.
pub fn write_json(value: &serde_json::Value) -> Result<()> {
    let pretty = std::io::stdout().is_terminal();
    let mut out = if pretty {
        serde_json::to_vec_pretty(value)
    } else {
        serde_json::to_vec(value)
    }
    .expect("a JSON value always serializes");
    out.push(b'\n');
    write_bytes(&out)
}

/// Write raw bytes to stdout; a closed pipe ends the tool quietly.
pub fn write_bytes(bytes: &[u8]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(Error::quiet(ExitKind::Failed)),
        Err(e) => Err(Error::failed(e).context("writing to stdout")),
    }
}

/// Ask `question` (y/N) on the terminal itself: stdin carries the
/// document and stdout the result. No terminal is a usage error telling
/// how to say yes without one (`yes_flag`).
pub fn confirm(question: &str, yes_flag: &str) -> Result<bool> {
    crate::progress::suspend(|| ask(question, yes_flag))
}

fn ask(question: &str, yes_flag: &str) -> Result<bool> {
    use std::io::BufRead;
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(|_| Error::usage(format!("no terminal to ask on: {yes_flag} says yes")))?;
    let mut w = &tty;
    write!(w, "{question} [y/N] ")
        .and_then(|()| w.flush())
        .map_err(|e| Error::failed(e).context("asking on the terminal"))?;
    let mut answer = String::new();
    std::io::BufReader::new(&tty)
        .read_line(&mut answer)
        .map_err(|e| Error::failed(e).context("reading the answer"))?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
}

pub fn stdout_is_terminal() -> bool {
    std::io::stdout().is_terminal()
}

pub fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_oversized_inputs_are_invalid() {
        let e = read_from(&b"  \n"[..]).unwrap_err();
        assert_eq!(e.kind(), ExitKind::InvalidInput);
        let big = vec![b' '; (MAX_DOCUMENT_BYTES + 10) as usize];
        let e = read_from(&big[..]).unwrap_err();
        assert!(e.to_string().contains("larger than"), "{e}");
    }
}
