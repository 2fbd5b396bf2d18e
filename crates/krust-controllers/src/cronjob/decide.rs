//! One sync of a CronJob decided as a pure function, as upstream's `syncCronJob`: bring
//! `status.active` in line with the Jobs that exist, trim finished Jobs beyond the history
//! limits, and decide whether a Job starts now (time zone, suspend, missed schedules,
//! starting deadline, concurrency policy) and when to look again.

use std::time::Duration;

use k8s_openapi::api::batch::v1::{CronJob, CronJobStatus, Job};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use k8s_openapi::jiff::{SignedDuration, Timestamp, tz::TimeZone};

use super::missed::{TOO_MANY, most_recent};
use super::schedule::Schedule;

/// Annotation on a Job with the time it was scheduled for.
pub(crate) const SCHEDULED_ANNOTATION: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";
/// Looked at again this long after the next activation, to be surely past it.
const NEXT_DELTA: Duration = Duration::from_millis(100);

/// An event about the CronJob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Note {
    /// Warning rather than Normal.
    pub warning: bool,
    /// Reason.
    pub reason: &'static str,
    /// Message.
    pub message: String,
}

fn note(warning: bool, reason: &'static str, message: String) -> Note {
    Note {
        warning,
        reason,
        message,
    }
}

/// What the sync does.
#[derive(Debug, Default)]
pub(crate) struct Plan<'a> {
    /// The status (active list reconciled, last successful time).
    pub status: CronJobStatus,
    /// Events.
    pub notes: Vec<Note>,
    /// Active entries whose Job is not in the cache: the API decides whether they are gone.
    pub unknown_active: Vec<ObjectReference>,
    /// Finished Jobs beyond the history limits, to delete.
    pub prune: Vec<&'a Job>,
    /// Active Jobs to delete first (concurrencyPolicy Replace).
    pub replace: Vec<ObjectReference>,
    /// The Job to create and the time it is scheduled for.
    pub create: Option<(Timestamp, Job)>,
    /// When to look again.
    pub requeue: Option<Duration>,
}

/// `Complete` or `Failed`, if the Job has finished.
pub(crate) fn finished(job: &Job) -> Option<&'static str> {
    let conds = job.status.as_ref()?.conditions.as_ref()?;
    ["Complete", "Failed"]
        .into_iter()
        .find(|t| conds.iter().any(|c| c.type_ == *t && c.status == "True"))
}

/// The deterministic name of the Job scheduled at `t`: `<cronjob>-<minutes since epoch>`.
pub(crate) fn job_name(cronjob: &str, t: Timestamp) -> String {
    format!("{cronjob}-{}", t.as_second().div_euclid(60))
}

/// A reference to a Job for `status.active`.
pub(crate) fn job_ref(job: &Job) -> ObjectReference {
    ObjectReference {
        api_version: Some("batch/v1".into()),
        kind: Some("Job".into()),
        name: job.metadata.name.clone(),
        namespace: job.metadata.namespace.clone(),
        uid: job.metadata.uid.clone(),
        resource_version: job.metadata.resource_version.clone(),
        ..Default::default()
    }
}

/// RFC 3339 in the zone, `Z` for a zero offset, as Go prints it.
fn rfc3339(t: Timestamp, tz: &TimeZone) -> String {
    let z = t.to_zoned(tz.clone());
    if z.offset().seconds() == 0 {
        z.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        z.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
    }
}

/// The Job a CronJob starts for `scheduled`.
pub(crate) fn job_for(cj: &CronJob, scheduled: Timestamp, tz: &TimeZone) -> Job {
    let spec = cj.spec.clone().unwrap_or_default();
    let tmeta = spec.job_template.metadata.clone().unwrap_or_default();
    let mut annotations = tmeta.annotations.unwrap_or_default();
    annotations.insert(SCHEDULED_ANNOTATION.into(), rfc3339(scheduled, tz));
    let owner = OwnerReference {
        api_version: "batch/v1".into(),
        kind: "CronJob".into(),
        name: cj.metadata.name.clone().unwrap_or_default(),
        uid: cj.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    };
    Job {
        metadata: ObjectMeta {
            name: Some(job_name(
                cj.metadata.name.as_deref().unwrap_or_default(),
                scheduled,
            )),
            namespace: cj.metadata.namespace.clone(),
            labels: tmeta.labels,
            annotations: Some(annotations),
            owner_references: Some(vec![owner]),
            ..Default::default()
        },
        spec: Some(spec.job_template.spec.unwrap_or_default()),
        status: None,
    }
}

/// Decides one sync of `cj`, given the Jobs it controls, at `now`.
pub(crate) fn decide<'a>(cj: &CronJob, jobs: &[&'a Job], now: Timestamp) -> Plan<'a> {
    let spec = cj.spec.clone().unwrap_or_default();
    let mut plan = Plan {
        status: cj.status.clone().unwrap_or_default(),
        ..Default::default()
    };
    reconcile_active(&mut plan, jobs);
    plan.prune = prune(&spec, jobs);
    if cj.metadata.deletion_timestamp.is_some() {
        return plan;
    }
    let tz = match spec.time_zone.as_deref() {
        None | Some("") => TimeZone::UTC,
        Some(name) => match TimeZone::get(name) {
            Ok(tz) => tz,
            Err(e) => {
                plan.notes.push(note(
                    true,
                    "UnknownTimeZone",
                    format!("invalid timeZone: {name:?}: {e}"),
                ));
                return plan;
            }
        },
    };
    if spec.suspend == Some(true) {
        return plan;
    }
    if spec.schedule.contains("TZ") {
        plan.notes.push(note(
            true,
            "UnsupportedSchedule",
            format!(
                "CRON_TZ or TZ used in schedule {:?} is not officially supported, see https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for more details",
                spec.schedule
            ),
        ));
    }
    let schedule = match Schedule::parse(&spec.schedule) {
        Ok(s) => s,
        Err(e) => {
            plan.notes.push(note(
                true,
                "UnparseableSchedule",
                format!("unparseable schedule: {:?} : {e}", spec.schedule),
            ));
            return plan;
        }
    };
    let next = schedule.next_after(now, &tz);
    plan.requeue = next.map(|t| now.duration_until(t).unsigned_abs() + NEXT_DELTA);
    if next.is_none() {
        // Parses, but never fires (e.g. `0 0 30 2 *`).
        plan.notes.push(note(
            true,
            "InvalidSchedule",
            format!(
                "invalid schedule: {} : no activation within five years",
                spec.schedule
            ),
        ));
        return plan;
    }

    let created = cj.metadata.creation_timestamp.as_ref().map_or(now, |t| t.0);
    let mut earliest = plan.status.last_schedule_time.as_ref().map_or(created, |t| t.0);
    if let Some(sds) = spec.starting_deadline_seconds {
        let deadline = now.checked_sub(SignedDuration::from_secs(sds)).unwrap_or(now);
        earliest = earliest.max(deadline);
    }
    let recent = most_recent(&schedule, &tz, earliest, now);
    if recent.missed > TOO_MANY {
        plan.notes.push(note(
            true,
            "TooManyMissedTimes",
            "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew"
                .into(),
        ));
    }
    let Some(scheduled) = recent.latest else {
        return plan;
    };
    if let Some(sds) = spec.starting_deadline_seconds {
        let too_late = scheduled
            .checked_add(SignedDuration::from_secs(sds))
            .is_ok_and(|d| d < now);
        if too_late {
            plan.notes.push(note(
                true,
                "MissSchedule",
                format!(
                    "Missed scheduled time to start a job: {}",
                    scheduled.strftime("%a, %d %b %Y %H:%M:%S %z")
                ),
            ));
            return plan;
        }
    }
    let name = job_name(cj.metadata.name.as_deref().unwrap_or_default(), scheduled);
    let active = plan.status.active.clone().unwrap_or_default();
    let done_already = active.iter().any(|r| r.name.as_deref() == Some(name.as_str()))
        || plan
            .status
            .last_schedule_time
            .as_ref()
            .is_some_and(|t| t.0 == scheduled);
    if done_already {
        return plan;
    }
    match spec.concurrency_policy.as_deref() {
        Some("Forbid") if !active.is_empty() => {
            plan.notes.push(note(
                false,
                "JobAlreadyActive",
                "Not starting job because prior execution is running and concurrency policy is Forbid".into(),
            ));
            return plan;
        }
        Some("Replace") => plan.replace = active,
        _ => {}
    }
    plan.create = Some((scheduled, job_for(cj, scheduled, &tz)));
    plan
}

/// Drops finished and vanished Jobs from `status.active`, notes unknown ones, and moves
/// `lastSuccessfulTime` forward.
fn reconcile_active(plan: &mut Plan<'_>, jobs: &[&Job]) {
    let mut active = plan.status.active.clone().unwrap_or_default();
    for j in jobs {
        let uid = j.metadata.uid.as_deref();
        let listed = active.iter().any(|r| r.uid.as_deref() == uid);
        let name = j.metadata.name.clone().unwrap_or_default();
        match (listed, finished(j)) {
            (false, None) => plan.notes.push(note(
                true,
                "UnexpectedJob",
                format!("Saw a job that the controller did not create or forgot: {name}"),
            )),
            (true, Some(cond)) => {
                active.retain(|r| r.uid.as_deref() != uid);
                plan.notes.push(note(
                    false,
                    "SawCompletedJob",
                    format!("Saw completed job: {name}, status: {cond}"),
                ));
            }
            _ => {}
        }
        if finished(j) == Some("Complete")
            && let Some(done) = j.status.as_ref().and_then(|s| s.completion_time.as_ref())
            && plan
                .status
                .last_successful_time
                .as_ref()
                .is_none_or(|l| done.0 > l.0)
        {
            plan.status.last_successful_time = Some(Time(done.0));
        }
    }
    plan.unknown_active = active
        .iter()
        .filter(|r| !jobs.iter().any(|j| j.metadata.uid == r.uid))
        .cloned()
        .collect();
    plan.status.active = Some(active);
}

/// Finished Jobs beyond `successfulJobsHistoryLimit`/`failedJobsHistoryLimit`, oldest
/// (by start time, then name) first.
fn prune<'a>(spec: &k8s_openapi::api::batch::v1::CronJobSpec, jobs: &[&'a Job]) -> Vec<&'a Job> {
    let mut out = Vec::new();
    for (kind, limit) in [
        ("Complete", spec.successful_jobs_history_limit),
        ("Failed", spec.failed_jobs_history_limit),
    ] {
        let Some(limit) = limit else { continue };
        let mut done: Vec<&'a Job> = jobs
            .iter()
            .copied()
            .filter(|j| finished(j) == Some(kind) && j.metadata.deletion_timestamp.is_none())
            .collect();
        done.sort_by(|a, b| {
            let start = |j: &Job| j.status.as_ref().and_then(|s| s.start_time.as_ref()).map(|t| t.0);
            let key = |j: &Job| (start(j).is_none(), start(j), j.metadata.name.clone());
            key(a).cmp(&key(b))
        });
        let excess = done
            .len()
            .saturating_sub(usize::try_from(limit.max(0)).unwrap_or(0));
        out.extend(done.into_iter().take(excess));
    }
    out
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
