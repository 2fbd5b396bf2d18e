//! PreScore, Score and NormalizeScore of PodTopologySpread: a node scores by the matching
//! pods in its domains (weighted by ln(domains + 2), plus maxSkew − 1), and fewer is better
//! after normalisation.

use std::collections::{HashMap, HashSet};

use super::{Constraint, PodTopologySpread, count_matching, has_all_keys, is_hostname};
use crate::cache::Snapshot;
use crate::framework::{CycleState, MAX_NODE_SCORE, NodeInfo, PodInfo, PreScorePlugin, ScorePlugin, Status};
use crate::plugins::node_affinity::required_node_affinity;

#[derive(Debug, Clone)]
pub(crate) struct PreScoreState {
    constraints: Vec<Constraint>,
    ignored: HashSet<String>,
    counts: Vec<HashMap<String, i64>>,
    weights: Vec<f64>,
}

impl PreScorePlugin for PodTopologySpread {
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        nodes: &[&NodeInfo],
        snap: &Snapshot,
    ) -> Status {
        if snap.num_nodes() == 0 {
            return Status::skip();
        }
        let constraints = self.constraints(pod, "ScheduleAnyway");
        if constraints.is_empty() {
            return Status::skip();
        }
        let own = pod
            .spec()
            .topology_spread_constraints
            .as_ref()
            .is_some_and(|c| !c.is_empty());
        // System defaults do not require every key, so nodes without a zone still spread
        // by hostname.
        let require_all = own || !self.system_defaulted;
        let mut ignored = HashSet::new();
        let mut counts: Vec<HashMap<String, i64>> = vec![HashMap::new(); constraints.len()];
        for n in nodes {
            if require_all && !has_all_keys(n.labels(), &constraints) {
                ignored.insert(n.name().to_string());
                continue;
            }
            for (i, c) in constraints.iter().enumerate() {
                if is_hostname(&c.topology_key) {
                    continue;
                }
                let value = n.labels().get(&c.topology_key).cloned().unwrap_or_default();
                counts[i].entry(value).or_insert(0);
            }
        }
        let weights = constraints
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let size = if is_hostname(&c.topology_key) {
                    nodes.len() - ignored.len()
                } else {
                    counts[i].len()
                };
                ((size + 2) as f64).ln()
            })
            .collect();
        let required = required_node_affinity(pod);
        for node in snap.nodes() {
            if require_all && !has_all_keys(node.labels(), &constraints) {
                continue;
            }
            for (i, c) in constraints.iter().enumerate() {
                if is_hostname(&c.topology_key) || !c.includes_node(pod, node, &required) {
                    continue;
                }
                let value = node
                    .labels()
                    .get(&c.topology_key)
                    .map(String::as_str)
                    .unwrap_or("");
                if let Some(v) = counts[i].get_mut(value) {
                    *v += count_matching(node, &c.selector, pod.namespace());
                }
            }
        }
        state.write(PreScoreState {
            constraints,
            ignored,
            counts,
            weights,
        });
        Status::success()
    }
}

impl ScorePlugin for PodTopologySpread {
    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        let s = state
            .read::<PreScoreState>()
            .ok_or_else(|| Status::error("PodTopologySpread: missing PreScore state"))?;
        if s.ignored.contains(node.name()) {
            return Ok(0);
        }
        let mut score = 0.0;
        for (i, c) in s.constraints.iter().enumerate() {
            let Some(value) = node.labels().get(&c.topology_key) else {
                continue;
            };
            let count = if is_hostname(&c.topology_key) {
                count_matching(node, &c.selector, pod.namespace())
            } else {
                s.counts[i].get(value).copied().unwrap_or(0)
            };
            score += count as f64 * s.weights[i] + f64::from(c.max_skew - 1);
        }
        Ok(score.round() as i64)
    }

    fn normalize(
        &self,
        state: &CycleState,
        _pod: &PodInfo,
        nodes: &[&NodeInfo],
        scores: &mut [i64],
    ) -> Status {
        let Some(s) = state.read::<PreScoreState>() else {
            return Status::success();
        };
        let mut min = i64::MAX;
        let mut max = 0i64;
        for (n, score) in nodes.iter().zip(scores.iter()) {
            if s.ignored.contains(n.name()) {
                continue;
            }
            min = min.min(*score);
            max = max.max(*score);
        }
        for (n, score) in nodes.iter().zip(scores.iter_mut()) {
            *score = if s.ignored.contains(n.name()) {
                0
            } else if max == 0 {
                MAX_NODE_SCORE
            } else {
                MAX_NODE_SCORE * (max + min - *score) / max
            };
        }
        Status::success()
    }
}
