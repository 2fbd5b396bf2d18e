//! Deployment status and conditions, as upstream computes them and `kubectl rollout
//! status` reads them:
//!
//! - counts summed over the ReplicaSets (updated = the new ReplicaSet's pods);
//! - `Available` true while at least replicas − maxUnavailable pods are available;
//! - `Progressing` true (NewReplicaSetCreated, FoundNewReplicaSet, ReplicaSetUpdated,
//!   NewReplicaSetAvailable when complete), unknown while paused, false with
//!   ProgressDeadlineExceeded when no progress was seen for progressDeadlineSeconds;
//! - a `ReplicaFailure` of a ReplicaSet (e.g. quota) copied up.

use std::time::Duration;

use k8s_openapi::{
    api::apps::v1::{Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet},
    jiff::Timestamp,
};

use super::arith::max_unavailable;
use super::rsutil::{desired, sum_actual, sum_available, sum_ready, sum_size};
use crate::replicaset::api_time;

/// Condition types.
pub(crate) const PROGRESSING: &str = "Progressing";
pub(crate) const AVAILABLE: &str = "Available";
pub(crate) const REPLICA_FAILURE: &str = "ReplicaFailure";

/// Condition reasons.
pub(crate) const NEW_RS_CREATED: &str = "NewReplicaSetCreated";
pub(crate) const FOUND_NEW_RS: &str = "FoundNewReplicaSet";
pub(crate) const RS_UPDATED: &str = "ReplicaSetUpdated";
pub(crate) const NEW_RS_AVAILABLE: &str = "NewReplicaSetAvailable";
pub(crate) const TIMED_OUT: &str = "ProgressDeadlineExceeded";
pub(crate) const PAUSED: &str = "DeploymentPaused";
pub(crate) const RESUMED: &str = "DeploymentResumed";
pub(crate) const FAILED_RS_CREATE: &str = "ReplicaSetCreateError";
const MIN_AVAILABLE: &str = "MinimumReplicasAvailable";
const MIN_UNAVAILABLE: &str = "MinimumReplicasUnavailable";

/// A condition stamped `now`.
pub(crate) fn new_condition(
    type_: &str,
    status: &str,
    reason: &str,
    message: String,
    now: Timestamp,
) -> DeploymentCondition {
    DeploymentCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message),
        last_update_time: Some(api_time(now)),
        last_transition_time: Some(api_time(now)),
    }
}

/// The condition of a type.
pub(crate) fn condition<'a>(s: &'a DeploymentStatus, type_: &str) -> Option<&'a DeploymentCondition> {
    s.conditions.iter().flatten().find(|c| c.type_ == type_)
}

/// Sets a condition: no change when status and reason are the same; the transition time
/// is kept when only the reason changes.
pub(crate) fn set_condition(s: &mut DeploymentStatus, mut c: DeploymentCondition) {
    if let Some(cur) = condition(s, &c.type_) {
        if cur.status == c.status && cur.reason == c.reason {
            return;
        }
        if cur.status == c.status {
            c.last_transition_time.clone_from(&cur.last_transition_time);
        }
    }
    remove_condition(s, &c.type_);
    s.conditions.get_or_insert_with(Vec::new).push(c);
}

/// Removes the condition of a type.
pub(crate) fn remove_condition(s: &mut DeploymentStatus, type_: &str) {
    if let Some(cs) = s.conditions.as_mut() {
        cs.retain(|c| c.type_ != type_);
        if cs.is_empty() {
            s.conditions = None;
        }
    }
}

/// Whether progress is tracked (a deadline is set and is not "forever").
pub(crate) fn has_progress_deadline(d: &Deployment) -> bool {
    d.spec
        .as_ref()
        .and_then(|s| s.progress_deadline_seconds)
        .is_some_and(|p| p != i32::MAX)
}

fn nonzero(n: i32) -> Option<i32> {
    (n != 0).then_some(n)
}

/// The status from the ReplicaSets, with the `Available` condition brought up to date.
pub(crate) fn calculate_status(
    all: &[&ReplicaSet],
    new_rs: Option<&ReplicaSet>,
    d: &Deployment,
    now: Timestamp,
) -> DeploymentStatus {
    let old = d.status.clone().unwrap_or_default();
    let available = sum_available(all);
    let unavailable = (sum_size(all) - available).max(0);
    let mut s = DeploymentStatus {
        observed_generation: d.metadata.generation,
        replicas: nonzero(sum_actual(all)),
        updated_replicas: nonzero(new_rs.map_or(0, |rs| sum_actual(&[rs]))),
        ready_replicas: nonzero(sum_ready(all)),
        available_replicas: nonzero(available),
        unavailable_replicas: nonzero(unavailable),
        collision_count: old.collision_count,
        conditions: old.conditions.clone(),
        terminating_replicas: old.terminating_replicas,
    };
    if available >= desired(d) - max_unavailable(d) {
        let c = new_condition(
            AVAILABLE,
            "True",
            MIN_AVAILABLE,
            "Deployment has minimum availability.".into(),
            now,
        );
        set_condition(&mut s, c);
    } else {
        let c = new_condition(
            AVAILABLE,
            "False",
            MIN_UNAVAILABLE,
            "Deployment does not have minimum availability.".into(),
            now,
        );
        set_condition(&mut s, c);
    }
    s
}

/// Whether the rollout is done: all desired pods updated, available and nothing else left.
pub(crate) fn deployment_complete(d: &Deployment, s: &DeploymentStatus) -> bool {
    let want = desired(d);
    s.updated_replicas.unwrap_or(0) == want
        && s.replicas.unwrap_or(0) == want
        && s.available_replicas.unwrap_or(0) == want
        && s.observed_generation.unwrap_or(0) >= d.metadata.generation.unwrap_or(0)
}

/// Whether the new status shows progress over the stored one.
fn deployment_progressing(d: &Deployment, s: &DeploymentStatus) -> bool {
    let old = d.status.clone().unwrap_or_default();
    let get = |v: Option<i32>| v.unwrap_or(0);
    let old_old = get(old.replicas) - get(old.updated_replicas);
    let new_old = get(s.replicas) - get(s.updated_replicas);
    get(s.updated_replicas) > get(old.updated_replicas)
        || new_old < old_old
        || get(s.ready_replicas) > get(old.ready_replicas)
        || get(s.available_replicas) > get(old.available_replicas)
}

fn deadline(d: &Deployment) -> Duration {
    let secs = d
        .spec
        .as_ref()
        .and_then(|s| s.progress_deadline_seconds)
        .unwrap_or(600);
    Duration::from_secs(u64::try_from(secs).unwrap_or(0))
}

/// Whether the rollout has gone without progress past its deadline.
fn timed_out(d: &Deployment, s: &DeploymentStatus, now: Timestamp) -> bool {
    if !has_progress_deadline(d) {
        return false;
    }
    let Some(c) = condition(s, PROGRESSING) else {
        return false;
    };
    match c.reason.as_deref() {
        Some(NEW_RS_AVAILABLE) => false,
        Some(TIMED_OUT) => true,
        _ => c
            .last_update_time
            .as_ref()
            .is_some_and(|t| now.duration_since(t.0).unsigned_abs() > deadline(d)),
    }
}

fn rs_name(rs: Option<&ReplicaSet>) -> Option<String> {
    rs.and_then(|r| r.metadata.name.clone())
}

/// The status after a rollout step: counts, `Progressing` (complete, progressing or timed
/// out) and the ReplicaSets' `ReplicaFailure`.
pub(crate) fn rollout_status(
    all: &[&ReplicaSet],
    new_rs: Option<&ReplicaSet>,
    d: &Deployment,
    now: Timestamp,
) -> DeploymentStatus {
    let mut s = calculate_status(all, new_rs, d, now);
    if !has_progress_deadline(d) {
        remove_condition(&mut s, PROGRESSING);
    }
    let stored = d.status.clone().unwrap_or_default();
    let current = condition(&stored, PROGRESSING).cloned();
    let complete_already = s.replicas == s.updated_replicas
        && current.as_ref().and_then(|c| c.reason.as_deref()) == Some(NEW_RS_AVAILABLE);
    let name = d.metadata.name.clone().unwrap_or_default();
    if has_progress_deadline(d) && !complete_already {
        if deployment_complete(d, &s) {
            let msg = match rs_name(new_rs) {
                Some(rs) => format!("ReplicaSet \"{rs}\" has successfully progressed."),
                None => format!("Deployment \"{name}\" has successfully progressed."),
            };
            set_condition(
                &mut s,
                new_condition(PROGRESSING, "True", NEW_RS_AVAILABLE, msg, now),
            );
        } else if deployment_progressing(d, &s) {
            let msg = match rs_name(new_rs) {
                Some(rs) => format!("ReplicaSet \"{rs}\" is progressing."),
                None => format!("Deployment \"{name}\" is progressing."),
            };
            let mut c = new_condition(PROGRESSING, "True", RS_UPDATED, msg, now);
            // Progress refreshes the update time even with the same reason.
            if let Some(cur) = &current {
                if cur.status == "True" {
                    c.last_transition_time.clone_from(&cur.last_transition_time);
                }
                remove_condition(&mut s, PROGRESSING);
            }
            set_condition(&mut s, c);
        } else if timed_out(d, &s, now) {
            let msg = match rs_name(new_rs) {
                Some(rs) => format!("ReplicaSet \"{rs}\" has timed out progressing."),
                None => format!("Deployment \"{name}\" has timed out progressing."),
            };
            set_condition(&mut s, new_condition(PROGRESSING, "False", TIMED_OUT, msg, now));
        }
    }
    match replica_failure(all, new_rs) {
        Some(c) => set_condition(&mut s, c),
        None => remove_condition(&mut s, REPLICA_FAILURE),
    }
    s
}

/// The first `ReplicaFailure` condition of the new ReplicaSet, else of any ReplicaSet.
fn replica_failure(all: &[&ReplicaSet], new_rs: Option<&ReplicaSet>) -> Option<DeploymentCondition> {
    new_rs.into_iter().chain(all.iter().copied()).find_map(|rs| {
        rs.status
            .as_ref()?
            .conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == REPLICA_FAILURE)
            .map(|c| DeploymentCondition {
                type_: c.type_.clone(),
                status: c.status.clone(),
                reason: c.reason.clone(),
                message: c.message.clone(),
                last_update_time: c.last_transition_time.clone(),
                last_transition_time: c.last_transition_time.clone(),
            })
    })
}

/// When to look again at a rollout that shows no progress, to declare it timed out at its
/// deadline: `None` without a deadline, when complete or already timed out.
pub(crate) fn stuck_requeue(d: &Deployment, s: &DeploymentStatus, now: Timestamp) -> Option<Duration> {
    let stored = d.status.clone().unwrap_or_default();
    let c = condition(&stored, PROGRESSING)?;
    if !has_progress_deadline(d) || deployment_complete(d, s) || c.reason.as_deref() == Some(TIMED_OUT) {
        return None;
    }
    let since = c.last_update_time.as_ref()?.0;
    let elapsed = now.duration_since(since).unsigned_abs();
    let left = deadline(d).saturating_sub(elapsed);
    Some(left.max(Duration::from_secs(1)))
}

/// The status with the paused/resumed `Progressing` condition, if it must change
/// (a timed-out condition is never overwritten).
pub(crate) fn paused_condition(d: &Deployment, now: Timestamp) -> Option<DeploymentStatus> {
    if !has_progress_deadline(d) {
        return None;
    }
    let mut s = d.status.clone().unwrap_or_default();
    let reason = condition(&s, PROGRESSING).and_then(|c| c.reason.clone());
    if reason.as_deref() == Some(TIMED_OUT) {
        return None;
    }
    let paused = d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false);
    let was_paused = reason.as_deref() == Some(PAUSED);
    let c = match (paused, was_paused) {
        (true, false) => new_condition(PROGRESSING, "Unknown", PAUSED, "Deployment is paused".into(), now),
        (false, true) => new_condition(
            PROGRESSING,
            "Unknown",
            RESUMED,
            "Deployment is resumed".into(),
            now,
        ),
        _ => return None,
    };
    set_condition(&mut s, c);
    Some(s)
}

#[cfg(test)]
mod tests;
