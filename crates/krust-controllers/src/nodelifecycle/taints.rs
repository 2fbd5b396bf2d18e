//! Which taints a node should carry for its conditions, as upstream's node lifecycle
//! controller decides them: the `NoExecute` taints that make the taint eviction controller
//! evict pods from a NotReady or unreachable node, and the `NoSchedule` taints of
//! TaintNodesByCondition that keep the scheduler away from nodes under pressure, down or
//! cordoned.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{Node, Taint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// The node's Ready condition is False.
pub const NOT_READY: &str = "node.kubernetes.io/not-ready";
/// The node stopped reporting (its Ready condition is Unknown).
pub const UNREACHABLE: &str = "node.kubernetes.io/unreachable";
/// The node is cordoned (`spec.unschedulable`).
pub const UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";
/// MemoryPressure is True.
pub const MEMORY_PRESSURE: &str = "node.kubernetes.io/memory-pressure";
/// DiskPressure is True.
pub const DISK_PRESSURE: &str = "node.kubernetes.io/disk-pressure";
/// PIDPressure is True.
pub const PID_PRESSURE: &str = "node.kubernetes.io/pid-pressure";
/// NetworkUnavailable is True.
pub const NETWORK_UNAVAILABLE: &str = "node.kubernetes.io/network-unavailable";

/// Evicts pods that do not tolerate it.
pub const NO_EXECUTE: &str = "NoExecute";
/// Keeps new pods away.
pub const NO_SCHEDULE: &str = "NoSchedule";

/// Condition type, the status that calls for a taint, the taint's key.
const BY_CONDITION: [(&str, &str, &str); 6] = [
    ("Ready", "False", NOT_READY),
    ("Ready", "Unknown", UNREACHABLE),
    ("MemoryPressure", "True", MEMORY_PRESSURE),
    ("DiskPressure", "True", DISK_PRESSURE),
    ("PIDPressure", "True", PID_PRESSURE),
    ("NetworkUnavailable", "True", NETWORK_UNAVAILABLE),
];

/// Whether this controller owns a `NoSchedule` taint with this key (the others on the node
/// belong to users and are left alone).
fn owned_no_schedule(key: &str) -> bool {
    key == UNSCHEDULABLE || BY_CONDITION.iter().any(|(_, _, k)| *k == key)
}

/// Whether this controller owns a `NoExecute` taint with this key.
fn owned_no_execute(key: &str) -> bool {
    key == NOT_READY || key == UNREACHABLE
}

/// The `NoSchedule` taint keys `node` should carry for its conditions and cordon.
pub fn no_schedule_keys(node: &Node) -> BTreeSet<&'static str> {
    let conditions = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default();
    let mut keys: BTreeSet<&'static str> = BY_CONDITION
        .iter()
        .filter(|(type_, status, _)| {
            conditions
                .iter()
                .any(|c| c.type_ == *type_ && c.status == *status)
        })
        .map(|(_, _, key)| *key)
        .collect();
    if node.spec.as_ref().and_then(|s| s.unschedulable) == Some(true) {
        keys.insert(UNSCHEDULABLE);
    }
    keys
}

/// The `NoExecute` taint key a node with this Ready status should carry (None: no taint).
pub fn no_execute_key(ready: &str) -> Option<&'static str> {
    match ready {
        "False" => Some(NOT_READY),
        "True" => None,
        _ => Some(UNREACHABLE),
    }
}

/// The controller-owned `NoExecute` taint the node carries now, if any.
pub fn current_no_execute(taints: &[Taint]) -> Option<&str> {
    taints
        .iter()
        .find(|t| t.effect == NO_EXECUTE && owned_no_execute(&t.key))
        .map(|t| t.key.as_str())
}

/// What to do with the controller-owned `NoExecute` taints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoExecute {
    /// Leave them as they are (e.g. waiting for the eviction rate limiter).
    Keep,
    /// Carry exactly this one (the other owned one is removed).
    Set(&'static str),
    /// Carry none.
    Clear,
}

/// The node's taints after making the owned `NoSchedule` taints exactly `no_schedule` and
/// applying `no_execute`; `None` when nothing changes. Taints of others keep their order;
/// new ones go last; a new `NoExecute` taint records `now` as its timeAdded (the taint
/// eviction controller and users read it).
pub fn reconcile(
    current: &[Taint],
    no_schedule: &BTreeSet<&'static str>,
    no_execute: NoExecute,
    now: &Time,
) -> Option<Vec<Taint>> {
    let keep_taint = |t: &Taint| -> bool {
        if t.effect == NO_SCHEDULE && owned_no_schedule(&t.key) {
            return no_schedule.contains(t.key.as_str());
        }
        if t.effect == NO_EXECUTE && owned_no_execute(&t.key) {
            return match no_execute {
                NoExecute::Keep => true,
                NoExecute::Set(k) => t.key == k,
                NoExecute::Clear => false,
            };
        }
        true
    };
    let mut out: Vec<Taint> = current.iter().filter(|t| keep_taint(t)).cloned().collect();
    let has =
        |list: &[Taint], key: &str, effect: &str| list.iter().any(|t| t.key == key && t.effect == effect);
    for key in no_schedule {
        if !has(&out, key, NO_SCHEDULE) {
            out.push(Taint {
                key: (*key).to_string(),
                effect: NO_SCHEDULE.into(),
                value: None,
                time_added: None,
            });
        }
    }
    if let NoExecute::Set(key) = no_execute
        && !has(&out, key, NO_EXECUTE)
    {
        out.push(Taint {
            key: key.to_string(),
            effect: NO_EXECUTE.into(),
            value: None,
            time_added: Some(now.clone()),
        });
    }
    (out != current).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{NodeCondition, NodeSpec, NodeStatus};
    use k8s_openapi::jiff::Timestamp;

    fn node(conditions: &[(&str, &str)], unschedulable: bool) -> Node {
        Node {
            spec: Some(NodeSpec {
                unschedulable: Some(unschedulable),
                ..Default::default()
            }),
            status: Some(NodeStatus {
                conditions: Some(
                    conditions
                        .iter()
                        .map(|(t, s)| NodeCondition {
                            type_: (*t).into(),
                            status: (*s).into(),
                            ..Default::default()
                        })
                        .collect(),
                ),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn taint(key: &str, effect: &str) -> Taint {
        Taint {
            key: key.into(),
            effect: effect.into(),
            ..Default::default()
        }
    }

    fn keys(taints: &[Taint]) -> Vec<String> {
        taints.iter().map(|t| format!("{}:{}", t.key, t.effect)).collect()
    }

    #[test]
    fn no_schedule_taints_follow_conditions_and_cordon() {
        let healthy = node(
            &[
                ("Ready", "True"),
                ("MemoryPressure", "False"),
                ("DiskPressure", "False"),
            ],
            false,
        );
        assert!(no_schedule_keys(&healthy).is_empty());
        let sick = node(
            &[
                ("Ready", "False"),
                ("MemoryPressure", "True"),
                ("DiskPressure", "True"),
                ("PIDPressure", "True"),
                ("NetworkUnavailable", "True"),
            ],
            true,
        );
        assert_eq!(
            no_schedule_keys(&sick).into_iter().collect::<Vec<_>>(),
            [
                DISK_PRESSURE,
                MEMORY_PRESSURE,
                NETWORK_UNAVAILABLE,
                NOT_READY,
                PID_PRESSURE,
                UNSCHEDULABLE
            ]
        );
        let gone = node(&[("Ready", "Unknown"), ("MemoryPressure", "Unknown")], false);
        assert_eq!(
            no_schedule_keys(&gone).into_iter().collect::<Vec<_>>(),
            [UNREACHABLE]
        );
    }

    #[test]
    fn no_execute_follows_ready() {
        assert_eq!(no_execute_key("False"), Some(NOT_READY));
        assert_eq!(no_execute_key("Unknown"), Some(UNREACHABLE));
        assert_eq!(no_execute_key("True"), None);
    }

    #[test]
    fn reconcile_adds_swaps_and_removes_only_owned_taints() {
        let now = Time(Timestamp::UNIX_EPOCH);
        let user = taint("dedicated", NO_SCHEDULE);
        let user_ne = taint(UNREACHABLE, "PreferNoSchedule");
        let current = vec![user.clone(), taint(NOT_READY, NO_EXECUTE), user_ne.clone()];

        // Unreachable now: swap the NoExecute taint, add the NoSchedule one.
        let want = BTreeSet::from([UNREACHABLE]);
        let out = reconcile(&current, &want, NoExecute::Set(UNREACHABLE), &now).unwrap();
        assert_eq!(
            keys(&out),
            [
                "dedicated:NoSchedule",
                "node.kubernetes.io/unreachable:PreferNoSchedule",
                "node.kubernetes.io/unreachable:NoSchedule",
                "node.kubernetes.io/unreachable:NoExecute"
            ]
        );
        assert_eq!(
            out[3].time_added,
            Some(now.clone()),
            "NoExecute taints are stamped"
        );
        assert_eq!(out[2].time_added, None);

        // Nothing to change: None.
        assert_eq!(reconcile(&out, &want, NoExecute::Set(UNREACHABLE), &now), None);
        assert_eq!(reconcile(&out, &want, NoExecute::Keep, &now), None);

        // Healthy again: only the user's taints stay.
        let out = reconcile(&out, &BTreeSet::new(), NoExecute::Clear, &now).unwrap();
        assert_eq!(keys(&out), keys(&[user, user_ne]));
    }

    #[test]
    fn keep_leaves_no_execute_taints_alone() {
        let now = Time(Timestamp::UNIX_EPOCH);
        let current = vec![taint(NOT_READY, NO_EXECUTE)];
        assert_eq!(reconcile(&current, &BTreeSet::new(), NoExecute::Keep, &now), None);
        assert_eq!(reconcile(&[], &BTreeSet::new(), NoExecute::Keep, &now), None);
        assert_eq!(current_no_execute(&current), Some(NOT_READY));
        assert_eq!(current_no_execute(&[taint(NOT_READY, NO_SCHEDULE)]), None);
    }
}
