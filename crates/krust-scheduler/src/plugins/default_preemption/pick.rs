//! Choosing among nodes where preemption would work (upstream's
//! `pickOneNodeForPreemption`): fewest PDB violations, then the lowest highest-priority
//! victim, the lowest sum of priorities, the fewest victims, and the latest start among the
//! highest-priority victims; the first candidate wins remaining ties.

use std::sync::Arc;

use crate::framework::PodInfo;

/// A node where evicting `victims` lets the preemptor fit.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Node name.
    pub node: String,
    /// Pods to evict, most important first.
    pub victims: Vec<Arc<PodInfo>>,
    /// Victims whose eviction violates a PodDisruptionBudget.
    pub pdb_violations: usize,
}

fn earliest_start_of_highest(victims: &[Arc<PodInfo>]) -> i64 {
    let Some(top) = victims.iter().map(|v| v.priority).max() else {
        return i64::MIN;
    };
    victims
        .iter()
        .filter(|v| v.priority == top)
        .map(|v| v.start_time())
        .min()
        .unwrap_or(i64::MIN)
}

/// The index of the best candidate.
pub fn pick(candidates: &[Candidate]) -> Option<usize> {
    if candidates.is_empty() {
        return None;
    }
    if let Some(i) = candidates.iter().position(|c| c.victims.is_empty()) {
        return Some(i);
    }
    let scores: [fn(&Candidate) -> i64; 5] = [
        |c| -(c.pdb_violations as i64),
        |c| -i64::from(c.victims.first().map(|v| v.priority).unwrap_or(0)),
        |c| {
            -c.victims
                .iter()
                .map(|v| i64::from(v.priority) + i64::from(i32::MAX) + 1)
                .sum::<i64>()
        },
        |c| -(c.victims.len() as i64),
        |c| earliest_start_of_highest(&c.victims),
    ];
    let mut remaining: Vec<usize> = (0..candidates.len()).collect();
    for f in scores {
        let best = remaining
            .iter()
            .map(|&i| f(&candidates[i]))
            .max()
            .unwrap_or(i64::MIN);
        remaining.retain(|&i| f(&candidates[i]) == best);
        if remaining.len() == 1 {
            break;
        }
    }
    remaining.first().copied()
}
