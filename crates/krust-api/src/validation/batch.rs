//! `batch/v1`: Job (including its generated selector and update rules) and CronJob.

use serde_json::Value;

use super::cron::{known_time_zone, validate_schedule};
use super::meta::{selector_matches, validate_label_selector};
use super::names;
use super::pod;
use super::util::{Errs, NEGATIVE, get, immutable, int, nonneg, opt_s, s};
use crate::defaults::{
    CONTROLLER_UID_LABEL, JOB_NAME_LABEL, LEGACY_CONTROLLER_UID_LABEL, LEGACY_JOB_NAME_LABEL,
};
use crate::field_error::{FieldError, FieldPath};

const MAX_PARALLELISM_INDEXED: i64 = 100_000;
const MAX_FAILED_INDEXES: i64 = 100_000;

fn or_null(v: Option<&Value>) -> &Value {
    static NULL: Value = Value::Null;
    v.unwrap_or(&NULL)
}

/// `validateJobSpec`, shared by Jobs and CronJob job templates.
fn job_spec(errs: &mut Errs, spec: &Value, sp: &FieldPath) {
    for key in [
        "parallelism",
        "completions",
        "activeDeadlineSeconds",
        "backoffLimit",
        "ttlSecondsAfterFinished",
        "backoffLimitPerIndex",
        "maxFailedIndexes",
    ] {
        nonneg(errs, spec, key, sp);
    }
    if get(spec, "maxFailedIndexes").is_some() && get(spec, "backoffLimitPerIndex").is_none() {
        errs.push(FieldError::required(
            sp.child("backoffLimitPerIndex"),
            "when maxFailedIndexes is specified",
        ));
    }
    let mode = opt_s(spec, "completionMode");
    if let Some(m) = mode.filter(|m| *m != "NonIndexed" && *m != "Indexed") {
        errs.push(FieldError::not_supported(
            sp.child("completionMode"),
            m,
            &["NonIndexed", "Indexed"],
        ));
    }
    if mode == Some("Indexed") {
        if get(spec, "completions").is_none() {
            errs.push(FieldError::required(
                sp.child("completions"),
                "when completion mode is Indexed",
            ));
        }
        if let Some(p) = int(spec, "parallelism").filter(|p| *p > MAX_PARALLELISM_INDEXED) {
            errs.push(FieldError::invalid(
                sp.child("parallelism"),
                p,
                format!(
                    "must be less than or equal to {MAX_PARALLELISM_INDEXED} when completion mode is Indexed"
                ),
            ));
        }
        if let Some(m) = int(spec, "maxFailedIndexes") {
            if int(spec, "completions").is_some_and(|c| m > c) {
                errs.push(FieldError::invalid(
                    sp.child("maxFailedIndexes"),
                    m,
                    "must be less than or equal to completions",
                ));
            }
            if m > MAX_FAILED_INDEXES {
                errs.push(FieldError::invalid(
                    sp.child("maxFailedIndexes"),
                    m,
                    format!("must be less than or equal to {MAX_FAILED_INDEXES}"),
                ));
            }
        }
    } else if mode.is_none() || mode == Some("NonIndexed") {
        for key in ["backoffLimitPerIndex", "maxFailedIndexes"] {
            if let Some(v) = int(spec, key) {
                errs.push(FieldError::invalid(
                    sp.child(key),
                    v,
                    "requires indexed completion mode",
                ));
            }
        }
    }
    let pfp = get(spec, "podFailurePolicy").is_some();
    if let Some(p) = opt_s(spec, "podReplacementPolicy") {
        let allowed: &[&str] = if pfp {
            &["Failed"]
        } else {
            &["Failed", "TerminatingOrFailed"]
        };
        if !allowed.contains(&p) {
            errs.push(FieldError::not_supported(
                sp.child("podReplacementPolicy"),
                p,
                allowed,
            ));
        }
    }
    let tp = sp.child("template");
    pod::template(errs, get(spec, "template"), &tp, &[]);
    let rp_path = tp.child("spec").child("restartPolicy");
    match spec
        .pointer("/template/spec/restartPolicy")
        .and_then(Value::as_str)
        .unwrap_or("")
    {
        "" | "Always" => errs.push(FieldError::required(
            rp_path,
            "valid values: \"OnFailure\", \"Never\"",
        )),
        "OnFailure" if pfp => errs.push(FieldError::invalid(
            rp_path,
            "OnFailure",
            "only \"Never\" is supported when podFailurePolicy is specified",
        )),
        "OnFailure" | "Never" => {}
        x => errs.push(FieldError::not_supported(rp_path, x, &["OnFailure", "Never"])),
    }
}

/// `ValidateJob` on create, `ValidateJobUpdate` on update.
pub(crate) fn job(errs: &mut Errs, obj: &Value, old: Option<&Value>) {
    let spec = or_null(get(obj, "spec"));
    let sp = FieldPath::new("spec");
    if old.is_none() {
        generated_selector(errs, obj, spec, &sp);
    }
    job_spec(errs, spec, &sp);
    match get(spec, "selector") {
        None => errs.push(FieldError::required(sp.child("selector"), "")),
        Some(sel) => errs.extend(validate_label_selector(sel, &sp.child("selector"))),
    }
    let labels = spec.pointer("/template/metadata/labels");
    let matches = match get(spec, "selector") {
        None => Some(false),
        Some(sel) => selector_matches(sel, labels),
    };
    if matches == Some(false) {
        errs.push(FieldError::invalid(
            sp.child("template").child("metadata").child("labels"),
            labels.cloned().unwrap_or(Value::Null),
            "`selector` does not match template `labels`",
        ));
    }
    match old {
        None => indexed_hostname(errs, obj, spec),
        Some(old) => job_update(errs, spec, or_null(get(old, "spec")), old, &sp),
    }
}

/// Indexed pods are named `<job>-<index>`; the longest must be a DNS label.
fn indexed_hostname(errs: &mut Errs, obj: &Value, spec: &Value) {
    let Some(c) = int(spec, "completions").filter(|c| *c > 0) else {
        return;
    };
    if s(spec, "completionMode") != "Indexed" {
        return;
    }
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let host = format!("{name}-{}", c - 1);
    if !names::is_dns1123_label(&host).is_empty() {
        errs.push(FieldError::invalid(
            FieldPath::new("metadata").child("name"),
            name,
            format!("will not able to create pod with invalid DNS label: {host}"),
        ));
    }
}

fn generated_selector(errs: &mut Errs, obj: &Value, spec: &Value, sp: &FieldPath) {
    if spec.get("manualSelector").and_then(Value::as_bool) == Some(true) {
        return;
    }
    let Some(sel) = get(spec, "selector") else { return };
    let uid = obj.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or("");
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    if uid.is_empty() {
        errs.push(FieldError::required(FieldPath::new("metadata").child("uid"), ""));
    }
    let mp = sp.child("template").child("metadata");
    let labels = spec.pointer("/template/metadata/labels");
    let expected = [
        (LEGACY_CONTROLLER_UID_LABEL, uid),
        (LEGACY_JOB_NAME_LABEL, name),
        (CONTROLLER_UID_LABEL, uid),
        (JOB_NAME_LABEL, name),
    ];
    for (key, want) in expected {
        match labels.and_then(|l| l.get(key)).and_then(Value::as_str) {
            None => errs.push(FieldError::required(
                mp.child("labels").key(key),
                format!("must be '{want}'"),
            )),
            Some(v) if v != want => errs.push(FieldError::invalid(
                mp.child("labels").key(key),
                labels.cloned().unwrap_or(Value::Null),
                format!("must be '{want}'"),
            )),
            _ => {}
        }
    }
    let expected: serde_json::Map<String, Value> = expected
        .iter()
        .map(|(k, v)| ((*k).to_string(), Value::from(*v)))
        .collect();
    if selector_matches(sel, Some(&Value::Object(expected))) == Some(false) {
        errs.push(FieldError::invalid(
            sp.child("selector"),
            sel.clone(),
            "`selector` not auto-generated",
        ));
    }
}

/// `ValidateJobSpecUpdate`: completions (elastic only for indexed jobs in tandem with
/// parallelism), selector, template (scheduling directives of a suspended, never started
/// job excepted), completion mode and failure policies never change.
fn job_update(errs: &mut Errs, spec: &Value, old_spec: &Value, old: &Value, sp: &FieldPath) {
    let (c, oc) = (spec.get("completions"), old_spec.get("completions"));
    if s(spec, "completionMode") != "Indexed" {
        immutable(errs, c, oc, sp.child("completions"));
    } else if c != oc
        && let Some(c) = c
            .and_then(Value::as_i64)
            .filter(|c| Some(*c) != int(spec, "parallelism"))
    {
        errs.push(FieldError::invalid(
            sp.child("completions"),
            c,
            "can only be modified in tandem with spec.parallelism",
        ));
    }
    immutable(
        errs,
        spec.get("selector"),
        old_spec.get("selector"),
        sp.child("selector"),
    );
    let mut tpl = spec.get("template").cloned().unwrap_or(Value::Null);
    let mut old_tpl = old_spec.get("template").cloned().unwrap_or(Value::Null);
    let suspended_unstarted = old_spec.get("suspend").and_then(Value::as_bool) == Some(true)
        && old.pointer("/status/startTime").is_none_or(Value::is_null);
    if suspended_unstarted {
        for t in [&mut tpl, &mut old_tpl] {
            if let Some(m) = t.get_mut("metadata").and_then(Value::as_object_mut) {
                m.remove("labels");
                m.remove("annotations");
            }
            if let Some(ps) = t.get_mut("spec").and_then(Value::as_object_mut) {
                for key in ["nodeSelector", "tolerations", "schedulingGates"] {
                    ps.remove(key);
                }
                if let Some(a) = ps.get_mut("affinity").and_then(Value::as_object_mut) {
                    a.remove("nodeAffinity");
                }
                if ps
                    .get("affinity")
                    .and_then(Value::as_object)
                    .is_some_and(|a| a.is_empty())
                {
                    ps.remove("affinity");
                }
            }
        }
    }
    if tpl != old_tpl {
        errs.push(FieldError::invalid(
            sp.child("template"),
            spec.get("template").cloned().unwrap_or(Value::Null),
            "field is immutable",
        ));
    }
    for key in [
        "completionMode",
        "podFailurePolicy",
        "backoffLimitPerIndex",
        "managedBy",
        "successPolicy",
    ] {
        immutable(errs, spec.get(key), old_spec.get(key), sp.child(key));
    }
}

/// `ValidateCronJobCreate` / `ValidateCronJobUpdate`.
pub(crate) fn cron_job(errs: &mut Errs, obj: &Value, old: Option<&Value>) {
    let spec = or_null(get(obj, "spec"));
    let old_spec = old.map(|o| or_null(get(o, "spec")));
    let sp = FieldPath::new("spec");
    let schedule = s(spec, "schedule");
    let tz = opt_s(spec, "timeZone");
    if schedule.is_empty() {
        errs.push(FieldError::required(sp.child("schedule"), ""));
    } else {
        if let Err(e) = validate_schedule(schedule) {
            errs.push(FieldError::invalid(sp.child("schedule"), schedule, e));
        }
        let allow_tz = old_spec.is_some_and(|o| s(o, "schedule").contains("TZ"));
        if schedule.contains("TZ") {
            if allow_tz && tz.is_some() {
                errs.push(FieldError::invalid(
                    sp.child("schedule"),
                    schedule,
                    "cannot use both timeZone field and TZ or CRON_TZ in schedule",
                ));
            } else if !allow_tz {
                errs.push(FieldError::invalid(
                    sp.child("schedule"),
                    schedule,
                    "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
                ));
            }
        }
    }
    if let Some(d) = int(spec, "startingDeadlineSeconds").filter(|d| *d < 0) {
        errs.push(FieldError::invalid(
            sp.child("startingDeadlineSeconds"),
            d,
            NEGATIVE,
        ));
    }
    if old_spec.is_none_or(|o| opt_s(o, "timeZone") != tz) {
        time_zone(errs, tz, &sp.child("timeZone"));
    }
    match s(spec, "concurrencyPolicy") {
        "" => errs.push(FieldError::required(sp.child("concurrencyPolicy"), "")),
        "Allow" | "Forbid" | "Replace" => {}
        x => errs.push(FieldError::not_supported(
            sp.child("concurrencyPolicy"),
            x,
            &["Allow", "Forbid", "Replace"],
        )),
    }
    let jp = sp.child("jobTemplate").child("spec");
    let jspec = or_null(spec.pointer("/jobTemplate/spec"));
    job_spec(errs, jspec, &jp);
    if let Some(sel) = get(jspec, "selector") {
        errs.push(FieldError::invalid(
            jp.child("selector"),
            sel.clone(),
            "`selector` will be auto-generated",
        ));
    }
    if jspec.get("manualSelector").and_then(Value::as_bool) == Some(true) {
        errs.push(FieldError::not_supported(
            jp.child("manualSelector"),
            true,
            &["nil", "false"],
        ));
    }
    nonneg(errs, spec, "successfulJobsHistoryLimit", &sp);
    nonneg(errs, spec, "failedJobsHistoryLimit", &sp);
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    if old.is_none() && name.len() > 52 {
        errs.push(FieldError::invalid(
            FieldPath::new("metadata").child("name"),
            name,
            "must be no more than 52 characters",
        ));
    }
}

/// `validateTimeZone`: an explicit IANA zone name.
fn time_zone(errs: &mut Errs, tz: Option<&str>, path: &FieldPath) {
    let Some(tz) = tz else { return };
    if tz.is_empty() {
        errs.push(FieldError::invalid(
            path.clone(),
            tz,
            "timeZone must be nil or non-empty string",
        ));
        return;
    }
    let bad_part = tz.split('/').any(|p| {
        p == "."
            || p == ".."
            || p.starts_with('-')
            || p.is_empty()
            || p.len() > 14
            || !p
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_' | b'+'))
    });
    if bad_part {
        errs.push(FieldError::invalid(
            path.clone(),
            tz,
            format!("unknown time zone {tz}"),
        ));
        return;
    }
    if tz.eq_ignore_ascii_case("local") {
        errs.push(FieldError::invalid(
            path.clone(),
            tz,
            "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones",
        ));
    } else if !known_time_zone(tz) {
        errs.push(FieldError::invalid(
            path.clone(),
            tz,
            format!("unknown time zone {tz}"),
        ));
    }
}
