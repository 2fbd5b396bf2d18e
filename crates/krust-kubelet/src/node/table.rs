//! Per-node state of the pool: five bytes a node, shared without locks between the
//! heartbeat loop, the node watch and the pod manager.

use std::sync::atomic::{AtomicU8, AtomicU32, Ordering};

/// The node exists in the API (we created or adopted it, or the watch saw it).
const REGISTERED: u8 = 1;
/// Heartbeats are switched off by annotation.
const PAUSED: u8 = 2;
/// Bits 2..6: which of the node's conditions the API shows differently from ours.
const STALE_SHIFT: u8 = 2;
const STALE_MASK: u8 = 0b1111 << STALE_SHIFT;

/// State of every node of the pool, by index.
#[derive(Debug)]
pub(crate) struct NodeTable {
    flags: Vec<AtomicU8>,
    /// Seconds since the pool started when the status was last reported; 0 = never.
    reported: Vec<AtomicU32>,
}

impl NodeTable {
    pub fn new(count: u32) -> Self {
        Self {
            flags: (0..count).map(|_| AtomicU8::new(0)).collect(),
            reported: (0..count).map(|_| AtomicU32::new(0)).collect(),
        }
    }

    fn flags(&self, i: u32) -> u8 {
        self.flags
            .get(i as usize)
            .map_or(0, |f| f.load(Ordering::Acquire))
    }

    /// Sets or clears `bits`; returns whether anything changed.
    fn set(&self, i: u32, bits: u8, on: bool) -> bool {
        let Some(f) = self.flags.get(i as usize) else {
            return false;
        };
        let before = if on {
            f.fetch_or(bits, Ordering::AcqRel)
        } else {
            f.fetch_and(!bits, Ordering::AcqRel)
        };
        (before & bits != 0) != on
    }

    pub fn registered(&self, i: u32) -> bool {
        self.flags(i) & REGISTERED != 0
    }

    /// Marks node `i` as existing or gone; true when that changed.
    pub fn set_registered(&self, i: u32, yes: bool) -> bool {
        self.set(i, REGISTERED, yes)
    }

    pub fn paused(&self, i: u32) -> bool {
        self.flags(i) & PAUSED != 0
    }

    pub fn set_paused(&self, i: u32, yes: bool) -> bool {
        self.set(i, PAUSED, yes)
    }

    /// Which conditions (bit per entry of `node::conditions::OWNED`) need correcting.
    pub fn stale(&self, i: u32) -> u8 {
        (self.flags(i) & STALE_MASK) >> STALE_SHIFT
    }

    pub fn set_stale(&self, i: u32, mask: u8) {
        if let Some(f) = self.flags.get(i as usize) {
            let bits = (mask << STALE_SHIFT) & STALE_MASK;
            let _ = f.fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| {
                Some((v & !STALE_MASK) | bits)
            });
        }
    }

    pub fn reported(&self, i: u32) -> u32 {
        self.reported
            .get(i as usize)
            .map_or(0, |r| r.load(Ordering::Acquire))
    }

    pub fn set_reported(&self, i: u32, secs: u32) {
        if let Some(r) = self.reported.get(i as usize) {
            r.store(secs, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_independent() {
        let t = NodeTable::new(2);
        assert!(t.set_registered(1, true));
        assert!(!t.set_registered(1, true), "no change");
        t.set_stale(1, 0b0101);
        assert!(t.set_paused(1, true));
        assert!(t.registered(1) && t.paused(1));
        assert_eq!(t.stale(1), 0b0101);
        t.set_stale(1, 0);
        assert!(t.set_registered(1, false));
        assert!(t.paused(1) && !t.registered(1) && t.stale(1) == 0);
        assert!(!t.registered(0) && !t.registered(7));
        t.set_reported(0, 42);
        assert_eq!(t.reported(0), 42);
    }
}
