//! Small readers over JSON objects and the cell formats the printers share (ages, container
//! lists, quantities). Every reader tolerates missing or mistyped fields: objects come from
//! users, and a table must still print.

use jiff::Timestamp;
use serde_json::{Map, Value};

use super::{Column, human_duration};

/// The value at `path` (object keys only).
pub(super) fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| v.get(k))
}

/// The string at `path`, `""` when absent or not a string.
pub(super) fn text<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    at(v, path).and_then(Value::as_str).unwrap_or("")
}

/// The string at `path`, or `default` when absent or empty.
pub(super) fn text_or(v: &Value, path: &[&str], default: &str) -> String {
    match text(v, path) {
        "" => default.to_string(),
        s => s.to_string(),
    }
}

/// The integer at `path`, 0 when absent.
pub(super) fn int(v: &Value, path: &[&str]) -> i64 {
    at(v, path).and_then(Value::as_i64).unwrap_or(0)
}

/// The boolean at `path`, false when absent.
pub(super) fn boolean(v: &Value, path: &[&str]) -> bool {
    at(v, path).and_then(Value::as_bool).unwrap_or(false)
}

/// The array at `path`, empty when absent.
pub(super) fn list<'a>(v: &'a Value, path: &[&str]) -> &'a [Value] {
    at(v, path).and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

/// The object at `path`.
pub(super) fn map<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Map<String, Value>> {
    at(v, path).and_then(Value::as_object)
}

/// A string cell.
pub(super) fn s(v: impl Into<String>) -> Value {
    Value::String(v.into())
}

/// `metadata.name` as a cell.
pub(super) fn name(obj: &Value) -> Value {
    s(text(obj, &["metadata", "name"]))
}

/// Go's zero `time.Time`, which upstream treats as "no timestamp".
const ZERO_TIME_SECONDS: i64 = -62_135_596_800;

/// A timestamp field, `None` when absent, unparsable or the zero time.
pub(super) fn time(v: Option<&Value>) -> Option<Timestamp> {
    let ts: Timestamp = v?.as_str()?.parse().ok()?;
    (ts.as_second() != ZERO_TIME_SECONDS).then_some(ts)
}

/// Whole seconds from `from` to `to`, truncated toward zero.
pub(super) fn seconds_between(from: Timestamp, to: Timestamp) -> i64 {
    let nanos = to.as_nanosecond() - from.as_nanosecond();
    i64::try_from(nanos / 1_000_000_000).unwrap_or(i64::MAX)
}

/// How long ago a timestamp was (`5m`), `<unknown>` without one.
pub(super) fn since(v: Option<&Value>, now: Timestamp) -> String {
    match time(v) {
        Some(ts) => human_duration(seconds_between(ts, now)),
        None => "<unknown>".to_string(),
    }
}

/// The Age cell: time since `metadata.creationTimestamp`.
pub(super) fn age(obj: &Value, now: Timestamp) -> Value {
    s(since(at(obj, &["metadata", "creationTimestamp"]), now))
}

/// Whether `metadata.deletionTimestamp` is set.
pub(super) fn deleting(obj: &Value) -> bool {
    at(obj, &["metadata", "deletionTimestamp"]).is_some_and(|v| !v.is_null())
}

/// Container names and images, each comma-joined, in template order.
pub(super) fn containers(list: &[Value]) -> (Value, Value) {
    let names: Vec<&str> = list.iter().map(|c| text(c, &["name"])).collect();
    let images: Vec<&str> = list.iter().map(|c| text(c, &["image"])).collect();
    (s(names.join(",")), s(images.join(",")))
}

/// A quantity as stored (`1Gi`, `500m`); numbers print as JSON does; `missing` otherwise.
pub(super) fn quantity(v: Option<&Value>, missing: &str) -> String {
    match v {
        Some(Value::String(q)) => q.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => missing.to_string(),
    }
}

/// An int-or-string field (`1`, `25%`), `None` when absent.
pub(super) fn int_or_string(v: Option<&Value>) -> Option<String> {
    match v {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

/// `a,b,c + N more...` for at most `max` shown of `count`; `<unset>` for none.
pub(super) fn list_with_more(shown: &[String], count: usize, max: usize) -> String {
    let joined = shown.join(",");
    if count > max {
        format!("{joined} + {} more...", count - max)
    } else if joined.is_empty() {
        "<unset>".to_string()
    } else {
        joined
    }
}

/// Load-balancer ingress points (IP, else hostname), sorted and deduplicated, comma-joined.
pub(super) fn load_balancer_ingress(ingress: &[Value]) -> String {
    let mut points: Vec<&str> = ingress
        .iter()
        .filter_map(|i| match (text(i, &["ip"]), text(i, &["hostname"])) {
            ("", "") => None,
            ("", host) => Some(host),
            (ip, _) => Some(ip),
        })
        .collect();
    points.sort_unstable();
    points.dedup();
    points.join(",")
}

/// Access modes in upstream's short form (`RWO,ROX,RWX,RWOP`), in that fixed order.
pub(super) fn access_modes(modes: &[Value]) -> String {
    let has = |m: &str| modes.iter().any(|v| v.as_str() == Some(m));
    [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ]
    .iter()
    .filter(|(long, _)| has(long))
    .map(|(_, short)| *short)
    .collect::<Vec<_>>()
    .join(",")
}

/// The default table upstream serves for kinds without a printer: name and creation time.
pub(super) const DEFAULT_COLUMNS: &[Column] = &[
    Column::name(),
    Column {
        name: "Created At",
        type_: "date",
        format: "",
        description: "When the object was created (RFC 3339, UTC).",
        priority: 0,
    },
];

/// Cells of the default table; a missing creation time prints as Go's zero time does.
pub(super) fn default_cells(obj: &Value) -> Vec<Value> {
    let created = time(at(obj, &["metadata", "creationTimestamp"])).map_or_else(
        || "0001-01-01T00:00:00Z".to_string(),
        |ts| ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
    );
    vec![name(obj), s(created)]
}
