//! Score helpers shared by plugins.

use crate::framework::MAX_NODE_SCORE;

/// Scales scores to 0..=`max` relative to the highest one (upstream's
/// `DefaultNormalizeScore`); with `reverse`, lower raw scores become higher ones. All-zero
/// scores stay 0 (or become `max` with `reverse`).
pub fn default_normalize(max: i64, reverse: bool, scores: &mut [i64]) {
    let highest = scores.iter().copied().max().unwrap_or(0).max(0);
    if highest == 0 {
        if reverse {
            scores.iter_mut().for_each(|s| *s = max);
        }
        return;
    }
    for s in scores.iter_mut() {
        let v = max * *s / highest;
        *s = if reverse { max - v } else { v };
    }
}

/// [`default_normalize`] to [`MAX_NODE_SCORE`].
pub fn normalize(reverse: bool, scores: &mut [i64]) {
    default_normalize(MAX_NODE_SCORE, reverse, scores);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes() {
        let mut s = vec![0, 5, 10];
        normalize(false, &mut s);
        assert_eq!(s, vec![0, 50, 100]);
        let mut s = vec![0, 5, 10];
        normalize(true, &mut s);
        assert_eq!(s, vec![100, 50, 0]);
        let mut s = vec![0, 0];
        normalize(true, &mut s);
        assert_eq!(s, vec![100, 100]);
    }
}
