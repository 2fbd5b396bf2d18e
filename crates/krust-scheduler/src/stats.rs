//! Counters a benchmark or an operator can read: pods scheduled, attempts, failures, and
//! the end-to-end latency from a pod entering the queue to its binding.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;

/// At most this many latency samples are kept (the oldest are overwritten).
const MAX_SAMPLES: usize = 200_000;

#[derive(Debug, Default)]
struct Inner {
    scheduled: AtomicU64,
    attempts: AtomicU64,
    unschedulable: AtomicU64,
    errors: AtomicU64,
    preemption_victims: AtomicU64,
    latencies_us: Mutex<(Vec<u64>, usize)>,
}

/// A cheap, cloneable handle to the scheduler's counters.
#[derive(Debug, Clone, Default)]
pub struct Stats(Arc<Inner>);

/// The counters at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatsSnapshot {
    /// Pods bound.
    pub scheduled: u64,
    /// Scheduling attempts (cycles).
    pub attempts: u64,
    /// Attempts that found no node.
    pub unschedulable: u64,
    /// Attempts or bindings that failed with an error.
    pub errors: u64,
    /// Pods evicted by preemption.
    pub preemption_victims: u64,
    /// Median time from entering the queue to bound, in ms.
    pub e2e_p50_ms: f64,
    /// 99th percentile of the same, in ms.
    pub e2e_p99_ms: f64,
}

impl Stats {
    pub(crate) fn attempt(&self) {
        self.0.attempts.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn unschedulable(&self) {
        self.0.unschedulable.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn error(&self) {
        self.0.errors.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn victims(&self, n: usize) {
        self.0.preemption_victims.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub(crate) fn scheduled(&self, e2e: Duration) {
        self.0.scheduled.fetch_add(1, Ordering::Relaxed);
        let us = u64::try_from(e2e.as_micros()).unwrap_or(u64::MAX);
        let mut l = self.0.latencies_us.lock();
        let (samples, next) = &mut *l;
        if samples.len() < MAX_SAMPLES {
            samples.push(us);
        } else {
            samples[*next % MAX_SAMPLES] = us;
        }
        *next += 1;
    }

    /// The counters now.
    pub fn snapshot(&self) -> StatsSnapshot {
        let mut samples = self.0.latencies_us.lock().0.clone();
        samples.sort_unstable();
        let pct = |p: f64| -> f64 {
            if samples.is_empty() {
                return 0.0;
            }
            let i = ((p / 100.0) * (samples.len() - 1) as f64).round() as usize;
            samples[i.min(samples.len() - 1)] as f64 / 1000.0
        };
        StatsSnapshot {
            scheduled: self.0.scheduled.load(Ordering::Relaxed),
            attempts: self.0.attempts.load(Ordering::Relaxed),
            unschedulable: self.0.unschedulable.load(Ordering::Relaxed),
            errors: self.0.errors.load(Ordering::Relaxed),
            preemption_victims: self.0.preemption_victims.load(Ordering::Relaxed),
            e2e_p50_ms: pct(50.0),
            e2e_p99_ms: pct(99.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_percentiles() {
        let s = Stats::default();
        for ms in 1..=100 {
            s.scheduled(Duration::from_millis(ms));
        }
        s.attempt();
        let snap = s.snapshot();
        assert_eq!(snap.scheduled, 100);
        assert_eq!(snap.attempts, 1);
        assert_eq!(snap.e2e_p50_ms, 51.0);
        assert_eq!(snap.e2e_p99_ms, 99.0);
    }
}
