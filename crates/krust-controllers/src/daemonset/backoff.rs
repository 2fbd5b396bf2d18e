//! Back-off for replacing failed daemon pods, as upstream's `failedPodsBackoff`: a daemon
//! pod that fails on a node is killed and recreated, but a pod that keeps failing there
//! would otherwise be recreated in a hot loop. So each (DaemonSet uid, node) has a delay
//! that starts at 1 s and doubles per kill up to 15 minutes; while it runs, failed pods
//! on that node are left alone and the set looks again when it ends. An entry with no
//! kill for twice the maximum counts as stable and is forgotten.
//!
//! The clock is injected (every call takes `now`), so the decisions are tested by moving
//! a fake clock forward.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The first delay after a kill.
pub(crate) const INITIAL: Duration = Duration::from_secs(1);
/// The longest delay.
pub(crate) const MAX: Duration = Duration::from_secs(15 * 60);

/// A failed daemon pod found by a sync.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FailedPod {
    /// The node it is on.
    pub node: String,
    /// The pod's name.
    pub pod: String,
}

/// What a sync may do with its failed pods.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Admitted {
    /// Pods to kill now (at most one per node).
    pub kill: Vec<FailedPod>,
    /// When the set should look again for the pods held back, if any were.
    pub retry_in: Option<Duration>,
}

struct Entry {
    delay: Duration,
    last_kill: Instant,
}

/// The delays per (DaemonSet uid, node).
pub(crate) struct FailedPodsBackoff {
    initial: Duration,
    max: Duration,
    entries: HashMap<(String, String), Entry>,
}

impl Default for FailedPodsBackoff {
    fn default() -> Self {
        Self::new(INITIAL, MAX)
    }
}

impl FailedPodsBackoff {
    /// Delays from `initial`, doubling up to `max`.
    pub(crate) fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max,
            entries: HashMap::new(),
        }
    }

    /// Whether an entry last touched at `last_kill` has been quiet long enough to forget.
    fn stable(&self, last_kill: Instant, now: Instant) -> bool {
        now.saturating_duration_since(last_kill) > self.max.saturating_mul(2)
    }

    /// How much of the delay of `set` on `node` is left at `now`, if any.
    pub(crate) fn remaining(&self, set: &str, node: &str, now: Instant) -> Option<Duration> {
        let e = self.entries.get(&(set.to_string(), node.to_string()))?;
        if self.stable(e.last_kill, now) {
            return None;
        }
        let since = now.saturating_duration_since(e.last_kill);
        (since < e.delay).then(|| e.delay - since)
    }

    /// Records a kill of a failed pod of `set` on `node` at `now`: the delay starts (or
    /// starts over once stable) at the initial value, else doubles.
    pub(crate) fn record_kill(&mut self, set: &str, node: &str, now: Instant) {
        let (initial, max) = (self.initial, self.max);
        let stable = |e: &Entry| self.stable(e.last_kill, now);
        let key = (set.to_string(), node.to_string());
        let delay = match self.entries.get(&key) {
            Some(e) if !stable(e) => e.delay.saturating_mul(2).min(max),
            _ => initial,
        };
        self.entries.insert(
            key,
            Entry {
                delay,
                last_kill: now,
            },
        );
    }

    /// Forgets the entries quiet for twice the maximum delay.
    pub(crate) fn gc(&mut self, now: Instant) {
        let max2 = self.max.saturating_mul(2);
        self.entries
            .retain(|_, e| now.saturating_duration_since(e.last_kill) <= max2);
    }

    /// Decides which of `failed` (pods of `set`) to kill at `now`: one per node whose
    /// delay is over, recording the kill; the others wait for the shortest remaining
    /// delay.
    pub(crate) fn admit(&mut self, set: &str, failed: &[FailedPod], now: Instant) -> Admitted {
        self.gc(now);
        let mut out = Admitted::default();
        for f in failed {
            match self.remaining(set, &f.node, now) {
                Some(left) => {
                    out.retry_in = Some(out.retry_in.map_or(left, |r| r.min(left)));
                }
                None => {
                    self.record_kill(set, &f.node, now);
                    out.kill.push(f.clone());
                }
            }
        }
        out
    }

    /// How many (set, node) entries are kept.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A clock that only moves when told to.
    struct FakeClock(Instant);

    impl FakeClock {
        fn now(&self) -> Instant {
            self.0
        }
        fn advance(&mut self, d: Duration) {
            self.0 += d;
        }
    }

    fn failed(node: &str, pod: &str) -> FailedPod {
        FailedPod {
            node: node.into(),
            pod: pod.into(),
        }
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn delay_doubles_per_kill_and_holds_pods_back_meanwhile() {
        let mut clock = FakeClock(Instant::now());
        let mut b = FailedPodsBackoff::default();
        let f = [failed("n1", "p1")];
        // The first failure is killed at once.
        assert_eq!(b.admit("ds", &f, clock.now()).kill, f);
        // The next one waits out 1 s.
        clock.advance(Duration::from_millis(400));
        let held = b.admit("ds", &f, clock.now());
        assert!(held.kill.is_empty());
        assert_eq!(held.retry_in, Some(Duration::from_millis(600)));
        clock.advance(Duration::from_millis(600));
        assert_eq!(b.admit("ds", &f, clock.now()).kill, f);
        // Then 2 s, then 4 s.
        clock.advance(secs(1));
        assert_eq!(b.admit("ds", &f, clock.now()).retry_in, Some(secs(1)));
        clock.advance(secs(1));
        assert_eq!(b.admit("ds", &f, clock.now()).kill, f);
        assert_eq!(b.remaining("ds", "n1", clock.now()), Some(secs(4)));
    }

    #[test]
    fn delay_is_capped_at_the_maximum() {
        let mut clock = FakeClock(Instant::now());
        let mut b = FailedPodsBackoff::default();
        for _ in 0..20 {
            b.record_kill("ds", "n1", clock.now());
            clock.advance(MAX);
        }
        b.record_kill("ds", "n1", clock.now());
        assert_eq!(b.remaining("ds", "n1", clock.now()), Some(MAX));
    }

    #[test]
    fn one_kill_per_node_per_sync_and_nodes_are_independent() {
        let clock = FakeClock(Instant::now());
        let mut b = FailedPodsBackoff::default();
        let f = [failed("n1", "a"), failed("n1", "b"), failed("n2", "c")];
        let got = b.admit("ds", &f, clock.now());
        assert_eq!(got.kill, [failed("n1", "a"), failed("n2", "c")]);
        assert_eq!(got.retry_in, Some(INITIAL));
        // Another set on the same node has its own delay.
        assert_eq!(b.admit("other", &f[..1], clock.now()).kill, f[..1]);
    }

    #[test]
    fn entries_quiet_for_twice_the_maximum_start_over_and_are_forgotten() {
        let mut clock = FakeClock(Instant::now());
        let mut b = FailedPodsBackoff::new(INITIAL, secs(8));
        b.record_kill("ds", "n1", clock.now());
        for _ in 0..4 {
            clock.advance(secs(8));
            b.record_kill("ds", "n1", clock.now());
        }
        assert_eq!(b.remaining("ds", "n1", clock.now()), Some(secs(8)));
        b.record_kill("ds", "n2", clock.now());
        assert_eq!(b.len(), 2);
        clock.advance(secs(16));
        b.gc(clock.now());
        assert_eq!(b.len(), 2, "not yet quiet for more than twice the maximum");
        clock.advance(secs(1));
        b.gc(clock.now());
        assert_eq!(b.len(), 0);
        // A failure after a quiet spell gets the initial delay again.
        b.record_kill("ds", "n1", clock.now());
        assert_eq!(b.remaining("ds", "n1", clock.now()), Some(INITIAL));
    }
}
