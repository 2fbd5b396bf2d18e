//! Expectations: the pods an owner created or deleted that its cache has not shown yet.
//!
//! The pod cache lags the API. Without this record, a reconcile right after creating
//! three pods would still see too few and create three more. Upstream counts
//! notifications; here each write is remembered by what identifies it in the cache (the
//! created pod's name, the deleted pod's uid) and checked against the cache when the
//! owner is reconciled, so no event hook is needed and the check is level-based. A
//! record that is never seen (a pod deleted before the cache saw it was created) expires
//! after a timeout, as upstream's do.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// How long an unobserved write blocks its owner at most.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Default)]
struct Pending {
    /// Names of created pods not yet in the cache.
    creates: HashSet<String>,
    /// Uids of deleted pods still live in the cache.
    deletes: HashSet<String>,
    /// When the latest write was recorded (expiry counts from it, as upstream's reset).
    since: Option<Instant>,
}

/// What the cache currently shows for one namespace.
pub(crate) trait Observed {
    /// Whether a pod of this name is in the cache.
    fn has_name(&self, name: &str) -> bool;
    /// Whether a pod of this uid is in the cache and not being deleted.
    fn is_live(&self, uid: &str) -> bool;
}

/// The expectations of every owner of one controller, keyed by owner uid.
#[derive(Debug)]
pub(crate) struct Expectations {
    owners: Mutex<HashMap<String, Pending>>,
    timeout: Duration,
}

impl Default for Expectations {
    fn default() -> Self {
        Self::new(TIMEOUT)
    }
}

impl Expectations {
    /// Expectations that expire after `timeout`.
    pub(crate) fn new(timeout: Duration) -> Self {
        Self {
            owners: Mutex::default(),
            timeout,
        }
    }

    /// Records pods created by `owner`.
    pub(crate) fn created(&self, owner: &str, names: impl IntoIterator<Item = String>, now: Instant) {
        let mut owners = self.owners.lock();
        self.prune(&mut owners, now);
        let p = owners.entry(owner.to_string()).or_default();
        p.creates.extend(names);
        p.since = Some(now);
    }

    /// Records pods deleted by `owner`.
    pub(crate) fn deleted(&self, owner: &str, uids: impl IntoIterator<Item = String>, now: Instant) {
        let mut owners = self.owners.lock();
        self.prune(&mut owners, now);
        let p = owners.entry(owner.to_string()).or_default();
        p.deletes.extend(uids);
        p.since = Some(now);
    }

    /// Whether every write of `owner` has been observed (or expired), dropping what has.
    pub(crate) fn satisfied(&self, owner: &str, cache: &impl Observed, now: Instant) -> bool {
        let mut owners = self.owners.lock();
        let Some(p) = owners.get_mut(owner) else {
            return true;
        };
        p.creates.retain(|name| !cache.has_name(name));
        p.deletes.retain(|uid| cache.is_live(uid));
        let expired = p.since.is_some_and(|s| now.duration_since(s) >= self.timeout);
        if expired && !(p.creates.is_empty() && p.deletes.is_empty()) {
            tracing::warn!(
                owner,
                creates = p.creates.len(),
                deletes = p.deletes.len(),
                "expectations expired without being observed"
            );
        }
        if expired || (p.creates.is_empty() && p.deletes.is_empty()) {
            owners.remove(owner);
            return true;
        }
        false
    }

    /// Drops expired records, so owners deleted while waiting do not accumulate.
    fn prune(&self, owners: &mut HashMap<String, Pending>, now: Instant) {
        owners.retain(|_, p| p.since.is_none_or(|s| now.duration_since(s) < self.timeout));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Cache {
        names: HashSet<String>,
        live: HashSet<String>,
    }

    impl Observed for Cache {
        fn has_name(&self, name: &str) -> bool {
            self.names.contains(name)
        }
        fn is_live(&self, uid: &str) -> bool {
            self.live.contains(uid)
        }
    }

    #[test]
    fn creates_wait_until_seen() {
        let e = Expectations::default();
        let t0 = Instant::now();
        let mut cache = Cache::default();
        assert!(e.satisfied("rs", &cache, t0));
        e.created("rs", ["a".to_string(), "b".to_string()], t0);
        assert!(!e.satisfied("rs", &cache, t0));
        cache.names.insert("a".into());
        assert!(!e.satisfied("rs", &cache, t0));
        cache.names.insert("b".into());
        assert!(e.satisfied("rs", &cache, t0));
        // Satisfied records are dropped: a later lookup finds nothing pending.
        cache.names.clear();
        assert!(e.satisfied("rs", &cache, t0));
    }

    #[test]
    fn deletes_wait_until_gone() {
        let e = Expectations::default();
        let t0 = Instant::now();
        let mut cache = Cache::default();
        cache.live.insert("u1".into());
        e.deleted("rs", ["u1".to_string()], t0);
        assert!(!e.satisfied("rs", &cache, t0));
        assert!(e.satisfied("other", &cache, t0));
        cache.live.clear();
        assert!(e.satisfied("rs", &cache, t0));
    }

    #[test]
    fn expire() {
        let e = Expectations::new(Duration::from_secs(5));
        let t0 = Instant::now();
        e.created("rs", ["never".to_string()], t0);
        assert!(!e.satisfied("rs", &Cache::default(), t0 + Duration::from_secs(4)));
        assert!(e.satisfied("rs", &Cache::default(), t0 + Duration::from_secs(5)));
        // Expired records of other owners are dropped by the next write.
        e.created("gone", ["x".to_string()], t0);
        e.created("rs", ["y".to_string()], t0 + Duration::from_secs(6));
        assert_eq!(e.owners.lock().len(), 1);
    }
}
