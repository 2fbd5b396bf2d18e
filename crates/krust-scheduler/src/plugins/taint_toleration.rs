//! TaintToleration: a pod may not land on a node with a NoSchedule or NoExecute taint it
//! does not tolerate; among feasible nodes, fewer untolerated PreferNoSchedule taints
//! score higher.

use k8s_openapi::api::core::v1::Toleration;

use super::helpers::normalize;
use crate::cache::Snapshot;
use crate::framework::taints::{PREFER_NO_SCHEDULE, first_untolerated_hard_taint, tolerated};
use crate::framework::{
    ClusterEvent, CycleState, EventKind, FilterPlugin, NodeInfo, Plugin, PodInfo, PreScorePlugin,
    ScorePlugin, Status,
};

/// Registered name.
pub const NAME: &str = "TaintToleration";

/// The plugin.
#[derive(Debug, Default)]
pub struct TaintToleration;

#[derive(Clone)]
struct PreScoreState {
    prefer_no_schedule_tolerations: Vec<Toleration>,
}

/// The Filter reason for an untolerated taint: `node(s) had untolerated taint {key: value}`.
pub fn untolerated_reason(key: &str, value: &str) -> String {
    format!("node(s) had untolerated taint {{{key}: {value}}}")
}

impl Plugin for TaintToleration {
    fn name(&self) -> &'static str {
        NAME
    }
    fn as_filter(&self) -> Option<&dyn FilterPlugin> {
        Some(self)
    }
    fn as_pre_score(&self) -> Option<&dyn PreScorePlugin> {
        Some(self)
    }
    fn as_score(&self) -> Option<&dyn ScorePlugin> {
        Some(self)
    }
    fn events(&self) -> &'static [EventKind] {
        &[EventKind::NodeAdd, EventKind::NodeUpdate]
    }
    fn hint(&self, pod: &PodInfo, event: &ClusterEvent) -> bool {
        event
            .node
            .as_ref()
            .is_none_or(|n| first_untolerated_hard_taint(n.taints(), pod.tolerations()).is_none())
    }
}

impl FilterPlugin for TaintToleration {
    fn filter(&self, _state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let Some(n) = &node.node else {
            return Status::error("invalid nodeInfo");
        };
        match first_untolerated_hard_taint(n.taints(), pod.tolerations()) {
            None => Status::success(),
            Some(t) => Status::unresolvable(untolerated_reason(&t.key, t.value.as_deref().unwrap_or(""))),
        }
    }
}

impl PreScorePlugin for TaintToleration {
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        _nodes: &[&NodeInfo],
        _snap: &Snapshot,
    ) -> Status {
        let prefer_no_schedule_tolerations = pod
            .tolerations()
            .iter()
            .filter(|t| {
                t.effect
                    .as_deref()
                    .is_none_or(|e| e.is_empty() || e == PREFER_NO_SCHEDULE)
            })
            .cloned()
            .collect();
        state.write(PreScoreState {
            prefer_no_schedule_tolerations,
        });
        Status::success()
    }
}

impl ScorePlugin for TaintToleration {
    fn score(&self, state: &CycleState, _pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        let s = state
            .read::<PreScoreState>()
            .ok_or_else(|| Status::error("TaintToleration: missing PreScore state"))?;
        let taints = node.node.as_ref().map(|n| n.taints()).unwrap_or(&[]);
        Ok(taints
            .iter()
            .filter(|t| t.effect == PREFER_NO_SCHEDULE && !tolerated(&s.prefer_no_schedule_tolerations, t))
            .count() as i64)
    }

    fn normalize(
        &self,
        _state: &CycleState,
        _pod: &PodInfo,
        _nodes: &[&NodeInfo],
        scores: &mut [i64],
    ) -> Status {
        normalize(true, scores);
        Status::success()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::Code;
    use crate::plugins::testing::{filter_all, node, pod, score_all};

    #[test]
    fn filter_reports_the_first_untolerated_hard_taint() {
        let snap = Snapshot::from_nodes(vec![
            node("gpu").taint("dedicated", "gpu", "NoSchedule").info(),
            node("soft").taint("x", "", "PreferNoSchedule").info(),
            node("evict")
                .taint("node.kubernetes.io/unreachable", "", "NoExecute")
                .info(),
        ]);
        let s = filter_all(None, &TaintToleration, &pod("p").info(), &snap);
        assert_eq!(s[0].code(), Code::UnschedulableAndUnresolvable);
        assert_eq!(s[0].message(), "node(s) had untolerated taint {dedicated: gpu}");
        assert!(s[1].is_success());
        assert_eq!(
            s[2].message(),
            "node(s) had untolerated taint {node.kubernetes.io/unreachable: }"
        );
        let tolerant = pod("p")
            .toleration("dedicated", "Equal", "gpu", "NoSchedule")
            .info();
        assert!(filter_all(None, &TaintToleration, &tolerant, &snap)[0].is_success());
    }

    #[test]
    fn score_prefers_fewer_prefer_no_schedule_taints() {
        let snap = Snapshot::from_nodes(vec![
            node("clean").info(),
            node("one").taint("a", "", "PreferNoSchedule").info(),
            node("two")
                .taint("a", "", "PreferNoSchedule")
                .taint("b", "", "PreferNoSchedule")
                .info(),
        ]);
        assert_eq!(
            score_all(&TaintToleration, &pod("p").info(), &snap),
            vec![100, 50, 0]
        );
        let tolerant = pod("p").toleration("a", "Exists", "", "PreferNoSchedule").info();
        assert_eq!(score_all(&TaintToleration, &tolerant, &snap), vec![100, 100, 0]);
    }
}
