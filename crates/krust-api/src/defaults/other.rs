//! Defaults of the non-core groups: networking, RBAC, storage, scheduling, autoscaling,
//! discovery and apiextensions.

use serde_json::{Value, json};

use super::util::{Obj, child, child_or_insert, is_blank, items, set_default, set_default_str, str_of};

fn root(obj: &mut Value) -> Option<&mut Obj> {
    obj.as_object_mut()
}

/// `SetDefaults_NetworkPolicy` and `SetDefaults_NetworkPolicyPort`: policy types imply
/// `Ingress` (plus `Egress` when egress rules exist); ports default to TCP.
pub(crate) fn network_policy(obj: &mut Value) {
    let Some(spec) = root(obj).and_then(|o| child(o, "spec")) else {
        return;
    };
    for dir in ["ingress", "egress"] {
        for rule in items(spec, dir) {
            for p in items(rule, "ports") {
                set_default(p, "protocol", "TCP");
            }
        }
    }
    let no_types = spec
        .get("policyTypes")
        .and_then(Value::as_array)
        .is_none_or(|a| a.is_empty());
    if no_types {
        let has_egress = spec
            .get("egress")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty());
        let types = if has_egress {
            json!(["Ingress", "Egress"])
        } else {
            json!(["Ingress"])
        };
        spec.insert("policyTypes".into(), types);
    }
}

/// `SetDefaults_IngressClass`: parameters are cluster-scoped unless said otherwise.
pub(crate) fn ingress_class(obj: &mut Value) {
    if let Some(params) = root(obj)
        .and_then(|o| child(o, "spec"))
        .and_then(|s| child(s, "parameters"))
    {
        set_default(params, "scope", "Cluster");
    }
}

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// RBAC bindings: `roleRef.apiGroup` and the API group of User and Group subjects.
/// A ServiceAccount subject's group defaults to `""`, which upstream omits on output
/// (`apiGroup` is `omitempty`), so nothing is written for it.
pub(crate) fn role_binding(obj: &mut Value) {
    let Some(o) = root(obj) else { return };
    if let Some(r) = child(o, "roleRef") {
        set_default_str(r, "apiGroup", RBAC_GROUP);
    }
    for s in items(o, "subjects") {
        if is_blank(s, "apiGroup") && matches!(str_of(s, "kind"), "User" | "Group") {
            s.insert("apiGroup".into(), RBAC_GROUP.into());
        }
    }
}

/// `SetDefaults_StorageClass`.
pub(crate) fn storage_class(obj: &mut Value) {
    let Some(o) = root(obj) else { return };
    set_default(o, "reclaimPolicy", "Delete");
    set_default(o, "volumeBindingMode", "Immediate");
}

/// `SetDefaults_PriorityClass`.
pub(crate) fn priority_class(obj: &mut Value) {
    let Some(o) = root(obj) else { return };
    set_default(o, "preemptionPolicy", "PreemptLowerPriority");
}

/// HorizontalPodAutoscaler, in either served shape: `autoscaling/v1` only defaults
/// `minReplicas`; `v2` also defaults the CPU metric and fills a given `behavior` (every
/// field of both rules except the scale-down stabilization window).
pub(crate) fn horizontal_pod_autoscaler(obj: &mut Value) {
    let v1 = obj.get("apiVersion").and_then(Value::as_str) == Some("autoscaling/v1");
    let Some(spec) = root(obj).and_then(|o| child(o, "spec")) else {
        return;
    };
    set_default(spec, "minReplicas", 1);
    if v1 {
        return;
    }
    let no_metrics = spec
        .get("metrics")
        .and_then(Value::as_array)
        .is_none_or(|a| a.is_empty());
    if no_metrics {
        spec.insert(
            "metrics".into(),
            json!([{"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 80}}}]),
        );
    }
    if let Some(behavior) = child(spec, "behavior") {
        let up = json!({"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
            "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15},
                         {"type": "Percent", "value": 100, "periodSeconds": 15}]});
        // Scale-down has no default window: the controller's
        // --horizontal-pod-autoscaler-downscale-stabilization flag applies instead.
        let down = json!({"selectPolicy": "Max",
            "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]});
        for (key, defaults) in [("scaleUp", up), ("scaleDown", down)] {
            if let (Some(rules), Value::Object(d)) = (child_or_insert(behavior, key), defaults) {
                for (k, v) in d {
                    set_default(rules, &k, v);
                }
            }
        }
    }
}

/// `SetDefaults_EndpointPort` of discovery/v1: name `""` and protocol TCP.
pub(crate) fn endpoint_slice(obj: &mut Value) {
    let Some(o) = root(obj) else { return };
    for p in items(o, "ports") {
        set_default(p, "name", "");
        set_default(p, "protocol", "TCP");
    }
}

/// CustomResourceDefinition: singular and list kind names, conversion strategy, and the
/// webhook service port.
pub(crate) fn custom_resource_definition(obj: &mut Value) {
    let Some(spec) = root(obj).and_then(|o| child(o, "spec")) else {
        return;
    };
    if let Some(names) = child(spec, "names") {
        let kind = str_of(names, "kind").to_string();
        set_default_str(names, "singular", &kind.to_lowercase());
        if !kind.is_empty() {
            set_default_str(names, "listKind", &format!("{kind}List"));
        }
    }
    if let Some(conv) = child_or_insert(spec, "conversion") {
        set_default_str(conv, "strategy", "None");
        if let Some(svc) = child(conv, "webhook")
            .and_then(|w| child(w, "clientConfig"))
            .and_then(|c| child(c, "service"))
        {
            set_default(svc, "port", 443);
        }
    }
}
