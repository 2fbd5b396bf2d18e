//! NodeAffinity: a pod fits only nodes matching its `nodeSelector` and its required node
//! affinity (terms ORed, expressions and fields ANDed); preferred terms add their weight to
//! the score of the nodes they match.

use super::helpers::normalize;
use crate::cache::Snapshot;
use crate::framework::selector::{NodeTerm, RequiredNodeAffinity};
use crate::framework::{
    ClusterEvent, CycleState, EventKind, FilterPlugin, NodeInfo, Plugin, PodInfo, PreFilterPlugin,
    PreScorePlugin, ScorePlugin, Status,
};

/// Registered name.
pub const NAME: &str = "NodeAffinity";
/// Filter reason.
pub const ERR_REASON_POD: &str = "node(s) didn't match Pod's node affinity/selector";

/// The plugin.
#[derive(Debug, Default)]
pub struct NodeAffinity;

#[derive(Clone)]
struct PreFilterState(RequiredNodeAffinity);

#[derive(Clone)]
struct PreScoreState(Vec<(Option<NodeTerm>, i64)>);

/// The pod's hard node constraints.
pub fn required_node_affinity(pod: &PodInfo) -> RequiredNodeAffinity {
    let spec = pod.spec();
    let terms = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|n| n.required_during_scheduling_ignored_during_execution.as_ref())
        .map(|s| s.node_selector_terms.as_slice());
    RequiredNodeAffinity::new(spec.node_selector.as_ref(), terms)
}

impl Plugin for NodeAffinity {
    fn name(&self) -> &'static str {
        NAME
    }
    fn as_pre_filter(&self) -> Option<&dyn PreFilterPlugin> {
        Some(self)
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
            .is_none_or(|n| required_node_affinity(pod).matches(n.labels(), &n.name))
    }
}

impl PreFilterPlugin for NodeAffinity {
    fn pre_filter(&self, state: &mut CycleState, pod: &PodInfo, _snap: &Snapshot) -> Status {
        let req = required_node_affinity(pod);
        if req.is_empty() {
            return Status::skip();
        }
        state.write(PreFilterState(req));
        Status::success()
    }
}

impl FilterPlugin for NodeAffinity {
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let matches = match state.read::<PreFilterState>() {
            Some(s) => s.0.matches(node.labels(), node.name()),
            None => required_node_affinity(pod).matches(node.labels(), node.name()),
        };
        if matches {
            Status::success()
        } else {
            Status::unresolvable(ERR_REASON_POD)
        }
    }
}

impl PreScorePlugin for NodeAffinity {
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        _nodes: &[&NodeInfo],
        _snap: &Snapshot,
    ) -> Status {
        let preferred = pod
            .spec()
            .affinity
            .as_ref()
            .and_then(|a| a.node_affinity.as_ref())
            .and_then(|n| n.preferred_during_scheduling_ignored_during_execution.as_ref());
        let mut terms = Vec::new();
        for p in preferred.into_iter().flatten() {
            if p.weight == 0 {
                continue;
            }
            let pref = &p.preference;
            let empty = pref.match_expressions.as_ref().is_none_or(Vec::is_empty)
                && pref.match_fields.as_ref().is_none_or(Vec::is_empty);
            if empty {
                // An empty preference matches every node.
                terms.push((None, i64::from(p.weight)));
            } else if let Some(t) = NodeTerm::parse(pref) {
                terms.push((Some(t), i64::from(p.weight)));
            }
        }
        if terms.is_empty() {
            return Status::skip();
        }
        state.write(PreScoreState(terms));
        Status::success()
    }
}

impl ScorePlugin for NodeAffinity {
    fn score(&self, state: &CycleState, _pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        let s = state
            .read::<PreScoreState>()
            .ok_or_else(|| Status::error("NodeAffinity: missing PreScore state"))?;
        Ok(s.0
            .iter()
            .filter(|(t, _)| t.as_ref().is_none_or(|t| t.matches(node.labels(), node.name())))
            .map(|(_, w)| w)
            .sum())
    }

    fn normalize(
        &self,
        _state: &CycleState,
        _pod: &PodInfo,
        _nodes: &[&NodeInfo],
        scores: &mut [i64],
    ) -> Status {
        normalize(false, scores);
        Status::success()
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{
        Affinity, NodeAffinity as ApiNodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm,
        PreferredSchedulingTerm,
    };

    use super::*;
    use crate::framework::Code;
    use crate::plugins::testing::{filter_all, node, pod, score_all};

    fn req(key: &str, op: &str, values: &[&str]) -> NodeSelectorRequirement {
        NodeSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: Some(values.iter().map(|s| s.to_string()).collect()),
        }
    }

    fn snap() -> Snapshot {
        Snapshot::from_nodes(vec![
            node("a").label("zone", "z1").label("disk", "ssd").info(),
            node("b").label("zone", "z2").info(),
            node("c").info(),
        ])
    }

    #[test]
    fn node_selector_and_required_terms() {
        let p = pod("p").node_selector("disk", "ssd").info();
        let s = filter_all(Some(&NodeAffinity), &NodeAffinity, &p, &snap());
        assert!(s[0].is_success());
        assert_eq!(s[1].code(), Code::UnschedulableAndUnresolvable);
        assert_eq!(s[1].message(), ERR_REASON_POD);

        let aff = Affinity {
            node_affinity: Some(ApiNodeAffinity {
                required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                    node_selector_terms: vec![
                        NodeSelectorTerm {
                            match_expressions: Some(vec![req("zone", "In", &["z2"])]),
                            match_fields: None,
                        },
                        NodeSelectorTerm {
                            match_expressions: None,
                            match_fields: Some(vec![req("metadata.name", "In", &["c"])]),
                        },
                    ],
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let p = pod("p").affinity(aff).info();
        let s = filter_all(Some(&NodeAffinity), &NodeAffinity, &p, &snap());
        assert_eq!(
            s.iter().map(Status::is_success).collect::<Vec<_>>(),
            vec![false, true, true]
        );
    }

    #[test]
    fn preferred_terms_score_by_weight() {
        let aff = Affinity {
            node_affinity: Some(ApiNodeAffinity {
                preferred_during_scheduling_ignored_during_execution: Some(vec![
                    PreferredSchedulingTerm {
                        weight: 10,
                        preference: NodeSelectorTerm {
                            match_expressions: Some(vec![req("zone", "In", &["z1"])]),
                            match_fields: None,
                        },
                    },
                    PreferredSchedulingTerm {
                        weight: 30,
                        preference: NodeSelectorTerm {
                            match_expressions: Some(vec![req("zone", "Exists", &[])]),
                            match_fields: None,
                        },
                    },
                ]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let p = pod("p").affinity(aff).info();
        assert_eq!(score_all(&NodeAffinity, &p, &snap()), vec![100, 75, 0]);
        assert_eq!(score_all(&NodeAffinity, &pod("q").info(), &snap()), vec![0, 0, 0]);
    }
}
