//! Timestamps and ages as people read them in lock messages and listings.

use std::time::{Duration, SystemTime};

/// Now, as RFC 3339 UTC to the second (`2026-11-26T22:05:00Z`).
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

/// How long ago an RFC 3339 timestamp was, rounded to the second
/// (`3m 12s`); `None` when it does not parse.
pub fn age(rfc3339: &str) -> Option<String> {
    let then = humantime::parse_rfc3339_weak(rfc3339).ok()?;
    let secs = SystemTime::now()
        .duration_since(then)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    Some(humantime::format_duration(Duration::from_secs(secs)).to_string())
}

/// Parse a duration flag such as `30s`, `5m` or `1h 30m`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{e} (examples: 30s, 5m, 1h)"))
}

/// A duration as people write it (`10m`, `1h 30m`).
pub fn format_duration(d: Duration) -> String {
    humantime::format_duration(Duration::from_secs(d.as_secs())).to_string()
}
