//! Tests of the Job sync decisions.

use super::*;
use crate::job::pods::tests::pod;
use k8s_openapi::api::batch::v1::{
    PodFailurePolicy, PodFailurePolicyOnExitCodesRequirement, PodFailurePolicyRule,
};
use k8s_openapi::api::core::v1::{ContainerState, ContainerStateTerminated, ContainerStatus};

fn at(s: i64) -> Timestamp {
    Timestamp::from_second(s).unwrap()
}

fn job(completions: Option<i32>, parallelism: i32) -> Job {
    let mut j = Job::default();
    j.metadata.name = Some("j".into());
    j.spec = Some(JobSpec {
        completions,
        parallelism: Some(parallelism),
        backoff_limit: Some(6),
        completion_mode: Some("NonIndexed".into()),
        ..Default::default()
    });
    j
}

fn indexed_job(completions: i32, parallelism: i32) -> Job {
    let mut j = job(Some(completions), parallelism);
    j.spec.as_mut().unwrap().completion_mode = Some("Indexed".into());
    j
}

fn with_index(mut p: Pod, ix: i32) -> Pod {
    p.metadata.annotations = Some([(indexes::INDEX_KEY.to_string(), ix.to_string())].into());
    p
}

fn run<'a>(job: &'a Job, pods: &'a [&'a Pod], removing: &'a HashSet<String>) -> Plan<'a> {
    decide(&Input {
        job,
        pods,
        now: at(1000),
        backoff: Record::default(),
        removing,
        in_sync: true,
    })
}

/// The status after the finalizers of `plan.finalize` were removed.
fn settled(plan: &Plan<'_>) -> JobStatus {
    let mut with = plan.with_finalizer.clone();
    for p in &plan.finalize {
        with.remove(p.metadata.uid.as_deref().unwrap());
    }
    settle(&plan.status, &with, plan.terminal.as_ref())
}

#[test]
fn creates_up_to_parallelism_and_remaining_completions() {
    let none = HashSet::new();
    let j = job(Some(5), 2);
    let plan = run(&j, &[], &none);
    assert_eq!(plan.create.len(), 2);
    assert_eq!(plan.status.start_time, Some(Time(at(1000))));
    let (a, b) = (pod("a", "Succeeded"), pod("b", "Succeeded"));
    let mut j = job(Some(3), 2);
    j.status = Some(JobStatus {
        succeeded: Some(1),
        ..Default::default()
    });
    let pods = [&a, &b];
    let plan = run(&j, &pods, &none);
    assert!(plan.create.is_empty(), "1 + 2 succeeded = 3 completions");
    assert_eq!(plan.finalize.len(), 2);
    assert_eq!(
        plan.status
            .uncounted_terminated_pods
            .as_ref()
            .unwrap()
            .succeeded
            .as_ref()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(plan.terminal.as_ref().unwrap().type_, "Complete");
    assert_eq!(
        find(&plan.status, "SuccessCriteriaMet")
            .unwrap()
            .reason
            .as_deref(),
        Some("CompletionsReached")
    );
    let st = settled(&plan);
    assert_eq!(st.succeeded, Some(3));
    assert!(is_true(Some(&st), "Complete"));
    assert!(st.completion_time.is_some());
}

use super::conditions::{find, is_true};

#[test]
fn counted_pods_are_not_counted_twice() {
    let a = pod("a", "Succeeded");
    let mut j = job(Some(3), 1);
    j.status = Some(JobStatus {
        uncounted_terminated_pods: Some(UncountedTerminatedPods {
            succeeded: Some(vec!["uid-a".into()]),
            failed: None,
        }),
        ..Default::default()
    });
    let none = HashSet::new();
    let pods = [&a];
    let plan = run(&j, &pods, &none);
    assert_eq!(
        plan.status
            .uncounted_terminated_pods
            .as_ref()
            .unwrap()
            .succeeded
            .as_ref()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(plan.create.len(), 1);
    // A pod whose finalizer removal is under way is not looked at again.
    let removing: HashSet<String> = ["uid-a".to_string()].into();
    let mut j2 = job(Some(3), 1);
    j2.status = Some(JobStatus {
        succeeded: Some(1),
        ..Default::default()
    });
    let plan = run(&j2, &pods, &removing);
    assert!(plan.finalize.is_empty());
    assert_eq!(settled(&plan).succeeded, Some(1));
}

#[test]
fn failures_past_the_backoff_limit_fail_the_job() {
    let mut j = job(Some(1), 1);
    j.spec.as_mut().unwrap().backoff_limit = Some(1);
    let (a, b, c) = (pod("a", "Failed"), pod("b", "Failed"), pod("c", "Running"));
    let none = HashSet::new();
    let pods = [&a, &b, &c];
    let plan = run(&j, &pods, &none);
    assert_eq!(
        find(&plan.status, "FailureTarget").unwrap().reason.as_deref(),
        Some("BackoffLimitExceeded")
    );
    assert_eq!(plan.delete.len(), 1, "the running pod is deleted");
    assert!(!plan.release_deleted, "and counted as failed");
    assert!(plan.create.is_empty());
    let st = settled(&plan);
    assert_eq!(st.failed, Some(3), "the deleted active pod counts as failed");
    assert!(!is_true(Some(&st), "Failed"), "waits for the terminating pod");
    // Once nothing terminates any more, Failed follows.
    let mut j2 = j.clone();
    j2.status = Some(JobStatus {
        terminating: Some(0),
        ..st
    });
    let plan = run(&j2, &[], &none);
    let st = settled(&plan);
    let failed = find(&st, "Failed").unwrap();
    assert_eq!(failed.reason.as_deref(), Some("BackoffLimitExceeded"));
    assert!(st.completion_time.is_none());
}

#[test]
fn no_terminal_condition_while_creates_are_unobserved() {
    let mut j = job(Some(1), 1);
    j.spec.as_mut().unwrap().backoff_limit = Some(0);
    let a = pod("a", "Failed");
    let none = HashSet::new();
    let pods = [&a];
    let plan = decide(&Input {
        job: &j,
        pods: &pods,
        now: at(1000),
        backoff: Record::default(),
        removing: &none,
        in_sync: false,
    });
    assert!(find(&plan.status, "FailureTarget").is_some());
    assert!(plan.terminal.is_none());
}

#[test]
fn one_failure_waits_for_the_backoff() {
    let a = pod("a", "Failed");
    let j = job(Some(1), 1);
    let none = HashSet::new();
    let pods = [&a];
    let plan = run(&j, &pods, &none);
    assert!(plan.create.is_empty());
    assert_eq!(plan.backoff.failures, 1);
    assert!(plan.requeue.is_some_and(|d| d <= Duration::from_secs(10)));
}

#[test]
fn active_deadline() {
    let mut j = job(Some(1), 1);
    j.spec.as_mut().unwrap().active_deadline_seconds = Some(10);
    j.status = Some(JobStatus {
        start_time: Some(Time(at(995))),
        ..Default::default()
    });
    let r = pod("r", "Running");
    let none = HashSet::new();
    let pods = [&r];
    let plan = run(&j, &pods, &none);
    assert_eq!(plan.requeue, Some(Duration::from_secs(5)));
    j.status.as_mut().unwrap().start_time = Some(Time(at(980)));
    let plan = run(&j, &pods, &none);
    assert_eq!(
        find(&plan.status, "FailureTarget").unwrap().reason.as_deref(),
        Some("DeadlineExceeded")
    );
    assert_eq!(plan.delete.len(), 1);
}

#[test]
fn suspend_deletes_pods_and_resume_restarts_the_clock() {
    let mut j = job(Some(2), 2);
    j.spec.as_mut().unwrap().suspend = Some(true);
    let r = pod("r", "Running");
    let none = HashSet::new();
    let pods = [&r];
    let plan = run(&j, &pods, &none);
    assert_eq!(plan.delete.len(), 1);
    assert!(
        plan.release_deleted,
        "suspended pods are released, not counted as failed"
    );
    assert!(plan.finalize.is_empty());
    assert!(plan.status.start_time.is_none());
    assert_eq!(
        find(&plan.status, "Suspended").unwrap().reason.as_deref(),
        Some("JobSuspended")
    );
    let mut resumed = j.clone();
    resumed.spec.as_mut().unwrap().suspend = Some(false);
    resumed.status = Some(plan.status.clone());
    let plan = run(&resumed, &[], &none);
    assert_eq!(plan.create.len(), 2);
    let c = find(&plan.status, "Suspended").unwrap();
    assert_eq!(
        (c.status.as_str(), c.reason.as_deref()),
        ("False", Some("JobResumed"))
    );
    assert_eq!(plan.status.start_time, Some(Time(at(1000))));
    // A Job never suspended has no Suspended condition.
    assert!(find(&run(&job(Some(1), 1), &[], &none).status, "Suspended").is_none());
}

#[test]
fn indexed_jobs_create_missing_indexes_and_record_completed_ones() {
    let j = indexed_job(4, 2);
    let done = with_index(pod("d", "Succeeded"), 0);
    let running = with_index(pod("r", "Running"), 1);
    let dup = with_index(pod("x", "Pending"), 1);
    let none = HashSet::new();
    let pods = [&done, &running, &dup];
    let plan = run(&j, &pods, &none);
    assert_eq!(plan.status.completed_indexes.as_deref(), Some("0"));
    assert_eq!(plan.status.succeeded, Some(1));
    assert_eq!(plan.delete.len(), 1, "the duplicate of index 1");
    assert_eq!(plan.delete[0].metadata.name.as_deref(), Some("x"));
    assert_eq!(plan.create.iter().map(|c| c.index).collect::<Vec<_>>(), [Some(2)]);
    // Indexed successes are tracked by index, not in uncounted.
    assert!(
        plan.status
            .uncounted_terminated_pods
            .as_ref()
            .unwrap()
            .succeeded
            .is_none()
    );
}

#[test]
fn backoff_limit_per_index_fails_indexes() {
    let mut j = indexed_job(2, 2);
    {
        let s = j.spec.as_mut().unwrap();
        s.backoff_limit_per_index = Some(1);
        s.backoff_limit = Some(i32::MAX);
    }
    let mut second = with_index(pod("f2", "Failed"), 0);
    second
        .metadata
        .annotations
        .as_mut()
        .unwrap()
        .insert(indexes::INDEX_FAILURE_COUNT.into(), "1".into());
    let ok = with_index(pod("ok", "Succeeded"), 1);
    let none = HashSet::new();
    let pods = [&second, &ok];
    let plan = run(&j, &pods, &none);
    assert_eq!(plan.status.failed_indexes.as_deref(), Some("0"));
    assert_eq!(
        find(&plan.status, "FailureTarget").unwrap().reason.as_deref(),
        Some("FailedIndexes")
    );
    // A first failure of an index is retried with the count annotation.
    let mut first = with_index(pod("f1", "Failed"), 0);
    first.metadata.creation_timestamp = Some(Time(at(1000)));
    let pods = [&first];
    let plan = decide(&Input {
        job: &j,
        pods: &pods,
        now: at(1000),
        backoff: Record::default(),
        removing: &none,
        in_sync: true,
    });
    assert!(plan.status.failed_indexes.as_deref() == Some(""));
    // Index 0 backs off on its own (10 s after its first failure); index 1 starts now.
    assert_eq!(plan.create.len(), 1);
    assert_eq!(plan.create[0].index, Some(1));
    assert_eq!(plan.requeue, Some(Duration::from_secs(10)));
    // Once the back-off has passed, index 0 is retried with its failure count.
    let later = decide(&Input {
        job: &j,
        pods: &pods,
        now: at(1011),
        backoff: Record::default(),
        removing: &none,
        in_sync: true,
    });
    let retry = later.create.iter().find(|c| c.index == Some(0)).unwrap();
    assert_eq!(retry.index_failures, Some(1));
}

fn exited(name: &str, code: i32) -> Pod {
    let mut p = pod(name, "Failed");
    p.status.as_mut().unwrap().container_statuses = Some(vec![ContainerStatus {
        name: "main".into(),
        state: Some(ContainerState {
            terminated: Some(ContainerStateTerminated {
                exit_code: code,
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }]);
    p
}

#[test]
fn pod_failure_policy_fails_or_ignores() {
    let mut j = job(Some(1), 1);
    j.spec.as_mut().unwrap().pod_failure_policy = Some(PodFailurePolicy {
        rules: vec![
            PodFailurePolicyRule {
                action: "FailJob".into(),
                on_exit_codes: Some(PodFailurePolicyOnExitCodesRequirement {
                    container_name: None,
                    operator: "In".into(),
                    values: vec![42],
                }),
                on_pod_conditions: None,
            },
            PodFailurePolicyRule {
                action: "Ignore".into(),
                on_exit_codes: Some(PodFailurePolicyOnExitCodesRequirement {
                    container_name: None,
                    operator: "In".into(),
                    values: vec![7],
                }),
                on_pod_conditions: None,
            },
        ],
    });
    let none = HashSet::new();
    let ignored = exited("i", 7);
    let pods = [&ignored];
    let plan = run(&j, &pods, &none);
    assert!(
        plan.status
            .uncounted_terminated_pods
            .as_ref()
            .unwrap()
            .failed
            .is_none()
    );
    assert_eq!(plan.finalize.len(), 1, "released without counting");
    assert_eq!(plan.create.len(), 1, "and replaced at once");
    let fatal = exited("f", 42);
    let pods = [&fatal];
    let plan = run(&j, &pods, &none);
    let c = find(&plan.status, "FailureTarget").unwrap();
    assert_eq!(c.reason.as_deref(), Some("PodFailurePolicy"));
    assert!(c.message.as_deref().unwrap().contains("exit code 42"));
}

#[test]
fn finished_jobs_only_release_pods() {
    let mut j = job(Some(1), 1);
    j.status = Some(JobStatus {
        conditions: Some(vec![JobCondition {
            type_: "Complete".into(),
            status: "True".into(),
            ..Default::default()
        }]),
        ..Default::default()
    });
    let r = pod("r", "Running");
    let none = HashSet::new();
    let pods = [&r];
    let plan = run(&j, &pods, &none);
    assert_eq!(plan.finalize.len(), 1);
    assert!(plan.create.is_empty() && plan.delete.is_empty());
}

#[test]
fn without_completions_the_first_success_completes() {
    let j = job(None, 3);
    let none = HashSet::new();
    assert_eq!(run(&j, &[], &none).create.len(), 3);
    let (a, b) = (pod("a", "Succeeded"), pod("b", "Running"));
    let pods = [&a, &b];
    let plan = run(&j, &pods, &none);
    assert!(plan.create.is_empty() && plan.delete.is_empty());
    assert!(plan.terminal.is_none(), "waits for the running pod");
    let pods = [&a];
    assert!(run(&j, &pods, &none).terminal.is_some());
}

#[test]
fn uncounted_pods_are_capped_per_sync() {
    let pods: Vec<Pod> = (0..MAX_UNCOUNTED + 20)
        .map(|i| pod(&format!("p{i}"), "Succeeded"))
        .collect();
    let refs: Vec<&Pod> = pods.iter().collect();
    let j = job(Some(1000), 10);
    let none = HashSet::new();
    let plan = run(&j, &refs, &none);
    assert_eq!(plan.finalize.len(), MAX_UNCOUNTED);
    let st = settled(&plan);
    assert_eq!(st.succeeded, Some(MAX_UNCOUNTED as i32));
    assert!(plan.terminal.is_none());
}
