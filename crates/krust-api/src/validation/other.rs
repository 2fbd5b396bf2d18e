//! RBAC, PodDisruptionBudget, HorizontalPodAutoscaler, PriorityClass, Lease and the basic
//! structure of CustomResourceDefinitions.

use serde_json::Value;

use super::meta::validate_label_selector;
use super::names;
use super::util::{
    Errs, NEGATIVE, arr, each_invalid, get, immutable, int, not_more_than_100_percent, opt_s,
    positive_int_or_percent, s, strs,
};
use crate::field_error::{FieldError, FieldPath};

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

fn or_null(v: Option<&Value>) -> &Value {
    static NULL: Value = Value::Null;
    v.unwrap_or(&NULL)
}

/// `ValidateRole` / `ValidateClusterRole`: every rule has verbs, and either resources with
/// API groups or (cluster-wide only) non-resource URLs.
pub(crate) fn role(errs: &mut Errs, kind: &str, obj: &Value) {
    let namespaced = kind == "Role";
    for (i, r) in arr(obj, "rules").iter().enumerate() {
        let p = FieldPath::new("rules").index(i);
        if strs(r, "verbs").is_empty() {
            errs.push(FieldError::required(
                p.child("verbs"),
                "verbs must contain at least one value",
            ));
        }
        let urls = strs(r, "nonResourceURLs");
        if !urls.is_empty() {
            if namespaced {
                errs.push(FieldError::invalid(
                    p.child("nonResourceURLs"),
                    Value::from(urls.clone()),
                    "namespaced rules cannot apply to non-resource URLs",
                ));
            }
            if !arr(r, "apiGroups").is_empty()
                || !arr(r, "resources").is_empty()
                || !arr(r, "resourceNames").is_empty()
            {
                errs.push(FieldError::invalid(
                    p.child("nonResourceURLs"),
                    Value::from(urls),
                    "rules cannot apply to both regular resources and non-resource URLs",
                ));
            }
            continue;
        }
        if arr(r, "apiGroups").is_empty() {
            errs.push(FieldError::required(
                p.child("apiGroups"),
                "resource rules must supply at least one api group",
            ));
        }
        if arr(r, "resources").is_empty() {
            errs.push(FieldError::required(
                p.child("resources"),
                "resource rules must supply at least one resource",
            ));
        }
    }
    if let Some(agg) = get(obj, "aggregationRule") {
        let p = FieldPath::new("aggregationRule").child("clusterRoleSelectors");
        let selectors = arr(agg, "clusterRoleSelectors");
        if selectors.is_empty() {
            errs.push(FieldError::required(
                p.clone(),
                "at least one clusterRoleSelector required if aggregationRule is non-nil",
            ));
        }
        for (i, sel) in selectors.iter().enumerate() {
            errs.extend(validate_label_selector(sel, &p.index(i)));
        }
    }
}

/// `ValidateRoleBinding` / `ValidateClusterRoleBinding` (and the immutable `roleRef`).
pub(crate) fn role_binding(errs: &mut Errs, kind: &str, obj: &Value, old: Option<&Value>) {
    let namespaced = kind == "RoleBinding";
    let rp = FieldPath::new("roleRef");
    let role_ref = or_null(get(obj, "roleRef"));
    if let Some(old) = old
        && get(old, "roleRef") != get(obj, "roleRef")
    {
        errs.push(FieldError::invalid(
            rp.clone(),
            role_ref.clone(),
            "cannot change roleRef",
        ));
    }
    let group = s(role_ref, "apiGroup");
    if group != RBAC_GROUP {
        errs.push(FieldError::not_supported(
            rp.child("apiGroup"),
            group,
            &[RBAC_GROUP],
        ));
    }
    let allowed: &[&str] = if namespaced {
        &["Role", "ClusterRole"]
    } else {
        &["ClusterRole"]
    };
    let rk = s(role_ref, "kind");
    if !allowed.contains(&rk) {
        errs.push(FieldError::not_supported(rp.child("kind"), rk, allowed));
    }
    let name = s(role_ref, "name");
    if name.is_empty() {
        errs.push(FieldError::required(rp.child("name"), ""));
    } else {
        each_invalid(
            errs,
            rp.child("name"),
            name,
            names::is_valid_path_segment_name(name),
        );
    }
    for (i, sub) in arr(obj, "subjects").iter().enumerate() {
        let p = FieldPath::new("subjects").index(i);
        let name = s(sub, "name");
        if name.is_empty() {
            errs.push(FieldError::required(p.child("name"), ""));
        }
        let group = s(sub, "apiGroup");
        match s(sub, "kind") {
            "ServiceAccount" => {
                if !name.is_empty() {
                    each_invalid(errs, p.child("name"), name, names::is_dns1123_subdomain(name));
                }
                if !group.is_empty() {
                    errs.push(FieldError::not_supported(p.child("apiGroup"), group, &[""]));
                }
                if !namespaced && s(sub, "namespace").is_empty() {
                    errs.push(FieldError::required(p.child("namespace"), ""));
                }
            }
            "User" | "Group" => {
                if group != RBAC_GROUP {
                    errs.push(FieldError::not_supported(
                        p.child("apiGroup"),
                        group,
                        &[RBAC_GROUP],
                    ));
                }
            }
            k => errs.push(FieldError::not_supported(
                p.child("kind"),
                k,
                &["ServiceAccount", "User", "Group"],
            )),
        }
    }
}

/// `ValidatePodDisruptionBudget` (`policy/v1`).
pub(crate) fn pod_disruption_budget(errs: &mut Errs, obj: &Value) {
    let spec = or_null(get(obj, "spec"));
    let sp = FieldPath::new("spec");
    let (min, max) = (get(spec, "minAvailable"), get(spec, "maxUnavailable"));
    if min.is_some() && max.is_some() {
        errs.push(FieldError::invalid(
            sp.clone(),
            spec.clone(),
            "minAvailable and maxUnavailable cannot be both set",
        ));
    }
    for (key, v) in [("minAvailable", min), ("maxUnavailable", max)] {
        if let Some(v) = v {
            positive_int_or_percent(errs, v, sp.child(key));
            not_more_than_100_percent(errs, v, sp.child(key));
        }
    }
    if let Some(sel) = get(spec, "selector") {
        errs.extend(validate_label_selector(sel, &sp.child("selector")));
    }
    if let Some(p) = opt_s(spec, "unhealthyPodEvictionPolicy") {
        let allowed = ["AlwaysAllow", "IfHealthyBudget"];
        if !allowed.contains(&p) {
            errs.push(FieldError::not_supported(
                sp.child("unhealthyPodEvictionPolicy"),
                p,
                &allowed,
            ));
        }
    }
}

/// `ValidateHorizontalPodAutoscaler`: target reference, replica bounds, metrics shape.
pub(crate) fn horizontal_pod_autoscaler(errs: &mut Errs, obj: &Value) {
    let spec = or_null(get(obj, "spec"));
    let sp = FieldPath::new("spec");
    let target = or_null(get(spec, "scaleTargetRef"));
    let tp = sp.child("scaleTargetRef");
    for key in ["kind", "name"] {
        let v = s(target, key);
        if v.is_empty() {
            errs.push(FieldError::required(tp.child(key), ""));
        } else {
            each_invalid(errs, tp.child(key), v, names::is_valid_path_segment_name(v));
        }
    }
    let min = int(spec, "minReplicas");
    if let Some(m) = min.filter(|m| *m < 1) {
        errs.push(FieldError::invalid(
            sp.child("minReplicas"),
            m,
            "must be greater than or equal to 1",
        ));
    }
    let max = int(spec, "maxReplicas").unwrap_or(0);
    if max < 1 {
        errs.push(FieldError::invalid(
            sp.child("maxReplicas"),
            max,
            "must be greater than 0",
        ));
    }
    if min.is_some_and(|m| max < m) {
        errs.push(FieldError::invalid(
            sp.child("maxReplicas"),
            max,
            "must be greater than or equal to `minReplicas`",
        ));
    }
    if let Some(t) = int(spec, "targetCPUUtilizationPercentage").filter(|t| *t < 1) {
        errs.push(FieldError::invalid(
            sp.child("targetCPUUtilizationPercentage"),
            t,
            "must be greater than 0",
        ));
    }
    let types = ["ContainerResource", "External", "Object", "Pods", "Resource"];
    for (i, m) in arr(spec, "metrics").iter().enumerate() {
        let mp = sp.child("metrics").index(i);
        let ty = s(m, "type");
        let field = match ty {
            "" => {
                errs.push(FieldError::required(
                    mp.child("type"),
                    "must specify a metric source type",
                ));
                continue;
            }
            "Resource" => "resource",
            "ContainerResource" => "containerResource",
            "Object" => "object",
            "Pods" => "pods",
            "External" => "external",
            x => {
                errs.push(FieldError::not_supported(mp.child("type"), x, &types));
                continue;
            }
        };
        let Some(src) = get(m, field) else {
            errs.push(FieldError::required(
                mp.child(field),
                format!("must populate information for the given metric source (type {ty})"),
            ));
            continue;
        };
        if (field == "resource" || field == "containerResource") && s(src, "name").is_empty() {
            errs.push(FieldError::required(
                mp.child(field).child("name"),
                "must specify a resource name",
            ));
        }
        if let Some(target) = get(src, "target") {
            let tp = mp.child(field).child("target");
            match s(target, "type") {
                "Utilization" | "Value" | "AverageValue" => {}
                "" => errs.push(FieldError::required(
                    tp.child("type"),
                    "must specify a metric target type",
                )),
                x => errs.push(FieldError::not_supported(
                    tp.child("type"),
                    x,
                    &["AverageValue", "Utilization", "Value"],
                )),
            }
            if let Some(u) = int(target, "averageUtilization").filter(|u| *u < 1) {
                errs.push(FieldError::invalid(
                    tp.child("averageUtilization"),
                    u,
                    "must be greater than 0",
                ));
            }
        }
    }
}

/// Upper bound of priorities users may define.
pub const HIGHEST_USER_DEFINABLE_PRIORITY: i64 = 1_000_000_000;

/// `ValidatePriorityClass(Update)`.
pub(crate) fn priority_class(errs: &mut Errs, obj: &Value, old: Option<&Value>) {
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let value = int(obj, "value").unwrap_or(0);
    let global = obj.get("globalDefault").and_then(Value::as_bool).unwrap_or(false);
    if name.starts_with("system-") {
        let known = match name {
            "system-node-critical" => Some(2_000_001_000),
            "system-cluster-critical" => Some(2_000_000_000),
            _ => None,
        };
        let problem = match known {
            None => Some(format!("{name} is not a known system priority class")),
            Some(v) if v != value => Some(format!("value of {name} PriorityClass must be {v}")),
            Some(_) if global => Some(format!("globalDefault of {name} PriorityClass must be false")),
            _ => None,
        };
        if let Some(p) = problem {
            errs.push(FieldError::forbidden(
                FieldPath::new("metadata").child("name"),
                format!(
                    "priority class names with 'system-' prefix are reserved for system use only. error: {p}"
                ),
            ));
        }
    } else if value > HIGHEST_USER_DEFINABLE_PRIORITY {
        errs.push(FieldError::forbidden(
            FieldPath::new("value"),
            format!("maximum allowed value of a user defined priority is {HIGHEST_USER_DEFINABLE_PRIORITY}"),
        ));
    }
    if let Some(p) = opt_s(obj, "preemptionPolicy") {
        match p {
            "PreemptLowerPriority" | "Never" => {}
            "" => errs.push(FieldError::required(FieldPath::new("preemptionPolicy"), "")),
            x => errs.push(FieldError::not_supported(
                FieldPath::new("preemptionPolicy"),
                x,
                &["PreemptLowerPriority", "Never"],
            )),
        }
    }
    if let Some(old) = old {
        if int(old, "value") != Some(value) {
            errs.push(FieldError::forbidden(
                FieldPath::new("value"),
                "may not be changed in an update.",
            ));
        }
        immutable(
            errs,
            obj.get("preemptionPolicy"),
            old.get("preemptionPolicy"),
            FieldPath::new("preemptionPolicy"),
        );
    }
}

/// `ValidateLease`.
pub(crate) fn lease(errs: &mut Errs, obj: &Value) {
    let spec = or_null(get(obj, "spec"));
    let sp = FieldPath::new("spec");
    if let Some(d) = int(spec, "leaseDurationSeconds").filter(|d| *d <= 0) {
        errs.push(FieldError::invalid(
            sp.child("leaseDurationSeconds"),
            d,
            "must be greater than 0",
        ));
    }
    if let Some(t) = int(spec, "leaseTransitions").filter(|t| *t < 0) {
        errs.push(FieldError::invalid(sp.child("leaseTransitions"), t, NEGATIVE));
    }
    if let Some(st) = opt_s(spec, "strategy")
        && st != "OldestEmulationVersion"
    {
        errs.push(FieldError::not_supported(
            sp.child("strategy"),
            st,
            &["OldestEmulationVersion"],
        ));
    }
}

/// Requests that are not stored: a pod `Binding` names a node; a
/// `SelfSubjectAccessReview` asks about exactly one of a resource or a non-resource URL.
pub(crate) fn ephemeral(errs: &mut Errs, kind: &str, obj: &Value) {
    if kind == "Binding" {
        let target = or_null(get(obj, "target"));
        let tk = s(target, "kind");
        if !tk.is_empty() && tk != "Node" {
            errs.push(FieldError::not_supported(
                FieldPath::new("target").child("kind"),
                tk,
                &["Node", "<empty>"],
            ));
        }
        if s(target, "name").is_empty() {
            errs.push(FieldError::required(FieldPath::new("target").child("name"), ""));
        }
        return;
    }
    let spec = or_null(get(obj, "spec"));
    let rp = FieldPath::new("spec").child("resourceAttributes");
    match (
        get(spec, "resourceAttributes"),
        get(spec, "nonResourceAttributes"),
    ) {
        (Some(_), Some(n)) => errs.push(FieldError::invalid(
            FieldPath::new("spec").child("nonResourceAttributes"),
            n.clone(),
            "cannot be specified in combination with resourceAttributes",
        )),
        (None, None) => errs.push(FieldError::required(
            rp,
            "exactly one of nonResourceAttributes or resourceAttributes must be specified",
        )),
        _ => {}
    }
}

/// An APIService: its name is `<version>.<group>`; a remote one names a service and either
/// trusts a CA bundle or skips verification, a local one does neither.
pub(crate) fn api_service(errs: &mut Errs, obj: &Value) {
    let spec = or_null(get(obj, "spec"));
    let sp = FieldPath::new("spec");
    let group = s(spec, "group");
    let version = s(spec, "version");
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    if name != format!("{version}.{group}") {
        errs.push(FieldError::invalid(
            "metadata.name",
            name,
            format!("must be `spec.version+\".\"+spec.group`: {version:?}.{group:?}"),
        ));
    }
    if group.is_empty() && version != "v1" {
        errs.push(FieldError::required(
            sp.child("group"),
            "only v1 may have an empty group",
        ));
    } else if !group.is_empty() {
        for m in names::is_dns1123_subdomain(group) {
            errs.push(FieldError::invalid(sp.child("group"), group, m));
        }
    }
    if version.is_empty() {
        errs.push(FieldError::required(sp.child("version"), ""));
    } else {
        for m in names::is_dns1035_label(version) {
            errs.push(FieldError::invalid(sp.child("version"), version, m));
        }
    }
    let gpm = int(spec, "groupPriorityMinimum").unwrap_or(0);
    if !(1..=20000).contains(&gpm) {
        errs.push(FieldError::invalid(
            sp.child("groupPriorityMinimum"),
            gpm,
            "must be positive and less than 20000",
        ));
    }
    let vp = int(spec, "versionPriority").unwrap_or(0);
    if !(1..=1000).contains(&vp) {
        errs.push(FieldError::invalid(
            sp.child("versionPriority"),
            vp,
            "must be positive and less than 1000",
        ));
    }
    let insecure = spec
        .get("insecureSkipTLSVerify")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let has_ca = !s(spec, "caBundle").is_empty();
    match get(spec, "service").filter(|v| !v.is_null()) {
        None => {
            if insecure {
                errs.push(FieldError::invalid(
                    sp.child("insecureSkipTLSVerify"),
                    true,
                    "local APIServices may not have insecureSkipTLSVerify",
                ));
            }
            if has_ca {
                errs.push(FieldError::invalid(
                    sp.child("caBundle"),
                    "(bytes)",
                    "local APIServices may not have a caBundle",
                ));
            }
        }
        Some(svc) => {
            let svp = sp.child("service");
            if s(svc, "namespace").is_empty() {
                errs.push(FieldError::required(svp.child("namespace"), ""));
            }
            if s(svc, "name").is_empty() {
                errs.push(FieldError::required(svp.child("name"), ""));
            }
            if let Some(port) = int(svc, "port")
                && !(1..=65535).contains(&port)
            {
                errs.push(FieldError::invalid(
                    svp.child("port"),
                    port,
                    "port is not valid: must be between 1 and 65535, inclusive",
                ));
            }
            if insecure && has_ca {
                errs.push(FieldError::invalid(
                    sp.child("insecureSkipTLSVerify"),
                    true,
                    "may not be true if caBundle is present",
                ));
            }
        }
    }
}
