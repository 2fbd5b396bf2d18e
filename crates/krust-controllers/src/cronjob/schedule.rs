//! Cron schedules as upstream reads them (robfig/cron's standard parser): five fields
//! (minute, hour, day of month, month, day of week) with `*`, `?`, lists, ranges, steps and
//! month/day names; the macros `@yearly`/`@annually`, `@monthly`, `@weekly`,
//! `@daily`/`@midnight`, `@hourly` and `@every <duration>`; an optional `CRON_TZ=`/`TZ=`
//! prefix. [`Schedule::next_after`] is the pure "next activation strictly after t" in a
//! time zone, on wall-clock time (so a daily 09:00 stays 09:00 across DST changes).

use std::time::Duration;

use k8s_openapi::jiff::{
    SignedDuration, Timestamp,
    civil::{Date, DateTime},
    tz::TimeZone,
};

/// How far ahead a schedule is searched (upstream's library gives up after 5 years).
const SEARCH_DAYS: i32 = 5 * 366 + 1;

/// Why a schedule cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Not five fields.
    #[error("expected exactly 5 fields, found {0}: {1:?}")]
    Fields(usize, String),
    /// A field is malformed or out of range.
    #[error("{field}: {reason}")]
    Field {
        /// Which field.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// An unknown `@` macro or a bad `@every` duration.
    #[error("unrecognized descriptor: {0}")]
    Descriptor(String),
    /// An unknown time zone in a `CRON_TZ=`/`TZ=` prefix.
    #[error("provided bad location {0}")]
    Zone(String),
}

/// A parsed schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    kind: Kind,
    /// The zone of a `CRON_TZ=` prefix, which wins over the caller's.
    zone: Option<TimeZone>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Fields(Fields),
    Every(Duration),
}

/// Bit sets of the allowed values of each field; `*_star` records a `*`/`?` day field,
/// which decides how the two day fields combine.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fields {
    minute: u64,
    hour: u64,
    dom: u64,
    month: u64,
    dow: u64,
    dom_star: bool,
    dow_star: bool,
}

struct Bounds {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const MINUTE: Bounds = Bounds {
    name: "minute",
    min: 0,
    max: 59,
    names: &[],
};
const HOUR: Bounds = Bounds {
    name: "hour",
    min: 0,
    max: 23,
    names: &[],
};
const DOM: Bounds = Bounds {
    name: "day of month",
    min: 1,
    max: 31,
    names: &[],
};
const MONTH: Bounds = Bounds {
    name: "month",
    min: 1,
    max: 12,
    names: &[
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ],
};
const DOW: Bounds = Bounds {
    name: "day of week",
    min: 0,
    max: 6,
    names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
};

fn field_err(b: &Bounds, reason: String) -> ParseError {
    ParseError::Field {
        field: b.name,
        reason,
    }
}

fn value(b: &Bounds, s: &str) -> Result<u32, ParseError> {
    let lower = s.to_ascii_lowercase();
    if let Some(i) = b.names.iter().position(|n| *n == lower) {
        // Month names count from 1, day names from 0.
        return Ok(u32::try_from(i).unwrap_or(0) + b.min);
    }
    s.parse::<u32>()
        .map_err(|_| field_err(b, format!("failed to parse int from {s}")))
}

/// One comma-separated part: `*`, `?`, `a`, `a-b`, each optionally `/step`.
fn range(b: &Bounds, expr: &str) -> Result<(u64, bool), ParseError> {
    let mut parts = expr.split('/');
    let range = parts.next().unwrap_or_default();
    let step = parts.next();
    if parts.next().is_some() {
        return Err(field_err(b, format!("too many slashes: {expr}")));
    }
    let mut star = false;
    let (start, mut end, single) = if range == "*" || range == "?" {
        star = true;
        (b.min, b.max, false)
    } else {
        let mut lh = range.split('-');
        let lo = value(b, lh.next().unwrap_or_default())?;
        let hi = lh.next().map(|h| value(b, h)).transpose()?;
        if lh.next().is_some() {
            return Err(field_err(b, format!("too many hyphens: {expr}")));
        }
        (lo, hi.unwrap_or(lo), hi.is_none())
    };
    let step = match step {
        None => 1,
        Some(s) => {
            let n = s
                .parse::<u32>()
                .map_err(|_| field_err(b, format!("failed to parse int from {s}")))?;
            if n == 0 {
                return Err(field_err(
                    b,
                    format!("step of range should be a positive number: {expr}"),
                ));
            }
            // `N/step` means `N-max/step`.
            if single {
                end = b.max;
            }
            if n > 1 {
                star = false;
            }
            n
        }
    };
    if start < b.min {
        return Err(field_err(
            b,
            format!("beginning of range ({start}) below minimum ({}): {expr}", b.min),
        ));
    }
    if end > b.max {
        return Err(field_err(
            b,
            format!("end of range ({end}) above maximum ({}): {expr}", b.max),
        ));
    }
    if start > end {
        return Err(field_err(
            b,
            format!("beginning of range ({start}) beyond end of range ({end}): {expr}"),
        ));
    }
    let bits = (start..=end)
        .step_by(step as usize)
        .fold(0u64, |acc, v| acc | (1 << v));
    Ok((bits, star))
}

fn field(b: &Bounds, s: &str) -> Result<(u64, bool), ParseError> {
    let mut bits = 0;
    let mut star = false;
    for part in s.split(',') {
        let (b2, s2) = range(b, part)?;
        bits |= b2;
        star |= s2;
    }
    Ok((bits, star))
}

/// Go's duration syntax as `@every` takes it: `1h30m`, `90s`, `1.5h`, `500ms`.
fn go_duration(s: &str) -> Option<Duration> {
    let mut total = 0f64;
    let mut rest = s;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let (num, tail) = rest.split_at(num_len);
        let n: f64 = num.parse().ok()?;
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let secs = match unit {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        total += n * secs;
        rest = tail;
    }
    Duration::try_from_secs_f64(total).ok()
}

impl Schedule {
    /// Parses a schedule.
    pub fn parse(spec: &str) -> Result<Self, ParseError> {
        let mut spec = spec.trim();
        let mut zone = None;
        for prefix in ["CRON_TZ=", "TZ="] {
            if let Some(rest) = spec.strip_prefix(prefix) {
                let (name, tail) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
                zone = Some(TimeZone::get(name).map_err(|_| ParseError::Zone(name.to_string()))?);
                spec = tail.trim();
                break;
            }
        }
        let kind = if let Some(d) = spec.strip_prefix('@') {
            let expanded = match d.to_ascii_lowercase().as_str() {
                "yearly" | "annually" => "0 0 1 1 *",
                "monthly" => "0 0 1 * *",
                "weekly" => "0 0 * * 0",
                "daily" | "midnight" => "0 0 * * *",
                "hourly" => "0 * * * *",
                other => {
                    let Some(every) = other.strip_prefix("every ") else {
                        return Err(ParseError::Descriptor(spec.to_string()));
                    };
                    let dur =
                        go_duration(every.trim()).ok_or_else(|| ParseError::Descriptor(spec.to_string()))?;
                    // Rounded to whole seconds, at least one.
                    let secs = dur.as_secs().max(1);
                    return Ok(Self {
                        kind: Kind::Every(Duration::from_secs(secs)),
                        zone,
                    });
                }
            };
            Kind::Fields(Self::fields(expanded)?)
        } else {
            Kind::Fields(Self::fields(spec)?)
        };
        Ok(Self { kind, zone })
    }

    fn fields(spec: &str) -> Result<Fields, ParseError> {
        let f: Vec<&str> = spec.split_whitespace().collect();
        if f.len() != 5 {
            return Err(ParseError::Fields(f.len(), spec.to_string()));
        }
        let (minute, _) = field(&MINUTE, f[0])?;
        let (hour, _) = field(&HOUR, f[1])?;
        let (dom, dom_star) = field(&DOM, f[2])?;
        let (month, _) = field(&MONTH, f[3])?;
        let (dow, dow_star) = field(&DOW, f[4])?;
        Ok(Fields {
            minute,
            hour,
            dom,
            month,
            dow,
            dom_star,
            dow_star,
        })
    }

    /// The first activation strictly after `t`, reading wall-clock fields in `tz` (unless
    /// the schedule names its own zone); `None` if there is none within five years (e.g.
    /// `0 0 30 2 *`).
    pub fn next_after(&self, t: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        let tz = self.zone.as_ref().unwrap_or(tz);
        match &self.kind {
            Kind::Every(d) => {
                let nanos = i64::from(t.subsec_nanosecond());
                let step = SignedDuration::try_from(*d).ok()? - SignedDuration::from_nanos(nanos);
                t.checked_add(step).ok()
            }
            Kind::Fields(f) => f.next_after(t, tz),
        }
    }
}

fn has(bits: u64, v: impl Into<i64>) -> bool {
    let v = v.into();
    (0..64).contains(&v) && bits & (1 << v) != 0
}

impl Fields {
    /// Both day fields must match when either is `*`; otherwise either may.
    fn day_matches(&self, d: Date) -> bool {
        let dom = has(self.dom, d.day());
        let dow = has(self.dow, d.weekday().to_sunday_zero_offset());
        if self.dom_star || self.dow_star {
            dom && dow
        } else {
            dom || dow
        }
    }

    fn next_after(&self, t: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        let local = t.to_zoned(tz.clone()).datetime();
        // Wall-clock times this far before `t` cannot be after it, whatever the DST
        // shifts; they are skipped without a zone lookup.
        let floor = local.checked_sub(SignedDuration::from_hours(3)).unwrap_or(local);
        let mut date = floor.date();
        for _ in 0..SEARCH_DAYS {
            if has(self.month, date.month()) && self.day_matches(date) {
                for h in (0..24i8).filter(|h| has(self.hour, *h)) {
                    if DateTime::new(date.year(), date.month(), date.day(), h, 59, 59, 0)
                        .is_ok_and(|end| end < floor)
                    {
                        continue;
                    }
                    for m in (0..60i8).filter(|m| has(self.minute, *m)) {
                        let civil = DateTime::new(date.year(), date.month(), date.day(), h, m, 0, 0).ok()?;
                        if civil < floor {
                            continue;
                        }
                        let Ok(at) = tz.to_ambiguous_zoned(civil).compatible() else {
                            continue;
                        };
                        let at = at.timestamp();
                        if at > t {
                            return Some(at);
                        }
                    }
                }
            }
            date = date.tomorrow().ok()?;
        }
        None
    }
}

#[cfg(test)]
#[path = "schedule_tests.rs"]
mod tests;
