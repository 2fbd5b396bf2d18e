//! Event rows, for core Events and events.k8s.io Events alike (the latter name fields
//! differently: `regarding`, `note`, `deprecatedSource`...).

use jiff::Timestamp;
use serde_json::Value;

use super::Column;
use super::util::{int, name, s, since, text, time};

pub(super) const COLUMNS: &[Column] = &[
    Column::new("Last Seen", "string", "Time since the event last occurred."),
    Column::new("Type", "string", "Normal or Warning."),
    Column::new(
        "Reason",
        "string",
        "A short machine-readable cause, e.g. Pulled or BackOff.",
    ),
    Column::new("Object", "string", "The object the event is about, as kind/name."),
    Column::wide(
        "Subobject",
        "string",
        "The part of the object concerned, e.g. a container.",
    ),
    Column::wide(
        "Source",
        "string",
        "The component (and host) that reported the event.",
    ),
    Column::new("Message", "string", "What happened, for humans."),
    Column::wide("First Seen", "string", "Time since the event first occurred."),
    Column::wide("Count", "string", "How many times the event occurred."),
    Column {
        priority: 1,
        ..Column::name()
    },
];

/// The first of `names` that is set: an Event may be in core or events.k8s.io shape.
fn first<'a>(obj: &'a Value, names: &[&str]) -> Option<&'a Value> {
    names.iter().find_map(|n| obj.get(n).filter(|v| !v.is_null()))
}

fn first_text<'a>(obj: &'a Value, names: &[&str]) -> &'a str {
    first(obj, names).and_then(Value::as_str).unwrap_or("")
}

pub(super) fn cells(ev: &Value, now: Timestamp) -> Vec<Value> {
    let first_ts = first(ev, &["firstTimestamp", "deprecatedFirstTimestamp"]);
    let first_seen = match time(first_ts) {
        Some(_) => since(first_ts, now),
        None => since(ev.get("eventTime"), now),
    };
    let last_ts = first(ev, &["lastTimestamp", "deprecatedLastTimestamp"]);
    let mut last_seen = match time(last_ts) {
        Some(_) => since(last_ts, now),
        None => first_seen.clone(),
    };
    let mut count = first(ev, &["count", "deprecatedCount"])
        .and_then(Value::as_i64)
        .unwrap_or(0);
    match ev.get("series").filter(|s| s.is_object()) {
        Some(series) => {
            last_seen = since(series.get("lastObservedTime"), now);
            count = int(series, &["count"]);
        }
        None if count == 0 => count = 1,
        None => {}
    }
    let involved = first(ev, &["involvedObject", "regarding"]).unwrap_or(&Value::Null);
    let kind = text(involved, &["kind"]).to_lowercase();
    let target = match text(involved, &["name"]) {
        "" => kind,
        n => format!("{kind}/{n}"),
    };
    let source = first(ev, &["source", "deprecatedSource"]).unwrap_or(&Value::Null);
    let component = match text(source, &["component"]) {
        "" => first_text(ev, &["reportingComponent", "reportingController"]),
        c => c,
    };
    let host = match text(source, &["host"]) {
        "" => text(ev, &["reportingInstance"]),
        h => h,
    };
    let source_cell = if host.is_empty() {
        component.to_string()
    } else {
        format!("{component}, {host}")
    };
    vec![
        s(last_seen),
        s(text(ev, &["type"])),
        s(text(ev, &["reason"])),
        s(target),
        s(text(involved, &["fieldPath"])),
        s(source_cell),
        s(first_text(ev, &["message", "note"]).trim()),
        s(first_seen),
        Value::from(count),
        name(ev),
    ]
}
