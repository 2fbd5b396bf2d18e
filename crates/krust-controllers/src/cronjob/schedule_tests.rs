//! Tests of cron parsing and next-activation times.

use super::*;

fn utc(s: &str) -> Timestamp {
    format!("{s}Z").parse().unwrap()
}

fn next(spec: &str, after: &str) -> String {
    let s = Schedule::parse(spec).unwrap();
    s.next_after(utc(after), &TimeZone::UTC).unwrap().to_string()
}

fn next_in(spec: &str, after: &str, tz: &str) -> String {
    let s = Schedule::parse(spec).unwrap();
    let tz = TimeZone::get(tz).unwrap();
    s.next_after(utc(after), &tz).unwrap().to_string()
}

#[test]
fn every_minute_and_steps() {
    assert_eq!(next("* * * * *", "2024-01-01T10:00:00"), "2024-01-01T10:01:00Z");
    assert_eq!(next("* * * * *", "2024-01-01T10:00:30"), "2024-01-01T10:01:00Z");
    assert_eq!(
        next("*/1 * * * *", "2024-01-01T10:59:59.5"),
        "2024-01-01T11:00:00Z"
    );
    assert_eq!(
        next("*/15 * * * *", "2024-01-01T10:16:00"),
        "2024-01-01T10:30:00Z"
    );
    assert_eq!(
        next("5/20 * * * *", "2024-01-01T10:46:00"),
        "2024-01-01T11:05:00Z"
    );
    assert_eq!(
        next("10-20/5 * * * *", "2024-01-01T10:16:00"),
        "2024-01-01T10:20:00Z"
    );
    assert_eq!(
        next("10-20/5 * * * *", "2024-01-01T10:20:00"),
        "2024-01-01T11:10:00Z"
    );
}

#[test]
fn lists_ranges_and_names() {
    assert_eq!(
        next("0 9,17 * * *", "2024-01-01T09:00:00"),
        "2024-01-01T17:00:00Z"
    );
    // 2024-01-06 is a Saturday: the next weekday 09:30 is Monday the 8th.
    assert_eq!(
        next("30 9 * * MON-FRI", "2024-01-05T10:00:00"),
        "2024-01-08T09:30:00Z"
    );
    assert_eq!(
        next("30 9 * * mon-fri", "2024-01-05T10:00:00"),
        "2024-01-08T09:30:00Z"
    );
    assert_eq!(next("0 0 1 jun *", "2024-01-05T10:00:00"), "2024-06-01T00:00:00Z");
    assert_eq!(
        next("0 0 1 JAN,JUL *", "2024-02-01T00:00:00"),
        "2024-07-01T00:00:00Z"
    );
    assert_eq!(
        next("0 12 ? * SUN", "2024-01-01T00:00:00"),
        "2024-01-07T12:00:00Z"
    );
}

#[test]
fn day_fields_combine_like_cron() {
    // Both restricted: either matches (the 15th, or any Monday).
    assert_eq!(
        next("0 0 15 * MON", "2024-01-02T00:00:00"),
        "2024-01-08T00:00:00Z"
    );
    assert_eq!(
        next("0 0 15 * MON", "2024-01-13T00:00:00"),
        "2024-01-15T00:00:00Z"
    );
    assert_eq!(
        next("0 0 14 * MON", "2024-01-09T00:00:00"),
        "2024-01-14T00:00:00Z"
    );
    // One is `*`: both must match.
    assert_eq!(next("0 0 * * MON", "2024-01-02T00:00:00"), "2024-01-08T00:00:00Z");
    // `*/2` in a day field is not a star: either matches.
    assert_eq!(
        next("0 0 */2 * MON", "2024-01-01T00:00:00"),
        "2024-01-03T00:00:00Z"
    );
}

#[test]
fn leap_days_and_month_ends() {
    assert_eq!(next("0 0 29 2 *", "2023-03-01T00:00:00"), "2024-02-29T00:00:00Z");
    assert_eq!(next("0 0 31 * *", "2024-04-01T00:00:00"), "2024-05-31T00:00:00Z");
    assert!(
        Schedule::parse("0 0 30 2 *")
            .unwrap()
            .next_after(utc("2024-01-01T00:00:00"), &TimeZone::UTC)
            .is_none()
    );
}

#[test]
fn macros() {
    assert_eq!(next("@hourly", "2024-01-01T10:00:00"), "2024-01-01T11:00:00Z");
    assert_eq!(next("@daily", "2024-01-01T10:00:00"), "2024-01-02T00:00:00Z");
    assert_eq!(next("@midnight", "2024-01-01T10:00:00"), "2024-01-02T00:00:00Z");
    assert_eq!(next("@weekly", "2024-01-01T10:00:00"), "2024-01-07T00:00:00Z");
    assert_eq!(next("@monthly", "2024-01-01T10:00:00"), "2024-02-01T00:00:00Z");
    assert_eq!(next("@yearly", "2024-01-01T10:00:00"), "2025-01-01T00:00:00Z");
    assert_eq!(next("@annually", "2024-01-01T10:00:00"), "2025-01-01T00:00:00Z");
    assert_eq!(
        next("@every 90s", "2024-01-01T10:00:00.25"),
        "2024-01-01T10:01:30Z"
    );
    assert_eq!(
        next("@every 1h30m", "2024-01-01T10:00:00"),
        "2024-01-01T11:30:00Z"
    );
}

#[test]
fn time_zones_follow_the_wall_clock() {
    // 09:00 in New York is 14:00 UTC in winter and 13:00 UTC in summer.
    assert_eq!(
        next_in("0 9 * * *", "2024-01-10T15:00:00", "America/New_York"),
        "2024-01-11T14:00:00Z"
    );
    assert_eq!(
        next_in("0 9 * * *", "2024-07-10T15:00:00", "America/New_York"),
        "2024-07-11T13:00:00Z"
    );
    // Across the spring-forward night the daily job stays at 09:00 local.
    assert_eq!(
        next_in("0 9 * * *", "2024-03-09T15:00:00", "America/New_York"),
        "2024-03-10T13:00:00Z"
    );
    // 02:30 does not exist on 2024-03-10 in New York: it runs at 03:30 (EDT).
    assert_eq!(
        next_in("30 2 * * *", "2024-03-10T05:00:00", "America/New_York"),
        "2024-03-10T07:30:00Z"
    );
    // A CRON_TZ prefix wins over the zone given.
    let s = Schedule::parse("CRON_TZ=Asia/Tokyo 0 9 * * *").unwrap();
    assert_eq!(
        s.next_after(utc("2024-01-01T00:00:00"), &TimeZone::UTC)
            .unwrap()
            .to_string(),
        "2024-01-02T00:00:00Z"
    );
}

#[test]
fn parse_errors() {
    for bad in [
        "* * * *",
        "* * * * * *",
        "60 * * * *",
        "* 24 * * *",
        "* * 0 * *",
        "* * * 13 *",
        "* * * * 7",
        "5-1 * * * *",
        "*/0 * * * *",
        "x * * * *",
        "1-2-3 * * * *",
        "@fortnightly",
        "@every nope",
        "CRON_TZ=Mars/Olympus 0 0 * * *",
    ] {
        assert!(Schedule::parse(bad).is_err(), "{bad} should not parse");
    }
}
