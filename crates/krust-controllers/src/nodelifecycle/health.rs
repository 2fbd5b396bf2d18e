//! When a node was last heard from, and what its conditions become once it has been
//! silent for longer than the grace period, as upstream's `tryUpdateNodeHealth`.
//!
//! A node is heard from when its Lease is renewed (the kubelet's heartbeat, every 10 s) or
//! when its Ready condition shows a new heartbeat time (a status report). The times are the
//! controller's own observations (a monotonic clock), not the timestamps the node wrote, so
//! a node with a skewed clock is judged fairly.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, NodeCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, Time};
use tokio::time::Instant;

/// The conditions the kubelet owns and the controller turns Unknown when it goes silent
/// (NetworkUnavailable belongs to the network plugin and is left alone, as upstream).
pub const KUBELET_CONDITIONS: [&str; 4] = ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"];

/// Reason of a condition the controller turned Unknown.
pub const STATUS_UNKNOWN: &str = "NodeStatusUnknown";
/// Message of a condition the controller turned Unknown.
pub const STOPPED_POSTING: &str = "Kubelet stopped posting node status.";

/// What the controller remembers about one node between passes.
#[derive(Debug, Clone)]
pub struct Health {
    /// When the node was last heard from.
    pub probe: Instant,
    /// The node's Ready condition when it was last heard from.
    pub ready: Option<NodeCondition>,
    /// The renew time of its Lease when last renewed.
    pub lease_renewed: Option<MicroTime>,
}

/// The node's Ready condition.
pub fn ready_condition(node: &Node) -> Option<&NodeCondition> {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
}

/// The status of the node's Ready condition, `Unknown` if it never reported one.
pub fn ready_status(node: &Node) -> &str {
    ready_condition(node).map_or("Unknown", |c| c.status.as_str())
}

/// The node's health after looking at it at `now`: heard from if this is the first look,
/// if its Ready condition appeared, vanished or carries a new heartbeat, or if its Lease
/// was renewed since the last look.
pub fn observe(prev: Option<&Health>, node: &Node, lease: Option<&Lease>, now: Instant) -> Health {
    let current = ready_condition(node);
    let heard = match (prev, prev.and_then(|p| p.ready.as_ref()), current) {
        (None, _, _) => true,
        (Some(_), None, Some(_)) | (Some(_), Some(_), None) => true,
        (Some(_), Some(saved), Some(cur)) => saved.last_heartbeat_time != cur.last_heartbeat_time,
        (Some(_), None, None) => false,
    };
    let mut health = match prev {
        Some(p) if !heard => p.clone(),
        _ => Health {
            probe: now,
            ready: current.cloned(),
            lease_renewed: prev.and_then(|p| p.lease_renewed.clone()),
        },
    };
    let renewed = lease
        .and_then(|l| l.spec.as_ref())
        .and_then(|s| s.renew_time.as_ref());
    if let Some(r) = renewed
        && health.lease_renewed.as_ref().is_none_or(|saved| saved.0 < r.0)
    {
        health.lease_renewed = Some(r.clone());
        health.probe = now;
    }
    health
}

/// Whether the node has been silent for longer than it may be: `grace`, or `startup_grace`
/// for a node that never reported a Ready condition.
pub fn silent(health: &Health, node: &Node, grace: Duration, startup_grace: Duration, now: Instant) -> bool {
    let allowed = if ready_condition(node).is_some() {
        grace
    } else {
        startup_grace
    };
    now.duration_since(health.probe) > allowed
}

/// The kubelet conditions of a silent node that must change: each one not yet Unknown
/// becomes Unknown (keeping its last heartbeat, with `now` as transition time), and each one
/// missing is added as never updated. Empty when all are Unknown already.
pub fn unknown_conditions(node: &Node, now: &Time) -> Vec<NodeCondition> {
    let conditions = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default();
    KUBELET_CONDITIONS
        .iter()
        .filter_map(|type_| match conditions.iter().find(|c| c.type_ == *type_) {
            Some(c) if c.status == "Unknown" => None,
            Some(c) => Some(NodeCondition {
                status: "Unknown".into(),
                reason: Some(STATUS_UNKNOWN.into()),
                message: Some(STOPPED_POSTING.into()),
                last_transition_time: Some(now.clone()),
                ..c.clone()
            }),
            None => Some(NodeCondition {
                type_: (*type_).into(),
                status: "Unknown".into(),
                reason: Some("NodeStatusNeverUpdated".into()),
                message: Some("Kubelet never posted node status.".into()),
                last_heartbeat_time: node.metadata.creation_timestamp.clone(),
                last_transition_time: Some(now.clone()),
            }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::coordination::v1::LeaseSpec;
    use k8s_openapi::api::core::v1::NodeStatus;
    use k8s_openapi::jiff::Timestamp;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    fn node(conditions: &[(&str, &str, i64)]) -> Node {
        Node {
            status: Some(NodeStatus {
                conditions: Some(
                    conditions
                        .iter()
                        .map(|(t, s, hb)| NodeCondition {
                            type_: (*t).into(),
                            status: (*s).into(),
                            last_heartbeat_time: Some(Time(at(*hb))),
                            ..Default::default()
                        })
                        .collect(),
                ),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn lease(renewed: i64) -> Lease {
        Lease {
            spec: Some(LeaseSpec {
                renew_time: Some(MicroTime(at(renewed))),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_node_is_heard_from_through_its_lease_or_status() {
        let t0 = Instant::now();
        let grace = Duration::from_secs(50);
        let n = node(&[("Ready", "True", 100)]);
        let h = observe(None, &n, Some(&lease(100)), t0);
        assert_eq!(h.probe, t0);

        // Nothing new 60 s later: silent.
        let t1 = t0 + Duration::from_secs(60);
        let h1 = observe(Some(&h), &n, Some(&lease(100)), t1);
        assert_eq!(h1.probe, t0);
        assert!(silent(&h1, &n, grace, grace, t1));

        // A renewed lease counts as a heartbeat.
        let h2 = observe(Some(&h), &n, Some(&lease(110)), t1);
        assert_eq!(h2.probe, t1);
        assert!(!silent(&h2, &n, grace, grace, t1));

        // So does a new heartbeat time on the Ready condition.
        let n2 = node(&[("Ready", "True", 160)]);
        let h3 = observe(Some(&h), &n2, Some(&lease(100)), t1);
        assert_eq!(h3.probe, t1);
    }

    #[test]
    fn a_node_that_never_reported_gets_the_startup_grace() {
        let t0 = Instant::now();
        let n = node(&[]);
        let h = observe(None, &n, None, t0);
        let t1 = t0 + Duration::from_secs(55);
        let h1 = observe(Some(&h), &n, None, t1);
        assert!(!silent(
            &h1,
            &n,
            Duration::from_secs(50),
            Duration::from_secs(60),
            t1
        ));
        assert!(silent(
            &h1,
            &n,
            Duration::from_secs(50),
            Duration::from_secs(50),
            t1
        ));
    }

    #[test]
    fn silent_nodes_turn_unknown() {
        let now = Time(at(500));
        let n = node(&[
            ("Ready", "True", 100),
            ("MemoryPressure", "False", 100),
            ("DiskPressure", "Unknown", 90),
        ]);
        let changed = unknown_conditions(&n, &now);
        let summary: Vec<_> = changed
            .iter()
            .map(|c| {
                (
                    c.type_.as_str(),
                    c.status.as_str(),
                    c.reason.as_deref().unwrap_or(""),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("Ready", "Unknown", STATUS_UNKNOWN),
                ("MemoryPressure", "Unknown", STATUS_UNKNOWN),
                ("PIDPressure", "Unknown", "NodeStatusNeverUpdated"),
            ]
        );
        assert_eq!(changed[0].message.as_deref(), Some(STOPPED_POSTING));
        assert_eq!(
            changed[0].last_heartbeat_time,
            Some(Time(at(100))),
            "heartbeat kept"
        );
        assert_eq!(changed[0].last_transition_time, Some(now.clone()));

        let all_unknown = node(&[
            ("Ready", "Unknown", 1),
            ("MemoryPressure", "Unknown", 1),
            ("DiskPressure", "Unknown", 1),
            ("PIDPressure", "Unknown", 1),
        ]);
        assert!(unknown_conditions(&all_unknown, &now).is_empty());
        assert_eq!(ready_status(&all_unknown), "Unknown");
        assert_eq!(ready_status(&node(&[])), "Unknown");
    }
}
