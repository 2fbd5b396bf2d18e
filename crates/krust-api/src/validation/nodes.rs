//! Core cluster objects: Node, Endpoints, Event, ResourceQuota and LimitRange.

use std::collections::HashSet;

use serde_json::Value;

use super::containers::protocol;
use super::names;
use super::resources::{self, parse_list};
use super::scheduling::taints;
use super::service::non_special_ip;
use super::util::{Errs, arr, each_invalid, entries, get, int, opt_s, quantity, s, strs};
use crate::field_error::{FieldError, FieldPath};
use crate::quantity::Quantity;

fn or_null(v: Option<&Value>) -> &Value {
    static NULL: Value = Value::Null;
    v.unwrap_or(&NULL)
}

/// A node's podCIDRs as upstream's conversion reads them: `podCIDRs`, else a lone
/// `podCIDR` (what clients from before dual-stack send), so that neither field escapes the
/// format and immutability rules.
fn pod_cidrs(spec: &Value) -> Vec<&str> {
    let list = strs(spec, "podCIDRs");
    let single = s(spec, "podCIDR");
    if list.is_empty() && !single.is_empty() {
        vec![single]
    } else {
        list
    }
}

/// `ValidateNode(Update)`.
pub(crate) fn node(errs: &mut Errs, obj: &Value, old: Option<&Value>) {
    let spec = or_null(get(obj, "spec"));
    taints(
        errs,
        arr(spec, "taints"),
        &FieldPath::new("metadata").child("taints"),
    );
    let status = or_null(get(obj, "status"));
    for key in ["capacity", "allocatable"] {
        for (k, v) in entries(status, key) {
            let p = FieldPath::new(&format!("status.{key}.{k}"));
            if let Some(q) = quantity(errs, v, p.clone()) {
                resources::quantity_value(errs, k, &q, &p);
            }
        }
    }
    let cidrs = pod_cidrs(spec);
    let cp = FieldPath::new("spec").child("podCIDRs");
    // Upstream's conversion overwrites podCIDR with podCIDRs[0]; with nothing here to do
    // that, a differing podCIDR is refused instead of being stored beside podCIDRs.
    let single = s(spec, "podCIDR");
    if !single.is_empty() && !strs(spec, "podCIDRs").is_empty() && cidrs.first() != Some(&single) {
        errs.push(FieldError::invalid(
            FieldPath::new("spec").child("podCIDR"),
            single,
            "must be the same as spec.podCIDRs[0]",
        ));
    }
    for (i, c) in cidrs.iter().enumerate() {
        each_invalid(errs, cp.index(i), c, names::is_valid_cidr(c));
    }
    if cidrs.len() > 1 {
        let v6 = |c: &str| names::parse_cidr(c).is_some_and(|(ip, _)| ip.is_ipv6());
        if cidrs.len() > 2 || v6(cidrs[0]) == v6(cidrs[1]) {
            errs.push(FieldError::invalid(
                cp.clone(),
                Value::from(cidrs.clone()),
                "may specify no more than one CIDR for each IP family",
            ));
        }
    }
    let Some(old) = old else { return };
    let old_spec = or_null(get(old, "spec"));
    let old_cidrs = pod_cidrs(old_spec);
    if !old_cidrs.is_empty() && old_cidrs != cidrs {
        errs.push(FieldError::forbidden(
            cp,
            "node updates may not change podCIDR except from \"\" to valid",
        ));
    }
    let old_provider = s(old_spec, "providerID");
    if !old_provider.is_empty() && old_provider != s(spec, "providerID") {
        errs.push(FieldError::forbidden(
            FieldPath::new("spec").child("providerID"),
            "node updates may not change providerID except from \"\" to valid",
        ));
    }
    if s(spec, "externalID") != s(old_spec, "externalID") {
        errs.push(FieldError::forbidden(
            FieldPath::new("spec").child("externalID"),
            "may not be updated",
        ));
    }
    let mut seen = HashSet::new();
    for (i, a) in arr(status, "addresses").iter().enumerate() {
        if !seen.insert((s(a, "type"), s(a, "address"))) {
            errs.push(FieldError::duplicate(
                FieldPath::new("status").child("addresses").index(i),
                a.clone(),
            ));
        }
    }
}

/// `ValidateEndpoints`.
pub(crate) fn endpoints(errs: &mut Errs, obj: &Value) {
    let sp = FieldPath::new("subsets");
    for (i, ss) in arr(obj, "subsets").iter().enumerate() {
        let ip = sp.index(i);
        if arr(ss, "addresses").is_empty() && arr(ss, "notReadyAddresses").is_empty() {
            errs.push(FieldError::required(
                ip.clone(),
                "must specify `addresses` or `notReadyAddresses`",
            ));
        }
        for key in ["addresses", "notReadyAddresses"] {
            for (j, a) in arr(ss, key).iter().enumerate() {
                let ap = ip.child(key).index(j);
                let addr = s(a, "ip");
                each_invalid(errs, ap.child("ip"), addr, names::is_valid_ip(addr));
                if let Some(h) = opt_s(a, "hostname").filter(|h| !h.is_empty()) {
                    each_invalid(errs, ap.child("hostname"), h, names::is_dns1123_label(h));
                }
                if let Some(n) = opt_s(a, "nodeName") {
                    each_invalid(errs, ap.child("nodeName"), n, names::is_dns1123_subdomain(n));
                }
                non_special_ip(errs, addr, &ap.child("ip"));
            }
        }
        let ports = arr(ss, "ports");
        for (j, p) in ports.iter().enumerate() {
            let pp = ip.child("ports").index(j);
            let name = s(p, "name");
            if ports.len() > 1 && name.is_empty() {
                errs.push(FieldError::required(pp.child("name"), ""));
            } else if !name.is_empty() {
                each_invalid(errs, pp.child("name"), name, names::is_dns1123_label(name));
            }
            let port = int(p, "port").unwrap_or(0);
            for m in names::is_valid_port_num(port) {
                errs.push(FieldError::invalid(pp.child("port"), port, m));
            }
            protocol(errs, p, &pp);
        }
    }
}

/// Core `Event` (legacy rules) and `events.k8s.io` Event. Creates through events.k8s.io
/// must leave the fields only the old API has unset (upstream names them by their core
/// names: count, firstTimestamp, lastTimestamp, source).
pub(crate) fn event(errs: &mut Errs, group: &str, obj: &Value, create: bool) {
    if create && group == "events.k8s.io" {
        for (field, path) in [
            ("deprecatedFirstTimestamp", "firstTimestamp"),
            ("deprecatedLastTimestamp", "lastTimestamp"),
            ("deprecatedCount", "count"),
            ("deprecatedSource", "source"),
        ] {
            let set = match obj.get(field) {
                None | Some(Value::Null) => false,
                Some(Value::Number(n)) => n.as_i64() != Some(0),
                Some(Value::Object(m)) => m.values().any(|v| v.as_str().is_some_and(|s| !s.is_empty())),
                Some(Value::String(s)) => !s.is_empty(),
                Some(_) => true,
            };
            if set {
                errs.push(FieldError::invalid(FieldPath::new(path), "", "needs to be unset"));
            }
        }
    }
    let ns = obj
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("");
    let (involved, controller, note) = if group.is_empty() {
        ("involvedObject", "reportingComponent", "message")
    } else {
        ("regarding", "reportingController", "note")
    };
    let inv_ns = obj
        .pointer(&format!("/{involved}/namespace"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let mismatch = || {
        FieldError::invalid(
            FieldPath::new(involved).child("namespace"),
            inv_ns,
            "does not match event.namespace",
        )
    };
    let event_time = get(obj, "eventTime").is_some();
    if !event_time && group.is_empty() {
        if (inv_ns.is_empty() && !ns.is_empty() && ns != "default") || (!inv_ns.is_empty() && ns != inv_ns) {
            errs.push(mismatch());
        }
    } else {
        if inv_ns.is_empty() && ns != "default" && ns != "kube-system" {
            errs.push(mismatch());
        }
        if !event_time {
            errs.push(FieldError::required(FieldPath::new("eventTime"), ""));
        }
        let rc = s(obj, controller);
        if rc.is_empty() {
            errs.push(FieldError::required(FieldPath::new(controller), ""));
        }
        each_invalid(errs, FieldPath::new(controller), rc, names::is_qualified_name(rc));
        for (key, limit) in [
            ("reportingInstance", 128),
            ("action", 128),
            ("reason", 128),
            (note, 1024),
        ] {
            let v = s(obj, key);
            if v.is_empty() && key != note {
                errs.push(FieldError::required(FieldPath::new(key), ""));
            }
            if v.len() > limit {
                errs.push(FieldError::invalid(
                    FieldPath::new(key),
                    "",
                    format!("can have at most {limit} characters"),
                ));
            }
        }
        let ty = s(obj, "type");
        if ty != "Normal" && ty != "Warning" {
            errs.push(FieldError::invalid(
                FieldPath::new("type"),
                "",
                format!("has invalid value: {ty}"),
            ));
        }
    }
    if !ns.is_empty() {
        each_invalid(
            errs,
            FieldPath::new("namespace"),
            ns,
            names::is_dns1123_subdomain(ns),
        );
    }
}

/// `ValidateResourceQuota(Update)`: resource names and quantities, scopes.
pub(crate) fn resource_quota(errs: &mut Errs, obj: &Value, old: Option<&Value>) {
    let sp = FieldPath::new("spec");
    let spec = or_null(get(obj, "spec"));
    for (k, q) in parse_list(errs, spec, "hard", &sp.child("hard")) {
        let p = sp.child("hard").key(&k);
        resources::quota_resource_name(errs, &k, &p);
        resources::quantity_value(errs, &k, &q, &p);
    }
    let scopes = strs(spec, "scopes");
    const SCOPES: &[&str] = &[
        "Terminating",
        "NotTerminating",
        "BestEffort",
        "NotBestEffort",
        "PriorityClass",
        "CrossNamespacePodAffinity",
        "VolumeAttributesClass",
    ];
    for sc in &scopes {
        if !SCOPES.contains(sc) {
            errs.push(FieldError::invalid(
                sp.child("scopes"),
                Value::from(scopes.clone()),
                "unsupported scope",
            ));
        }
    }
    for (a, b) in [("BestEffort", "NotBestEffort"), ("Terminating", "NotTerminating")] {
        if scopes.contains(&a) && scopes.contains(&b) {
            errs.push(FieldError::invalid(
                sp.child("scopes"),
                Value::from(scopes.clone()),
                "conflicting scopes",
            ));
        }
    }
    if let Some(old) = old {
        let mut a = scopes.clone();
        let mut b = old.get("spec").map(|s| strs(s, "scopes")).unwrap_or_default();
        a.sort_unstable();
        a.dedup();
        b.sort_unstable();
        b.dedup();
        if a != b {
            errs.push(FieldError::invalid(
                sp.child("scopes"),
                Value::from(scopes),
                "field is immutable",
            ));
        }
    }
}

/// `ValidateLimitRange`: types, resource names and the order min ≤ defaultRequest ≤
/// default ≤ max.
pub(crate) fn limit_range(errs: &mut Errs, obj: &Value) {
    let lp = FieldPath::new("spec").child("limits");
    let mut types = HashSet::new();
    for (i, item) in obj
        .pointer("/spec/limits")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let ip = lp.index(i);
        let ty = s(item, "type");
        let before = errs.len();
        each_invalid(errs, ip.child("type"), ty, names::is_qualified_name(ty));
        if errs.len() == before
            && !ty.contains('/')
            && !["Pod", "Container", "PersistentVolumeClaim"].contains(&ty)
        {
            errs.push(FieldError::invalid(
                ip.child("type"),
                ty,
                "must be a standard limit type or fully qualified",
            ));
        }
        if !types.insert(ty) {
            errs.push(FieldError::duplicate(ip.child("type"), ty));
        }
        let mut lists: Vec<(&str, Vec<(String, Quantity)>)> = Vec::new();
        for key in ["max", "min", "default", "defaultRequest", "maxLimitRequestRatio"] {
            if ty == "Pod" && (key == "default" || key == "defaultRequest") {
                if item
                    .get(key)
                    .and_then(Value::as_object)
                    .is_some_and(|m| !m.is_empty())
                {
                    errs.push(FieldError::forbidden(
                        ip.child(key),
                        "may not be specified when `type` is 'Pod'",
                    ));
                }
                continue;
            }
            let list = parse_list(errs, item, key, &ip.child(key));
            for (k, _) in &list {
                let p = ip.child(key).key(k);
                if ty == "Pod" || ty == "Container" {
                    resources::container_resource_name(errs, k, &p);
                } else {
                    resources::resource_name(errs, k, &p);
                }
            }
            lists.push((key, list));
        }
        let find = |key: &str, res: &str| {
            lists
                .iter()
                .find(|(k, _)| *k == key)
                .and_then(|(_, l)| l.iter().find(|(n, _)| n == res))
                .map(|(_, q)| *q)
        };
        if ty == "PersistentVolumeClaim"
            && find("min", "storage").is_none()
            && find("max", "storage").is_none()
        {
            errs.push(FieldError::required(
                ip.child("limits"),
                "either minimum or maximum storage value is required, but neither was provided",
            ));
        }
        let mut keys: Vec<&String> = lists.iter().flat_map(|(_, l)| l.iter().map(|(n, _)| n)).collect();
        keys.sort();
        keys.dedup();
        for k in keys {
            let (min, max) = (find("min", k), find("max", k));
            let (def, req) = (find("default", k), find("defaultRequest", k));
            let bad = |errs: &mut Errs, key: &str, q: Quantity, msg: String| {
                errs.push(FieldError::invalid(ip.child(key).key(k), q.canonical(), msg));
            };
            if let (Some(a), Some(b)) = (min, max)
                && a > b
            {
                bad(
                    errs,
                    "min",
                    a,
                    format!("min value {a} is greater than max value {b}"),
                );
            }
            if let (Some(r), Some(a)) = (req, min)
                && a > r
            {
                bad(
                    errs,
                    "defaultRequest",
                    r,
                    format!("min value {a} is greater than default request value {r}"),
                );
            }
            if let (Some(r), Some(b)) = (req, max)
                && r > b
            {
                bad(
                    errs,
                    "defaultRequest",
                    r,
                    format!("default request value {r} is greater than max value {b}"),
                );
            }
            if let (Some(r), Some(d)) = (req, def)
                && r > d
            {
                bad(
                    errs,
                    "defaultRequest",
                    r,
                    format!("default request value {r} is greater than default limit value {d}"),
                );
            }
            if let (Some(d), Some(a)) = (def, min)
                && a > d
            {
                bad(
                    errs,
                    "default",
                    a,
                    format!("min value {a} is greater than default value {d}"),
                );
            }
            if let (Some(d), Some(b)) = (def, max)
                && d > b
            {
                bad(
                    errs,
                    "default",
                    b,
                    format!("default value {d} is greater than max value {b}"),
                );
            }
            if let Some(r) = find("maxLimitRequestRatio", k)
                && r < Quantity::from_int(1)
            {
                bad(
                    errs,
                    "maxLimitRequestRatio",
                    r,
                    format!("ratio {r} is less than 1"),
                );
            }
            if let (Some(d), Some(r)) = (def, req)
                && !resources::overcommit_allowed(k)
                && d != r
            {
                bad(
                    errs,
                    "defaultRequest",
                    r,
                    format!("default value {d} must equal to defaultRequest value {r} in {k}"),
                );
            }
        }
    }
}
