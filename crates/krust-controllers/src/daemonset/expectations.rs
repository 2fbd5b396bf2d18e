//! The pods a DaemonSet created or deleted that the pod cache does not show yet, so a
//! sync right after a write does not act on the stale cache (a second pod on a node).
//! Each write is remembered by what identifies it in the cache (a created pod's name, a
//! deleted pod's uid) and expires after a timeout, as upstream's expectations do.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// How long an unobserved write holds its set back at most.
const TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Default)]
struct Pending {
    creates: HashSet<String>,
    deletes: HashSet<String>,
    since: Option<Instant>,
}

/// Unobserved writes per DaemonSet uid.
#[derive(Default)]
pub(crate) struct Expectations {
    sets: Mutex<HashMap<String, Pending>>,
}

impl Expectations {
    /// Records a created pod's name and a deleted pod's uid.
    pub(crate) fn record(&self, set: &str, created: Option<String>, deleted: Option<String>, now: Instant) {
        let mut sets = self.sets.lock();
        sets.retain(|_, p| p.since.is_none_or(|s| now.duration_since(s) < TIMEOUT));
        let p = sets.entry(set.to_string()).or_default();
        p.creates.extend(created);
        p.deletes.extend(deleted);
        p.since = Some(now);
    }

    /// Whether every write of `set` shows in the cache (`has_name`: a pod of that name is
    /// there; `is_live`: a pod of that uid is there and not being deleted), or expired.
    pub(crate) fn satisfied(
        &self,
        set: &str,
        has_name: impl Fn(&str) -> bool,
        is_live: impl Fn(&str) -> bool,
        now: Instant,
    ) -> bool {
        let mut sets = self.sets.lock();
        let Some(p) = sets.get_mut(set) else { return true };
        p.creates.retain(|n| !has_name(n));
        p.deletes.retain(|u| is_live(u));
        let expired = p.since.is_some_and(|s| now.duration_since(s) >= TIMEOUT);
        if expired || (p.creates.is_empty() && p.deletes.is_empty()) {
            sets.remove(set);
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_block_until_seen_or_expired() {
        let e = Expectations::default();
        let t0 = Instant::now();
        assert!(e.satisfied("ds", |_| false, |_| false, t0));
        e.record("ds", Some("p1".into()), Some("u9".into()), t0);
        assert!(!e.satisfied("ds", |_| false, |_| true, t0));
        assert!(!e.satisfied("ds", |n| n == "p1", |_| true, t0));
        assert!(e.satisfied("ds", |n| n == "p1", |_| false, t0));
        e.record("ds", Some("p2".into()), None, t0);
        assert!(e.satisfied("ds", |_| false, |_| false, t0 + TIMEOUT));
    }
}
