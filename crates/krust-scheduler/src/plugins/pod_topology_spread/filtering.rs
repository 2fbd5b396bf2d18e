//! PreFilter and Filter of PodTopologySpread: matching pods counted per domain once per
//! cycle, with the two least-loaded domains of each constraint tracked so Filter and
//! preemption's add/remove updates stay O(1) per node.

use std::collections::HashMap;

use super::{
    Constraint, ERR_REASON_CONSTRAINTS_NOT_MATCH, ERR_REASON_NODE_LABEL_NOT_MATCH, PodTopologySpread,
    count_matching, has_all_keys,
};
use crate::cache::Snapshot;
use crate::framework::selector::RequiredNodeAffinity;
use crate::framework::{CycleState, FilterPlugin, NodeInfo, PodInfo, PreFilterPlugin, Status};
use crate::plugins::node_affinity::required_node_affinity;

/// The two domains with the fewest matching pods (the first is always the minimum).
#[derive(Debug, Clone)]
pub(crate) struct CriticalPaths([(String, i64); 2]);

impl CriticalPaths {
    fn new() -> Self {
        CriticalPaths([(String::new(), i64::MAX), (String::new(), i64::MAX)])
    }

    fn update(&mut self, value: &str, num: i64) {
        let p = &mut self.0;
        let i = if p[0].0 == value {
            Some(0)
        } else if p[1].0 == value {
            Some(1)
        } else {
            None
        };
        match i {
            Some(i) => {
                p[i].1 = num;
                if p[0].1 > p[1].1 {
                    p.swap(0, 1);
                }
            }
            None if num < p[0].1 => {
                p[1] = p[0].clone();
                p[0] = (value.to_string(), num);
            }
            None if num < p[1].1 => p[1] = (value.to_string(), num),
            None => {}
        }
    }

    fn min(&self) -> i64 {
        self.0[0].1
    }
}

/// Per-cycle state: counts of matching pods per domain, per constraint.
#[derive(Debug, Clone)]
pub(crate) struct PreFilterState {
    constraints: Vec<Constraint>,
    counts: Vec<HashMap<String, i64>>,
    paths: Vec<CriticalPaths>,
    domains: Vec<usize>,
    required: RequiredNodeAffinity,
}

impl PreFilterState {
    fn min_match(&self, i: usize) -> i64 {
        if self.domains[i] < self.constraints[i].min_domains.max(0) as usize {
            // Fewer eligible domains than minDomains: the global minimum counts as 0.
            return 0;
        }
        self.paths[i].min()
    }

    fn update_with_pod(&mut self, updated: &PodInfo, pod: &PodInfo, node: &NodeInfo, delta: i64) {
        if updated.namespace() != pod.namespace() || !has_all_keys(node.labels(), &self.constraints) {
            return;
        }
        for i in 0..self.constraints.len() {
            let c = &self.constraints[i];
            if !c.selector.matches(updated.labels()) || !c.includes_node(pod, node, &self.required) {
                continue;
            }
            let value = node.labels().get(&c.topology_key).cloned().unwrap_or_default();
            let n = self.counts[i].entry(value.clone()).or_insert(0);
            *n += delta;
            let n = *n;
            self.paths[i].update(&value, n);
        }
    }
}

impl PreFilterPlugin for PodTopologySpread {
    fn pre_filter(&self, state: &mut CycleState, pod: &PodInfo, snap: &Snapshot) -> Status {
        let constraints = self.constraints(pod, "DoNotSchedule");
        if constraints.is_empty() {
            return Status::skip();
        }
        let required = required_node_affinity(pod);
        let mut counts: Vec<HashMap<String, i64>> = vec![HashMap::new(); constraints.len()];
        for node in snap.nodes() {
            let labels = node.labels();
            if !has_all_keys(labels, &constraints) {
                continue;
            }
            for (i, c) in constraints.iter().enumerate() {
                if !c.includes_node(pod, node, &required) {
                    continue;
                }
                let value = labels.get(&c.topology_key).map(String::as_str).unwrap_or("");
                let n = count_matching(node, &c.selector, pod.namespace());
                match counts[i].get_mut(value) {
                    Some(v) => *v += n,
                    None => {
                        counts[i].insert(value.to_string(), n);
                    }
                }
            }
        }
        let domains = counts.iter().map(HashMap::len).collect();
        let paths = counts
            .iter()
            .map(|m| {
                let mut p = CriticalPaths::new();
                for (v, n) in m {
                    p.update(v, *n);
                }
                p
            })
            .collect();
        state.write(PreFilterState {
            constraints,
            counts,
            paths,
            domains,
            required,
        });
        Status::success()
    }

    fn add_pod(&self, state: &mut CycleState, pod: &PodInfo, added: &PodInfo, node: &NodeInfo) -> Status {
        if let Some(s) = state.read_mut::<PreFilterState>() {
            s.update_with_pod(added, pod, node, 1);
        }
        Status::success()
    }

    fn remove_pod(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        removed: &PodInfo,
        node: &NodeInfo,
    ) -> Status {
        if let Some(s) = state.read_mut::<PreFilterState>() {
            s.update_with_pod(removed, pod, node, -1);
        }
        Status::success()
    }
}

impl FilterPlugin for PodTopologySpread {
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let Some(s) = state.read::<PreFilterState>() else {
            return Status::success();
        };
        for (i, c) in s.constraints.iter().enumerate() {
            let Some(value) = node.labels().get(&c.topology_key) else {
                return Status::unresolvable(ERR_REASON_NODE_LABEL_NOT_MATCH);
            };
            let self_match = i64::from(c.selector.matches(pod.labels()));
            let matching = s.counts[i].get(value).copied().unwrap_or(0);
            if matching + self_match - s.min_match(i) > i64::from(c.max_skew) {
                return Status::unschedulable(ERR_REASON_CONSTRAINTS_NOT_MATCH);
            }
        }
        Status::success()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn critical_paths_track_the_two_smallest() {
        let mut p = CriticalPaths::new();
        p.update("a", 3);
        p.update("b", 1);
        p.update("c", 2);
        assert_eq!(p.min(), 1);
        p.update("b", 5);
        assert_eq!(p.min(), 2);
    }
}
