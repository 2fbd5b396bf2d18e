//! NodeUnschedulable: cordoned nodes (`spec.unschedulable`) take only pods that tolerate
//! the `node.kubernetes.io/unschedulable:NoSchedule` taint.

use k8s_openapi::api::core::v1::Taint;

use crate::framework::taints::{NO_SCHEDULE, TAINT_NODE_UNSCHEDULABLE, tolerated};
use crate::framework::{
    ClusterEvent, CycleState, EventKind, FilterPlugin, NodeInfo, Plugin, PodInfo, Status,
};

/// Registered name.
pub const NAME: &str = "NodeUnschedulable";
/// Filter reason.
pub const ERR_REASON_UNSCHEDULABLE: &str = "node(s) were unschedulable";
/// Filter reason when the node object is missing.
pub const ERR_REASON_UNKNOWN_CONDITION: &str = "node(s) had unknown conditions";

/// The plugin.
#[derive(Debug, Default)]
pub struct NodeUnschedulable;

fn tolerates_unschedulable(pod: &PodInfo) -> bool {
    let taint = Taint {
        key: TAINT_NODE_UNSCHEDULABLE.into(),
        effect: NO_SCHEDULE.into(),
        value: None,
        time_added: None,
    };
    tolerated(pod.tolerations(), &taint)
}

impl Plugin for NodeUnschedulable {
    fn name(&self) -> &'static str {
        NAME
    }
    fn as_filter(&self) -> Option<&dyn FilterPlugin> {
        Some(self)
    }
    fn events(&self) -> &'static [EventKind] {
        &[EventKind::NodeAdd, EventKind::NodeUpdate]
    }
    fn hint(&self, pod: &PodInfo, event: &ClusterEvent) -> bool {
        event
            .node
            .as_ref()
            .is_none_or(|n| !n.unschedulable() || tolerates_unschedulable(pod))
    }
}

impl FilterPlugin for NodeUnschedulable {
    fn filter(&self, _state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let Some(n) = &node.node else {
            return Status::unresolvable(ERR_REASON_UNKNOWN_CONDITION);
        };
        if n.unschedulable() && !tolerates_unschedulable(pod) {
            return Status::unresolvable(ERR_REASON_UNSCHEDULABLE);
        }
        Status::success()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::Code;
    use crate::plugins::testing::{node, pod};

    #[test]
    fn cordoned_nodes_need_the_toleration() {
        let n = node("n").unschedulable().info();
        let s = NodeUnschedulable.filter(&CycleState::default(), &pod("p").info(), &n);
        assert_eq!(s.code(), Code::UnschedulableAndUnresolvable);
        assert_eq!(s.message(), ERR_REASON_UNSCHEDULABLE);
        let tolerant = pod("p")
            .toleration(TAINT_NODE_UNSCHEDULABLE, "Exists", "", "NoSchedule")
            .info();
        assert!(
            NodeUnschedulable
                .filter(&CycleState::default(), &tolerant, &n)
                .is_success()
        );
        assert!(
            NodeUnschedulable
                .filter(&CycleState::default(), &pod("p").info(), &node("m").info())
                .is_success()
        );
    }
}
