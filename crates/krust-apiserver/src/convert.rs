//! Conversion between the served and stored versions of resources that exist in more than
//! one group/version: core/v1 Event ↔ events.k8s.io/v1 Event, and autoscaling/v2 ↔ v1
//! HorizontalPodAutoscaler. Objects are stored in the storage version and converted on the
//! way in and out.

use serde_json::{Map, Value, json};

/// Converts `obj` (in `from` = "group/version") to `to`. Unknown pairs are returned with
/// only apiVersion changed.
pub fn convert(obj: Value, kind: &str, from: &str, to: &str) -> Value {
    if from == to {
        return obj;
    }
    let mut out = match (kind, from, to) {
        ("Event", "v1", "events.k8s.io/v1") => core_to_events(obj),
        ("Event", "events.k8s.io/v1", "v1") => events_to_core(obj),
        ("HorizontalPodAutoscaler", "autoscaling/v2", "autoscaling/v1") => hpa_v2_to_v1(obj),
        ("HorizontalPodAutoscaler", "autoscaling/v1", "autoscaling/v2") => hpa_v1_to_v2(obj),
        _ => obj,
    };
    if let Some(m) = out.as_object_mut() {
        m.insert("apiVersion".into(), Value::String(to.to_string()));
        m.insert("kind".into(), Value::String(kind.to_string()));
    }
    out
}

fn take(m: &mut Map<String, Value>, k: &str) -> Option<Value> {
    m.remove(k).filter(|v| !v.is_null())
}

fn put(m: &mut Map<String, Value>, k: &str, v: Option<Value>) {
    if let Some(v) = v {
        m.insert(k.to_string(), v);
    }
}

fn core_to_events(obj: Value) -> Value {
    let Value::Object(mut m) = obj else { return obj };
    let mut out = Map::new();
    put(&mut out, "metadata", take(&mut m, "metadata"));
    put(&mut out, "regarding", take(&mut m, "involvedObject"));
    put(&mut out, "related", take(&mut m, "related"));
    put(&mut out, "note", take(&mut m, "message"));
    put(&mut out, "reason", take(&mut m, "reason"));
    put(&mut out, "type", take(&mut m, "type"));
    put(&mut out, "action", take(&mut m, "action"));
    put(&mut out, "eventTime", take(&mut m, "eventTime"));
    put(
        &mut out,
        "reportingController",
        take(&mut m, "reportingComponent"),
    );
    put(&mut out, "reportingInstance", take(&mut m, "reportingInstance"));
    put(&mut out, "deprecatedSource", take(&mut m, "source"));
    put(
        &mut out,
        "deprecatedFirstTimestamp",
        take(&mut m, "firstTimestamp"),
    );
    put(&mut out, "deprecatedLastTimestamp", take(&mut m, "lastTimestamp"));
    put(&mut out, "deprecatedCount", take(&mut m, "count"));
    if let Some(Value::Object(s)) = take(&mut m, "series") {
        out.insert(
            "series".into(),
            json!({"count": s.get("count").cloned().unwrap_or(json!(0)),
            "lastObservedTime": s.get("lastObservedTime").cloned().unwrap_or(Value::Null)}),
        );
    }
    Value::Object(out)
}

fn events_to_core(obj: Value) -> Value {
    let Value::Object(mut m) = obj else { return obj };
    let mut out = Map::new();
    put(&mut out, "metadata", take(&mut m, "metadata"));
    out.insert(
        "involvedObject".into(),
        take(&mut m, "regarding").unwrap_or_else(|| json!({})),
    );
    put(&mut out, "related", take(&mut m, "related"));
    put(&mut out, "message", take(&mut m, "note"));
    put(&mut out, "reason", take(&mut m, "reason"));
    put(&mut out, "type", take(&mut m, "type"));
    put(&mut out, "action", take(&mut m, "action"));
    put(&mut out, "eventTime", take(&mut m, "eventTime"));
    put(
        &mut out,
        "reportingComponent",
        take(&mut m, "reportingController"),
    );
    put(&mut out, "reportingInstance", take(&mut m, "reportingInstance"));
    put(&mut out, "source", take(&mut m, "deprecatedSource"));
    put(
        &mut out,
        "firstTimestamp",
        take(&mut m, "deprecatedFirstTimestamp"),
    );
    put(&mut out, "lastTimestamp", take(&mut m, "deprecatedLastTimestamp"));
    put(&mut out, "count", take(&mut m, "deprecatedCount"));
    put(&mut out, "series", take(&mut m, "series"));
    Value::Object(out)
}

fn cpu_target(metrics: Option<&Value>) -> Option<Value> {
    metrics?.as_array()?.iter().find_map(|m| {
        let r = m.get("resource")?;
        (m.get("type")?.as_str()? == "Resource" && r.get("name")?.as_str()? == "cpu")
            .then(|| r.pointer("/target/averageUtilization").cloned())
            .flatten()
    })
}

fn hpa_v2_to_v1(obj: Value) -> Value {
    let Value::Object(mut m) = obj else { return obj };
    if let Some(Value::Object(spec)) = m.get_mut("spec") {
        let cpu = cpu_target(spec.get("metrics"));
        spec.remove("metrics");
        spec.remove("behavior");
        put(spec, "targetCPUUtilizationPercentage", cpu);
    }
    if let Some(Value::Object(status)) = m.get_mut("status") {
        let current = status
            .get("currentMetrics")
            .and_then(Value::as_array)
            .and_then(|ms| {
                ms.iter().find_map(|x| {
                    (x.pointer("/resource/name")?.as_str()? == "cpu")
                        .then(|| x.pointer("/resource/current/averageUtilization").cloned())
                        .flatten()
                })
            });
        status.remove("currentMetrics");
        status.remove("conditions");
        put(status, "currentCPUUtilizationPercentage", current);
    }
    Value::Object(m)
}

fn hpa_v1_to_v2(obj: Value) -> Value {
    let Value::Object(mut m) = obj else { return obj };
    if let Some(Value::Object(spec)) = m.get_mut("spec")
        && let Some(cpu) = take(spec, "targetCPUUtilizationPercentage")
    {
        spec.insert(
                "metrics".into(),
                json!([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": cpu}}}]),
            );
    }
    if let Some(Value::Object(status)) = m.get_mut("status")
        && let Some(cpu) = take(status, "currentCPUUtilizationPercentage")
    {
        status.insert(
                "currentMetrics".into(),
                json!([{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": cpu}}}]),
            );
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip() {
        let core = json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e"},
            "involvedObject": {"kind": "Pod", "name": "p"}, "message": "hi", "reason": "Started", "type": "Normal", "count": 2});
        let ev = convert(core.clone(), "Event", "v1", "events.k8s.io/v1");
        assert_eq!(ev["regarding"]["name"], "p");
        assert_eq!(ev["note"], "hi");
        assert_eq!(ev["deprecatedCount"], 2);
        assert_eq!(convert(ev, "Event", "events.k8s.io/v1", "v1"), core);
    }

    #[test]
    fn hpa_round_trip() {
        let v1 = json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "h"},
            "spec": {"maxReplicas": 5, "scaleTargetRef": {"kind": "Deployment", "name": "d"}, "targetCPUUtilizationPercentage": 50}});
        let v2 = convert(
            v1.clone(),
            "HorizontalPodAutoscaler",
            "autoscaling/v1",
            "autoscaling/v2",
        );
        assert_eq!(
            v2["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
            50
        );
        assert_eq!(
            convert(v2, "HorizontalPodAutoscaler", "autoscaling/v2", "autoscaling/v1"),
            v1
        );
    }
}
