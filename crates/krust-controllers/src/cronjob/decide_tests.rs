//! Tests of the CronJob sync decisions.

use super::*;
use k8s_openapi::api::batch::v1::{CronJobSpec, JobCondition, JobSpec, JobStatus, JobTemplateSpec};

fn utc(s: &str) -> Timestamp {
    format!("{s}Z").parse().unwrap()
}

fn cronjob(schedule: &str, created: &str) -> CronJob {
    let mut cj = CronJob::default();
    cj.metadata.name = Some("cj".into());
    cj.metadata.namespace = Some("ns".into());
    cj.metadata.uid = Some("cj-uid".into());
    cj.metadata.creation_timestamp = Some(Time(utc(created)));
    cj.spec = Some(CronJobSpec {
        schedule: schedule.into(),
        concurrency_policy: Some("Allow".into()),
        successful_jobs_history_limit: Some(3),
        failed_jobs_history_limit: Some(1),
        suspend: Some(false),
        job_template: JobTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some([("app".to_string(), "x".to_string())].into()),
                ..Default::default()
            }),
            spec: Some(JobSpec::default()),
        },
        ..Default::default()
    });
    cj
}

fn job(name: &str, cond: Option<&str>, start: &str) -> Job {
    let mut j = Job::default();
    j.metadata.name = Some(name.into());
    j.metadata.uid = Some(format!("uid-{name}"));
    j.status = Some(JobStatus {
        start_time: Some(Time(utc(start))),
        completion_time: (cond == Some("Complete")).then(|| Time(utc(start))),
        conditions: cond.map(|c| {
            vec![JobCondition {
                type_: c.into(),
                status: "True".into(),
                ..Default::default()
            }]
        }),
        ..Default::default()
    });
    j
}

fn active(cj: &mut CronJob, jobs: &[&Job]) {
    cj.status.get_or_insert_with(Default::default).active = Some(jobs.iter().map(|j| job_ref(j)).collect());
}

#[test]
fn starts_the_due_job_with_a_deterministic_name() {
    let cj = cronjob("*/5 * * * *", "2024-01-01T10:01:00");
    let plan = decide(&cj, &[], utc("2024-01-01T10:05:30"));
    let (at, job) = plan.create.expect("a job is due");
    assert_eq!(at, utc("2024-01-01T10:05:00"));
    let name = job.metadata.name.clone().unwrap();
    assert_eq!(
        name,
        format!("cj-{}", utc("2024-01-01T10:05:00").as_second() / 60)
    );
    assert_eq!(
        job.metadata.annotations.as_ref().unwrap()[SCHEDULED_ANNOTATION],
        "2024-01-01T10:05:00Z"
    );
    assert_eq!(job.metadata.labels.as_ref().unwrap()["app"], "x");
    let owner = &job.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!((owner.kind.as_str(), owner.controller), ("CronJob", Some(true)));
    assert_eq!(plan.requeue, Some(Duration::from_millis(270_100)));
}

#[test]
fn nothing_due_requeues_for_the_next_time() {
    let cj = cronjob("0 * * * *", "2024-01-01T10:01:00");
    let plan = decide(&cj, &[], utc("2024-01-01T10:30:00"));
    assert!(plan.create.is_none());
    assert_eq!(plan.requeue, Some(Duration::from_millis(1_800_100)));
    // Already started for this time.
    let mut done = cronjob("0 * * * *", "2024-01-01T09:00:00");
    done.status = Some(CronJobStatus {
        last_schedule_time: Some(Time(utc("2024-01-01T10:00:00"))),
        ..Default::default()
    });
    assert!(decide(&done, &[], utc("2024-01-01T10:30:00")).create.is_none());
}

#[test]
fn time_zone_and_its_annotation() {
    let mut cj = cronjob("0 9 * * *", "2024-01-01T00:00:00");
    cj.spec.as_mut().unwrap().time_zone = Some("Asia/Tokyo".into());
    let plan = decide(&cj, &[], utc("2024-01-02T00:00:30"));
    let (at, job) = plan.create.unwrap();
    assert_eq!(at, utc("2024-01-02T00:00:00"));
    assert_eq!(
        job.metadata.annotations.as_ref().unwrap()[SCHEDULED_ANNOTATION],
        "2024-01-02T09:00:00+09:00"
    );
    cj.spec.as_mut().unwrap().time_zone = Some("Nowhere/Special".into());
    let plan = decide(&cj, &[], utc("2024-01-02T00:00:30"));
    assert!(plan.create.is_none() && plan.requeue.is_none());
    assert_eq!(plan.notes[0].reason, "UnknownTimeZone");
}

#[test]
fn suspended_and_invalid_schedules_start_nothing() {
    let mut cj = cronjob("* * * * *", "2024-01-01T00:00:00");
    cj.spec.as_mut().unwrap().suspend = Some(true);
    let plan = decide(&cj, &[], utc("2024-01-01T00:10:00"));
    assert!(plan.create.is_none() && plan.requeue.is_none());
    let bad = cronjob("61 * * * *", "2024-01-01T00:00:00");
    let plan = decide(&bad, &[], utc("2024-01-01T00:10:00"));
    assert_eq!(plan.notes[0].reason, "UnparseableSchedule");
    assert!(plan.create.is_none());
    let never = cronjob("0 0 30 2 *", "2024-01-01T00:00:00");
    let plan = decide(&never, &[], utc("2024-01-01T00:10:00"));
    assert_eq!(plan.notes[0].reason, "InvalidSchedule");
    assert!(plan.create.is_none() && plan.requeue.is_none());
}

#[test]
fn after_downtime_only_the_latest_starts() {
    let cj = cronjob("* * * * *", "2024-01-01T00:00:00");
    let plan = decide(&cj, &[], utc("2024-01-01T05:00:30"));
    assert_eq!(plan.create.unwrap().0, utc("2024-01-01T05:00:00"));
    assert!(plan.notes.iter().any(|n| n.reason == "TooManyMissedTimes"));
    // A few missed: no warning, still only the latest.
    let plan = decide(&cj, &[], utc("2024-01-01T00:03:30"));
    assert_eq!(plan.create.unwrap().0, utc("2024-01-01T00:03:00"));
    assert!(plan.notes.is_empty());
}

#[test]
fn starting_deadline_limits_how_late_a_start_may_be() {
    let mut cj = cronjob("0 * * * *", "2024-01-01T00:00:00");
    cj.spec.as_mut().unwrap().starting_deadline_seconds = Some(60);
    assert!(decide(&cj, &[], utc("2024-01-01T01:00:30")).create.is_some());
    let plan = decide(&cj, &[], utc("2024-01-01T01:02:00"));
    assert!(plan.create.is_none(), "10:00 was missed by more than 60 s");
    assert!(plan.requeue.is_some());
}

#[test]
fn concurrency_policies() {
    let running = job("cj-old", None, "2024-01-01T00:00:00");
    let mut cj = cronjob("0 * * * *", "2023-12-31T23:30:00");
    active(&mut cj, &[&running]);
    let now = utc("2024-01-01T01:00:10");
    let plan = decide(&cj, &[&running], now);
    assert!(plan.create.is_some() && plan.replace.is_empty(), "Allow");
    cj.spec.as_mut().unwrap().concurrency_policy = Some("Forbid".into());
    let plan = decide(&cj, &[&running], now);
    assert!(plan.create.is_none());
    assert_eq!(plan.notes.last().unwrap().reason, "JobAlreadyActive");
    assert!(plan.requeue.is_some());
    cj.spec.as_mut().unwrap().concurrency_policy = Some("Replace".into());
    let plan = decide(&cj, &[&running], now);
    assert!(plan.create.is_some());
    assert_eq!(plan.replace.len(), 1);
}

#[test]
fn active_list_follows_the_jobs() {
    let done = job("cj-1", Some("Complete"), "2024-01-01T00:05:00");
    let stray = job("cj-manual", None, "2024-01-01T00:06:00");
    let gone = job("cj-gone", None, "2024-01-01T00:00:00");
    let mut cj = cronjob("0 0 1 1 *", "2023-12-31T00:00:00");
    active(&mut cj, &[&done, &gone]);
    let plan = decide(&cj, &[&done, &stray], utc("2024-01-01T00:10:00"));
    let reasons: Vec<_> = plan.notes.iter().map(|n| n.reason).collect();
    assert!(reasons.contains(&"SawCompletedJob") && reasons.contains(&"UnexpectedJob"));
    assert_eq!(plan.unknown_active.len(), 1);
    assert_eq!(plan.unknown_active[0].name.as_deref(), Some("cj-gone"));
    assert_eq!(
        plan.status.last_successful_time,
        Some(Time(utc("2024-01-01T00:05:00")))
    );
    assert_eq!(
        plan.status.active.as_ref().unwrap().len(),
        1,
        "only the unknown one is left for the API"
    );
}

#[test]
fn history_limits_prune_the_oldest() {
    let jobs: Vec<Job> = (0..5)
        .map(|i| {
            job(
                &format!("ok-{i}"),
                Some("Complete"),
                &format!("2024-01-01T0{i}:00:00"),
            )
        })
        .chain((0..2).map(|i| {
            job(
                &format!("bad-{i}"),
                Some("Failed"),
                &format!("2024-01-01T0{i}:30:00"),
            )
        }))
        .collect();
    let refs: Vec<&Job> = jobs.iter().collect();
    let cj = cronjob("0 0 1 1 *", "2023-12-31T00:00:00");
    let plan = decide(&cj, &refs, utc("2024-01-01T10:00:00"));
    let mut pruned: Vec<_> = plan
        .prune
        .iter()
        .map(|j| j.metadata.name.clone().unwrap())
        .collect();
    pruned.sort();
    assert_eq!(pruned, ["bad-0", "ok-0", "ok-1"]);
}
