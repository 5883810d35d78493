//! The ground every phx tool stands on, with no cloud I/O: the cluster
//! document and its schema, errors that carry an exit code, reading the
//! document from stdin and writing it to stdout, logging, and the shared
//! `main` that turns a tool's `run()` into a process exit status.
//!
//! A tool crate depends on this and on exactly the client crates it needs
//! (`phx-aws` with the services it uses, later SSH or Kubernetes), so that
//! building one tool never compiles a client it does not call.

pub mod backoff;
pub mod cli;
pub mod digest;
pub mod document;
pub mod error;
pub mod home;
pub mod io;
pub mod join;
pub mod pki;
pub mod plan;
pub mod progress;
pub mod redact;
pub mod signal;
pub mod spec;
pub mod stage;
pub mod status;
pub mod table;
pub mod time;

pub use document::{Document, API_VERSION, KIND};
pub use error::{Context, Error, ExitKind, Result};
