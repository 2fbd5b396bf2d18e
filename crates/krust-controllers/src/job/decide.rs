//! One sync of a Job decided as a pure function, in upstream's order: count finished pods
//! (through `status.uncountedTerminatedPods` and the tracking finalizer), decide whether
//! the Job failed (pod failure policy, back-off limit, deadline, failed indexes) or met its
//! success criteria, create or delete pods toward `parallelism`, and build the status.
//!
//! The terminal conditions (`Complete`, `Failed`) come after the interim ones
//! (`SuccessCriteriaMet`, `FailureTarget`), once every finished pod has been counted and
//! no pod is terminating, as in Kubernetes 1.33.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::Duration;

use k8s_openapi::api::batch::v1::{Job, JobCondition, JobSpec, JobStatus, UncountedTerminatedPods};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use super::backoff::{self, Record};
use super::conditions::{self, Cond};
use super::failure_policy::{self, Action};
use super::indexes;
use super::manage::Manage;
use super::pods;
use super::template::NewPod;

/// At most this many pods are created or deleted in one sync (upstream's burst).
pub(crate) const BURST: usize = 500;
/// At most this many pods wait in `status.uncountedTerminatedPods` (keeping the status
/// small and one big Job from starving others), as upstream's `MaxUncountedPods`.
pub(crate) const MAX_UNCOUNTED: usize = 500;

/// What the sync knows besides the Job and its pods.
pub(crate) struct Input<'a> {
    /// The Job (from the cache).
    pub job: &'a Job,
    /// The pods it controls.
    pub pods: &'a [&'a Pod],
    /// Now.
    pub now: Timestamp,
    /// The back-off record before this sync.
    pub backoff: Record,
    /// Pods whose finalizer removal is under way (their cache entry is stale).
    pub removing: &'a HashSet<String>,
    /// Whether earlier creates and deletes have been observed.
    pub in_sync: bool,
}

/// An event to publish about the Job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Note {
    /// Warning rather than Normal.
    pub warning: bool,
    /// Reason.
    pub reason: String,
    /// Message.
    pub message: String,
}

/// What the sync does.
#[derive(Debug, Default)]
pub(crate) struct Plan<'a> {
    /// The status to write before removing finalizers (new uncounted pods, indexes,
    /// interim conditions, active/ready/terminating); counters are settled afterwards.
    pub status: JobStatus,
    /// Pods whose finalizer to remove.
    pub finalize: Vec<&'a Pod>,
    /// Pods (uids) that carry the finalizer now and are not being released already.
    pub with_finalizer: HashSet<String>,
    /// The terminal condition to add once everything is counted and nothing terminates.
    pub terminal: Option<JobCondition>,
    /// Pods to create.
    pub create: Vec<NewPod>,
    /// Pods to delete.
    pub delete: Vec<&'a Pod>,
    /// Whether the deleted pods are released first (their finalizer removed), so they are
    /// not counted as failed: true for suspend and scale-down, false when the Job is
    /// failing or met its success policy (then they are counted as it ends).
    pub release_deleted: bool,
    /// Events.
    pub notes: Vec<Note>,
    /// The back-off record after this sync's finished pods.
    pub backoff: Record,
    /// When to look again at the latest.
    pub requeue: Option<Duration>,
}

fn spec(job: &Job) -> JobSpec {
    job.spec.clone().unwrap_or_default()
}

/// Whether the Job is Indexed.
pub(super) fn indexed(s: &JobSpec) -> bool {
    s.completion_mode.as_deref() == Some("Indexed")
}

/// Whether the Job has a terminal condition (Complete or Failed, True).
pub(crate) fn finished(job: &Job) -> bool {
    let st = job.status.as_ref();
    conditions::is_true(st, "Complete") || conditions::is_true(st, "Failed")
}

/// Decides one sync.
pub(crate) fn decide<'a>(input: &Input<'a>) -> Plan<'a> {
    let job = input.job;
    let s = spec(job);
    let old = job.status.clone().unwrap_or_default();
    let mut plan = Plan {
        status: old.clone(),
        backoff: input.backoff,
        ..Default::default()
    };
    let tracked = |p: &&&Pod| {
        pods::has_finalizer(p)
            && !input
                .removing
                .contains(p.metadata.uid.as_deref().unwrap_or_default())
    };
    plan.with_finalizer = input
        .pods
        .iter()
        .filter(tracked)
        .filter_map(|p| p.metadata.uid.clone())
        .collect();
    if finished(job) {
        // Anything left behind by a finished Job is released.
        plan.finalize = input
            .pods
            .iter()
            .copied()
            .filter(|p| pods::has_finalizer(p))
            .collect();
        return plan;
    }
    let suspended = s.suspend == Some(true);
    let completions = s.completions;
    let parallelism = s.parallelism.unwrap_or(1).max(0);
    let is_indexed = indexed(&s);
    let uncounted = old.uncounted_terminated_pods.clone().unwrap_or_default();
    let unc_succ: BTreeSet<String> = uncounted.succeeded.iter().flatten().cloned().collect();
    let unc_fail: BTreeSet<String> = uncounted.failed.iter().flatten().cloned().collect();

    let active: Vec<&Pod> = input.pods.iter().copied().filter(|p| pods::active(p)).collect();
    let terminating = input.pods.iter().filter(|p| pods::terminating(p)).count();
    let fresh: Vec<&Pod> = input.pods.iter().copied().filter(|p| tracked(&p)).collect();

    // Counters as they will be once the pods finished now are counted.
    let uid = |p: &Pod| p.metadata.uid.clone().unwrap_or_default();
    let policy = s.pod_failure_policy.as_ref();
    let verdict = |p: &Pod| policy.map(|pol| failure_policy::evaluate(pol, p));
    let new_succ: Vec<&Pod> = fresh
        .iter()
        .copied()
        .filter(|p| pods::succeeded(p) && !unc_succ.contains(&uid(p)) && !unc_fail.contains(&uid(p)))
        .collect();
    let new_fail: Vec<&Pod> = fresh
        .iter()
        .copied()
        .filter(|p| pods::failed(p, job) && !unc_fail.contains(&uid(p)))
        .collect();
    let counts = |p: &Pod| verdict(p).is_none_or(|v| v.counts());
    let mut succeeded = i64::from(old.succeeded.unwrap_or(0)) + unc_succ.len() as i64;
    let failed = i64::from(old.failed.unwrap_or(0))
        + unc_fail.len() as i64
        + new_fail.iter().filter(|p| counts(p)).count() as i64;
    if !is_indexed {
        succeeded += new_succ.len() as i64;
    }
    plan.backoff = input.backoff.update(
        &new_succ
            .iter()
            .map(|p| pods::finish_time(p).unwrap_or(input.now))
            .collect::<Vec<_>>(),
        &new_fail
            .iter()
            .filter(|p| counts(p))
            .map(|p| pods::finish_time(p).unwrap_or(input.now))
            .collect::<Vec<_>>(),
    );

    if old.start_time.is_none() && !suspended {
        plan.status.start_time = Some(Time(input.now));
    }
    let start = plan.status.start_time.as_ref().map(|t| t.0);

    // Completion indexes.
    let completions_n = completions.unwrap_or(0);
    let mut succeeded_ix = BTreeSet::new();
    let mut failed_ix: Option<BTreeSet<i32>> = None;
    let mut next_failures: BTreeMap<i32, i32> = BTreeMap::new();
    let mut last_failure: BTreeMap<i32, Timestamp> = BTreeMap::new();
    if is_indexed {
        succeeded_ix = indexes::parse(old.completed_indexes.as_deref().unwrap_or(""), completions_n);
        succeeded_ix.extend(
            input
                .pods
                .iter()
                .filter(|p| pods::succeeded(p))
                .filter_map(|p| indexes::index_of(p, completions_n)),
        );
        succeeded = succeeded_ix.len() as i64;
        if let Some(limit) = s.backoff_limit_per_index {
            let mut fi = indexes::parse(old.failed_indexes.as_deref().unwrap_or(""), completions_n);
            for p in input.pods.iter().filter(|p| pods::failed(p, job)) {
                let Some(ix) = indexes::index_of(p, completions_n) else {
                    continue;
                };
                let v = verdict(p);
                let count = indexes::failure_count(p) + i32::from(v.as_ref().is_none_or(|v| v.counts()));
                let e = next_failures.entry(ix).or_default();
                *e = (*e).max(count);
                let at = pods::finish_time(p).unwrap_or(input.now);
                let l = last_failure.entry(ix).or_insert(at);
                *l = (*l).max(at);
                let fail_index = v.as_ref().and_then(|v| v.action) == Some(Action::FailIndex);
                if fresh.contains(p) && (fail_index || count > limit) && !succeeded_ix.contains(&ix) {
                    fi.insert(ix);
                }
            }
            failed_ix = Some(fi);
        }
    }

    // Has the Job failed or met its success criteria?
    let mut finishing: Option<Cond> = conditions::interim(&old);
    if finishing.is_none()
        && let Some(msg) = policy.and_then(|_| {
            fresh
                .iter()
                .filter(|p| pods::failed(p, job))
                .find_map(|p| verdict(p).and_then(|v| v.message))
        })
    {
        finishing = Some(Cond::failure("PodFailurePolicy", &msg));
    }
    if finishing.is_none() {
        let limit = i64::from(s.backoff_limit.unwrap_or(6));
        if (s.backoff_limit_per_index.is_none() && failed > limit) || past_limit_on_failure(&s, &active) {
            finishing = Some(Cond::failure(
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit",
            ));
        } else if let (Some(ads), Some(start)) = (s.active_deadline_seconds, start)
            && !suspended
        {
            let due = start.checked_add(SignedDuration::from_secs(ads)).unwrap_or(start);
            let left = input.now.duration_until(due);
            if left.is_positive() {
                plan.requeue = Some(left.unsigned_abs());
            } else {
                finishing = Some(Cond::failure(
                    "DeadlineExceeded",
                    "Job was active longer than specified deadline",
                ));
            }
        }
    }
    if let Some(fi) = &failed_ix
        && finishing.is_none()
    {
        if s.max_failed_indexes
            .is_some_and(|m| fi.len() as i64 > i64::from(m))
        {
            finishing = Some(Cond::failure(
                "MaxFailedIndexesExceeded",
                "Job has exceeded the specified maximal number of failed indexes",
            ));
        } else if !fi.is_empty() && (fi.len() + succeeded_ix.len()) as i64 >= i64::from(completions_n) {
            finishing = Some(Cond::failure("FailedIndexes", "Job has failed indexes"));
        }
    }
    if finishing.is_none()
        && is_indexed
        && let Some(msg) = s
            .success_policy
            .as_ref()
            .and_then(|sp| conditions::success_policy_met(sp, &succeeded_ix, completions_n))
    {
        finishing = Some(Cond::success("SuccessPolicy", &msg));
    }

    // Pods.
    let mut remaining_active = active.len();
    if finishing.is_some() {
        plan.delete = active.clone();
        remaining_active = 0;
    } else if input.in_sync && job.metadata.deletion_timestamp.is_none() {
        let m = Manage {
            job,
            spec: &s,
            active: &active,
            terminating,
            succeeded,
            succeeded_ix: &succeeded_ix,
            failed_ix: failed_ix.as_ref(),
            next_failures: &next_failures,
            index_wait: &last_failure
                .iter()
                .map(|(ix, at)| {
                    let n = u32::try_from(next_failures.get(ix).copied().unwrap_or(0)).unwrap_or(0);
                    (*ix, backoff::left(n, *at, input.now))
                })
                .filter(|(_, d)| !d.is_zero())
                .collect(),
            parallelism,
            backoff: plan.backoff.remaining(input.now),
        };
        let (delete, create, wait) = m.run();
        remaining_active = active.len() - delete.len();
        plan.delete = delete;
        plan.release_deleted = true;
        plan.create = create;
        if let Some(w) = wait {
            plan.requeue = Some(plan.requeue.map_or(w, |r| r.min(w)));
        }
        let complete = match completions {
            None => succeeded > 0 && remaining_active == 0 && plan.create.is_empty(),
            Some(c) => succeeded >= i64::from(c) && remaining_active == 0,
        };
        if complete {
            finishing = Some(Cond::success(
                "CompletionsReached",
                "Reached expected number of succeeded pods",
            ));
            plan.create.clear();
        } else {
            let (want, reason, msg) = if suspended {
                ("True", "JobSuspended", "Job suspended")
            } else {
                ("False", "JobResumed", "Job resumed")
            };
            let had = conditions::find(&old, "Suspended").map(|c| c.status.as_str());
            // A Job never suspended gets no Suspended=False condition.
            if had != Some(want) && (suspended || had.is_some()) {
                conditions::set(&mut plan.status, "Suspended", want, reason, msg, input.now);
                plan.notes.push(Note {
                    warning: false,
                    reason: if suspended { "Suspended" } else { "Resumed" }.into(),
                    message: msg.into(),
                });
                if !suspended {
                    // The deadline counts continuous activity: it restarts on resume.
                    plan.status.start_time = Some(Time(input.now));
                }
            }
        }
    }

    // Count finished pods and release them.
    let failing = finishing.as_ref().is_some_and(|c| !c.success);
    let mut add_succ = Vec::new();
    let mut add_fail = Vec::new();
    let mut capped = false;
    for p in &fresh {
        let finished_pod = pods::succeeded(p) || pods::failed(p, job);
        if !(finished_pod || finishing.is_some()) {
            continue;
        }
        if unc_succ.len() + unc_fail.len() + add_succ.len() + add_fail.len() >= MAX_UNCOUNTED {
            // The rest waits for the next sync, which this one's writes trigger.
            capped = true;
            break;
        }
        plan.finalize.push(p);
        let u = uid(p);
        if pods::succeeded(p) && !unc_fail.contains(&u) {
            if !is_indexed && !unc_succ.contains(&u) {
                add_succ.push(u);
            }
        } else if (pods::failed(p, job) || failing) && !unc_fail.contains(&u) {
            let in_range = !is_indexed || indexes::index_of(p, completions_n).is_some();
            if in_range && verdict(p).is_none_or(|v| v.counts()) {
                add_fail.push(u);
            }
        }
    }
    let mut new_uncounted = uncounted;
    if !add_succ.is_empty() {
        new_uncounted
            .succeeded
            .get_or_insert_with(Vec::new)
            .extend(add_succ);
    }
    if !add_fail.is_empty() {
        new_uncounted.failed.get_or_insert_with(Vec::new).extend(add_fail);
    }
    plan.status.uncounted_terminated_pods = Some(new_uncounted);
    if is_indexed {
        plan.status.completed_indexes = Some(indexes::format(&succeeded_ix));
        plan.status.succeeded = Some(i32::try_from(succeeded_ix.len()).unwrap_or(i32::MAX));
        plan.status.failed_indexes = failed_ix.as_ref().map(indexes::format);
    }
    plan.status.active = Some(i32::try_from(remaining_active).unwrap_or(i32::MAX));
    plan.status.ready = Some(
        i32::try_from(
            active
                .iter()
                .filter(|p| pods::ready(p) && !plan.delete.iter().any(|d| d.metadata.uid == p.metadata.uid))
                .count(),
        )
        .unwrap_or(i32::MAX),
    );
    let deleting = plan.delete.len();
    plan.status.terminating = Some(i32::try_from(terminating + deleting).unwrap_or(i32::MAX));
    if let Some(c) = finishing {
        if conditions::find(&plan.status, c.interim_type()).is_none() {
            conditions::set(
                &mut plan.status,
                c.interim_type(),
                "True",
                &c.reason,
                &c.message,
                input.now,
            );
        }
        // Pods created but not seen yet might still exist: finish only once in sync.
        if input.in_sync && !capped {
            plan.terminal = Some(c.terminal(input.now));
        }
    }
    plan
}

/// `OnFailure` pods fail by restarting: the Job fails once their restarts reach the limit.
fn past_limit_on_failure(s: &JobSpec, active: &[&Pod]) -> bool {
    let policy = s.template.spec.as_ref().and_then(|p| p.restart_policy.as_deref());
    if policy != Some("OnFailure") {
        return false;
    }
    let limit = s.backoff_limit.unwrap_or(6);
    let restarts: i32 = active.iter().map(|p| pods::restarts(p)).sum();
    if limit == 0 {
        restarts > 0
    } else {
        restarts >= limit
    }
}

/// Settles the counters after finalizers were removed: uncounted pods that no longer
/// carry the finalizer (`with_finalizer` after the removals) are counted; then the
/// terminal condition is added if nothing is left uncounted or terminating.
pub(crate) fn settle(
    status: &JobStatus,
    with_finalizer: &HashSet<String>,
    terminal: Option<&JobCondition>,
) -> JobStatus {
    let mut st = status.clone();
    let mut unc = st.uncounted_terminated_pods.clone().unwrap_or_default();
    let moved = |list: &mut Option<Vec<String>>| -> i32 {
        let all = list.take().unwrap_or_default();
        let (keep, done): (Vec<String>, Vec<String>) =
            all.into_iter().partition(|u| with_finalizer.contains(u));
        *list = Some(keep);
        i32::try_from(done.len()).unwrap_or(i32::MAX)
    };
    let s = moved(&mut unc.succeeded);
    let f = moved(&mut unc.failed);
    if st.completed_indexes.is_none() {
        st.succeeded = Some(st.succeeded.unwrap_or(0).saturating_add(s));
    }
    st.failed = Some(st.failed.unwrap_or(0).saturating_add(f));
    let empty =
        unc.succeeded.as_ref().is_none_or(Vec::is_empty) && unc.failed.as_ref().is_none_or(Vec::is_empty);
    st.uncounted_terminated_pods = Some(UncountedTerminatedPods {
        succeeded: unc.succeeded.filter(|v| !v.is_empty()),
        failed: unc.failed.filter(|v| !v.is_empty()),
    });
    if let Some(t) = terminal
        && empty
        && st.terminating.unwrap_or(0) == 0
    {
        if t.type_ == "Complete" {
            st.completion_time = t.last_transition_time.clone();
        }
        let mut conds = st.conditions.take().unwrap_or_default();
        conds.retain(|c| c.type_ != t.type_);
        conds.push(t.clone());
        st.conditions = Some(conds);
    }
    st
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
