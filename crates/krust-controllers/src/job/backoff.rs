//! The delay before replacing failed pods: 10 s after the first failure since the last
//! success, doubling per further failure, at most 6 minutes (upstream's pod failure
//! back-off). A success resets it.

use std::time::Duration;

use k8s_openapi::jiff::{SignedDuration, Timestamp};

/// Delay after the first failure.
pub(crate) const BASE: Duration = Duration::from_secs(10);
/// Longest delay.
pub(crate) const MAX: Duration = Duration::from_secs(360);

/// Failures since the last success and when the latest happened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Record {
    /// Failures after the last success.
    pub failures: u32,
    /// When the latest of them happened.
    pub last_failure: Option<Timestamp>,
}

impl Record {
    /// The record after newly finished pods: a success (finishing after the failures)
    /// resets the count; failures add up.
    pub(crate) fn update(self, succeeded: &[Timestamp], failed: &[Timestamp]) -> Self {
        let mut r = self;
        let last_success = succeeded.iter().max().copied();
        let failures: Vec<Timestamp> = failed
            .iter()
            .copied()
            .filter(|f| last_success.is_none_or(|s| *f > s))
            .collect();
        if last_success.is_some_and(|s| r.last_failure.is_none_or(|l| s >= l)) {
            r = Self::default();
        }
        r.failures = r
            .failures
            .saturating_add(u32::try_from(failures.len()).unwrap_or(u32::MAX));
        if let Some(latest) = failures.iter().max() {
            r.last_failure = Some(r.last_failure.map_or(*latest, |l| l.max(*latest)));
        }
        r
    }

    /// How long, at `now`, new pods must still wait.
    pub(crate) fn remaining(&self, now: Timestamp) -> Duration {
        let Some(last) = self.last_failure else {
            return Duration::ZERO;
        };
        left(self.failures, last, now)
    }
}

/// How long, at `now`, a retry after `failures` failures (the latest at `last`) must
/// still wait. Also the per-index delay of `backoffLimitPerIndex` Jobs.
pub(crate) fn left(failures: u32, last: Timestamp, now: Timestamp) -> Duration {
    if failures == 0 {
        return Duration::ZERO;
    }
    let doublings = failures.saturating_sub(1).min(16);
    let delay = BASE.saturating_mul(1 << doublings).min(MAX);
    let due = last
        .checked_add(SignedDuration::try_from(delay).unwrap_or(SignedDuration::MAX))
        .unwrap_or(last);
    let left = now.duration_until(due);
    if left.is_positive() {
        left.unsigned_abs()
    } else {
        Duration::ZERO
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    #[test]
    fn doubles_from_ten_seconds_up_to_six_minutes() {
        let mut r = Record::default();
        assert_eq!(r.remaining(at(0)), Duration::ZERO);
        r = r.update(&[], &[at(100)]);
        assert_eq!(r.remaining(at(100)), Duration::from_secs(10));
        assert_eq!(r.remaining(at(105)), Duration::from_secs(5));
        assert_eq!(r.remaining(at(111)), Duration::ZERO);
        r = r.update(&[], &[at(200)]);
        assert_eq!(r.remaining(at(200)), Duration::from_secs(20));
        r = r.update(&[], &[at(300), at(301), at(302), at(303), at(304), at(305)]);
        assert_eq!(r.failures, 8);
        assert_eq!(r.remaining(at(305)), MAX);
    }

    #[test]
    fn a_success_resets() {
        let r = Record::default().update(&[], &[at(10), at(20)]);
        assert_eq!(r.failures, 2);
        let r = r.update(&[at(30)], &[]);
        assert_eq!(r, Record::default());
        // A failure after the success in the same batch still counts.
        let r = Record::default().update(&[at(30)], &[at(20), at(40)]);
        assert_eq!((r.failures, r.last_failure), (1, Some(at(40))));
    }
}
