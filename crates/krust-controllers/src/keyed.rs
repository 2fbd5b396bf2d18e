//! The plumbing shared by the controllers that work on string keys (`namespace/name`), as
//! upstream's controllers do: informer events only put keys on a de-duplicating work queue,
//! and workers reconcile each key from the caches, so a reconcile of a key whose object is
//! gone (a deleted Service, PodDisruptionBudget or Pod) is an ordinary, level-triggered case.
//!
//! Used by the node lifecycle, taint eviction, endpoints, endpoint slice, mirroring and
//! disruption controllers.
//!
//! The shared informers announce changed objects but not deleted ones; [`follow`] also
//! finds deletions, by comparing the cache with what it saw a moment ago.

use std::collections::HashMap;
use std::fmt::Display;
use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use kube::{
    Resource, ResourceExt,
    runtime::reflector::{ObjectRef, Store},
};
use parking_lot::Mutex;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::workqueue::Queue;

/// How often [`follow`] looks for objects that disappeared from the cache.
const DELETION_SCAN: Duration = Duration::from_secs(1);

/// What a reconcile wants next for its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// Nothing until something changes.
    Done,
    /// Look again after this long (a deadline the controller is waiting for).
    After(Duration),
}

/// A change seen by [`follow`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum Seen<'a, K> {
    /// The object was created or changed (this is its new state).
    Changed(&'a K),
    /// The object is gone (this is its last known state).
    Deleted(&'a K),
}

impl<'a, K> Seen<'a, K> {
    /// The object, changed or deleted.
    pub(crate) fn object(&self) -> &'a K {
        match self {
            Seen::Changed(o) | Seen::Deleted(o) => o,
        }
    }
}

/// `namespace/name` (or `name` for cluster-scoped objects), upstream's key format.
pub(crate) fn key_of<K: Resource>(obj: &K) -> String {
    let meta = obj.meta();
    let name = meta.name.as_deref().unwrap_or_default();
    match meta.namespace.as_deref() {
        Some(ns) if !ns.is_empty() => format!("{ns}/{name}"),
        _ => name.to_string(),
    }
}

/// Splits a key made by [`key_of`] into namespace and name.
pub(crate) fn split_key(key: &str) -> (&str, &str) {
    key.split_once('/').unwrap_or(("", key))
}

/// Looks an object up in a cache by key.
pub(crate) fn cached<K>(store: &Store<K>, key: &str) -> Option<Arc<K>>
where
    K: Resource<DynamicType = ()> + Clone + 'static,
{
    let (ns, name) = split_key(key);
    let r = ObjectRef::<K>::new(name);
    let r = if ns.is_empty() { r } else { r.within(ns) };
    store.get(&r)
}

/// Calls `handle` for every object `changes` announces, and for every object that left
/// `store` (noticed within [`DELETION_SCAN`]), until `stop`.
pub(crate) async fn follow<K, S>(
    changes: S,
    store: Store<K>,
    stop: CancellationToken,
    mut handle: impl FnMut(Seen<'_, K>) + Send,
) where
    K: Resource<DynamicType = ()> + Clone + Send + Sync + 'static,
    S: Stream<Item = Arc<K>> + Send + Unpin,
{
    let mut changes = changes;
    let mut seen: HashMap<ObjectRef<K>, Arc<K>> = HashMap::new();
    let mut scan = tokio::time::interval(DELETION_SCAN);
    scan.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            next = changes.next() => match next {
                Some(obj) => handle(Seen::Changed(&obj)),
                None => return,
            },
            _ = scan.tick() => {
                let now = snapshot(&store);
                for gone in vanished(&seen, &now) {
                    handle(Seen::Deleted(&gone));
                }
                seen = now;
            }
        }
    }
}

fn snapshot<K>(store: &Store<K>) -> HashMap<ObjectRef<K>, Arc<K>>
where
    K: Resource<DynamicType = ()> + Clone + 'static,
{
    store
        .state()
        .into_iter()
        .map(|o| (ObjectRef::from_obj(o.as_ref()), o))
        .collect()
}

/// The objects of `before` that are not in `now` (or were replaced by a namesake with
/// another uid, which means the old one was deleted).
fn vanished<K>(before: &HashMap<ObjectRef<K>, Arc<K>>, now: &HashMap<ObjectRef<K>, Arc<K>>) -> Vec<Arc<K>>
where
    K: Resource<DynamicType = ()> + Clone,
{
    before
        .iter()
        .filter(|(r, old)| now.get(*r).is_none_or(|cur| cur.uid() != old.uid()))
        .map(|(_, old)| old.clone())
        .collect()
}

/// [`run_workers`] once `caches` reports every cache filled (`true`); nothing when `stop`
/// comes first or a cache failed. The common tail of every queue-driven controller.
pub(crate) async fn run_workers_when_synced<F, Fut, E>(
    name: &'static str,
    queue: Arc<Queue<String>>,
    workers: u16,
    stop: CancellationToken,
    caches: impl Future<Output = bool>,
    sync: F,
) where
    F: Fn(String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Next, E>> + Send,
    E: Display,
{
    if synced(&stop, caches).await {
        run_workers(name, queue, workers, stop, sync).await;
    }
}

/// Waits for `caches` to report every cache filled: `false` when `stop` comes first or a
/// cache failed (the controller then does not start).
pub(crate) async fn synced(stop: &CancellationToken, caches: impl Future<Output = bool>) -> bool {
    tokio::select! {
        _ = stop.cancelled() => false,
        ok = caches => ok,
    }
}

/// Runs `workers` workers over `queue` until `stop`: each takes a key, reconciles it with
/// `sync`, and puts it back after the back-off on failure or when `sync` asks to look
/// again later.
pub(crate) async fn run_workers<F, Fut, E>(
    name: &'static str,
    queue: Arc<Queue<String>>,
    workers: u16,
    stop: CancellationToken,
    sync: F,
) where
    F: Fn(String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Next, E>> + Send,
    E: Display,
{
    let sync = Arc::new(sync);
    let timers = Arc::new(Timers::default());
    let tasks: Vec<_> = (0..workers.max(1))
        .map(|_| {
            let (queue, sync, timers) = (queue.clone(), sync.clone(), timers.clone());
            tokio::spawn(async move {
                while let Some(key) = queue.get().await {
                    match sync(key.clone()).await {
                        Ok(next) => {
                            queue.forget(&key);
                            if let Next::After(d) = next
                                && timers.first_before(&key, Instant::now() + d)
                            {
                                queue.add_after(key.clone(), d);
                            }
                        }
                        Err(e) => {
                            tracing::debug!(controller = name, key = %key, error = %e, "sync failed; will retry");
                            queue.add_rate_limited(key.clone());
                        }
                    }
                    queue.done(&key);
                }
            })
        })
        .collect();
    stop.cancelled().await;
    queue.shut_down();
    for t in tasks {
        let _ = t.await;
    }
}

/// When each key is due to be looked at again, so that a reconcile asking for the same
/// deadline many times arms one timer, not many.
#[derive(Default)]
struct Timers {
    due: Mutex<HashMap<String, Instant>>,
}

impl Timers {
    /// Records `at` for `key` and says whether a timer must be armed: no earlier pending
    /// one exists (a pending earlier one will reconcile the key, which asks again).
    fn first_before(&self, key: &str, at: Instant) -> bool {
        let now = Instant::now();
        let mut due = self.due.lock();
        due.retain(|_, t| *t > now);
        match due.get(key) {
            Some(t) if *t <= at => false,
            _ => {
                due.insert(key.to_string(), at);
                true
            }
        }
    }
}

/// A many-to-many index from keys of one kind to keys of another (pods to the Services
/// that selected them at their last sync), so that a change that makes an object stop
/// matching still reaches whoever selected it before.
#[derive(Default)]
pub(crate) struct Index<A, B> {
    inner: Mutex<IndexInner<A, B>>,
}

struct IndexInner<A, B> {
    forward: HashMap<A, Vec<B>>,
    backward: HashMap<B, Vec<A>>,
}

impl<A, B> Default for IndexInner<A, B> {
    fn default() -> Self {
        Self {
            forward: HashMap::new(),
            backward: HashMap::new(),
        }
    }
}

impl<A: Hash + Eq + Clone, B: Hash + Eq + Clone> Index<A, B> {
    /// Replaces what `a` points at.
    pub(crate) fn set(&self, a: &A, bs: Vec<B>) {
        let mut inner = self.inner.lock();
        inner.unlink(a);
        for b in &bs {
            inner.backward.entry(b.clone()).or_default().push(a.clone());
        }
        if !bs.is_empty() {
            inner.forward.insert(a.clone(), bs);
        }
    }

    /// Forgets `a`.
    pub(crate) fn remove(&self, a: &A) {
        self.inner.lock().unlink(a);
    }

    /// Everything pointing at `b`.
    pub(crate) fn pointing_at(&self, b: &B) -> Vec<A> {
        self.inner.lock().backward.get(b).cloned().unwrap_or_default()
    }
}

impl<A: Hash + Eq + Clone, B: Hash + Eq + Clone> IndexInner<A, B> {
    fn unlink(&mut self, a: &A) {
        let Some(old) = self.forward.remove(a) else {
            return;
        };
        for b in old {
            if let Some(list) = self.backward.get_mut(&b) {
                list.retain(|x| x != a);
                if list.is_empty() {
                    self.backward.remove(&b);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Pod;

    fn pod(ns: &str, name: &str, uid: &str) -> Arc<Pod> {
        let mut p = Pod::default();
        p.metadata.namespace = Some(ns.into());
        p.metadata.name = Some(name.into());
        p.metadata.uid = Some(uid.into());
        Arc::new(p)
    }

    fn map(pods: &[Arc<Pod>]) -> HashMap<ObjectRef<Pod>, Arc<Pod>> {
        pods.iter()
            .map(|p| (ObjectRef::from_obj(p.as_ref()), p.clone()))
            .collect()
    }

    #[test]
    fn deleted_and_replaced_objects_are_found() {
        let before = map(&[pod("a", "x", "1"), pod("a", "y", "2"), pod("a", "z", "3")]);
        let now = map(&[pod("a", "x", "1"), pod("a", "z", "4")]);
        let mut gone: Vec<String> = vanished(&before, &now)
            .iter()
            .map(|p| format!("{}:{}", p.name_any(), p.uid().unwrap_or_default()))
            .collect();
        gone.sort();
        assert_eq!(gone, ["y:2", "z:3"]);
    }

    #[test]
    fn keys() {
        assert_eq!(key_of(pod("ns", "p", "1").as_ref()), "ns/p");
        assert_eq!(split_key("ns/p"), ("ns", "p"));
        assert_eq!(split_key("node-1"), ("", "node-1"));
    }

    #[test]
    fn the_index_follows_replacements() {
        let idx: Index<String, String> = Index::default();
        idx.set(&"svc-a".into(), vec!["p1".into(), "p2".into()]);
        idx.set(&"svc-b".into(), vec!["p2".into()]);
        assert_eq!(idx.pointing_at(&"p2".into()), ["svc-a", "svc-b"]);
        idx.set(&"svc-a".into(), vec!["p1".into()]);
        assert_eq!(idx.pointing_at(&"p2".into()), ["svc-b"]);
        idx.remove(&"svc-b".into());
        assert!(idx.pointing_at(&"p2".into()).is_empty());
        assert_eq!(idx.pointing_at(&"p1".into()), ["svc-a"]);
    }

    #[test]
    fn one_timer_per_deadline() {
        let t = Timers::default();
        let now = Instant::now();
        assert!(t.first_before("k", now + Duration::from_secs(10)));
        assert!(
            !t.first_before("k", now + Duration::from_secs(20)),
            "a sooner timer is pending"
        );
        assert!(
            t.first_before("k", now + Duration::from_secs(5)),
            "sooner than the pending one"
        );
        assert!(t.first_before("other", now + Duration::from_secs(20)));
    }
}
