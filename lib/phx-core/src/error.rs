//! Errors that know their exit status.
//!
//! Every tool prints one line, `phx-<tool>: context: cause`, and exits with
//! one of a handful of documented codes. Library code builds an [`Error`]
//! with the kind that decides the code and adds context as it unwinds, so
//! the message reads outermost-first, like an `anyhow` chain, but the exit
//! code is chosen where the failure is understood rather than guessed at
//! the top.

use std::fmt;

/// The documented exit statuses, identical for every phx tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitKind {
    /// 1: the operation failed (a remote error, a lock held, a timeout, or
    /// an earlier stage's failure carried in the document).
    Failed,
    /// 2: the command line was wrong.
    Usage,
    /// 65 (`EX_DATAERR`): the input document is invalid. Nothing was changed.
    InvalidInput,
    /// 130 (128 + SIGINT): stopped by Ctrl-C or SIGTERM; the document
    /// written says so and holds what was made until then.
    Interrupted,
}

impl ExitKind {
    pub fn code(self) -> u8 {
        match self {
            ExitKind::Failed => 1,
            ExitKind::Usage => 2,
            ExitKind::InvalidInput => 65,
            ExitKind::Interrupted => 130,
        }
    }
}

/// A failure with its exit kind and a chain of context, outermost first.
#[derive(Debug)]
pub struct Error {
    kind: ExitKind,
    chain: Vec<String>,
    /// Already reported (for example a document with `.error` passed
    /// through): `main` exits with the code but prints nothing more.
    quiet: bool,
    /// A remote service's error code (`DependencyViolation`), for retries.
    code: Option<String>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ExitKind, cause: impl fmt::Display) -> Self {
        Error {
            kind,
            chain: vec![one_line(&cause.to_string())],
            quiet: false,
            code: None,
        }
    }

    /// The operation failed (exit 1).
    pub fn failed(cause: impl fmt::Display) -> Self {
        Self::new(ExitKind::Failed, cause)
    }

    /// The command line was wrong (exit 2).
    pub fn usage(cause: impl fmt::Display) -> Self {
        Self::new(ExitKind::Usage, cause)
    }

    /// The input document is invalid (exit 65).
    pub fn invalid(cause: impl fmt::Display) -> Self {
        Self::new(ExitKind::InvalidInput, cause)
    }

    /// A failure whose message has already been printed.
    pub fn quiet(kind: ExitKind) -> Self {
        Error {
            kind,
            chain: Vec::new(),
            quiet: true,
            code: None,
        }
    }

    /// Record the remote service's error code.
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    /// Whether the remote error code is one of `codes`.
    pub fn has_code(&self, codes: &[&str]) -> bool {
        self.code.as_deref().is_some_and(|c| codes.contains(&c))
    }

    pub fn kind(&self) -> ExitKind {
        self.kind
    }

    pub fn is_quiet(&self) -> bool {
        self.quiet
    }

    /// The same failure with exit status 1, for an input error found after
    /// something was already changed: 65 promises nothing was.
    pub fn changed_something(mut self) -> Self {
        if self.kind == ExitKind::InvalidInput {
            self.kind = ExitKind::Failed;
        }
        self
    }

    /// Prefix a piece of context (`"reading s3://b/k"`).
    pub fn context(mut self, context: impl fmt::Display) -> Self {
        self.chain.insert(0, one_line(&context.to_string()));
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.chain.join(": "))
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::failed(e)
    }
}

/// Adds context to any result whose error is (or converts into) [`Error`].
pub trait Context<T> {
    fn context(self, context: impl fmt::Display) -> Result<T>;
    fn with_context<C: fmt::Display>(self, f: impl FnOnce() -> C) -> Result<T>;
}

impl<T, E: Into<Error>> Context<T> for std::result::Result<T, E> {
    fn context(self, context: impl fmt::Display) -> Result<T> {
        self.map_err(|e| e.into().context(context))
    }
    fn with_context<C: fmt::Display>(self, f: impl FnOnce() -> C) -> Result<T> {
        self.map_err(|e| e.into().context(f()))
    }
}

/// Error messages are one line by contract; remote services sometimes send
/// several (or HTML), so newlines are folded and runs of space collapsed.
/// They reach stderr and `.error` in the stored document, so secrets are
/// masked first ([`crate::redact`]), while the lines are still lines.
fn one_line(s: &str) -> String {
    crate::redact::redact(s)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_reads_outermost_first_on_one_line() {
        let e = Error::failed("access denied\n  (HTTP 403)").context("reading s3://b/k");
        assert_eq!(e.to_string(), "reading s3://b/k: access denied (HTTP 403)");
        assert_eq!(e.kind().code(), 1);
    }

    #[test]
    fn secrets_never_reach_a_message() {
        let e = Error::failed("join failed: kubeadm join h:6443 --token abcdef.0123456789abcdef")
            .context("token: abcdef.0123456789abcdef");
        assert!(!e.to_string().contains("0123456789abcdef"), "{e}");
    }

    #[test]
    fn exit_codes_are_the_documented_ones() {
        assert_eq!(ExitKind::Failed.code(), 1);
        assert_eq!(ExitKind::Usage.code(), 2);
        assert_eq!(ExitKind::InvalidInput.code(), 65);
    }
}
