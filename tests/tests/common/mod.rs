//! Helpers shared by the real-sandbox test files.
#![allow(dead_code)]

pub mod backup;

use std::time::{Duration, Instant};

/// Poll `f` twice a second until it holds; fail the test naming `what`
/// after `secs`.
pub fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "{what}: not within {secs} s");
        std::thread::sleep(Duration::from_millis(500));
    }
}
