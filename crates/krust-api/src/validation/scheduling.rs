//! Scheduling-related parts of a pod spec: tolerations, affinity, topology spread, DNS
//! config and host aliases; node taints share the toleration rules.

use std::collections::HashSet;

use serde_json::Value;

use super::meta::validate_label_selector;
use super::names;
use super::util::{Errs, arr, each_invalid, enum_optional, get, int, s, strs};
use crate::field_error::{FieldError, FieldPath};

const TAINT_EFFECTS: &[&str] = &["NoSchedule", "PreferNoSchedule", "NoExecute"];

/// `ValidateTolerations`.
pub(crate) fn tolerations(errs: &mut Errs, list: &[Value], path: &FieldPath) {
    for (i, t) in list.iter().enumerate() {
        let ip = path.index(i);
        let key = s(t, "key");
        let op = s(t, "operator");
        if !key.is_empty() {
            each_invalid(errs, ip.child("key"), key, names::is_qualified_name(key));
        }
        if key.is_empty() && op != "Exists" {
            errs.push(FieldError::invalid(
                ip.child("operator"),
                op,
                "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            ));
        }
        if get(t, "tolerationSeconds").is_some() && s(t, "effect") != "NoExecute" {
            errs.push(FieldError::invalid(
                ip.child("effect"),
                s(t, "effect"),
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            ));
        }
        let value = s(t, "value");
        match op {
            "Equal" | "" => {
                let msgs = names::is_label_value(value);
                if !msgs.is_empty() {
                    errs.push(FieldError::invalid(ip.child("operator"), value, msgs.join(";")));
                }
            }
            "Exists" => {
                if !value.is_empty() {
                    errs.push(FieldError::invalid(
                        ip.child("operator"),
                        value,
                        "value must be empty when `operator` is 'Exists'",
                    ));
                }
            }
            x => errs.push(FieldError::not_supported(
                ip.child("operator"),
                x,
                &["Equal", "Exists"],
            )),
        }
        let effect = s(t, "effect");
        if !effect.is_empty() && !TAINT_EFFECTS.contains(&effect) {
            errs.push(FieldError::not_supported(
                ip.child("effect"),
                effect,
                TAINT_EFFECTS,
            ));
        }
    }
}

/// Node taints: valid key/value/effect, unique by key and effect.
pub(crate) fn taints(errs: &mut Errs, list: &[Value], path: &FieldPath) {
    let mut seen = HashSet::new();
    for (i, t) in list.iter().enumerate() {
        let ip = path.index(i);
        let key = s(t, "key");
        each_invalid(errs, ip.child("key"), key, names::is_qualified_name(key));
        let msgs = names::is_label_value(s(t, "value"));
        if !msgs.is_empty() {
            errs.push(FieldError::invalid(
                ip.child("value"),
                s(t, "value"),
                msgs.join(";"),
            ));
        }
        let effect = s(t, "effect");
        if effect.is_empty() {
            errs.push(FieldError::required(ip.child("effect"), ""));
        } else if !TAINT_EFFECTS.contains(&effect) {
            errs.push(FieldError::not_supported(
                ip.child("effect"),
                effect,
                TAINT_EFFECTS,
            ));
        }
        if !seen.insert((key, effect)) {
            let mut e = FieldError::duplicate(ip, t.clone());
            e.detail = "taints must be unique by key and effect pair".into();
            errs.push(e);
        }
    }
}

fn node_selector_requirement(errs: &mut Errs, rq: &Value, path: &FieldPath, check_values: bool) {
    let values = strs(rq, "values");
    match s(rq, "operator") {
        "In" | "NotIn" => {
            if values.is_empty() {
                errs.push(FieldError::required(
                    path.child("values"),
                    "must be specified when `operator` is 'In' or 'NotIn'",
                ));
            }
        }
        "Exists" | "DoesNotExist" => {
            if !values.is_empty() {
                errs.push(FieldError::forbidden(
                    path.child("values"),
                    "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                ));
            }
        }
        "Gt" | "Lt" => {
            if values.len() != 1 {
                errs.push(FieldError::required(
                    path.child("values"),
                    "must be specified single value when `operator` is 'Lt' or 'Gt'",
                ));
            }
        }
        op => errs.push(FieldError::invalid(
            path.child("operator"),
            op,
            "not a valid selector operator",
        )),
    }
    let key = s(rq, "key");
    each_invalid(errs, path.child("key"), key, names::is_qualified_name(key));
    if check_values {
        for (j, v) in values.iter().enumerate() {
            each_invalid(errs, path.child("values").index(j), v, names::is_label_value(v));
        }
    }
}

fn node_selector_term(errs: &mut Errs, term: &Value, path: &FieldPath, check_values: bool) {
    for (j, rq) in arr(term, "matchExpressions").iter().enumerate() {
        node_selector_requirement(errs, rq, &path.child("matchExpressions").index(j), check_values);
    }
    for (j, rq) in arr(term, "matchFields").iter().enumerate() {
        let p = path.child("matchFields").index(j);
        match s(rq, "operator") {
            "In" | "NotIn" => {
                if strs(rq, "values").len() != 1 {
                    errs.push(FieldError::required(
                        p.child("values"),
                        "must be only one value when `operator` is 'In' or 'NotIn' for node field selector",
                    ));
                }
            }
            op => errs.push(FieldError::invalid(
                p.child("operator"),
                op,
                "not a valid selector operator",
            )),
        }
        if s(rq, "key") != "metadata.name" {
            errs.push(FieldError::invalid(
                p.child("key"),
                s(rq, "key"),
                "not a valid field selector key",
            ));
        } else {
            for (k, v) in strs(rq, "values").iter().enumerate() {
                each_invalid(
                    errs,
                    p.child("values").index(k),
                    v,
                    names::is_dns1123_subdomain(v),
                );
            }
        }
    }
}

/// `ValidateNodeSelector` (required node affinity, PV node affinity).
pub(crate) fn node_selector(errs: &mut Errs, sel: &Value, path: &FieldPath) {
    let tp = path.child("nodeSelectorTerms");
    let terms = arr(sel, "nodeSelectorTerms");
    if terms.is_empty() {
        errs.push(FieldError::required(
            tp,
            "must have at least one node selector term",
        ));
        return;
    }
    for (i, t) in terms.iter().enumerate() {
        node_selector_term(errs, t, &tp.index(i), true);
    }
}

fn weight(errs: &mut Errs, v: &Value, path: &FieldPath) {
    let w = int(v, "weight").unwrap_or(0);
    if !(1..=100).contains(&w) {
        errs.push(FieldError::invalid(
            path.child("weight"),
            w,
            "must be in the range 1-100",
        ));
    }
}

fn pod_affinity_term(errs: &mut Errs, t: &Value, path: &FieldPath) {
    for key in ["labelSelector", "namespaceSelector"] {
        if let Some(sel) = get(t, key) {
            errs.extend(validate_label_selector(sel, &path.child(key)));
        }
    }
    for ns in strs(t, "namespaces") {
        each_invalid(errs, path.child("namespace"), ns, names::is_dns1123_label(ns));
    }
    let key = s(t, "topologyKey");
    if key.is_empty() {
        errs.push(FieldError::required(
            path.child("topologyKey"),
            "can not be empty",
        ));
    }
    each_invalid(
        errs,
        path.child("topologyKey"),
        key,
        names::is_qualified_name(key),
    );
}

/// `validateAffinity`.
pub(crate) fn affinity(errs: &mut Errs, a: &Value, path: &FieldPath) {
    if let Some(na) = get(a, "nodeAffinity") {
        let p = path.child("nodeAffinity");
        if let Some(req) = get(na, "requiredDuringSchedulingIgnoredDuringExecution") {
            node_selector(
                errs,
                req,
                &p.child("requiredDuringSchedulingIgnoredDuringExecution"),
            );
        }
        let pp = p.child("preferredDuringSchedulingIgnoredDuringExecution");
        for (i, term) in arr(na, "preferredDuringSchedulingIgnoredDuringExecution")
            .iter()
            .enumerate()
        {
            weight(errs, term, &pp.index(i));
            if let Some(pref) = get(term, "preference") {
                node_selector_term(errs, pref, &pp.index(i).child("preference"), false);
            }
        }
    }
    for key in ["podAffinity", "podAntiAffinity"] {
        let Some(pa) = get(a, key) else { continue };
        let p = path.child(key);
        let rp = p.child("requiredDuringSchedulingIgnoredDuringExecution");
        for (i, t) in arr(pa, "requiredDuringSchedulingIgnoredDuringExecution")
            .iter()
            .enumerate()
        {
            pod_affinity_term(errs, t, &rp.index(i));
        }
        let wp = p.child("preferredDuringSchedulingIgnoredDuringExecution");
        for (i, t) in arr(pa, "preferredDuringSchedulingIgnoredDuringExecution")
            .iter()
            .enumerate()
        {
            weight(errs, t, &wp.index(i));
            if let Some(term) = get(t, "podAffinityTerm") {
                pod_affinity_term(errs, term, &wp.index(i).child("podAffinityTerm"));
            }
        }
    }
}

/// `validateTopologySpreadConstraints`.
pub(crate) fn topology_spread(errs: &mut Errs, list: &[Value], path: &FieldPath) {
    for (i, c) in list.iter().enumerate() {
        let p = path.index(i);
        let skew = int(c, "maxSkew").unwrap_or(0);
        if skew <= 0 {
            errs.push(FieldError::invalid(
                p.child("maxSkew"),
                skew,
                "must be greater than zero",
            ));
        }
        if s(c, "topologyKey").is_empty() {
            errs.push(FieldError::required(p.child("topologyKey"), "can not be empty"));
        }
        let when = s(c, "whenUnsatisfiable");
        if !["DoNotSchedule", "ScheduleAnyway"].contains(&when) {
            errs.push(FieldError::not_supported(
                p.child("whenUnsatisfiable"),
                when,
                &["DoNotSchedule", "ScheduleAnyway"],
            ));
        }
        let repeated = list[i + 1..]
            .iter()
            .any(|o| s(o, "topologyKey") == s(c, "topologyKey") && s(o, "whenUnsatisfiable") == when);
        if repeated {
            errs.push(FieldError::duplicate(
                p.child("{topologyKey, whenUnsatisfiable}"),
                format!("{{{}, {when}}}", s(c, "topologyKey")),
            ));
        }
        if let Some(md) = int(c, "minDomains") {
            if when != "DoNotSchedule" {
                errs.push(FieldError::invalid(
                    p.child("minDomains"),
                    md,
                    format!("can only use minDomains if whenUnsatisfiable=DoNotSchedule, not {when}"),
                ));
            }
            if md <= 0 {
                errs.push(FieldError::invalid(
                    p.child("minDomains"),
                    md,
                    "must be greater than zero",
                ));
            }
        }
        enum_optional(errs, c, "nodeAffinityPolicy", &p, &["Honor", "Ignore"]);
        enum_optional(errs, c, "nodeTaintsPolicy", &p, &["Honor", "Ignore"]);
        if let Some(sel) = get(c, "labelSelector") {
            errs.extend(validate_label_selector(sel, &p.child("labelSelector")));
        }
        let mlk = strs(c, "matchLabelKeys");
        if !mlk.is_empty() && get(c, "labelSelector").is_none() {
            errs.push(FieldError::forbidden(
                p.child("matchLabelKeys"),
                "must not be specified when labelSelector is not set",
            ));
        }
        for (j, k) in mlk.iter().enumerate() {
            each_invalid(
                errs,
                p.child("matchLabelKeys").index(j),
                k,
                names::is_qualified_name(k),
            );
        }
    }
}

/// `validatePodDNSConfig`.
pub(crate) fn dns_config(errs: &mut Errs, spec: &Value, path: &FieldPath) {
    let cfg = get(spec, "dnsConfig");
    if s(spec, "dnsPolicy") == "None" {
        match cfg {
            None => {
                errs.push(FieldError::required(
                    path.clone(),
                    "must provide `dnsConfig` when `dnsPolicy` is None",
                ));
                return;
            }
            Some(c) if arr(c, "nameservers").is_empty() => {
                errs.push(FieldError::required(
                    path.child("nameservers"),
                    "must provide at least one DNS nameserver when `dnsPolicy` is None",
                ));
                return;
            }
            _ => {}
        }
    }
    let Some(cfg) = cfg else { return };
    let ns = strs(cfg, "nameservers");
    if ns.len() > 3 {
        errs.push(FieldError::invalid(
            path.child("nameservers"),
            Value::from(ns.clone()),
            "must not have more than 3 nameservers",
        ));
    }
    for (i, ip) in ns.iter().enumerate() {
        each_invalid(
            errs,
            path.child("nameservers").index(i),
            ip,
            names::is_valid_ip(ip),
        );
    }
    let searches = strs(cfg, "searches");
    if searches.len() > 32 {
        errs.push(FieldError::invalid(
            path.child("searches"),
            Value::from(searches.clone()),
            "must not have more than 32 search paths",
        ));
    }
    if searches.join(" ").len() > 2048 {
        errs.push(FieldError::invalid(
            path.child("searches"),
            Value::from(searches.clone()),
            "must not have more than 2048 characters (including spaces) in the search list",
        ));
    }
    for (i, search) in searches.iter().enumerate() {
        if *search == "." {
            continue;
        }
        let trimmed = search.strip_suffix('.').unwrap_or(search);
        let ok = trimmed.split('.').all(|l| {
            let l = l.strip_prefix('_').unwrap_or(l);
            let b = l.as_bytes();
            !b.is_empty()
                && b.iter()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-' || *c == b'_')
                && b.first().is_some_and(|c| c.is_ascii_alphanumeric())
                && b.last().is_some_and(|c| c.is_ascii_alphanumeric())
        });
        if !ok || trimmed.len() > names::DNS1123_SUBDOMAIN_MAX {
            errs.push(FieldError::invalid(
                path.child("searches").index(i),
                trimmed,
                names::regex_error(
                    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '_', '-' or '.', and must start and end with an alphanumeric character",
                    "_?[a-z0-9]([-_a-z0-9]*[a-z0-9])?(\\._?[a-z0-9]([-_a-z0-9]*[a-z0-9])?)*",
                    &["example.com"],
                ),
            ));
        }
    }
    for (i, o) in arr(cfg, "options").iter().enumerate() {
        if s(o, "name").is_empty() {
            errs.push(FieldError::required(
                path.child("options").index(i),
                "must not be empty",
            ));
        }
    }
}

/// `ValidateHostAliases`.
pub(crate) fn host_aliases(errs: &mut Errs, list: &[Value], path: &FieldPath) {
    for (i, h) in list.iter().enumerate() {
        let ip = s(h, "ip");
        each_invalid(errs, path.index(i).child("ip"), ip, names::is_valid_ip(ip));
        for (j, name) in strs(h, "hostnames").iter().enumerate() {
            each_invalid(
                errs,
                path.index(i).child("hostnames").index(j),
                name,
                names::is_dns1123_subdomain(name),
            );
        }
    }
}
