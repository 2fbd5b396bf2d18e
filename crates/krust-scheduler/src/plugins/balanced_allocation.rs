//! NodeResourcesBalancedAllocation: prefers nodes where the pod leaves CPU and memory (or
//! the configured resources) used in similar proportions: score = (1 − standard deviation
//! of the used fractions) × 100. Pods requesting nothing are not scored (upstream skips
//! them so they do not all pile onto one node).

use super::node_resources_fit::allocatable_and_requested;
use crate::cache::Snapshot;
use crate::framework::profile::{BalancedAllocationArgs, ResourceSpec};
use crate::framework::{
    CycleState, MAX_NODE_SCORE, NodeInfo, Plugin, PodInfo, PreScorePlugin, ScorePlugin, Status,
};

/// Registered name.
pub const NAME: &str = "NodeResourcesBalancedAllocation";

/// The plugin.
#[derive(Debug)]
pub struct BalancedAllocation {
    resources: Vec<ResourceSpec>,
}

#[derive(Clone)]
struct PreScoreState(Vec<i64>);

impl BalancedAllocation {
    /// From the plugin's arguments.
    pub fn new(args: &BalancedAllocationArgs) -> Self {
        Self {
            resources: args.resources.clone(),
        }
    }

    fn pod_requests(&self, pod: &PodInfo) -> Vec<i64> {
        self.resources.iter().map(|r| pod.requests.get(&r.name)).collect()
    }
}

/// The score from used fractions of each resource (fractions above 1 count as 1).
pub fn balanced_score(requested: &[i64], allocatable: &[i64]) -> i64 {
    let mut buf = [0f64; 8];
    let mut heap = Vec::new();
    let fractions: &mut [f64] = if requested.len() <= buf.len() {
        &mut buf[..]
    } else {
        heap.resize(requested.len(), 0.0);
        &mut heap[..]
    };
    let mut n = 0;
    for (r, a) in requested.iter().zip(allocatable) {
        if *a != 0 {
            fractions[n] = (*r as f64 / *a as f64).min(1.0);
            n += 1;
        }
    }
    let fractions = &fractions[..n];
    let std = match fractions.len() {
        0 | 1 => 0.0,
        2 => ((fractions[0] - fractions[1]) / 2.0).abs(),
        n => {
            let mean = fractions.iter().sum::<f64>() / n as f64;
            (fractions.iter().map(|f| (f - mean) * (f - mean)).sum::<f64>() / n as f64).sqrt()
        }
    };
    ((1.0 - std) * MAX_NODE_SCORE as f64) as i64
}

impl Plugin for BalancedAllocation {
    fn name(&self) -> &'static str {
        NAME
    }
    fn as_pre_score(&self) -> Option<&dyn PreScorePlugin> {
        Some(self)
    }
    fn as_score(&self) -> Option<&dyn ScorePlugin> {
        Some(self)
    }
}

impl PreScorePlugin for BalancedAllocation {
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        _nodes: &[&NodeInfo],
        _snap: &Snapshot,
    ) -> Status {
        let reqs = self.pod_requests(pod);
        if reqs.iter().all(|r| *r == 0) {
            return Status::skip();
        }
        state.write(PreScoreState(reqs));
        Status::success()
    }
}

impl ScorePlugin for BalancedAllocation {
    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        let computed;
        let reqs = match state.read::<PreScoreState>() {
            Some(s) => &s.0,
            None => {
                computed = self.pod_requests(pod);
                &computed
            }
        };
        let n = self.resources.len();
        let (mut requested, mut allocatable) = ([0i64; 8], [0i64; 8]);
        if n > requested.len() {
            let pairs: Vec<(i64, i64)> = self
                .resources
                .iter()
                .enumerate()
                .map(|(i, r)| allocatable_and_requested(node, &r.name, reqs[i], true))
                .collect();
            let (a, q): (Vec<i64>, Vec<i64>) = pairs.into_iter().unzip();
            return Ok(balanced_score(&q, &a));
        }
        for (i, r) in self.resources.iter().enumerate() {
            (allocatable[i], requested[i]) = allocatable_and_requested(node, &r.name, reqs[i], true);
        }
        Ok(balanced_score(&requested[..n], &allocatable[..n]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testing::{node, pod, score_all};

    #[test]
    fn prefers_balanced_nodes() {
        let snap = Snapshot::from_nodes(vec![
            // cpu-heavy node: after the pod, cpu 3/4, memory 8/32.
            node("cpu-heavy").with_pods(vec![pod("a").req("cpu", "2")]),
            node("even").with_pods(vec![pod("b").req("memory", "8Gi")]),
        ]);
        let p = pod("p").req("cpu", "1").req("memory", "8Gi").info();
        let b = BalancedAllocation::new(&BalancedAllocationArgs::default());
        let s = score_all(&b, &p, &snap);
        // cpu-heavy: |0.75 − 0.25| / 2 = 0.25 → 75; even: |0.25 − 0.5| / 2 = 0.125 → 87.
        assert_eq!(s, vec![75, 87]);
        assert_eq!(score_all(&b, &pod("empty").info(), &snap), vec![0, 0]);
    }

    #[test]
    fn score_formula() {
        assert_eq!(balanced_score(&[50, 50], &[100, 100]), 100);
        assert_eq!(balanced_score(&[100, 0], &[100, 100]), 50);
        assert_eq!(balanced_score(&[200, 0], &[100, 100]), 50);
        assert_eq!(balanced_score(&[1, 1], &[0, 0]), 100);
    }
}
