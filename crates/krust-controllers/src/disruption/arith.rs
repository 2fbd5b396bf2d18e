//! The arithmetic of a PodDisruptionBudget's status, as upstream's disruption controller
//! does it:
//!
//! - with `maxUnavailable` (number or percent of the expected pods, rounded up):
//!   expected = the scale of the pods' controllers, desired healthy = expected − max
//!   unavailable (at least 0);
//! - with `minAvailable` as a number: desired healthy = that number, expected = the number
//!   of selected pods;
//! - with `minAvailable` as a percent: expected = the controllers' scale, desired healthy =
//!   that percent of it, rounded up;
//! - current healthy = selected pods Ready and not being deleted, not counting pods the
//!   eviction API just disrupted (listed in `disruptedPods` for up to 2 minutes);
//! - disruptions allowed = current − desired, but 0 when negative or nothing is expected.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::PodDisruptionBudgetSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use crate::endpoints::pods;

/// How long a pod the eviction API disrupted may take to be deleted before the budget
/// counts it again.
pub const DELETION_TIMEOUT: Duration = Duration::from_secs(120);

/// The condition type.
pub const DISRUPTION_ALLOWED: &str = "DisruptionAllowed";
/// Reason: disruptions are allowed.
pub const SUFFICIENT_PODS: &str = "SufficientPods";
/// Reason: no disruption is allowed.
pub const INSUFFICIENT_PODS: &str = "InsufficientPods";
/// Reason: the status could not be computed.
pub const SYNC_FAILED: &str = "SyncFailed";

/// `v` resolved against `total`: a number as it is, a percent of `total` rounded up or
/// down (upstream's `GetScaledValueFromIntOrPercent`).
pub fn scaled(v: &IntOrString, total: i32, round_up: bool) -> Result<i32, String> {
    match v {
        IntOrString::Int(n) => Ok(*n),
        IntOrString::String(s) => {
            let pct: i64 = s.strip_suffix('%').and_then(|p| p.parse().ok()).ok_or_else(|| {
                format!("invalid value for IntOrString: invalid value {s:?}: not a number or a percentage")
            })?;
            let product = pct * i64::from(total);
            let value = if round_up {
                (product + 99).div_euclid(100)
            } else {
                product.div_euclid(100)
            };
            i32::try_from(value).map_err(|_| format!("{s} of {total} is out of range"))
        }
    }
}

/// Whether the expected count comes from the controllers' scale (else from the pods).
pub fn needs_scale(spec: &PodDisruptionBudgetSpec) -> bool {
    spec.max_unavailable.is_some() || matches!(spec.min_available, Some(IntOrString::String(_)))
}

/// (expected pods, desired healthy) given the number of selected pods and, when
/// [`needs_scale`], the controllers' total scale.
pub fn expected_and_desired(
    spec: &PodDisruptionBudgetSpec,
    pod_count: i32,
    scale: i32,
) -> Result<(i32, i32), String> {
    if let Some(max) = &spec.max_unavailable {
        let unavailable = scaled(max, scale, true)?;
        return Ok((scale, (scale - unavailable).max(0)));
    }
    match &spec.min_available {
        Some(IntOrString::Int(n)) => Ok((pod_count, *n)),
        Some(v @ IntOrString::String(_)) => Ok((scale, scaled(v, scale, true)?)),
        None => Ok((0, 0)),
    }
}

/// Disruptions allowed: none when nothing is expected yet (the first pods of a new
/// workload must not be evictable before the budget has seen them) or not enough are healthy.
pub fn disruptions_allowed(current_healthy: i32, desired_healthy: i32, expected: i32) -> i32 {
    let allowed = current_healthy - desired_healthy;
    if expected <= 0 || allowed <= 0 { 0 } else { allowed }
}

fn expires(t: &Time) -> Timestamp {
    let timeout = SignedDuration::from_secs(i64::try_from(DELETION_TIMEOUT.as_secs()).unwrap_or(120));
    t.0.checked_add(timeout).unwrap_or(t.0)
}

/// The `disruptedPods` entries still pending: for pods still selected, not being deleted,
/// and disrupted less than [`DELETION_TIMEOUT`] ago; and when the earliest of them lapses.
pub fn pending_disruptions(
    selected: &[&Pod],
    recorded: Option<&BTreeMap<String, Time>>,
    now: Timestamp,
) -> (BTreeMap<String, Time>, Option<Timestamp>) {
    let mut out = BTreeMap::new();
    let mut recheck: Option<Timestamp> = None;
    let Some(recorded) = recorded else {
        return (out, recheck);
    };
    for pod in selected {
        if pods::is_terminating(pod) {
            continue;
        }
        let name = pod.metadata.name.clone().unwrap_or_default();
        let Some(at) = recorded.get(&name) else { continue };
        let lapse = expires(at);
        if lapse < now {
            tracing::info!(pod = %name, "disruption: pod was expected to be deleted but was not");
            continue;
        }
        recheck = Some(recheck.map_or(lapse, |r| r.min(lapse)));
        out.insert(name, at.clone());
    }
    (out, recheck)
}

/// Selected pods Ready, not being deleted, and not just disrupted.
pub fn count_healthy(selected: &[&Pod], disrupted: &BTreeMap<String, Time>, now: Timestamp) -> i32 {
    let n = selected
        .iter()
        .filter(|p| !pods::is_terminating(p))
        .filter(|p| {
            let name = p.metadata.name.as_deref().unwrap_or_default();
            disrupted.get(name).is_none_or(|at| expires(at) <= now)
        })
        .filter(|p| pods::is_ready(p))
        .count();
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// The `DisruptionAllowed` condition for `allowed` (or a sync failure), keeping the
/// transition time of `old` when the status stays the same (as `meta.SetStatusCondition`).
pub fn condition(
    old: Option<&Condition>,
    allowed: i32,
    failure: Option<&str>,
    observed: Option<i64>,
    now: Time,
) -> Condition {
    let (status, reason, message) = match failure {
        Some(m) => ("False", SYNC_FAILED, m.to_string()),
        None if allowed > 0 => ("True", SUFFICIENT_PODS, String::new()),
        None => ("False", INSUFFICIENT_PODS, String::new()),
    };
    let last_transition_time = match old {
        Some(o) if o.status == status => o.last_transition_time.clone(),
        _ => now,
    };
    Condition {
        type_: DISRUPTION_ALLOWED.into(),
        status: status.into(),
        reason: reason.into(),
        message,
        observed_generation: observed,
        last_transition_time,
    }
}

#[cfg(test)]
mod tests;
