//! `PodLogOptions`: the query parameters of `pods/<name>/log`, read the same way by the API
//! server (which checks them and passes them on) and by the node agent (which applies
//! them to the container's log file), so the two can never disagree on their meaning.

use jiff::Timestamp;

/// What a client asked of a container's log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodLogOptions {
    /// The container (`container`); `None`: the pod's only or default one.
    pub container: Option<String>,
    /// Keep streaming what the container writes next (`follow`).
    pub follow: bool,
    /// The previous, terminated instance's log (`previous`).
    pub previous: bool,
    /// Prefix each line with its RFC3339Nano time (`timestamps`).
    pub timestamps: bool,
    /// Only the last N lines (`tailLines`).
    pub tail_lines: Option<u64>,
    /// Only lines written in the last N seconds (`sinceSeconds`).
    pub since_seconds: Option<u64>,
    /// Only lines written at or after this time (`sinceTime`).
    pub since_time: Option<Timestamp>,
    /// Stop after this many bytes (`limitBytes`).
    pub limit_bytes: Option<u64>,
}

/// Go's `strconv.ParseBool`, which is what upstream decodes these flags with.
fn parse_bool(key: &str, value: &str) -> Result<bool, String> {
    match value {
        "" | "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        other => Err(format!(
            "invalid value for {key}: {other:?}; expected true or false"
        )),
    }
}

fn parse_int(key: &str, value: &str) -> Result<i64, String> {
    value
        .parse::<i64>()
        .map_err(|_| format!("invalid value for {key}: {value:?}; expected an integer"))
}

impl PodLogOptions {
    /// Reads the options from query parameters (`get` returns a parameter's first value),
    /// with upstream's checks: `tailLines` ≥ 0, `sinceSeconds` and `limitBytes` ≥ 1, at most
    /// one of `sinceSeconds` and `sinceTime`. The error is the message of a 400.
    pub fn parse<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Result<Self, String> {
        let flag = |key: &str| get(key).map_or(Ok(false), |v| parse_bool(key, v));
        let int = |key: &str| {
            get(key)
                .filter(|v| !v.is_empty())
                .map(|v| parse_int(key, v))
                .transpose()
        };
        let tail = int("tailLines")?;
        let since_seconds = int("sinceSeconds")?;
        let limit = int("limitBytes")?;
        let since_time = match get("sinceTime").filter(|v| !v.is_empty()) {
            None => None,
            Some(v) => Some(v.parse::<Timestamp>().map_err(|_| {
                format!("invalid value for sinceTime: {v:?}; expected an RFC3339 time such as 2025-01-02T15:04:05Z")
            })?),
        };
        let mut problems = Vec::new();
        if let Some(t) = tail.filter(|t| *t < 0) {
            problems.push(format!(
                "tailLines: Invalid value: {t}: must be greater than or equal to 0"
            ));
        }
        if let Some(l) = limit.filter(|l| *l < 1) {
            problems.push(format!("limitBytes: Invalid value: {l}: must be greater than 0"));
        }
        if since_seconds.is_some() && since_time.is_some() {
            problems.push(
                "sinceSeconds: Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified"
                    .into(),
            );
        } else if let Some(s) = since_seconds.filter(|s| *s < 1) {
            problems.push(format!(
                "sinceSeconds: Invalid value: {s}: must be greater than 0"
            ));
        }
        if !problems.is_empty() {
            return Err(format!("PodLogOptions \"\" is invalid: {}", problems.join(", ")));
        }
        let positive = |v: Option<i64>| v.and_then(|v| u64::try_from(v).ok());
        Ok(Self {
            container: get("container").filter(|c| !c.is_empty()).map(str::to_string),
            follow: flag("follow")?,
            previous: flag("previous")?,
            timestamps: flag("timestamps")?,
            tail_lines: positive(tail),
            since_seconds: positive(since_seconds),
            since_time,
            limit_bytes: positive(limit),
        })
    }

    /// The earliest time a line may have to be shown, if the options limit it.
    pub fn since(&self, now: Timestamp) -> Option<Timestamp> {
        match (self.since_time, self.since_seconds) {
            (Some(t), _) => Some(t),
            (None, Some(s)) => {
                let secs = i64::try_from(s).unwrap_or(i64::MAX);
                Some(
                    now.checked_sub(jiff::SignedDuration::from_secs(secs))
                        .unwrap_or(Timestamp::MIN),
                )
            }
            (None, None) => None,
        }
    }

    /// The options as a query string (without `?` and without `container`, which the node
    /// agent's path carries), for the API server to pass on. Only characters that need no
    /// escaping appear: times are written in UTC with `Z`.
    pub fn to_query(&self) -> String {
        let mut parts = Vec::new();
        for (key, on) in [
            ("follow", self.follow),
            ("previous", self.previous),
            ("timestamps", self.timestamps),
        ] {
            if on {
                parts.push(format!("{key}=true"));
            }
        }
        if let Some(n) = self.tail_lines {
            parts.push(format!("tailLines={n}"));
        }
        if let Some(n) = self.since_seconds {
            parts.push(format!("sinceSeconds={n}"));
        }
        if let Some(t) = self.since_time {
            parts.push(format!("sinceTime={t}"));
        }
        if let Some(n) = self.limit_bytes {
            parts.push(format!("limitBytes={n}"));
        }
        parts.join("&")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&'static str, &'static str)]) -> Result<PodLogOptions, String> {
        PodLogOptions::parse(|k| pairs.iter().find(|(key, _)| *key == k).map(|(_, v)| *v))
    }

    #[test]
    fn everything_reads_and_round_trips() {
        let o = parse(&[
            ("container", "main"),
            ("follow", "true"),
            ("previous", "1"),
            ("timestamps", "True"),
            ("tailLines", "10"),
            ("sinceTime", "2025-01-02T15:04:05+01:00"),
            ("limitBytes", "100"),
        ])
        .unwrap();
        assert_eq!(o.container.as_deref(), Some("main"));
        assert!(o.follow && o.previous && o.timestamps);
        assert_eq!((o.tail_lines, o.limit_bytes), (Some(10), Some(100)));
        let q = o.to_query();
        assert_eq!(
            q,
            "follow=true&previous=true&timestamps=true&tailLines=10&sinceTime=2025-01-02T14:04:05Z&limitBytes=100"
        );
        let pairs: Vec<(&str, &str)> = q.split('&').filter_map(|p| p.split_once('=')).collect();
        let back =
            PodLogOptions::parse(|k| pairs.iter().find(|(key, _)| *key == k).map(|(_, v)| *v)).unwrap();
        assert_eq!(back, PodLogOptions { container: None, ..o });
    }

    #[test]
    fn absent_means_defaults() {
        assert_eq!(parse(&[]).unwrap(), PodLogOptions::default());
        assert_eq!(parse(&[]).unwrap().to_query(), "");
    }

    #[test]
    fn bad_values_say_what_is_wrong() {
        assert!(parse(&[("follow", "yes")]).unwrap_err().contains("follow"));
        assert!(parse(&[("tailLines", "x")]).unwrap_err().contains("tailLines"));
        assert!(
            parse(&[("sinceTime", "yesterday")])
                .unwrap_err()
                .contains("RFC3339")
        );
        let e = parse(&[("tailLines", "-1"), ("limitBytes", "0")]).unwrap_err();
        assert!(
            e.contains("tailLines: Invalid value: -1") && e.contains("limitBytes: Invalid value: 0"),
            "{e}"
        );
        let e = parse(&[("sinceSeconds", "5"), ("sinceTime", "2025-01-02T15:04:05Z")]).unwrap_err();
        assert!(e.contains("at most one of"), "{e}");
        assert!(
            parse(&[("sinceSeconds", "0")])
                .unwrap_err()
                .contains("must be greater than 0")
        );
    }

    #[test]
    fn since_is_relative_to_now_or_absolute() {
        let now: Timestamp = "2025-01-02T15:04:05Z".parse().unwrap();
        let o = parse(&[("sinceSeconds", "5")]).unwrap();
        assert_eq!(o.since(now), Some("2025-01-02T15:04:00Z".parse().unwrap()));
        assert_eq!(parse(&[]).unwrap().since(now), None);
    }
}
