//! Workload controllers: Deployment, ReplicaSet, StatefulSet, DaemonSet, ControllerRevision
//! (`apps/v1`) and the core ReplicationController.

use serde_json::Value;

use super::meta::{
    selector_is_empty, selector_matches, template_labels_annotations, validate_label_selector,
};
use super::pod;
use super::util::{
    Errs, NEGATIVE, get, immutable, int, int_or_percent_value, nonneg, not_more_than_100_percent,
    positive_int_or_percent, s,
};
use crate::field_error::{FieldError, FieldPath};

fn spec(obj: &Value) -> &Value {
    static EMPTY: Value = Value::Null;
    get(obj, "spec").unwrap_or(&EMPTY)
}

/// Selector required, valid and non-empty (`empty selector is invalid for <what>`).
/// Returns false when the selector cannot be interpreted; upstream then reports
/// `invalid_msg` on it and skips the template checks that need it.
fn selector(errs: &mut Errs, spec: &Value, sp: &FieldPath, what: &str, invalid_msg: &str) -> bool {
    let Some(sel) = get(spec, "selector") else {
        errs.push(FieldError::required(sp.child("selector"), ""));
        return true;
    };
    let sel_errs = validate_label_selector(sel, &sp.child("selector"));
    let valid = sel_errs.is_empty();
    errs.extend(sel_errs);
    if selector_is_empty(sel) {
        errs.push(FieldError::invalid(
            sp.child("selector"),
            sel.clone(),
            format!("empty selector is invalid for {what}"),
        ));
    }
    if !valid {
        errs.push(FieldError::invalid(
            sp.child("selector"),
            sel.clone(),
            invalid_msg,
        ));
    }
    valid
}

/// The template's labels must be selected by the selector. A missing selector selects
/// nothing; an empty one everything (and is reported separately).
fn selector_matches_template(errs: &mut Errs, spec: &Value, sp: &FieldPath) {
    let labels = spec.pointer("/template/metadata/labels");
    let matches = match get(spec, "selector") {
        None => Some(false),
        Some(sel) if selector_is_empty(sel) => Some(true),
        Some(sel) => selector_matches(sel, labels),
    };
    if matches == Some(false) {
        errs.push(FieldError::invalid(
            sp.child("template").child("metadata").child("labels"),
            labels.cloned().unwrap_or(Value::Null),
            "`selector` does not match template `labels`",
        ));
    }
}

/// `restartPolicy: Always` and no active deadline in the template of `owner`.
fn always_restarting(errs: &mut Errs, spec: &Value, tp: &FieldPath, owner: &str) {
    let rp = spec
        .pointer("/template/spec/restartPolicy")
        .and_then(Value::as_str)
        .unwrap_or("");
    if rp != "Always" {
        errs.push(FieldError::not_supported(
            tp.child("spec").child("restartPolicy"),
            rp,
            &["Always"],
        ));
    }
    if spec
        .pointer("/template/spec/activeDeadlineSeconds")
        .is_some_and(|v| !v.is_null())
    {
        errs.push(FieldError::forbidden(
            tp.child("spec").child("activeDeadlineSeconds"),
            format!("activeDeadlineSeconds in {owner} is not Supported"),
        ));
    }
}

/// `ValidatePodTemplateSpecForReplicaSet`: selector match, pod template, restart policy.
fn replica_set_template(errs: &mut Errs, spec: &Value, sp: &FieldPath) {
    let tp = sp.child("template");
    let Some(tpl) = get(spec, "template") else {
        errs.push(FieldError::required(tp, ""));
        return;
    };
    selector_matches_template(errs, spec, sp);
    pod::template(errs, Some(tpl), &tp, &[]);
    always_restarting(errs, spec, &tp, "ReplicaSet");
}

/// apps/v1 selectors never change (upstream's strategies check this after the spec).
fn selector_immutable(errs: &mut Errs, obj_v: &Value, old: Option<&Value>) {
    if let Some(old) = old {
        immutable(
            errs,
            spec(obj_v).get("selector"),
            spec(old).get("selector"),
            FieldPath::new("spec").child("selector"),
        );
    }
}

/// `ValidateDeployment(Update)`.
pub(crate) fn deployment(errs: &mut Errs, obj_v: &Value, old: Option<&Value>) {
    let spec = spec(obj_v);
    let sp = FieldPath::new("spec");
    nonneg(errs, spec, "replicas", &sp);
    if selector(errs, spec, &sp, "deployment", "invalid label selector") {
        replica_set_template(errs, spec, &sp);
    }
    let strategy = get(spec, "strategy").unwrap_or(&Value::Null);
    let stp = sp.child("strategy");
    match s(strategy, "type") {
        "Recreate" => {
            if get(strategy, "rollingUpdate").is_some() {
                errs.push(FieldError::forbidden(
                    stp.child("rollingUpdate"),
                    "may not be specified when strategy `type` is 'Recreate'",
                ));
            }
        }
        "RollingUpdate" => match get(strategy, "rollingUpdate") {
            None => errs.push(FieldError::required(
                stp.child("rollingUpdate"),
                "this should be defaulted and never be nil",
            )),
            Some(ru) => rolling_update(errs, ru, &stp.child("rollingUpdate")),
        },
        _ => errs.push(FieldError::not_supported(
            stp,
            strategy.clone(),
            &["Recreate", "RollingUpdate"],
        )),
    }
    nonneg(errs, spec, "minReadySeconds", &sp);
    nonneg(errs, spec, "revisionHistoryLimit", &sp);
    if let Some(rb) = get(spec, "rollbackTo")
        && let Some(v) = int(rb, "revision").filter(|v| *v < 0)
    {
        errs.push(FieldError::invalid(
            sp.child("rollback").child("version"),
            v,
            NEGATIVE,
        ));
    }
    if let Some(pds) = int(spec, "progressDeadlineSeconds") {
        if pds < 0 {
            errs.push(FieldError::invalid(
                sp.child("progressDeadlineSeconds"),
                pds,
                NEGATIVE,
            ));
        }
        if pds <= int(spec, "minReadySeconds").unwrap_or(0) {
            errs.push(FieldError::invalid(
                sp.child("progressDeadlineSeconds"),
                pds,
                "must be greater than minReadySeconds",
            ));
        }
    }
    selector_immutable(errs, obj_v, old);
}

fn rolling_update(errs: &mut Errs, ru: &Value, path: &FieldPath) {
    let unavailable = ru.get("maxUnavailable").cloned().unwrap_or(Value::from(0));
    let surge = ru.get("maxSurge").cloned().unwrap_or(Value::from(0));
    positive_int_or_percent(errs, &unavailable, path.child("maxUnavailable"));
    positive_int_or_percent(errs, &surge, path.child("maxSurge"));
    if int_or_percent_value(&unavailable) == Some(0) && int_or_percent_value(&surge) == Some(0) {
        errs.push(FieldError::invalid(
            path.child("maxUnavailable"),
            unavailable.clone(),
            "may not be 0 when `maxSurge` is 0",
        ));
    }
    not_more_than_100_percent(errs, &unavailable, path.child("maxUnavailable"));
}

/// `ValidateReplicaSet(Update)`.
pub(crate) fn replica_set(errs: &mut Errs, obj_v: &Value, old: Option<&Value>) {
    let spec = spec(obj_v);
    let sp = FieldPath::new("spec");
    nonneg(errs, spec, "replicas", &sp);
    nonneg(errs, spec, "minReadySeconds", &sp);
    if selector(errs, spec, &sp, "deployment", "invalid label selector") {
        replica_set_template(errs, spec, &sp);
    }
    selector_immutable(errs, obj_v, old);
}

/// `ValidateReplicationController`: a map selector, defaulted from the template labels.
pub(crate) fn replication_controller(errs: &mut Errs, obj_v: &Value) {
    let spec = spec(obj_v);
    let sp = FieldPath::new("spec");
    nonneg(errs, spec, "minReadySeconds", &sp);
    let sel = get(spec, "selector");
    if sel.and_then(Value::as_object).is_none_or(|m| m.is_empty()) {
        errs.push(FieldError::required(sp.child("selector"), ""));
    }
    nonneg(errs, spec, "replicas", &sp);
    let tp = sp.child("template");
    let Some(tpl) = get(spec, "template") else {
        errs.push(FieldError::required(tp, ""));
        return;
    };
    if let Some(sel) = sel.filter(|s| s.as_object().is_some_and(|m| !m.is_empty())) {
        let as_selector = serde_json::json!({ "matchLabels": sel });
        if selector_matches(&as_selector, tpl.pointer("/metadata/labels")) == Some(false) {
            errs.push(FieldError::invalid(
                tp.child("metadata").child("labels"),
                tpl.pointer("/metadata/labels").cloned().unwrap_or(Value::Null),
                "`selector` does not match template `labels`",
            ));
        }
    }
    pod::template(errs, Some(tpl), &tp, &[]);
    let rp = tpl
        .pointer("/spec/restartPolicy")
        .and_then(Value::as_str)
        .unwrap_or("");
    if rp != "Always" {
        errs.push(FieldError::not_supported(
            tp.child("spec").child("restartPolicy"),
            rp,
            &["Always"],
        ));
    }
    if tpl
        .pointer("/spec/activeDeadlineSeconds")
        .is_some_and(|v| !v.is_null())
    {
        errs.push(FieldError::forbidden(
            tp.child("spec").child("activeDeadlineSeconds"),
            "activeDeadlineSeconds in ReplicationController is not Supported",
        ));
    }
}

/// `ValidateStatefulSet(Update)`. As upstream, only the labels and annotations of the pod
/// template are checked (claim templates may provide its volumes).
pub(crate) fn stateful_set(errs: &mut Errs, obj_v: &Value, old: Option<&Value>) {
    let spec = spec(obj_v);
    let sp = FieldPath::new("spec");
    match s(spec, "podManagementPolicy") {
        "" => errs.push(FieldError::required(sp.child("podManagementPolicy"), "")),
        "OrderedReady" | "Parallel" => {}
        x => errs.push(FieldError::invalid(
            sp.child("podManagementPolicy"),
            x,
            "must be 'OrderedReady' or 'Parallel'",
        )),
    }
    let us = get(spec, "updateStrategy").unwrap_or(&Value::Null);
    let usp = sp.child("updateStrategy");
    match s(us, "type") {
        "" => errs.push(FieldError::required(usp, "")),
        "OnDelete" => {
            if let Some(ru) = get(us, "rollingUpdate") {
                errs.push(FieldError::invalid(
                    usp.child("rollingUpdate"),
                    ru.clone(),
                    "only allowed for updateStrategy 'RollingUpdate'",
                ));
            }
        }
        "RollingUpdate" => {
            if let Some(ru) = get(us, "rollingUpdate") {
                let rp = usp.child("rollingUpdate");
                nonneg(errs, ru, "partition", &rp);
                if let Some(mu) = get(ru, "maxUnavailable") {
                    let p = rp.child("maxUnavailable");
                    positive_int_or_percent(errs, mu, p.clone());
                    if int_or_percent_value(mu) == Some(0) {
                        errs.push(FieldError::invalid(p.clone(), mu.clone(), "cannot be 0"));
                    }
                    not_more_than_100_percent(errs, mu, p);
                }
            }
        }
        _ => errs.push(FieldError::invalid(
            usp,
            us.clone(),
            "must be 'RollingUpdate' or 'OnDelete'",
        )),
    }
    if let Some(policy) = get(spec, "persistentVolumeClaimRetentionPolicy") {
        let pp = sp.child("persistentVolumeClaimRetentionPolicy");
        for key in ["whenDeleted", "whenScaled"] {
            let v = s(policy, key);
            if v != "Retain" && v != "Delete" {
                errs.push(FieldError::not_supported(pp.child(key), v, &["Retain", "Delete"]));
            }
        }
    }
    nonneg(errs, spec, "replicas", &sp);
    nonneg(errs, spec, "minReadySeconds", &sp);
    if let Some(start) = spec
        .pointer("/ordinals/start")
        .and_then(Value::as_i64)
        .filter(|v| *v < 0)
    {
        errs.push(FieldError::invalid(sp.child("ordinals.start"), start, NEGATIVE));
    }
    if selector(errs, spec, &sp, "statefulset", "") {
        let tp = sp.child("template");
        match get(spec, "template") {
            None => errs.push(FieldError::required(tp, "")),
            Some(tpl) => {
                selector_matches_template(errs, spec, &sp);
                template_labels_annotations(errs, get(tpl, "metadata"), &tp);
            }
        }
    }
    always_restarting(errs, spec, &sp.child("template"), "StatefulSet");
    if let Some(old) = old {
        let mut a = spec.clone();
        let mut b = self::spec(old).clone();
        for key in [
            "replicas",
            "template",
            "updateStrategy",
            "minReadySeconds",
            "ordinals",
            "persistentVolumeClaimRetentionPolicy",
        ] {
            for o in [a.as_object_mut(), b.as_object_mut()].into_iter().flatten() {
                o.remove(key);
            }
        }
        if a != b {
            errs.push(FieldError::forbidden(
                sp.clone(),
                "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
            ));
        }
    }
}

/// `ValidateDaemonSet(Update)`.
pub(crate) fn daemon_set(errs: &mut Errs, obj_v: &Value, old: Option<&Value>) {
    let spec = spec(obj_v);
    let sp = FieldPath::new("spec");
    if let Some(sel) = get(spec, "selector") {
        errs.extend(validate_label_selector(sel, &sp.child("selector")));
    }
    selector_matches_template(errs, spec, &sp);
    if let Some(sel) = get(spec, "selector").filter(|s| selector_is_empty(s)) {
        errs.push(FieldError::invalid(
            sp.child("selector"),
            sel.clone(),
            "empty selector is invalid for daemonset",
        ));
    }
    let tp = sp.child("template");
    pod::template(errs, get(spec, "template"), &tp, &[]);
    always_restarting(errs, spec, &tp, "DaemonSet");
    nonneg(errs, spec, "minReadySeconds", &sp);
    let us = get(spec, "updateStrategy").unwrap_or(&Value::Null);
    let usp = sp.child("updateStrategy");
    match s(us, "type") {
        "OnDelete" => {}
        "RollingUpdate" => match get(us, "rollingUpdate") {
            None => errs.push(FieldError::required(usp.child("rollingUpdate"), "")),
            Some(ru) => {
                let rp = usp.child("rollingUpdate");
                let zero = Value::from(0);
                let unavailable = get(ru, "maxUnavailable").unwrap_or(&zero);
                let surge = get(ru, "maxSurge").unwrap_or(&zero);
                positive_int_or_percent(errs, unavailable, rp.child("maxUnavailable"));
                positive_int_or_percent(errs, surge, rp.child("maxSurge"));
                not_more_than_100_percent(errs, unavailable, rp.child("maxUnavailable"));
                not_more_than_100_percent(errs, surge, rp.child("maxSurge"));
                let has_unavailable = int_or_percent_value(unavailable).unwrap_or(0) != 0;
                let has_surge = int_or_percent_value(surge).unwrap_or(0) != 0;
                match (has_unavailable, has_surge) {
                    (true, true) => errs.push(FieldError::invalid(
                        rp.child("maxSurge"),
                        surge.clone(),
                        "may not be set when maxUnavailable is non-zero",
                    )),
                    (false, false) => errs.push(FieldError::required(
                        rp.child("maxUnavailable"),
                        "cannot be 0 when maxSurge is 0",
                    )),
                    _ => {}
                }
            }
        },
        _ => errs.push(FieldError::not_supported(
            usp,
            us.clone(),
            &["RollingUpdate", "OnDelete"],
        )),
    }
    nonneg(errs, spec, "revisionHistoryLimit", &sp);
    selector_immutable(errs, obj_v, old);
}

/// `ValidateControllerRevision(Update)`: data is mandatory and immutable.
pub(crate) fn controller_revision(errs: &mut Errs, obj_v: &Value, old: Option<&Value>) {
    if get(obj_v, "data").is_none() {
        errs.push(FieldError::required(FieldPath::new("data"), "data is mandatory"));
    }
    nonneg(errs, obj_v, "revision", &FieldPath::new(""));
    if let Some(old) = old {
        immutable(errs, obj_v.get("data"), old.get("data"), FieldPath::new("data"));
    }
}
