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

const ANN_METRICS: &str = "autoscaling.alpha.kubernetes.io/metrics";
const ANN_BEHAVIOR: &str = "autoscaling.alpha.kubernetes.io/behavior";
const ANN_CONDITIONS: &str = "autoscaling.alpha.kubernetes.io/conditions";
const ANN_CURRENT: &str = "autoscaling.alpha.kubernetes.io/current-metrics";

fn is_cpu_utilization(m: &Value) -> bool {
    m.get("type").and_then(Value::as_str) == Some("Resource")
        && m.pointer("/resource/name").and_then(Value::as_str) == Some("cpu")
        && m.pointer("/resource/target/type").and_then(Value::as_str) == Some("Utilization")
}

fn is_cpu_current(m: &Value) -> bool {
    m.pointer("/resource/name").and_then(Value::as_str) == Some("cpu")
        && m.pointer("/resource/current/averageUtilization").is_some()
}

/// Keeps what autoscaling/v1 cannot express in annotations, as upstream does, so that a
/// write through v1 does not lose it.
fn annotate(m: &mut Map<String, Value>, key: &str, v: Option<Value>) {
    let Some(v) = v.filter(|v| !matches!(v, Value::Null) && v.as_array().is_none_or(|a| !a.is_empty()))
    else {
        return;
    };
    let meta = m.entry("metadata").or_insert_with(|| json!({}));
    if let Some(meta) = meta.as_object_mut() {
        let ann = meta.entry("annotations").or_insert_with(|| json!({}));
        if let Some(ann) = ann.as_object_mut() {
            ann.insert(key.to_string(), Value::String(v.to_string()));
        }
    }
}

/// Takes a JSON-valued annotation back out.
fn unannotate(m: &mut Map<String, Value>, key: &str) -> Option<Value> {
    let meta = m.get_mut("metadata")?.as_object_mut()?;
    let ann = meta.get_mut("annotations")?.as_object_mut()?;
    let raw = ann.remove(key)?;
    if ann.is_empty() {
        meta.remove("annotations");
    }
    serde_json::from_str(raw.as_str()?).ok()
}

fn hpa_v2_to_v1(obj: Value) -> Value {
    let Value::Object(mut m) = obj else { return obj };
    let (mut behavior, mut others, mut current_all, mut conditions) = (None, None, None, None);
    if let Some(Value::Object(spec)) = m.get_mut("spec") {
        let metrics = spec
            .remove("metrics")
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default();
        let cpu = metrics
            .iter()
            .find(|x| is_cpu_utilization(x))
            .and_then(|x| x.pointer("/resource/target/averageUtilization").cloned());
        others = Some(Value::Array(
            metrics.into_iter().filter(|x| !is_cpu_utilization(x)).collect(),
        ));
        behavior = spec.remove("behavior");
        put(spec, "targetCPUUtilizationPercentage", cpu);
    }
    let status = m.entry("status").or_insert_with(|| json!({}));
    if let Some(status) = status.as_object_mut() {
        let current = status.remove("currentMetrics");
        let cpu = current
            .as_ref()
            .and_then(Value::as_array)
            .and_then(|ms| ms.iter().find(|x| is_cpu_current(x)))
            .and_then(|x| x.pointer("/resource/current/averageUtilization").cloned());
        current_all = current;
        conditions = status.remove("conditions");
        put(status, "currentCPUUtilizationPercentage", cpu);
        status.entry("currentReplicas").or_insert(json!(0));
        status.entry("desiredReplicas").or_insert(json!(0));
    }
    annotate(&mut m, ANN_METRICS, others);
    annotate(&mut m, ANN_BEHAVIOR, behavior);
    annotate(&mut m, ANN_CURRENT, current_all);
    annotate(&mut m, ANN_CONDITIONS, conditions);
    Value::Object(m)
}

fn hpa_v1_to_v2(obj: Value) -> Value {
    let Value::Object(mut m) = obj else { return obj };
    let others = unannotate(&mut m, ANN_METRICS);
    let behavior = unannotate(&mut m, ANN_BEHAVIOR);
    let current = unannotate(&mut m, ANN_CURRENT);
    let conditions = unannotate(&mut m, ANN_CONDITIONS);
    if let Some(Value::Object(spec)) = m.get_mut("spec") {
        let mut metrics = Vec::new();
        if let Some(cpu) = take(spec, "targetCPUUtilizationPercentage") {
            metrics.push(json!({"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": cpu}}}));
        }
        metrics.extend(others.and_then(|o| o.as_array().cloned()).unwrap_or_default());
        if !metrics.is_empty() {
            spec.insert("metrics".into(), Value::Array(metrics));
        }
        put(spec, "behavior", behavior);
    }
    if let Some(Value::Object(status)) = m.get_mut("status") {
        let cpu = take(status, "currentCPUUtilizationPercentage");
        match current {
            Some(c) => {
                status.insert("currentMetrics".into(), c);
            }
            None => {
                if let Some(cpu) = cpu {
                    status.insert(
                        "currentMetrics".into(),
                        json!([{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": cpu}}}]),
                    );
                }
            }
        }
        put(status, "conditions", conditions);
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
        let mut back = v1.clone();
        back["status"] = json!({"currentReplicas": 0, "desiredReplicas": 0});
        assert_eq!(
            convert(v2, "HorizontalPodAutoscaler", "autoscaling/v2", "autoscaling/v1"),
            back
        );
    }

    #[test]
    fn hpa_v1_keeps_what_only_v2_says() {
        let v2 = json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "h"},
            "spec": {"maxReplicas": 5, "scaleTargetRef": {"kind": "Deployment", "name": "d"},
                "metrics": [
                    {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}},
                    {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "500Mi"}}}],
                "behavior": {"scaleDown": {"stabilizationWindowSeconds": 120}}},
            "status": {"currentReplicas": 2, "desiredReplicas": 3, "conditions": [{"type": "AbleToScale", "status": "True"}]}});
        let v1 = convert(
            v2.clone(),
            "HorizontalPodAutoscaler",
            "autoscaling/v2",
            "autoscaling/v1",
        );
        assert_eq!(v1["spec"]["targetCPUUtilizationPercentage"], 50);
        assert!(v1["metadata"]["annotations"][ANN_BEHAVIOR].is_string());
        assert!(v1["spec"].get("metrics").is_none());
        let back = convert(v1, "HorizontalPodAutoscaler", "autoscaling/v1", "autoscaling/v2");
        assert_eq!(back, v2);
    }
}
