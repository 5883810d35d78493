//! Test harness for phx: real parts on loopback, never real AWS.
//!
//! - [`Moto`]: a moto server (the AWS emulator) of the test's own, on a free
//!   loopback port, killed when the test ends (and if the test process dies).
//! - [`Recording`]: the API calls the emulator saw, classified as reads or
//!   writes, so tests can say "this made no mutating call".
//! - [`bin`]: the path of a workspace binary for tests outside its crate.
//!
//! A missing prerequisite (moto not installed) is a test failure that says
//! how to install it, never a skip: `scripts/test.sh` installs everything.

#![allow(unsafe_code)] // one pre_exec hook: the emulator dies with the test process

mod bins;
mod moto;
mod proxy;
mod recording;

pub use bins::{bin, workspace_root};
pub use moto::Moto;
pub use proxy::LatencyProxy;
pub use recording::{Call, Recording};
