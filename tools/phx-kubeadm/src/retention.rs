//! Which etcd snapshots a backup keeps (`spec.backup.keep`), counted as
//! restic's `forget --keep-last --keep-hourly --keep-daily` does, a rule
//! platform engineers already know: the `last` newest; then, newest first,
//! the newest snapshot of each of the `hourly` most recent UTC hours that
//! have one; then likewise for `daily` days. A snapshot may be kept by
//! several rules. The newest is always kept, whatever the numbers say.

use phx_core::spec::Keep;
use phx_core::status::Backup;
use std::collections::BTreeSet;

/// The keys to keep of `backups` (any order).
pub fn kept(backups: &[Backup], keep: Keep) -> BTreeSet<String> {
    let mut newest_first: Vec<(u64, &Backup)> = backups
        .iter()
        .filter_map(|b| Some((seconds(&b.time)?, b)))
        .collect();
    newest_first.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| b.1.key.cmp(&a.1.key)));
    let mut out: BTreeSet<String> = newest_first
        .iter()
        .take(keep.last.max(1) as usize)
        .map(|(_, b)| b.key.clone())
        .collect();
    for (count, period) in [(keep.hourly, 3600), (keep.daily, 86_400)] {
        let mut last_period = None;
        let mut taken = 0;
        for (t, b) in &newest_first {
            if taken == count {
                break;
            }
            let p = t / period;
            if last_period != Some(p) {
                last_period = Some(p);
                taken += 1;
                out.insert(b.key.clone());
            }
        }
    }
    // A snapshot whose time does not parse is not ours to judge: kept.
    out.extend(
        backups
            .iter()
            .filter(|b| seconds(&b.time).is_none())
            .map(|b| b.key.clone()),
    );
    out
}

fn seconds(rfc3339: &str) -> Option<u64> {
    let t = humantime::parse_rfc3339(rfc3339).ok()?;
    Some(t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn b(time: &str) -> Backup {
        Backup {
            key: time.to_string(),
            time: time.to_string(),
            revision: 1,
            size: 1,
        }
    }

    fn keep(last: u32, hourly: u32, daily: u32) -> Keep {
        Keep { last, hourly, daily }
    }

    fn run(times: &[&str], k: Keep) -> Vec<String> {
        let all: Vec<Backup> = times.iter().map(|t| b(t)).collect();
        kept(&all, k).into_iter().collect()
    }

    const EVERY_15_MIN: [&str; 9] = [
        "2026-12-01T10:00:00Z",
        "2026-12-01T10:15:00Z",
        "2026-12-01T10:30:00Z",
        "2026-12-01T10:45:00Z",
        "2026-12-01T11:00:00Z",
        "2026-12-01T11:15:00Z",
        "2026-12-01T11:30:00Z",
        "2026-12-01T11:45:00Z",
        "2026-12-01T12:00:00Z",
    ];

    #[test]
    fn the_last_n() {
        assert_eq!(
            run(&EVERY_15_MIN, keep(2, 0, 0)),
            ["2026-12-01T11:45:00Z", "2026-12-01T12:00:00Z"]
        );
    }

    #[test]
    fn the_newest_of_each_recent_hour() {
        assert_eq!(
            run(&EVERY_15_MIN, keep(1, 2, 0)),
            ["2026-12-01T11:45:00Z", "2026-12-01T12:00:00Z"],
            "12:00 is the newest and 12h's; 11:45 is 11h's"
        );
        assert_eq!(
            run(&EVERY_15_MIN, keep(1, 24, 0)),
            [
                "2026-12-01T10:45:00Z",
                "2026-12-01T11:45:00Z",
                "2026-12-01T12:00:00Z"
            ]
        );
    }

    #[test]
    fn hours_without_a_snapshot_do_not_count() {
        let times = [
            "2026-11-28T08:10:00Z",
            "2026-11-30T23:59:59Z",
            "2026-12-01T00:00:00Z",
            "2026-12-01T05:30:00Z",
        ];
        assert_eq!(
            run(&times, keep(1, 3, 0)),
            [
                "2026-11-30T23:59:59Z",
                "2026-12-01T00:00:00Z",
                "2026-12-01T05:30:00Z"
            ]
        );
        assert_eq!(
            run(&times, keep(1, 0, 2)),
            ["2026-11-30T23:59:59Z", "2026-12-01T05:30:00Z"],
            "days are UTC days: 23:59:59 is the 30th's newest"
        );
        assert_eq!(run(&times, keep(1, 0, 30)).len(), 3);
    }

    #[test]
    fn the_newest_is_always_kept() {
        assert_eq!(run(&EVERY_15_MIN, keep(0, 0, 0)), ["2026-12-01T12:00:00Z"]);
        assert!(run(&[], keep(0, 0, 0)).is_empty());
    }
}
