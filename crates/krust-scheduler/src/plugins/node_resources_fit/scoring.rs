//! The three ways NodeResourcesFit scores a node from (requested, allocatable) per resource:
//! LeastAllocated, MostAllocated and RequestedToCapacityRatio, each a weighted average over
//! the configured resources, as upstream computes them.

use crate::framework::MAX_NODE_SCORE;

/// Utilization is expressed in percent.
const MAX_UTILIZATION: i64 = 100;

fn least_requested(requested: i64, capacity: i64) -> i64 {
    if capacity == 0 || requested > capacity {
        return 0;
    }
    (capacity - requested) * MAX_NODE_SCORE / capacity
}

fn most_requested(requested: i64, capacity: i64) -> i64 {
    if capacity == 0 {
        return 0;
    }
    requested.min(capacity) * MAX_NODE_SCORE / capacity
}

/// Free share of each resource, weighted (spreads pods).
pub fn least_allocated(requested: &[i64], allocatable: &[i64], weights: &[i64]) -> i64 {
    weighted(requested, allocatable, weights, least_requested)
}

/// Used share of each resource, weighted (packs pods).
pub fn most_allocated(requested: &[i64], allocatable: &[i64], weights: &[i64]) -> i64 {
    weighted(requested, allocatable, weights, most_requested)
}

fn weighted(requested: &[i64], allocatable: &[i64], weights: &[i64], f: fn(i64, i64) -> i64) -> i64 {
    let (mut score, mut weight_sum) = (0i64, 0i64);
    for i in 0..requested.len() {
        if allocatable[i] == 0 {
            continue;
        }
        score += f(requested[i], allocatable[i]) * weights[i];
        weight_sum += weights[i];
    }
    if weight_sum == 0 { 0 } else { score / weight_sum }
}

/// A piecewise-linear function of utilization (0–100) given by points scaled to 0–100.
#[derive(Debug, Clone)]
pub struct Shape(Vec<(i64, i64)>);

impl Shape {
    /// From configured points (utilization %, score 0–10).
    pub fn new(points: &[(i64, i64)]) -> Self {
        Shape(
            points
                .iter()
                .map(|&(u, s)| (u, s * (MAX_NODE_SCORE / 10)))
                .collect(),
        )
    }

    fn eval(&self, p: i64) -> i64 {
        let s = &self.0;
        for i in 0..s.len() {
            if p <= s[i].0 {
                if i == 0 {
                    return s[0].1;
                }
                let (u0, s0) = s[i - 1];
                let (u1, s1) = s[i];
                return s0 + (s1 - s0) * (p - u0) / (u1 - u0).max(1);
            }
        }
        s.last().map(|x| x.1).unwrap_or(0)
    }
}

/// Scores by the shape of each resource's utilization, weighted over resources scoring
/// above zero, rounded.
pub fn requested_to_capacity_ratio(
    shape: &Shape,
    requested: &[i64],
    allocatable: &[i64],
    weights: &[i64],
) -> i64 {
    let (mut score, mut weight_sum) = (0i64, 0i64);
    for i in 0..requested.len() {
        if allocatable[i] == 0 {
            continue;
        }
        let r = if requested[i] > allocatable[i] {
            shape.eval(MAX_UTILIZATION)
        } else {
            shape.eval(requested[i] * MAX_UTILIZATION / allocatable[i])
        };
        if r > 0 {
            score += r * weights[i];
            weight_sum += weights[i];
        }
    }
    if weight_sum == 0 {
        0
    } else {
        (score as f64 / weight_sum as f64).round() as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn least_and_most() {
        // cpu 1000/4000 used, memory 2/8 used.
        assert_eq!(least_allocated(&[1000, 2], &[4000, 8], &[1, 1]), 75);
        assert_eq!(most_allocated(&[1000, 2], &[4000, 8], &[1, 1]), 25);
        assert_eq!(least_allocated(&[5000, 2], &[4000, 8], &[1, 1]), 37);
        assert_eq!(least_allocated(&[1, 1], &[0, 0], &[1, 1]), 0);
    }

    #[test]
    fn ratio_shape() {
        let bin_pack = Shape::new(&[(0, 0), (100, 10)]);
        assert_eq!(
            requested_to_capacity_ratio(&bin_pack, &[50, 25], &[100, 100], &[1, 1]),
            38
        );
        let spread = Shape::new(&[(0, 10), (100, 0)]);
        assert_eq!(
            requested_to_capacity_ratio(&spread, &[0, 0], &[100, 100], &[1, 1]),
            100
        );
        assert_eq!(
            requested_to_capacity_ratio(&spread, &[200, 200], &[100, 100], &[1, 1]),
            0
        );
    }
}
