//! NodePorts: a pod asking for host ports fits only nodes where no placed pod uses the same
//! port and protocol on an overlapping IP.

use crate::cache::Snapshot;
use crate::framework::pod_info::HostPort;
use crate::framework::{
    CycleState, EventKind, FilterPlugin, NodeInfo, Plugin, PodInfo, PreFilterPlugin, Status,
};

/// Registered name.
pub const NAME: &str = "NodePorts";
/// Filter reason.
pub const ERR_REASON: &str = "node(s) didn't have free ports for the requested pod ports";

/// The plugin.
#[derive(Debug, Default)]
pub struct NodePorts;

#[derive(Clone)]
struct PreFilterState(Vec<HostPort>);

impl Plugin for NodePorts {
    fn name(&self) -> &'static str {
        NAME
    }
    fn as_pre_filter(&self) -> Option<&dyn PreFilterPlugin> {
        Some(self)
    }
    fn as_filter(&self) -> Option<&dyn FilterPlugin> {
        Some(self)
    }
    fn events(&self) -> &'static [EventKind] {
        &[EventKind::AssignedPodDelete, EventKind::NodeAdd]
    }
}

impl PreFilterPlugin for NodePorts {
    fn pre_filter(&self, state: &mut CycleState, pod: &PodInfo, _snap: &Snapshot) -> Status {
        if pod.host_ports.is_empty() {
            return Status::skip();
        }
        state.write(PreFilterState(pod.host_ports.clone()));
        Status::success()
    }
}

impl FilterPlugin for NodePorts {
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let wanted = state
            .read::<PreFilterState>()
            .map(|s| &s.0)
            .unwrap_or(&pod.host_ports);
        if wanted.iter().any(|p| node.port_conflict(p)) {
            return Status::unschedulable(ERR_REASON);
        }
        Status::success()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::Code;
    use crate::plugins::testing::{filter_all, node, pod};

    #[test]
    fn host_port_conflicts() {
        let snap = Snapshot::from_nodes(vec![
            node("busy").with_pods(vec![pod("web").host_port(8080, "TCP", "")]),
            node("other-ip").with_pods(vec![pod("web2").host_port(8080, "TCP", "10.0.0.1")]),
            node("free").info(),
        ]);
        let p = pod("p").host_port(8080, "TCP", "10.0.0.2").info();
        let s = filter_all(Some(&NodePorts), &NodePorts, &p, &snap);
        assert_eq!(s[0].code(), Code::Unschedulable);
        assert_eq!(s[0].message(), ERR_REASON);
        assert!(s[1].is_success());
        assert!(s[2].is_success());
        let udp = pod("q").host_port(8080, "UDP", "").info();
        assert!(
            filter_all(Some(&NodePorts), &NodePorts, &udp, &snap)
                .iter()
                .all(Status::is_success)
        );
    }
}
