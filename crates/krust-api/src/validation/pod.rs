//! Pods and pod templates: `ValidatePodSpec`, `ValidatePodTemplateSpec`,
//! `ValidatePodCreate` and `ValidatePodUpdate` (which only lets images, the active deadline,
//! added tolerations and removed scheduling gates change).

use serde_json::{Map, Value};

use super::containers::{self, Ctx};
use super::meta::{self, template_labels_annotations};
use super::names;
use super::scheduling;
use super::util::{Errs, arr, diff_text, each_invalid, entries, get, int, s, subdomain_if_set};
use super::volumes;
use crate::field_error::{FieldError, FieldPath};

const RESTART_POLICIES: &[&str] = &["Always", "OnFailure", "Never"];
const DNS_POLICIES: &[&str] = &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"];

/// `ValidatePodSpec`. `extra_volumes` are names usable as volumes besides `spec.volumes`
/// (a StatefulSet's claim templates).
pub(crate) fn pod_spec(
    errs: &mut Errs,
    spec: &Value,
    path: &FieldPath,
    is_pod: bool,
    extra_volumes: &[&str],
) {
    let grace = int(spec, "terminationGracePeriodSeconds");
    if get(spec, "terminationGracePeriodSeconds").is_none() {
        errs.push(FieldError::required(
            path.child("terminationGracePeriodSeconds"),
            "",
        ));
    }
    let vols = volumes::volumes(errs, spec, path, extra_volumes);
    let restart = s(spec, "restartPolicy");
    let ctx = Ctx {
        vols: &vols,
        grace,
        restart,
        is_pod,
    };
    containers::containers(errs, spec, path, ctx);
    containers::init_containers(errs, spec, path, ctx);
    containers::ephemeral_containers(errs, spec, path, ctx);
    if spec.get("hostNetwork").and_then(Value::as_bool) == Some(true) {
        for (i, c) in arr(spec, "containers").iter().enumerate() {
            for (j, p) in arr(c, "ports").iter().enumerate() {
                let hp = int(p, "hostPort").unwrap_or(0);
                if (is_pod || hp != 0) && hp != int(p, "containerPort").unwrap_or(0) {
                    errs.push(FieldError::invalid(
                        path.child("containers")
                            .index(i)
                            .child("ports")
                            .index(j)
                            .child("hostPort"),
                        hp,
                        "must match `containerPort` when `hostNetwork` is true",
                    ));
                }
            }
        }
    }
    match restart {
        "" => errs.push(FieldError::required(path.child("restartPolicy"), "")),
        x if !RESTART_POLICIES.contains(&x) => errs.push(FieldError::not_supported(
            path.child("restartPolicy"),
            x,
            RESTART_POLICIES,
        )),
        _ => {}
    }
    match s(spec, "dnsPolicy") {
        "" => errs.push(FieldError::required(path.child("dnsPolicy"), "")),
        x if !DNS_POLICIES.contains(&x) => errs.push(FieldError::not_supported(
            path.child("dnsPolicy"),
            x,
            DNS_POLICIES,
        )),
        _ => {}
    }
    if let Some(ns) = get(spec, "nodeSelector") {
        errs.extend(meta::validate_labels(ns, &path.child("nodeSelector")));
    }
    if let Some(sc) = get(spec, "securityContext") {
        pod_security_context(errs, sc, &path.child("securityContext"));
    }
    for (i, r) in arr(spec, "imagePullSecrets").iter().enumerate() {
        if r.as_object().is_some_and(|o| o.keys().any(|k| k != "name")) {
            errs.push(FieldError::invalid(
                path.child("imagePullSecrets").index(i),
                r.clone(),
                "only name may be set",
            ));
        }
    }
    if let Some(a) = get(spec, "affinity") {
        scheduling::affinity(errs, a, &path.child("affinity"));
    }
    scheduling::dns_config(errs, spec, &path.child("dnsConfig"));
    for (i, g) in arr(spec, "readinessGates").iter().enumerate() {
        let ct = s(g, "conditionType");
        each_invalid(
            errs,
            path.child("readinessGates").index(i).child("conditionType"),
            ct,
            names::is_qualified_name(ct),
        );
    }
    let mut gates = std::collections::HashSet::new();
    for (i, g) in arr(spec, "schedulingGates").iter().enumerate() {
        let n = s(g, "name");
        each_invalid(
            errs,
            path.child("schedulingGates").index(i),
            n,
            names::is_qualified_name(n),
        );
        if !gates.insert(n) {
            errs.push(FieldError::duplicate(path.child("schedulingGates").index(i), n));
        }
    }
    scheduling::topology_spread(
        errs,
        arr(spec, "topologySpreadConstraints"),
        &path.child("topologySpreadConstraints"),
    );
    subdomain_if_set(errs, spec, "serviceAccountName", path);
    subdomain_if_set(errs, spec, "nodeName", path);
    if let Some(ads) = int(spec, "activeDeadlineSeconds")
        && !(1..=i64::from(i32::MAX)).contains(&ads)
    {
        errs.push(FieldError::invalid(
            path.child("activeDeadlineSeconds"),
            ads,
            names::inclusive_range_error(1, i64::from(i32::MAX)),
        ));
    }
    for key in ["hostname", "subdomain"] {
        super::util::label_if_set(errs, spec, key, path);
    }
    scheduling::tolerations(errs, arr(spec, "tolerations"), &path.child("tolerations"));
    scheduling::host_aliases(errs, arr(spec, "hostAliases"), &path.child("hostAliases"));
    subdomain_if_set(errs, spec, "priorityClassName", path);
    if let Some(rc) = spec.get("runtimeClassName").and_then(Value::as_str) {
        each_invalid(
            errs,
            path.child("runtimeClassName"),
            rc,
            names::is_dns1123_subdomain(rc),
        );
    }
    if let Some(pp) = spec.get("preemptionPolicy").and_then(Value::as_str) {
        match pp {
            "PreemptLowerPriority" | "Never" => {}
            "" => errs.push(FieldError::required(path.child("preemptionPolicy"), "")),
            x => errs.push(FieldError::not_supported(
                path.child("preemptionPolicy"),
                x,
                &["PreemptLowerPriority", "Never"],
            )),
        }
    }
    if let Some(os) = get(spec, "os") {
        let name = s(os, "name");
        if name.is_empty() {
            errs.push(FieldError::required(path.child("os").child("name"), ""));
        } else if name != "linux" && name != "windows" {
            errs.push(FieldError::not_supported(
                path.child("os").child("name"),
                name,
                &["linux", "windows"],
            ));
        }
    }
}

fn pod_security_context(errs: &mut Errs, sc: &Value, path: &FieldPath) {
    super::probes::security_context(errs, sc, path);
    let max = i64::from(i32::MAX);
    if let Some(g) = int(sc, "fsGroup")
        && !(0..=max).contains(&g)
    {
        errs.push(FieldError::invalid(
            path.child("fsGroup"),
            g,
            names::inclusive_range_error(0, max),
        ));
    }
    for (i, g) in arr(sc, "supplementalGroups").iter().enumerate() {
        let g = g.as_i64().unwrap_or(-1);
        if !(0..=max).contains(&g) {
            errs.push(FieldError::invalid(
                path.child("supplementalGroups").index(i),
                g,
                names::inclusive_range_error(0, max),
            ));
        }
    }
    super::util::enum_optional(
        errs,
        sc,
        "fsGroupChangePolicy",
        path,
        &["Always", "OnRootMismatch"],
    );
    super::util::enum_optional(errs, sc, "supplementalGroupsPolicy", path, &["Merge", "Strict"]);
    for (i, sysctl) in arr(sc, "sysctls").iter().enumerate() {
        if s(sysctl, "name").is_empty() {
            errs.push(FieldError::required(
                path.child("sysctls").index(i).child("name"),
                "",
            ));
        }
    }
}

/// `ValidatePodTemplateSpec` at `path` (e.g. `spec.template`).
pub(crate) fn template(errs: &mut Errs, tpl: Option<&Value>, path: &FieldPath, extra_volumes: &[&str]) {
    let empty = Value::Object(Map::new());
    let tpl = tpl.unwrap_or(&empty);
    template_labels_annotations(errs, get(tpl, "metadata"), path);
    let spec = get(tpl, "spec").unwrap_or(&empty);
    pod_spec(errs, spec, &path.child("spec"), false, extra_volumes);
    if !arr(spec, "ephemeralContainers").is_empty() {
        errs.push(FieldError::forbidden(
            path.child("spec").child("ephemeralContainers"),
            "ephemeral containers not allowed in pod template",
        ));
    }
}

/// A Pod on create, or on update against the stored one.
pub(crate) fn pod(errs: &mut Errs, obj: &Value, old: Option<&Value>) {
    let empty = Value::Object(Map::new());
    let spec = get(obj, "spec").unwrap_or(&empty);
    let spec_path = FieldPath::new("spec");
    if let Some(cost) = obj
        .pointer("/metadata/annotations")
        .and_then(|a| a.get("controller.kubernetes.io/pod-deletion-cost"))
        .and_then(Value::as_str)
        && (cost.trim().parse::<i32>().is_err() || cost.trim() != cost)
    {
        errs.push(FieldError::invalid(
            FieldPath::new("metadata")
                .child("annotations")
                .key("controller.kubernetes.io/pod-deletion-cost"),
            cost,
            "must be a 32bit integer",
        ));
    }
    pod_spec(errs, spec, &spec_path, true, &[]);
    match old {
        None => {
            if !arr(spec, "ephemeralContainers").is_empty() {
                errs.push(FieldError::forbidden(
                    spec_path.child("ephemeralContainers"),
                    "cannot be set on create",
                ));
            }
            if !s(spec, "nodeName").is_empty() && !arr(spec, "schedulingGates").is_empty() {
                errs.push(FieldError::forbidden(
                    spec_path.child("nodeName"),
                    "cannot be set until all schedulingGates have been cleared",
                ));
            }
        }
        Some(old) => pod_update(errs, spec, get(old, "spec").unwrap_or(&empty)),
    }
}

const UPDATABLE: &str = "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

/// Drops `null` members so that absent and `null` compare equal.
fn strip_nulls(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, x)| !x.is_null())
                .map(|(k, x)| (k.clone(), strip_nulls(x)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(strip_nulls).collect()),
        other => other.clone(),
    }
}

fn pod_update(errs: &mut Errs, spec: &Value, old: &Value) {
    let sp = FieldPath::new("spec");
    for key in ["containers", "initContainers"] {
        if arr(spec, key).len() != arr(old, key).len() {
            errs.push(FieldError::forbidden(
                sp.child(key),
                "pod updates may not add or remove containers",
            ));
            return;
        }
    }
    match (
        int(spec, "activeDeadlineSeconds"),
        int(old, "activeDeadlineSeconds"),
    ) {
        (Some(n), _) if !(0..=i64::from(i32::MAX)).contains(&n) => {
            errs.push(FieldError::invalid(
                sp.child("activeDeadlineSeconds"),
                n,
                names::inclusive_range_error(0, i64::from(i32::MAX)),
            ));
            return;
        }
        (Some(n), Some(o)) if o < n => {
            errs.push(FieldError::invalid(
                sp.child("activeDeadlineSeconds"),
                n,
                "must be less than or equal to previous value",
            ));
            return;
        }
        (None, Some(_)) => errs.push(FieldError::invalid(
            sp.child("activeDeadlineSeconds"),
            Value::Null,
            "must not update from a positive integer to nil value",
        )),
        _ => {}
    }
    let without_seconds = |t: &Value| {
        let mut t = strip_nulls(t);
        if let Some(o) = t.as_object_mut() {
            o.remove("tolerationSeconds");
        }
        t
    };
    let new_tols: Vec<Value> = arr(spec, "tolerations").iter().map(without_seconds).collect();
    if arr(old, "tolerations")
        .iter()
        .any(|t| !new_tols.contains(&without_seconds(t)))
    {
        errs.push(FieldError::forbidden(
            sp.child("tolerations"),
            "existing toleration can not be modified except its tolerationSeconds",
        ));
    }
    let old_gates: Vec<&str> = arr(old, "schedulingGates").iter().map(|g| s(g, "name")).collect();
    for (i, g) in arr(spec, "schedulingGates").iter().enumerate() {
        if !old_gates.contains(&s(g, "name")) {
            errs.push(FieldError::forbidden(
                sp.child("schedulingGates").index(i).child("name"),
                format!(
                    "only deletion is allowed, but found new scheduling gate '{}'",
                    s(g, "name")
                ),
            ));
        }
    }
    let old_spec = strip_nulls(old);
    let mut munged = strip_nulls(spec);
    let Some(m) = munged.as_object_mut() else { return };
    for key in ["containers", "initContainers"] {
        if let Some(list) = m.get_mut(key).and_then(Value::as_array_mut) {
            for (i, c) in list.iter_mut().enumerate() {
                let old_image = old_spec
                    .get(key)
                    .and_then(|l| l.get(i))
                    .and_then(|c| c.get("image"))
                    .cloned();
                if let (Some(c), Some(img)) = (c.as_object_mut(), old_image) {
                    c.insert("image".into(), img);
                }
            }
        }
    }
    for key in ["activeDeadlineSeconds", "schedulingGates", "tolerations"] {
        match old_spec.get(key) {
            Some(v) => m.insert(key.into(), v.clone()),
            None => m.remove(key),
        };
    }
    let old_grace = int(&old_spec, "terminationGracePeriodSeconds");
    if old_grace.is_some_and(|g| g < 0)
        && m.get("terminationGracePeriodSeconds").and_then(Value::as_i64) == Some(1)
        && let Some(g) = old_grace
    {
        m.insert("terminationGracePeriodSeconds".into(), g.into());
    }
    if !old_gates.is_empty() {
        let old_sel: Vec<(&String, &Value)> = entries(&old_spec, "nodeSelector");
        let new_sel = m.get("nodeSelector").cloned();
        let keeps_all = old_sel
            .iter()
            .all(|(k, v)| new_sel.as_ref().and_then(|n| n.get(k.as_str())) == Some(*v));
        if keeps_all {
            match old_spec.get("nodeSelector") {
                Some(v) => m.insert("nodeSelector".into(), v.clone()),
                None => m.remove("nodeSelector"),
            };
        } else {
            errs.push(FieldError::invalid(
                sp.child("nodeSelector"),
                new_sel.unwrap_or(Value::Null),
                "only additions to spec.nodeSelector are allowed (no mutations or deletions)",
            ));
        }
    }
    if munged != old_spec {
        errs.push(FieldError::forbidden(
            sp,
            format!(
                "pod updates may not change fields other than {UPDATABLE}\n{}",
                diff_text(&old_spec, &munged, "spec")
            ),
        ));
    }
}
