//! What upstream's `PrepareForCreate`/`PrepareForUpdate` strategies set: initial status,
//! `metadata.generation`, generated Job selectors, the Namespace finalizer, a Pod's QoS
//! class, and (on update) values a Service keeps once allocated.

use serde_json::{Value, json};

use super::util::{Obj, child, child_or_insert, is_blank, set_default, str_of};
use super::workloads::job_selector;
use crate::quantity::Quantity;

/// Kinds whose upstream strategy sets `metadata.generation` to 1 on create and bumps it
/// whenever `spec` changes. The server can use this for the bump on update. (Pods track it
/// since 1.33, whatever the `PodObservedGenerationTracking` gate says.)
pub fn tracks_generation(group: &str, kind: &str) -> bool {
    matches!(
        (group, kind),
        ("apps", "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet")
            | ("", "ReplicationController" | "Pod")
            | ("batch", "Job" | "CronJob")
            | ("networking.k8s.io", "Ingress" | "IngressClass" | "NetworkPolicy")
            | ("policy", "PodDisruptionBudget")
            | ("apiextensions.k8s.io", "CustomResourceDefinition")
            | ("discovery.k8s.io", "EndpointSlice")
    )
}

/// The annotation through which `apps/v1` exposes a DaemonSet's template generation.
pub const DAEMONSET_TEMPLATE_GENERATION: &str = "deprecated.daemonset.template.generation";

fn set_status(obj: &mut Value, status: Value) {
    if let Some(o) = obj.as_object_mut() {
        o.insert("status".into(), status);
    }
}

fn creation_timestamp(obj: &Value) -> Value {
    obj.pointer("/metadata/creationTimestamp")
        .cloned()
        .unwrap_or(Value::Null)
}

pub(crate) fn prepare_create(group: &str, kind: &str, obj: &mut Value) {
    if tracks_generation(group, kind)
        && let Some(meta) = obj.as_object_mut().and_then(|o| child_or_insert(o, "metadata"))
    {
        meta.insert("generation".into(), 1.into());
    }
    let v1_hpa = obj.get("apiVersion").and_then(Value::as_str) == Some("autoscaling/v1");
    match (group, kind) {
        ("", "Pod") => pod(obj),
        ("", "Namespace") => {
            set_status(obj, json!({"phase": "Active"}));
            if let Some(spec) = obj.as_object_mut().and_then(|o| child_or_insert(o, "spec")) {
                let list = spec.entry("finalizers").or_insert_with(|| json!([]));
                if let Value::Array(a) = list {
                    if !a.iter().any(|f| f.as_str() == Some("kubernetes")) {
                        a.push("kubernetes".into());
                    }
                } else {
                    *list = json!(["kubernetes"]);
                }
            }
        }
        ("", "Service") | ("networking.k8s.io", "Ingress") => set_status(obj, json!({"loadBalancer": {}})),
        ("", "ReplicationController") | ("apps", "ReplicaSet") => set_status(obj, json!({"replicas": 0})),
        ("apps", "StatefulSet") => set_status(obj, json!({"availableReplicas": 0, "replicas": 0})),
        ("apps", "DaemonSet") => {
            set_status(
                obj,
                json!({"currentNumberScheduled": 0, "desiredNumberScheduled": 0,
                       "numberMisscheduled": 0, "numberReady": 0}),
            );
            if let Some(ann) = obj
                .as_object_mut()
                .and_then(|o| child_or_insert(o, "metadata"))
                .and_then(|m| child_or_insert(m, "annotations"))
            {
                ann.entry(DAEMONSET_TEMPLATE_GENERATION)
                    .or_insert_with(|| "1".into());
            }
        }
        ("apps", "Deployment") | ("batch", "CronJob") | ("", "ResourceQuota") => set_status(obj, json!({})),
        ("batch", "Job") => {
            set_status(obj, json!({}));
            job_selector(obj);
        }
        ("", "PersistentVolumeClaim") => set_status(obj, json!({"phase": "Pending"})),
        ("", "PersistentVolume") => {
            let mut status = json!({"phase": "Pending"});
            let ts = creation_timestamp(obj);
            if !ts.is_null() {
                status["lastPhaseTransitionTime"] = ts;
            }
            set_status(obj, status);
        }
        ("autoscaling", "HorizontalPodAutoscaler") => {
            let status = if v1_hpa {
                json!({"currentReplicas": 0, "desiredReplicas": 0})
            } else {
                json!({"desiredReplicas": 0})
            };
            set_status(obj, status);
        }
        ("policy", "PodDisruptionBudget") => set_status(
            obj,
            json!({"currentHealthy": 0, "desiredHealthy": 0, "disruptionsAllowed": 0, "expectedPods": 0}),
        ),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            let stored: Vec<Value> = obj
                .pointer("/spec/versions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
                .filter_map(|v| v.get("name").cloned())
                .take(1)
                .collect();
            set_status(
                obj,
                json!({"acceptedNames": {"kind": "", "plural": ""}, "storedVersions": stored}),
            );
        }
        _ => {}
    }
}

/// A Pod starts `Pending` with its QoS class; gated pods say why they are not scheduled.
/// Without a `priorityClassName`, priority 0 and `PreemptLowerPriority` are filled in, as
/// upstream's Priority admission does when no default PriorityClass exists.
fn pod(obj: &mut Value) {
    let qos = qos_class(obj);
    let gated = obj
        .pointer("/spec/schedulingGates")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    let mut status = json!({"phase": "Pending", "qosClass": qos});
    if gated {
        status["conditions"] = json!([{
            "type": "PodScheduled",
            "status": "False",
            "reason": "SchedulingGated",
            "message": "Scheduling is blocked due to non-empty scheduling gates",
            "lastProbeTime": null,
            "lastTransitionTime": creation_timestamp(obj),
        }]);
    }
    set_status(obj, status);
    if let Some(spec) = obj.as_object_mut().and_then(|o| child(o, "spec"))
        && is_blank(spec, "priorityClassName")
    {
        set_default(spec, "priority", 0);
        set_default(spec, "preemptionPolicy", "PreemptLowerPriority");
    }
}

/// Upstream's QoS class: `BestEffort` without cpu/memory requests or limits, `Guaranteed`
/// when every container limits both and requests equal limits, else `Burstable`.
pub fn qos_class(pod: &Value) -> &'static str {
    let mut requests: Vec<(String, Quantity)> = Vec::new();
    let mut limits: Vec<(String, Quantity)> = Vec::new();
    let mut guaranteed = true;
    let containers = ["containers", "initContainers"].into_iter().flat_map(|k| {
        pod.get("spec")
            .and_then(|s| s.get(k))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
    });
    fn add(acc: &mut Vec<(String, Quantity)>, name: &str, q: Quantity) {
        match acc.iter_mut().find(|(n, _)| n == name) {
            Some((_, sum)) => *sum = sum.checked_add(&q).unwrap_or(*sum),
            None => acc.push((name.to_string(), q)),
        }
    }
    for c in containers {
        let res = c.get("resources");
        let list = |k: &str| {
            res.and_then(|r| r.get(k))
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default()
        };
        for (name, v) in list("requests") {
            if name != "cpu" && name != "memory" {
                continue;
            }
            if let Ok(q) = Quantity::from_json(&v)
                && q > Quantity::ZERO
            {
                add(&mut requests, &name, q);
            }
        }
        let mut found = 0;
        for (name, v) in list("limits") {
            if name != "cpu" && name != "memory" {
                continue;
            }
            if let Ok(q) = Quantity::from_json(&v)
                && q > Quantity::ZERO
            {
                found += 1;
                add(&mut limits, &name, q);
            }
        }
        if found < 2 {
            guaranteed = false;
        }
    }
    if requests.is_empty() && limits.is_empty() {
        return "BestEffort";
    }
    if guaranteed {
        for (name, req) in &requests {
            if limits
                .iter()
                .find(|(n, _)| n == name)
                .is_none_or(|(_, l)| l != req)
            {
                guaranteed = false;
                break;
            }
        }
    }
    if guaranteed && requests.len() == limits.len() {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

pub(crate) fn prepare_update(group: &str, kind: &str, obj: &mut Value, old: &Value) {
    // As upstream's `BeforeUpdate`: system fields an update leaves out keep their values.
    if let Some(meta) = obj.as_object_mut().and_then(|o| child_or_insert(o, "metadata")) {
        for key in [
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
        ] {
            if is_blank(meta, key)
                && let Some(v) = old.pointer(&format!("/metadata/{key}")).filter(|v| !v.is_null())
            {
                meta.insert(key.into(), v.clone());
            }
        }
    }
    let spec_changed = obj.get("spec") != old.get("spec");
    if tracks_generation(group, kind) {
        let old_gen = old
            .pointer("/metadata/generation")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        let generation = if spec_changed { old_gen + 1 } else { old_gen };
        if let Some(meta) = obj.as_object_mut().and_then(|o| child_or_insert(o, "metadata")) {
            meta.insert("generation".into(), generation.into());
        }
    }
    match (group, kind) {
        ("apps", "DaemonSet") => {
            let old_tg = old
                .pointer("/metadata/annotations")
                .and_then(|a| a.get(DAEMONSET_TEMPLATE_GENERATION))
                .and_then(Value::as_str)
                .and_then(|s| s.parse::<i64>().ok())
                .unwrap_or(0);
            let tg = if obj.pointer("/spec/template") != old.pointer("/spec/template") {
                old_tg + 1
            } else {
                old_tg
            };
            if tg > 0
                && let Some(ann) = obj
                    .as_object_mut()
                    .and_then(|o| child_or_insert(o, "metadata"))
                    .and_then(|m| child_or_insert(m, "annotations"))
            {
                ann.insert(DAEMONSET_TEMPLATE_GENERATION.into(), tg.to_string().into());
            }
        }
        ("", "Namespace") => {
            if let (Some(fin), Some(spec)) = (
                old.pointer("/spec/finalizers").cloned(),
                obj.as_object_mut().and_then(|o| child_or_insert(o, "spec")),
            ) {
                spec.insert("finalizers".into(), fin);
            }
        }
        ("", "Service") => service_update(obj, old),
        ("", "Pod") => {
            // What Priority admission set on create is kept when an update leaves it out.
            if let Some(spec) = obj.as_object_mut().and_then(|o| child(o, "spec")) {
                for key in ["priority", "preemptionPolicy"] {
                    if let Some(v) = old.pointer(&format!("/spec/{key}")).filter(|v| !v.is_null()) {
                        set_default(spec, key, v.clone());
                    }
                }
            }
        }
        _ => {}
    }
}

/// Keeps what the allocators gave a Service (cluster IPs, node ports, health check port)
/// when an update leaves them out and the Service still needs them.
fn service_update(obj: &mut Value, old: &Value) {
    let Some(old_spec) = old.get("spec").and_then(Value::as_object) else {
        return;
    };
    let Some(spec) = obj.as_object_mut().and_then(|o| child(o, "spec")) else {
        return;
    };
    let needs_ip = |s: &Obj| str_of(s, "type") != "ExternalName";
    let needs_node_port = |s: &Obj| matches!(str_of(s, "type"), "NodePort" | "LoadBalancer");
    if needs_ip(old_spec) && needs_ip(spec) {
        for key in ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"] {
            let empty = match spec.get(key) {
                None | Some(Value::Null) => true,
                Some(Value::String(s)) => s.is_empty(),
                Some(Value::Array(a)) => a.is_empty(),
                _ => false,
            };
            if empty && let Some(v) = old_spec.get(key) {
                spec.insert(key.into(), v.clone());
            }
        }
    }
    if needs_node_port(old_spec) && needs_node_port(spec) {
        let old_ports: Vec<Obj> = old_spec
            .get("ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| p.as_object().cloned())
            .collect();
        for p in super::util::items(spec, "ports") {
            if !super::util::is_zero(p, "nodePort") {
                continue;
            }
            let same = old_ports
                .iter()
                .find(|o| o.get("port") == p.get("port") && str_of(o, "protocol") == str_of(p, "protocol"));
            if let Some(np) = same.and_then(|o| o.get("nodePort")) {
                p.insert("nodePort".into(), np.clone());
            }
        }
        let needs_health =
            |s: &Obj| str_of(s, "type") == "LoadBalancer" && str_of(s, "externalTrafficPolicy") == "Local";
        if needs_health(old_spec)
            && needs_health(spec)
            && super::util::is_zero(spec, "healthCheckNodePort")
            && let Some(h) = old_spec.get("healthCheckNodePort")
        {
            spec.insert("healthCheckNodePort".into(), h.clone());
        }
    }
}
