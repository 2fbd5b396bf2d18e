//! Spreading the pool's heartbeats evenly over the heartbeat interval.
//!
//! The interval is cut into [`SLOTS`] ticks; node `i` of `n` beats in slot
//! `floor(i * SLOTS / n)`, so the nodes of a slot are a contiguous range and no per-node
//! timer is needed. 5,000 nodes at 10 s make 50 lease renewals every 100 ms instead of
//! 5,000 at once.

use std::ops::Range;
use std::time::Duration;

/// Ticks per heartbeat interval.
pub(crate) const SLOTS: u32 = 100;

/// The nodes that beat in `slot` (of `slots`) in a pool of `n`.
pub(crate) fn nodes_in_slot(slot: u32, slots: u32, n: u32) -> Range<u32> {
    let edge = |s: u32| -> u32 {
        let num = u64::from(s) * u64::from(n);
        let den = u64::from(slots.max(1));
        u32::try_from(num.div_ceil(den)).unwrap_or(n)
    };
    edge(slot).min(n)..edge(slot + 1).min(n)
}

/// Time between two ticks.
pub(crate) fn tick(interval: Duration, slots: u32) -> Duration {
    (interval / slots.max(1)).max(Duration::from_millis(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_node_in_exactly_one_slot_and_slots_are_even() {
        for n in [0, 1, 3, 99, 100, 101, 1000, 5000, 16384] {
            let mut next = 0;
            let mut most = 0;
            for s in 0..SLOTS {
                let r = nodes_in_slot(s, SLOTS, n);
                assert_eq!(r.start, next, "n={n} slot={s}");
                next = r.end;
                most = most.max(r.len() as u32);
            }
            assert_eq!(next, n, "n={n}");
            assert!(most <= n.div_ceil(SLOTS), "n={n}: {most} in one slot");
        }
    }

    #[test]
    fn few_nodes_are_spread_apart() {
        let slots: Vec<u32> = (0..SLOTS)
            .filter(|&s| !nodes_in_slot(s, SLOTS, 3).is_empty())
            .collect();
        assert_eq!(slots, vec![0, 33, 66]);
    }

    #[test]
    fn tick_length() {
        assert_eq!(tick(Duration::from_secs(10), SLOTS), Duration::from_millis(100));
    }
}
