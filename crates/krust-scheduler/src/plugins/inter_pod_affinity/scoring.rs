//! PreScore, Score and NormalizeScore of InterPodAffinity: every matching pair of (incoming
//! pod's preferred term, existing pod) and (existing pod's term, incoming pod) adds or
//! subtracts its weight to the existing pod's topology domain; a node scores the sum over
//! its domains, rescaled between the lowest and highest node.

use super::{InterPodAffinity, TopologyCounts};
use crate::cache::Snapshot;
use crate::framework::pod_info::{NamespaceLabels, WeightedTerm};
use crate::framework::{CycleState, MAX_NODE_SCORE, NodeInfo, PodInfo, PreScorePlugin, ScorePlugin, Status};

#[derive(Debug, Clone)]
pub(crate) struct PreScoreState(TopologyCounts);

fn process_weighted(
    counts: &mut TopologyCounts,
    terms: &[WeightedTerm],
    target: &PodInfo,
    ns: &NamespaceLabels,
    node: &NodeInfo,
    sign: i64,
) {
    for w in terms {
        if w.term.matches(target, ns) {
            counts.add(&w.term.topology_key, node.labels(), w.weight * sign);
        }
    }
}

impl PreScorePlugin for InterPodAffinity {
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        _nodes: &[&NodeInfo],
        snap: &Snapshot,
    ) -> Status {
        let has_preferred = !pod.preferred_affinity.is_empty() || !pod.preferred_anti_affinity.is_empty();
        if !has_preferred && !snap.any_pods_with_affinity() {
            return Status::skip();
        }
        let ns = snap.namespace_labels();
        let mut counts = TopologyCounts::default();
        let mut process = |node: &NodeInfo, existing: &PodInfo| {
            if node.labels().is_empty() {
                return;
            }
            process_weighted(&mut counts, &pod.preferred_affinity, existing, ns, node, 1);
            process_weighted(&mut counts, &pod.preferred_anti_affinity, existing, ns, node, -1);
            if self.hard_pod_affinity_weight > 0 {
                for t in &existing.required_affinity {
                    if t.matches(pod, ns) {
                        counts.add(&t.topology_key, node.labels(), self.hard_pod_affinity_weight);
                    }
                }
            }
            process_weighted(&mut counts, &existing.preferred_affinity, pod, ns, node, 1);
            process_weighted(&mut counts, &existing.preferred_anti_affinity, pod, ns, node, -1);
        };
        if has_preferred {
            for node in snap.nodes() {
                for existing in &node.pods {
                    process(node, existing);
                }
            }
        } else {
            for node in snap.have_pods_with_affinity() {
                for existing in &node.pods_with_affinity {
                    process(node, existing);
                }
            }
        }
        if counts.is_empty() {
            return Status::skip();
        }
        state.write(PreScoreState(counts));
        Status::success()
    }
}

impl ScorePlugin for InterPodAffinity {
    fn score(&self, state: &CycleState, _pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        let s = state
            .read::<PreScoreState>()
            .ok_or_else(|| Status::error("InterPodAffinity: missing PreScore state"))?;
        let labels = node.labels();
        Ok(s.0
            .0
            .iter()
            .filter_map(|(k, m)| labels.get(k).and_then(|v| m.get(v)))
            .sum())
    }

    fn normalize(
        &self,
        state: &CycleState,
        _pod: &PodInfo,
        _nodes: &[&NodeInfo],
        scores: &mut [i64],
    ) -> Status {
        if state.read::<PreScoreState>().is_none_or(|s| s.0.is_empty()) {
            return Status::success();
        }
        let min = scores.iter().copied().min().unwrap_or(0);
        let max = scores.iter().copied().max().unwrap_or(0);
        let diff = max - min;
        for s in scores.iter_mut() {
            *s = if diff > 0 {
                (MAX_NODE_SCORE as f64 * ((*s - min) as f64 / diff as f64)) as i64
            } else {
                0
            };
        }
        Status::success()
    }
}
