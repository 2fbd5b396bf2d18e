//! Rows of Jobs and CronJobs.

use jiff::Timestamp;
use serde_json::Value;

use super::util::{age, at, containers, deleting, int, list, name, s, seconds_between, since, text, time};
use super::{Column, human_duration};
use crate::labels::format_label_selector;

pub(super) const JOB: &[Column] = &[
    Column::name(),
    Column::new(
        "Status",
        "string",
        "Complete, Failed, Suspended, FailureTarget, Terminating or Running.",
    ),
    Column::new(
        "Completions",
        "string",
        "Succeeded pods out of the completions asked for.",
    ),
    Column::new(
        "Duration",
        "string",
        "How long the job ran (or has been running).",
    ),
    Column::age(),
    Column::wide("Containers", "string", "Container names in the pod template."),
    Column::wide("Images", "string", "Container images in the pod template."),
    Column::wide("Selector", "string", "Label selector of the job's pods."),
];

/// Whether the first condition of this type is true.
fn has_condition(job: &Value, kind: &str) -> bool {
    list(job, &["status", "conditions"])
        .iter()
        .find(|c| text(c, &["type"]) == kind)
        .is_some_and(|c| text(c, &["status"]) == "True")
}

fn job_status(job: &Value) -> &'static str {
    if has_condition(job, "Complete") {
        "Complete"
    } else if has_condition(job, "Failed") {
        "Failed"
    } else if deleting(job) {
        "Terminating"
    } else if has_condition(job, "Suspended") {
        "Suspended"
    } else if has_condition(job, "FailureTarget") {
        "FailureTarget"
    } else {
        "Running"
    }
}

pub(super) fn job(job: &Value, now: Timestamp) -> Vec<Value> {
    let succeeded = int(job, &["status", "succeeded"]);
    let completions = match at(job, &["spec", "completions"]).and_then(Value::as_i64) {
        Some(c) => format!("{succeeded}/{c}"),
        None => match int(job, &["spec", "parallelism"]) {
            p if p > 1 => format!("{succeeded}/1 of {p}"),
            _ => format!("{succeeded}/1"),
        },
    };
    let start = time(at(job, &["status", "startTime"]));
    let end = time(at(job, &["status", "completionTime"]));
    let duration = match (start, end) {
        (None, _) => String::new(),
        (Some(start), None) => human_duration(seconds_between(start, now)),
        (Some(start), Some(end)) => human_duration(seconds_between(start, end)),
    };
    let (names, images) = containers(list(job, &["spec", "template", "spec", "containers"]));
    vec![
        name(job),
        s(job_status(job)),
        s(completions),
        s(duration),
        age(job, now),
        names,
        images,
        s(format_label_selector(at(job, &["spec", "selector"]))),
    ]
}

pub(super) const CRON_JOB: &[Column] = &[
    Column::name(),
    Column::new("Schedule", "string", "When jobs are started, in cron syntax."),
    Column::new("Timezone", "string", "Time zone the schedule is read in."),
    Column::new("Suspend", "boolean", "Whether starting new jobs is paused."),
    Column::new("Active", "integer", "Jobs currently running."),
    Column::new("Last Schedule", "string", "Time since a job was last started."),
    Column::age(),
    Column::wide(
        "Containers",
        "string",
        "Container names in the job's pod template.",
    ),
    Column::wide("Images", "string", "Container images in the job's pod template."),
    Column::wide("Selector", "string", "Label selector of the jobs' pods."),
];

pub(super) fn cron_job(cj: &Value, now: Timestamp) -> Vec<Value> {
    let last = match at(cj, &["status", "lastScheduleTime"]).filter(|v| !v.is_null()) {
        Some(t) => since(Some(t), now),
        None => "<none>".to_string(),
    };
    let suspend = match at(cj, &["spec", "suspend"]).and_then(Value::as_bool) {
        Some(true) => "True",
        Some(false) => "False",
        None => "<unset>",
    };
    let template = at(cj, &["spec", "jobTemplate", "spec"]).unwrap_or(&Value::Null);
    let (names, images) = containers(list(template, &["template", "spec", "containers"]));
    vec![
        name(cj),
        s(text(cj, &["spec", "schedule"])),
        s(at(cj, &["spec", "timeZone"])
            .and_then(Value::as_str)
            .unwrap_or("<none>")),
        s(suspend),
        Value::from(list(cj, &["status", "active"]).len()),
        s(last),
        age(cj, now),
        names,
        images,
        s(format_label_selector(at(template, &["selector"]))),
    ]
}
