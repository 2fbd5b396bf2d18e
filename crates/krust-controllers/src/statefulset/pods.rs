//! Pod predicates the StatefulSet and DaemonSet controllers decide with, as upstream's
//! `stateful_set_utils.go` and `podutil` define them: created, finished, terminating,
//! running and ready, available after minReadySeconds; and a StatefulSet pod's ordinal.

use k8s_openapi::{
    api::core::v1::Pod,
    jiff::{SignedDuration, Timestamp},
};

use crate::history::POD_REVISION_LABEL;

fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or_default()
}

/// Whether the API has the pod (a placeholder the controller has yet to create has no
/// phase).
pub(crate) fn is_created(pod: &Pod) -> bool {
    !phase(pod).is_empty()
}

/// Whether the pod's containers are all done (Failed or Succeeded).
pub(crate) fn is_finished(pod: &Pod) -> bool {
    matches!(phase(pod), "Failed" | "Succeeded")
}

/// Whether the pod failed.
pub(crate) fn is_failed(pod: &Pod) -> bool {
    phase(pod) == "Failed"
}

/// Whether the pod is being deleted.
pub(crate) fn is_terminating(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
}

/// When the pod became Ready, if it is (`UNIX_EPOCH` when the time is unknown).
fn ready_since(pod: &Pod) -> Option<Timestamp> {
    let c = pod
        .status
        .as_ref()?
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "Ready" && c.status == "True")?;
    Some(
        c.last_transition_time
            .as_ref()
            .map_or(Timestamp::UNIX_EPOCH, |t| t.0),
    )
}

/// Whether the pod has the Ready condition.
pub(crate) fn is_ready(pod: &Pod) -> bool {
    ready_since(pod).is_some()
}

/// Whether the pod is Running and Ready.
pub(crate) fn is_running_and_ready(pod: &Pod) -> bool {
    phase(pod) == "Running" && is_ready(pod)
}

/// Whether a Ready pod has been Ready for `min_ready_seconds` at `now`.
pub(crate) fn is_available(pod: &Pod, min_ready_seconds: i32, now: Timestamp) -> bool {
    let Some(since) = ready_since(pod) else {
        return false;
    };
    if min_ready_seconds <= 0 {
        return true;
    }
    since
        .checked_add(SignedDuration::from_secs(i64::from(min_ready_seconds)))
        .is_ok_and(|t| t <= now)
}

/// Whether the pod is Running, Ready and available.
pub(crate) fn is_running_and_available(pod: &Pod, min_ready_seconds: i32, now: Timestamp) -> bool {
    phase(pod) == "Running" && is_available(pod, min_ready_seconds, now)
}

/// The revision a pod was made from (its `controller-revision-hash` label).
pub(crate) fn revision_of(pod: &Pod) -> &str {
    pod.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(POD_REVISION_LABEL))
        .map_or("", String::as_str)
}

/// Splits `<parent>-<ordinal>`; `None` when the name does not end in a number.
pub(crate) fn parent_and_ordinal(name: &str) -> Option<(&str, i32)> {
    let (parent, ord) = name.rsplit_once('-')?;
    if ord.is_empty() || !ord.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((parent, ord.parse().ok()?))
}

/// The ordinal of a pod of set `set`, if the pod's name is one of the set's.
pub(crate) fn ordinal_in(set: &str, pod: &Pod) -> Option<i32> {
    let name = pod.metadata.name.as_deref()?;
    parent_and_ordinal(name)
        .filter(|(p, _)| *p == set)
        .map(|(_, o)| o)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodCondition, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    /// A pod `name` in `phase`, Ready since `ready_at` (seconds after the epoch), with the
    /// revision label `revision`.
    pub(crate) fn pod(name: &str, phase: &str, ready_at: Option<i64>, revision: &str) -> Pod {
        let mut p = Pod::default();
        p.metadata.name = Some(name.into());
        p.metadata.uid = Some(format!("uid-{name}"));
        p.metadata.labels = Some([(POD_REVISION_LABEL.to_string(), revision.to_string())].into());
        p.status = Some(PodStatus {
            phase: (!phase.is_empty()).then(|| phase.into()),
            conditions: ready_at.map(|t| {
                vec![PodCondition {
                    type_: "Ready".into(),
                    status: "True".into(),
                    last_transition_time: Some(Time(Timestamp::from_second(t).unwrap_or_default())),
                    ..Default::default()
                }]
            }),
            ..Default::default()
        });
        p
    }

    #[test]
    fn predicates() {
        let at = |s| Timestamp::from_second(s).unwrap_or_default();
        let ok = pod("w-0", "Running", Some(100), "r1");
        assert!(is_created(&ok) && is_running_and_ready(&ok) && !is_finished(&ok));
        assert!(is_running_and_available(&ok, 0, at(100)));
        assert!(!is_running_and_available(&ok, 10, at(105)));
        assert!(is_running_and_available(&ok, 10, at(110)));
        assert!(!is_created(&pod("w-1", "", None, "r1")));
        assert!(is_finished(&pod("w-1", "Succeeded", None, "r1")));
        assert!(is_failed(&pod("w-1", "Failed", None, "r1")));
        assert!(!is_running_and_ready(&pod("w-1", "Pending", None, "r1")));
        assert_eq!(revision_of(&ok), "r1");
    }

    #[test]
    fn ordinals() {
        assert_eq!(parent_and_ordinal("web-12"), Some(("web", 12)));
        assert_eq!(parent_and_ordinal("my-db-0"), Some(("my-db", 0)));
        assert_eq!(parent_and_ordinal("web-x"), None);
        assert_eq!(parent_and_ordinal("web-"), None);
        assert_eq!(parent_and_ordinal("web"), None);
        let p = pod("my-db-3", "Running", None, "");
        assert_eq!(ordinal_in("my-db", &p), Some(3));
        assert_eq!(ordinal_in("my", &p), None);
    }
}
