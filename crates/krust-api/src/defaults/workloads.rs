//! Workload defaults: `apps/v1` (Deployment, ReplicaSet, StatefulSet, DaemonSet), the core
//! ReplicationController and `batch/v1` (Job, CronJob), each with its pod template.

use serde_json::{Value, json};

use super::pod;
use super::util::{Obj, child, child_or_insert, is_unset, items, set_default, set_default_str, str_of};

fn spec(obj: &mut Value) -> Option<&mut Obj> {
    obj.as_object_mut().and_then(|o| child(o, "spec"))
}

fn template(spec: &mut Obj) {
    if let Some(t) = child(spec, "template") {
        pod::template(t);
    }
}

/// `SetDefaults_Deployment`.
pub(crate) fn deployment(obj: &mut Value) {
    let Some(spec) = spec(obj) else { return };
    set_default(spec, "replicas", 1);
    if let Some(strategy) = child_or_insert(spec, "strategy") {
        set_default_str(strategy, "type", "RollingUpdate");
        if str_of(strategy, "type") == "RollingUpdate"
            && let Some(ru) = child_or_insert(strategy, "rollingUpdate")
        {
            set_default(ru, "maxUnavailable", "25%");
            set_default(ru, "maxSurge", "25%");
        }
    }
    set_default(spec, "revisionHistoryLimit", 10);
    set_default(spec, "progressDeadlineSeconds", 600);
    template(spec);
}

/// `SetDefaults_ReplicaSet`.
pub(crate) fn replica_set(obj: &mut Value) {
    let Some(spec) = spec(obj) else { return };
    set_default(spec, "replicas", 1);
    template(spec);
}

/// `SetDefaults_StatefulSet`, including the claim templates (which print like PVCs).
pub(crate) fn stateful_set(obj: &mut Value) {
    let Some(spec) = spec(obj) else { return };
    set_default_str(spec, "podManagementPolicy", "OrderedReady");
    if let Some(us) = child_or_insert(spec, "updateStrategy") {
        if super::util::is_blank(us, "type") {
            us.insert("type".into(), "RollingUpdate".into());
            set_default(us, "rollingUpdate", json!({}));
        }
        if str_of(us, "type") == "RollingUpdate"
            && let Some(ru) = child(us, "rollingUpdate")
        {
            set_default(ru, "partition", 0);
        }
    }
    if let Some(p) = child_or_insert(spec, "persistentVolumeClaimRetentionPolicy") {
        set_default_str(p, "whenDeleted", "Retain");
        set_default_str(p, "whenScaled", "Retain");
    }
    set_default(spec, "replicas", 1);
    set_default(spec, "revisionHistoryLimit", 10);
    template(spec);
    for claim in items(spec, "volumeClaimTemplates") {
        set_default(claim, "apiVersion", "v1");
        set_default(claim, "kind", "PersistentVolumeClaim");
        if let Some(meta) = child_or_insert(claim, "metadata") {
            set_default(meta, "creationTimestamp", Value::Null);
        }
        if let Some(s) = child(claim, "spec") {
            pod::pvc_spec(s);
        }
        if let Some(st) = child_or_insert(claim, "status") {
            set_default_str(st, "phase", "Pending");
        }
    }
}

/// `SetDefaults_DaemonSet`.
pub(crate) fn daemon_set(obj: &mut Value) {
    let Some(spec) = spec(obj) else { return };
    if let Some(us) = child_or_insert(spec, "updateStrategy") {
        set_default_str(us, "type", "RollingUpdate");
        if str_of(us, "type") == "RollingUpdate"
            && let Some(ru) = child_or_insert(us, "rollingUpdate")
        {
            set_default(ru, "maxUnavailable", 1);
            set_default(ru, "maxSurge", 0);
        }
    }
    set_default(spec, "revisionHistoryLimit", 10);
    template(spec);
}

/// `SetDefaults_ReplicationController`: selector and labels follow the template labels.
pub(crate) fn replication_controller(obj: &mut Value) {
    let labels = obj
        .pointer("/spec/template/metadata/labels")
        .and_then(Value::as_object)
        .cloned();
    if let (Some(labels), Some(o)) = (labels, obj.as_object_mut()) {
        if let Some(spec) = child(o, "spec")
            && spec
                .get("selector")
                .and_then(Value::as_object)
                .is_none_or(|s| s.is_empty())
        {
            spec.insert("selector".into(), Value::Object(labels.clone()));
        }
        if let Some(meta) = child_or_insert(o, "metadata")
            && meta
                .get("labels")
                .and_then(Value::as_object)
                .is_none_or(|l| l.is_empty())
        {
            meta.insert("labels".into(), Value::Object(labels));
        }
    }
    let Some(spec) = spec(obj) else { return };
    set_default(spec, "replicas", 1);
    template(spec);
}

/// `SetDefaults_Job`. The generated selector needs the uid: see [`job_selector`].
pub(crate) fn job(obj: &mut Value) {
    let labels = obj
        .pointer("/spec/template/metadata/labels")
        .and_then(Value::as_object)
        .cloned();
    if let Some(spec) = spec(obj) {
        job_spec(spec);
        if is_unset(spec, "backoffLimit") {
            let limit = if is_unset(spec, "backoffLimitPerIndex") {
                6
            } else {
                i64::from(i32::MAX)
            };
            spec.insert("backoffLimit".into(), limit.into());
        }
        if is_unset(spec, "completions") && is_unset(spec, "parallelism") {
            spec.insert("completions".into(), 1.into());
        }
        set_default(spec, "parallelism", 1);
        set_default(spec, "completionMode", "NonIndexed");
        set_default(spec, "suspend", false);
        if is_unset(spec, "podReplacementPolicy") {
            let p = if is_unset(spec, "podFailurePolicy") {
                "TerminatingOrFailed"
            } else {
                "Failed"
            };
            spec.insert("podReplacementPolicy".into(), p.into());
        }
    }
    if let Some(labels) = labels {
        copy_labels_if_empty(obj, labels);
    }
}

/// The pod template part of a job spec (all a CronJob's `jobTemplate` gets).
fn job_spec(spec: &mut Obj) {
    template(spec);
}

fn copy_labels_if_empty(obj: &mut Value, labels: Obj) {
    let Some(meta) = obj.as_object_mut().and_then(|o| child_or_insert(o, "metadata")) else {
        return;
    };
    if meta
        .get("labels")
        .and_then(Value::as_object)
        .is_none_or(|l| l.is_empty())
    {
        meta.insert("labels".into(), Value::Object(labels));
    }
}

/// `SetDefaults_CronJob`; the job template only gets pod template defaults, as upstream.
pub(crate) fn cron_job(obj: &mut Value) {
    let Some(spec) = spec(obj) else { return };
    set_default_str(spec, "concurrencyPolicy", "Allow");
    set_default(spec, "suspend", false);
    set_default(spec, "successfulJobsHistoryLimit", 3);
    set_default(spec, "failedJobsHistoryLimit", 1);
    if let Some(jt) = child(spec, "jobTemplate") {
        if let Some(meta) = child_or_insert(jt, "metadata") {
            set_default(meta, "creationTimestamp", Value::Null);
        }
        if let Some(js) = child(jt, "spec") {
            job_spec(js);
        }
    }
}

/// Label on a Job's pods naming the Job (legacy spelling).
pub const LEGACY_JOB_NAME_LABEL: &str = "job-name";
/// Label on a Job's pods naming the Job.
pub const JOB_NAME_LABEL: &str = "batch.kubernetes.io/job-name";
/// Label on a Job's pods holding the Job's uid (legacy spelling).
pub const LEGACY_CONTROLLER_UID_LABEL: &str = "controller-uid";
/// Label on a Job's pods holding the Job's uid; the generated selector matches it.
pub const CONTROLLER_UID_LABEL: &str = "batch.kubernetes.io/controller-uid";

/// Generates a Job's selector and pod labels from its name and `metadata.uid`, as
/// upstream's job strategy does on create (unless `spec.manualSelector` is true). Labels a
/// user already set are kept, so a conflicting selector is caught by validation. When the
/// Job itself has no labels it takes the template's, as upstream shows on read.
///
/// Does nothing while `metadata.uid` is unset; `defaults::prepare_create` calls this, so the
/// server must assign the uid before calling it.
pub fn job_selector(obj: &mut Value) {
    if obj.pointer("/spec/manualSelector").and_then(Value::as_bool) == Some(true) {
        return;
    }
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let uid = match obj.pointer("/metadata/uid").and_then(Value::as_str) {
        Some(u) if !u.is_empty() => u.to_string(),
        _ => return,
    };
    let Some(spec) = spec(obj) else { return };
    let Some(labels) = child_or_insert(spec, "template")
        .and_then(|t| child_or_insert(t, "metadata"))
        .and_then(|m| child_or_insert(m, "labels"))
    else {
        return;
    };
    for key in [LEGACY_JOB_NAME_LABEL, JOB_NAME_LABEL] {
        labels.entry(key).or_insert_with(|| name.clone().into());
    }
    for key in [LEGACY_CONTROLLER_UID_LABEL, CONTROLLER_UID_LABEL] {
        labels.entry(key).or_insert_with(|| uid.clone().into());
    }
    let labels = labels.clone();
    if let Some(ml) = child_or_insert(spec, "selector").and_then(|s| child_or_insert(s, "matchLabels")) {
        ml.entry(CONTROLLER_UID_LABEL).or_insert_with(|| uid.into());
    }
    copy_labels_if_empty(obj, labels);
}
