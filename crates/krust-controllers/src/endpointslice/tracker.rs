//! The slices a controller wrote that its cache may not show yet (upstream's
//! `EndpointSliceTracker`): acting on a cache that misses a slice just created would create
//! another one. A Service whose cache lags behind its own writes waits (its sync fails and
//! is retried shortly); an expectation that is never met (the slice was changed or deleted
//! by someone else before the cache saw it) lapses after a while.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::discovery::v1::EndpointSlice;
use parking_lot::Mutex;
use tokio::time::Instant;

/// How long an expectation is kept at most.
const LAPSE: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Written at this generation: the cache must show it at least at that.
    Written(i64),
    /// Deleted: the cache must not show it.
    Deleted,
}

/// The expectations of one Service, per slice uid, with when they were made.
type Expectations = HashMap<String, (Expect, Instant)>;

/// Expectations per Service key.
#[derive(Debug, Default)]
pub struct Tracker {
    inner: Mutex<HashMap<String, Expectations>>,
}

impl Tracker {
    fn record(&self, key: &str, slice: &EndpointSlice, e: Expect) {
        let Some(uid) = slice.metadata.uid.clone() else {
            return;
        };
        self.inner
            .lock()
            .entry(key.to_string())
            .or_default()
            .insert(uid, (e, Instant::now()));
    }

    /// A slice of Service `key` was created or updated (as the API answered).
    pub fn written(&self, key: &str, slice: &EndpointSlice) {
        self.record(
            key,
            slice,
            Expect::Written(slice.metadata.generation.unwrap_or(0)),
        );
    }

    /// A slice of Service `key` was deleted.
    pub fn deleted(&self, key: &str, slice: &EndpointSlice) {
        self.record(key, slice, Expect::Deleted);
    }

    /// Whether the cached slices of Service `key` lag behind its writes. Met expectations
    /// are dropped.
    pub fn stale(&self, key: &str, cached: &[Arc<EndpointSlice>]) -> bool {
        let mut inner = self.inner.lock();
        let Some(expected) = inner.get_mut(key) else {
            return false;
        };
        let now = Instant::now();
        let by_uid: HashMap<&str, &EndpointSlice> = cached
            .iter()
            .filter_map(|s| s.metadata.uid.as_deref().map(|u| (u, s.as_ref())))
            .collect();
        expected.retain(|uid, (e, since)| {
            let unmet = match e {
                Expect::Written(g) => by_uid
                    .get(uid.as_str())
                    .is_none_or(|s| s.metadata.generation.unwrap_or(0) < *g),
                Expect::Deleted => by_uid.contains_key(uid.as_str()),
            };
            unmet && now.duration_since(*since) < LAPSE
        });
        let stale = !expected.is_empty();
        if !stale {
            inner.remove(key);
        }
        stale
    }

    /// Forgets a deleted Service.
    pub fn forget(&self, key: &str) {
        self.inner.lock().remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slice(uid: &str, generation: i64) -> Arc<EndpointSlice> {
        let mut s = EndpointSlice::default();
        s.metadata.uid = Some(uid.into());
        s.metadata.generation = Some(generation);
        Arc::new(s)
    }

    #[test]
    fn writes_must_show_in_the_cache() {
        let t = Tracker::default();
        assert!(!t.stale("ns/web", &[]));
        t.written("ns/web", &slice("a", 1));
        assert!(t.stale("ns/web", &[]), "created, not seen yet");
        assert!(!t.stale("ns/web", &[slice("a", 1)]));
        t.written("ns/web", &slice("a", 3));
        assert!(t.stale("ns/web", &[slice("a", 2)]), "older generation");
        assert!(!t.stale("ns/web", &[slice("a", 3)]));
        t.deleted("ns/web", &slice("a", 3));
        assert!(t.stale("ns/web", &[slice("a", 3)]), "deleted, still seen");
        assert!(!t.stale("ns/web", &[]));
        t.written("ns/other", &slice("b", 1));
        t.forget("ns/other");
        assert!(!t.stale("ns/other", &[]));
    }
}
