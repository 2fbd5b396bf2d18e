//! Pod predicates the replica controllers count with, as upstream's `podutil`: active,
//! ready, available after minReadySeconds, and when a pod will become available.

use k8s_openapi::{
    api::core::v1::{Pod, PodCondition},
    jiff::{SignedDuration, Timestamp},
};

/// Whether a pod counts toward replicas: not finished and not being deleted.
pub(crate) fn is_active(pod: &Pod) -> bool {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    !matches!(phase, Some("Succeeded" | "Failed")) && pod.metadata.deletion_timestamp.is_none()
}

/// The pod's `Ready` condition.
pub(crate) fn ready_condition(pod: &Pod) -> Option<&PodCondition> {
    pod.status
        .as_ref()?
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "Ready")
}

/// Whether the pod is Ready.
pub(crate) fn is_ready(pod: &Pod) -> bool {
    ready_condition(pod).is_some_and(|c| c.status == "True")
}

/// When the pod became Ready (the condition's last transition), if it is Ready.
pub(crate) fn ready_since(pod: &Pod) -> Option<Timestamp> {
    let c = ready_condition(pod).filter(|c| c.status == "True")?;
    c.last_transition_time.as_ref().map(|t| t.0)
}

/// When a Ready pod counts as available: right away without minReadySeconds or without a
/// known transition time, else minReadySeconds after it became Ready. `None` if not Ready.
pub(crate) fn available_at(pod: &Pod, min_ready_seconds: i32) -> Option<Timestamp> {
    if !is_ready(pod) {
        return None;
    }
    if min_ready_seconds <= 0 {
        return Some(Timestamp::UNIX_EPOCH);
    }
    match ready_since(pod) {
        Some(t) => t
            .checked_add(SignedDuration::from_secs(i64::from(min_ready_seconds)))
            .ok(),
        None => Some(Timestamp::UNIX_EPOCH),
    }
}

/// Whether the pod has been Ready for minReadySeconds at `now` (strictly after, as upstream).
pub(crate) fn is_available(pod: &Pod, min_ready_seconds: i32, now: Timestamp) -> bool {
    match available_at(pod, min_ready_seconds) {
        Some(at) if at == Timestamp::UNIX_EPOCH => true,
        Some(at) => at < now,
        None => false,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodSpec, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    /// A test pod: name, node, phase, ready since (seconds after the epoch).
    pub(crate) fn pod(name: &str, node: &str, phase: &str, ready_at: Option<i64>) -> Pod {
        let mut p = Pod::default();
        p.metadata.name = Some(name.into());
        p.metadata.uid = Some(format!("uid-{name}"));
        p.spec = Some(PodSpec {
            node_name: (!node.is_empty()).then(|| node.into()),
            ..Default::default()
        });
        p.status = Some(PodStatus {
            phase: Some(phase.into()),
            conditions: ready_at.map(|t| {
                vec![PodCondition {
                    type_: "Ready".into(),
                    status: "True".into(),
                    last_transition_time: Some(Time(Timestamp::from_second(t).unwrap())),
                    ..Default::default()
                }]
            }),
            ..Default::default()
        });
        p
    }

    #[test]
    fn activity_and_readiness() {
        let running = pod("a", "n", "Running", Some(100));
        assert!(is_active(&running) && is_ready(&running));
        assert!(!is_active(&pod("b", "n", "Succeeded", None)));
        assert!(!is_active(&pod("c", "n", "Failed", None)));
        let mut dying = pod("d", "n", "Running", Some(1));
        dying.metadata.deletion_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
        assert!(!is_active(&dying));
        assert!(!is_ready(&pod("e", "n", "Running", None)));
    }

    #[test]
    fn availability_waits_min_ready_seconds() {
        let p = pod("a", "n", "Running", Some(100));
        let at = |s| Timestamp::from_second(s).unwrap();
        assert!(is_available(&p, 0, at(100)));
        assert!(!is_available(&p, 10, at(105)));
        assert!(!is_available(&p, 10, at(110)));
        assert!(is_available(&p, 10, at(111)));
        assert_eq!(available_at(&p, 10), Some(at(110)));
        assert!(!is_available(&pod("b", "n", "Running", None), 0, at(1)));
    }
}
