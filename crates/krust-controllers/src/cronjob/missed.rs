//! Which scheduled time a CronJob should start now: the most recent activation in
//! `(earliest, now]` and how many were missed, as upstream's `mostRecentScheduleTime`.
//! After long downtime more than 100 may be missed; then only the latest is wanted, found
//! by searching back from `now` in growing windows instead of walking every missed time.

use k8s_openapi::jiff::{SignedDuration, Timestamp, tz::TimeZone};

use super::schedule::Schedule;

/// More missed activations than this are reported as too many.
pub const TOO_MANY: usize = 100;

/// The most recent activation due and how many were missed (at most [`TOO_MANY`] + 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recent {
    /// The latest activation in `(earliest, now]`.
    pub latest: Option<Timestamp>,
    /// How many activations fell in `(earliest, now]`, counted up to `TOO_MANY + 1`.
    pub missed: usize,
}

/// The activations of `schedule` in `(earliest, now]`.
pub fn most_recent(schedule: &Schedule, tz: &TimeZone, earliest: Timestamp, now: Timestamp) -> Recent {
    let mut latest = None;
    let mut missed = 0;
    let mut cursor = earliest;
    while let Some(t) = schedule.next_after(cursor, tz).filter(|t| *t <= now) {
        missed += 1;
        latest = Some(t);
        cursor = t;
        if missed > TOO_MANY {
            return Recent {
                latest: latest_before(schedule, tz, cursor, now),
                missed,
            };
        }
    }
    Recent { latest, missed }
}

/// The latest activation in `(floor, now]`, searching back from `now`.
fn latest_before(schedule: &Schedule, tz: &TimeZone, floor: Timestamp, now: Timestamp) -> Option<Timestamp> {
    let windows = [
        60,
        3600,
        86_400,
        7 * 86_400,
        32 * 86_400,
        367 * 86_400,
        5 * 367 * 86_400,
    ];
    for secs in windows {
        let start = now
            .checked_sub(SignedDuration::from_secs(secs))
            .unwrap_or(floor)
            .max(floor);
        let mut latest = None;
        let mut cursor = start;
        while let Some(t) = schedule.next_after(cursor, tz).filter(|t| *t <= now) {
            latest = Some(t);
            cursor = t;
        }
        if latest.is_some() {
            return latest;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> Timestamp {
        format!("{s}Z").parse().unwrap()
    }

    fn recent(spec: &str, earliest: &str, now: &str) -> (Option<String>, usize) {
        let r = most_recent(
            &Schedule::parse(spec).unwrap(),
            &TimeZone::UTC,
            utc(earliest),
            utc(now),
        );
        (r.latest.map(|t| t.to_string()), r.missed)
    }

    #[test]
    fn nothing_due_yet() {
        assert_eq!(
            recent("0 * * * *", "2024-01-01T10:00:00", "2024-01-01T10:59:59"),
            (None, 0)
        );
    }

    #[test]
    fn the_latest_of_a_few() {
        assert_eq!(
            recent("0 * * * *", "2024-01-01T10:00:00", "2024-01-01T13:30:00"),
            (Some("2024-01-01T13:00:00Z".into()), 3)
        );
        // `earliest` itself was already handled.
        assert_eq!(
            recent("0 * * * *", "2024-01-01T10:00:00", "2024-01-01T11:00:00"),
            (Some("2024-01-01T11:00:00Z".into()), 1)
        );
    }

    #[test]
    fn after_long_downtime_only_the_latest() {
        // Every minute for a week: far more than 100 missed.
        let (latest, missed) = recent("* * * * *", "2024-01-01T00:00:00", "2024-01-08T12:34:56");
        assert_eq!(latest.as_deref(), Some("2024-01-08T12:34:00Z"));
        assert_eq!(missed, TOO_MANY + 1);
        // An irregular schedule (weekdays at 06:30, 10:30, 14:30) over months.
        let (latest, missed) = recent("30 6-16/4 * * 1-5", "2023-01-01T00:00:00", "2024-01-07T12:00:00");
        assert_eq!(latest.as_deref(), Some("2024-01-05T14:30:00Z"));
        assert!(missed > TOO_MANY);
    }
}
