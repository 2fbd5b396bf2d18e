//! NodeName: a pod that names its node (`spec.nodeName`) fits only there.

use crate::framework::{CycleState, EventKind, FilterPlugin, NodeInfo, Plugin, PodInfo, Status};

/// Registered name.
pub const NAME: &str = "NodeName";
/// Filter reason.
pub const ERR_REASON: &str = "node(s) didn't match the requested node name";

/// The plugin.
#[derive(Debug, Default)]
pub struct NodeName;

impl Plugin for NodeName {
    fn name(&self) -> &'static str {
        NAME
    }
    fn as_filter(&self) -> Option<&dyn FilterPlugin> {
        Some(self)
    }
    fn events(&self) -> &'static [EventKind] {
        &[EventKind::NodeAdd]
    }
}

impl FilterPlugin for NodeName {
    fn filter(&self, _state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let want = pod.node_name();
        if !want.is_empty() && want != node.name() {
            return Status::unresolvable(ERR_REASON);
        }
        Status::success()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testing::{node, pod};

    #[test]
    fn only_the_named_node() {
        let p = pod("p").node("a").info();
        assert!(
            NodeName
                .filter(&CycleState::default(), &p, &node("a").info())
                .is_success()
        );
        assert_eq!(
            NodeName
                .filter(&CycleState::default(), &p, &node("b").info())
                .message(),
            ERR_REASON
        );
        assert!(
            NodeName
                .filter(&CycleState::default(), &pod("q").info(), &node("b").info())
                .is_success()
        );
    }
}
