//! SSH for phx tools, on russh: one connection per node, reused for every
//! step as separate channels; host keys verified before anything is sent;
//! commands whose output streams line by line to a callback and whose
//! last lines are kept for the error message.
//!
//! - [`hostkey`]: pinned keys (from the document) or `known_hosts`; an
//!   unknown key only with `accept_new`, a changed key never.
//! - [`auth`]: `ssh-agent` first, then the private key file.
//! - [`session`]: connecting (directly or through a jump host) and running
//!   commands.

pub mod auth;
pub mod hostkey;
pub mod session;

pub use hostkey::{HostKeyPolicy, Verdict};
pub use session::{Connector, ExecOutput, Session, Target};
