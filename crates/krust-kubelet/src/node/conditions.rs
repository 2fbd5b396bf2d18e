//! The node conditions the node agent owns, and how to tell when the API shows them
//! differently (the node lifecycle controller marks a silent node `Unknown`; the agent puts
//! `Ready=True` back at its next heartbeat).

use k8s_openapi::api::core::v1::{NodeCondition, NodeStatus};

use crate::clock::time;

/// Condition type, the status a healthy node reports, reason, message (upstream's).
pub(crate) const OWNED: [(&str, &str, &str, &str); 4] = [
    ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
    (
        "MemoryPressure",
        "False",
        "KubeletHasSufficientMemory",
        "kubelet has sufficient memory available",
    ),
    (
        "DiskPressure",
        "False",
        "KubeletHasNoDiskPressure",
        "kubelet has no disk pressure",
    ),
    (
        "PIDPressure",
        "False",
        "KubeletHasSufficientPID",
        "kubelet has sufficient PID available",
    ),
];

/// All owned conditions, as a bit mask.
pub(crate) const ALL: u8 = 0b1111;

/// Which owned conditions `status` lacks or shows with another status (bit `i` for
/// `OWNED[i]`).
pub(crate) fn stale_mask(status: Option<&NodeStatus>) -> u8 {
    let shown = status.and_then(|s| s.conditions.as_deref()).unwrap_or_default();
    OWNED
        .iter()
        .enumerate()
        .fold(0, |mask, (i, (type_, want, _, _))| {
            let ok = shown.iter().any(|c| c.type_ == *type_ && c.status == *want);
            if ok { mask } else { mask | (1 << i) }
        })
}

/// The owned conditions with `now` as heartbeat; those in `transitions` also get `now` as
/// transition time (the others leave the stored one alone under a strategic merge patch).
pub(crate) fn conditions(now: jiff::Timestamp, transitions: u8) -> Vec<NodeCondition> {
    OWNED
        .iter()
        .enumerate()
        .map(|(i, (type_, status, reason, message))| NodeCondition {
            type_: (*type_).into(),
            status: (*status).into(),
            reason: Some((*reason).into()),
            message: Some((*message).into()),
            last_heartbeat_time: Some(time(now)),
            last_transition_time: (transitions & (1 << i) != 0).then(|| time(now)),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_conditions() {
        let now = jiff::Timestamp::now();
        let healthy = NodeStatus {
            conditions: Some(conditions(now, ALL)),
            ..Default::default()
        };
        assert_eq!(stale_mask(Some(&healthy)), 0);
        assert_eq!(stale_mask(None), ALL);
        let mut unknown = healthy.clone();
        if let Some(c) = unknown.conditions.as_mut() {
            c[0].status = "Unknown".into();
            c.remove(3);
        }
        assert_eq!(stale_mask(Some(&unknown)), 0b1001);
    }

    #[test]
    fn transition_times_only_where_asked() {
        let c = conditions(jiff::Timestamp::now(), 0b0001);
        assert!(c[0].last_transition_time.is_some());
        assert!(
            c[1..]
                .iter()
                .all(|c| c.last_transition_time.is_none() && c.last_heartbeat_time.is_some())
        );
    }
}
