//! The status a replica controller writes, computed from the pods it claimed, and when
//! the next pod turns available (so the owner is looked at again then).

use std::collections::BTreeMap;

use k8s_openapi::{api::core::v1::Pod, apimachinery::pkg::apis::meta::v1::Time, jiff::Timestamp};

use super::pods::{available_at, is_available, is_ready};
use super::workload::{Condition, ReplicaStatus};

/// The condition type upstream sets when creating or deleting pods fails.
pub(crate) const REPLICA_FAILURE: &str = "ReplicaFailure";

/// Why the last create/delete round failed, for the `ReplicaFailure` condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ManageFailure {
    /// `FailedCreate` or `FailedDelete`.
    pub reason: &'static str,
    /// The API's message.
    pub message: String,
}

/// A timestamp at the second precision the API stores, so a status computed now compares
/// equal to the same status read back.
pub(crate) fn api_time(now: Timestamp) -> Time {
    Time(Timestamp::from_second(now.as_second()).unwrap_or(now))
}

/// The new status: counts over the claimed active pods, the generation observed, and the
/// `ReplicaFailure` condition set on a failure (keeping an existing one) or cleared.
pub(crate) fn calculate(
    old: &ReplicaStatus,
    template_labels: &BTreeMap<String, String>,
    pods: &[&Pod],
    min_ready_seconds: i32,
    generation: i64,
    failure: Option<&ManageFailure>,
    now: Timestamp,
) -> ReplicaStatus {
    let mut st = old.clone();
    let count =
        |f: &dyn Fn(&Pod) -> bool| i32::try_from(pods.iter().filter(|p| f(p)).count()).unwrap_or(i32::MAX);
    st.replicas = count(&|_| true);
    st.fully_labeled_replicas = count(&|p| {
        let labels = p.metadata.labels.as_ref();
        template_labels
            .iter()
            .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
    });
    st.ready_replicas = count(&|p| is_ready(p));
    st.available_replicas = count(&|p| is_available(p, min_ready_seconds, now));
    st.observed_generation = generation;
    let existing = st.conditions.iter().any(|c| c.type_ == REPLICA_FAILURE);
    match failure {
        Some(f) if !existing => st.conditions.push(Condition {
            type_: REPLICA_FAILURE.into(),
            status: "True".into(),
            reason: Some(f.reason.into()),
            message: Some(f.message.clone()),
            last_transition_time: Some(api_time(now)),
        }),
        None if existing => st.conditions.retain(|c| c.type_ != REPLICA_FAILURE),
        _ => {}
    }
    st
}

/// The earliest time after `now` at which a Ready pod becomes available.
pub(crate) fn next_available(pods: &[&Pod], min_ready_seconds: i32, now: Timestamp) -> Option<Timestamp> {
    if min_ready_seconds <= 0 {
        return None;
    }
    pods.iter()
        .filter_map(|p| available_at(p, min_ready_seconds))
        .filter(|t| *t >= now)
        .min()
}

#[cfg(test)]
mod tests {
    use super::super::pods::tests::pod;
    use super::*;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap()
    }

    #[test]
    fn counts() {
        let mut a = pod("a", "n", "Running", Some(100));
        a.metadata.labels = Some([("app".to_string(), "web".to_string())].into());
        let b = pod("b", "n", "Running", Some(195));
        let c = pod("c", "n", "Pending", None);
        let tl: BTreeMap<String, String> = [("app".to_string(), "web".to_string())].into();
        let st = calculate(
            &ReplicaStatus::default(),
            &tl,
            &[&a, &b, &c],
            10,
            4,
            None,
            at(200),
        );
        assert_eq!(
            (
                st.replicas,
                st.fully_labeled_replicas,
                st.ready_replicas,
                st.available_replicas
            ),
            (3, 1, 2, 1)
        );
        assert_eq!(st.observed_generation, 4);
        assert_eq!(next_available(&[&a, &b, &c], 10, at(200)), Some(at(205)));
        assert_eq!(next_available(&[&a, &b, &c], 0, at(200)), None);
    }

    #[test]
    fn failure_condition_set_kept_and_cleared() {
        let f = ManageFailure {
            reason: "FailedCreate",
            message: "exceeded quota".into(),
        };
        let tl = BTreeMap::new();
        let st = calculate(&ReplicaStatus::default(), &tl, &[], 0, 1, Some(&f), at(5));
        assert_eq!(st.conditions.len(), 1);
        assert_eq!(st.conditions[0].reason.as_deref(), Some("FailedCreate"));
        // A second failure keeps the first condition (and its time).
        let again = calculate(&st, &tl, &[], 0, 1, Some(&f), at(9));
        assert_eq!(again.conditions, st.conditions);
        let cleared = calculate(&again, &tl, &[], 0, 1, None, at(10));
        assert!(cleared.conditions.is_empty());
    }
}
