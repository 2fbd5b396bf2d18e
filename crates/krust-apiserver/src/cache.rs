//! The watch cache: every stored object of every resource, in memory, with a window of
//! recent events, fed by one store watch.
//!
//! Lists, gets and watches are served from here so that thousands of watchers cost one
//! store watch. Objects are held in their stored form (bytes) with the few parsed bits
//! that selectors need (labels and selectable fields), never as parsed trees.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::ops::Bound;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use krust_api::{ApiError, fields::FieldSelector, labels::Selector};
use krust_store::{EventKind, KeyValue, RangeRequest, Store, StoreError, prefix_end};
use parking_lot::RwLock;
use serde_json::{Map, Value};
use tokio::sync::{broadcast, watch};

/// Where all objects live in the store.
pub const ROOT_PREFIX: &str = "/registry/";

/// Events kept per resource, at least (regardless of age).
const MIN_EVENTS: usize = 100;
/// Events kept per resource, at most.
const MAX_EVENTS: usize = 100_000;
/// Events younger than this are kept (up to `MAX_EVENTS`).
const EVENT_WINDOW: Duration = Duration::from_secs(150);
/// Buffered events per watcher before it is cut off and must resume.
const BROADCAST_CAPACITY: usize = 8192;

/// One object as cached.
#[derive(Debug)]
pub struct CachedObject {
    /// Store key.
    pub key: String,
    /// Namespace ("" when cluster-scoped).
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Mod revision (the object's resourceVersion).
    pub rv: u64,
    /// Stored form (see `stored`).
    pub stored: Bytes,
    /// `metadata.labels`.
    pub labels: Option<Map<String, Value>>,
    /// Selectable fields and their values.
    pub fields: Vec<(String, String)>,
}

impl CachedObject {
    /// Whether the object passes the filter.
    pub fn matches(&self, filter: &Filter) -> bool {
        if let Some(ns) = &filter.namespace
            && &self.namespace != ns
        {
            return false;
        }
        filter.labels.matches(self.labels.as_ref()) && filter.fields.matches(&self.fields)
    }
}

/// Kinds of watch events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchKind {
    /// Created (or first seen by this watcher).
    Added,
    /// Changed.
    Modified,
    /// Removed.
    Deleted,
}

impl WatchKind {
    /// Name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "ADDED",
            Self::Modified => "MODIFIED",
            Self::Deleted => "DELETED",
        }
    }
}

/// One change to one object.
#[derive(Debug)]
pub struct CacheEvent {
    /// Revision of the change.
    pub rv: u64,
    /// What happened.
    pub kind: WatchKind,
    /// The object after the change (for deletes: its last state).
    pub object: Arc<CachedObject>,
    /// The object before the change, if any.
    pub prev: Option<Arc<CachedObject>>,
    at: Instant,
    /// The event as a JSON watch line in the storage version, rendered once and shared by
    /// every watcher that sends it unchanged (the common case).
    line: std::sync::OnceLock<Bytes>,
}

impl CacheEvent {
    /// `{"type":..,"object":..}\n` for this event's own type, rendered on first use.
    pub fn json_line(&self) -> Bytes {
        self.line
            .get_or_init(|| watch_line(self.kind, &self.object.stored, self.rv))
            .clone()
    }
}

/// Renders one JSON watch event line from stored bytes.
pub fn watch_line(kind: WatchKind, stored_bytes: &[u8], rv: u64) -> Bytes {
    let mut out = bytes::BytesMut::with_capacity(stored_bytes.len() + 64);
    out.extend_from_slice(b"{\"type\":\"");
    out.extend_from_slice(kind.as_str().as_bytes());
    out.extend_from_slice(b"\",\"object\":");
    crate::stored::render_into(&mut out, stored_bytes, rv);
    out.extend_from_slice(b"}\n");
    out.freeze()
}

/// Which objects a list or watch wants.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only this namespace.
    pub namespace: Option<String>,
    /// Label selector.
    pub labels: Selector,
    /// Field selector.
    pub fields: FieldSelector,
}

/// Extracts what selectors need from an object of a given storage group/kind.
pub type Indexer = fn(group: &str, kind: &str, obj: &Value) -> Vec<(String, String)>;

struct Inner {
    objects: BTreeMap<String, Arc<CachedObject>>,
    events: VecDeque<Arc<CacheEvent>>,
    /// Revision of the newest event applied to this resource.
    rv: u64,
    /// Events with a revision greater than this are all in `events`.
    oldest: u64,
    tx: broadcast::Sender<Arc<CacheEvent>>,
}

/// The cache of one resource (one storage prefix).
pub struct ResourceCache {
    prefix: String,
    group: String,
    kind: String,
    namespaced: bool,
    indexer: Indexer,
    inner: RwLock<Inner>,
    progress: watch::Receiver<u64>,
}

/// A page of a list served from the cache.
pub struct Page {
    /// Objects in key order.
    pub items: Vec<Arc<CachedObject>>,
    /// The revision the list is consistent at.
    pub rv: u64,
    /// When cut by the limit: the key after which the next page starts.
    pub next_key: Option<String>,
}

/// What a watch starts with.
pub struct Subscription {
    /// Events to send first, in order.
    pub initial: Vec<Arc<CacheEvent>>,
    /// Live events after those.
    pub live: broadcast::Receiver<Arc<CacheEvent>>,
    /// The revision the initial events bring the watcher to.
    pub rv: u64,
}

impl ResourceCache {
    fn new(
        prefix: String,
        group: String,
        kind: String,
        namespaced: bool,
        indexer: Indexer,
        progress: watch::Receiver<u64>,
        rv: u64,
    ) -> Self {
        let (tx, _) = broadcast::channel(BROADCAST_CAPACITY);
        Self {
            prefix,
            group,
            kind,
            namespaced,
            indexer,
            inner: RwLock::new(Inner {
                objects: BTreeMap::new(),
                events: VecDeque::new(),
                rv,
                oldest: rv,
                tx,
            }),
            progress,
        }
    }

    /// Builds the cached form of a key-value of this resource (labels and fields parsed).
    pub fn index(&self, kv: &KeyValue) -> Option<CachedObject> {
        let rest = kv.key.strip_prefix(&self.prefix)?;
        let (namespace, name) = match (self.namespaced, rest.split_once('/')) {
            (true, Some((ns, name))) => (ns.to_string(), name.to_string()),
            _ => (String::new(), rest.to_string()),
        };
        let parsed: Value = match serde_json::from_slice(&kv.value) {
            Ok(v) => v,
            Err(e) => {
                tracing::error!(key = %kv.key, error = %e, "stored object is not valid JSON; serving it without selectors");
                Value::Null
            }
        };
        let labels = parsed
            .pointer("/metadata/labels")
            .and_then(Value::as_object)
            .cloned();
        let fields = (self.indexer)(&self.group, &self.kind, &parsed);
        Some(CachedObject {
            key: kv.key.clone(),
            namespace,
            name,
            rv: kv.mod_revision,
            stored: kv.value.clone(),
            labels,
            fields,
        })
    }

    fn apply(&self, kind: EventKind, kv: &KeyValue) {
        let mut inner = self.inner.write();
        let rv = kv.mod_revision;
        let prev = inner.objects.get(&kv.key).cloned();
        let event = match kind {
            EventKind::Put => {
                let Some(obj) = self.index(kv) else { return };
                let obj = Arc::new(obj);
                inner.objects.insert(kv.key.clone(), obj.clone());
                let kind = if prev.is_some() {
                    WatchKind::Modified
                } else {
                    WatchKind::Added
                };
                CacheEvent {
                    rv,
                    kind,
                    object: obj,
                    prev,
                    at: Instant::now(),
                    line: std::sync::OnceLock::new(),
                }
            }
            EventKind::Delete => {
                let Some(last) = inner.objects.remove(&kv.key) else {
                    return;
                };
                CacheEvent {
                    rv,
                    kind: WatchKind::Deleted,
                    object: last.clone(),
                    prev: Some(last),
                    at: Instant::now(),
                    line: std::sync::OnceLock::new(),
                }
            }
        };
        let event = Arc::new(event);
        inner.rv = rv;
        inner.events.push_back(event.clone());
        let now = Instant::now();
        while inner.events.len() > MAX_EVENTS
            || (inner.events.len() > MIN_EVENTS
                && inner
                    .events
                    .front()
                    .is_some_and(|e| now.duration_since(e.at) > EVENT_WINDOW))
        {
            if let Some(old) = inner.events.pop_front() {
                inner.oldest = old.rv;
            }
        }
        // Sent under the write lock so that a subscriber's snapshot and its live stream
        // neither overlap nor leave a gap. No receivers is fine.
        let _ = inner.tx.send(event);
    }

    fn reset(&self, kvs: &[KeyValue], rv: u64) {
        let mut objects = BTreeMap::new();
        for kv in kvs {
            if let Some(obj) = self.index(kv) {
                objects.insert(kv.key.clone(), Arc::new(obj));
            }
        }
        let mut inner = self.inner.write();
        inner.objects = objects;
        inner.events.clear();
        inner.rv = rv;
        inner.oldest = rv;
        // Replacing the sender ends every live watch; clients resume or re-list.
        inner.tx = broadcast::channel(BROADCAST_CAPACITY).0;
    }

    /// Fills a cache registered while the server runs (a new CRD's resource) from a range
    /// read at `rv`. Returns false when events newer than `rv` were applied meanwhile, so
    /// the caller reads again: a snapshot older than the cache would undo them.
    fn fill(&self, kvs: &[KeyValue], rv: u64) -> bool {
        let mut objects = BTreeMap::new();
        for kv in kvs {
            if let Some(obj) = self.index(kv) {
                objects.insert(kv.key.clone(), Arc::new(obj));
            }
        }
        let mut inner = self.inner.write();
        if inner.rv > rv {
            return false;
        }
        inner.objects = objects;
        inner.rv = rv;
        inner.oldest = inner.oldest.max(rv);
        true
    }

    fn list_rv(&self, inner: &Inner) -> u64 {
        inner.rv.max(*self.progress.borrow())
    }

    /// One object by key.
    pub fn get(&self, key: &str) -> (Option<Arc<CachedObject>>, u64) {
        let inner = self.inner.read();
        (inner.objects.get(key).cloned(), self.list_rv(&inner))
    }

    /// Objects matching `filter` in key order, starting after `after`, at most `limit`
    /// (0 = all).
    pub fn list(&self, filter: &Filter, after: Option<&str>, limit: usize) -> Page {
        let inner = self.inner.read();
        let rv = self.list_rv(&inner);
        let start = match &filter.namespace {
            Some(ns) if self.namespaced => format!("{}{ns}/", self.prefix),
            _ => self.prefix.clone(),
        };
        let end = prefix_end(&start);
        let lower = match after {
            Some(k) if k.as_bytes() >= start.as_bytes() => Bound::Excluded(k.to_string()),
            _ => Bound::Included(start),
        };
        let mut items = Vec::new();
        let mut next_key = None;
        if let Some(name) = filter.fields.exact_name() {
            // A name-pinned selector (kubectl rollout status, wait, delete) needs no scan.
            if let Some(ns) = filter.namespace.as_ref().filter(|_| self.namespaced) {
                let key = format!("{}{ns}/{name}", self.prefix);
                if let Some(o) = inner.objects.get(&key).filter(|o| o.matches(filter)) {
                    items.push(o.clone());
                }
                return Page { items, rv, next_key };
            }
        }
        for (key, obj) in inner.objects.range((lower, Bound::Excluded(end))) {
            if !obj.matches(filter) {
                continue;
            }
            if limit > 0 && items.len() == limit {
                next_key = items.last().map(|o: &Arc<CachedObject>| o.key.clone());
                let _ = key;
                break;
            }
            items.push(obj.clone());
        }
        Page { items, rv, next_key }
    }

    /// Starts a watch: from `rv` (events after it) or, with `None`, from a synthetic
    /// ADDED event per existing object.
    pub fn subscribe(&self, rv: Option<u64>) -> Result<Subscription, ApiError> {
        let inner = self.inner.read();
        let current = self.list_rv(&inner);
        let initial = match rv {
            None => inner
                .objects
                .values()
                .map(|o| {
                    Arc::new(CacheEvent {
                        rv: o.rv,
                        kind: WatchKind::Added,
                        object: o.clone(),
                        prev: None,
                        at: Instant::now(),
                        line: std::sync::OnceLock::new(),
                    })
                })
                .collect(),
            Some(rv) if rv < inner.oldest => return Err(ApiError::too_old(rv, inner.oldest)),
            Some(rv) => inner.events.iter().filter(|e| e.rv > rv).cloned().collect(),
        };
        Ok(Subscription {
            initial,
            live: inner.tx.subscribe(),
            rv: current.max(rv.unwrap_or(0)),
        })
    }
}

/// Description of one cached resource.
#[derive(Debug, Clone)]
pub struct CacheSpec {
    /// Storage prefix (ends in `/`).
    pub prefix: String,
    /// Storage group.
    pub group: String,
    /// Storage kind.
    pub kind: String,
    /// Namespaced or not.
    pub namespaced: bool,
}

/// All resource caches plus the task that feeds them.
pub struct WatchCache {
    caches: RwLock<HashMap<String, Arc<ResourceCache>>>,
    progress_tx: watch::Sender<u64>,
    progress: watch::Receiver<u64>,
    indexer: Indexer,
}

impl WatchCache {
    /// Loads every object from the store and returns the cache (not yet following the
    /// store; call `follow`). Returns the revision it was loaded at.
    pub async fn load(
        store: &dyn Store,
        specs: &[CacheSpec],
        indexer: Indexer,
    ) -> Result<(Arc<Self>, u64), StoreError> {
        let (progress_tx, progress) = watch::channel(0);
        let cache = Arc::new(Self {
            caches: RwLock::new(HashMap::new()),
            progress_tx,
            progress,
            indexer,
        });
        for s in specs {
            cache.add(s.clone(), 0);
        }
        let rv = cache.reload(store).await?;
        Ok((cache, rv))
    }

    /// Registers a resource (e.g. a new CRD) if not yet known.
    pub fn add(&self, spec: CacheSpec, rv: u64) -> Arc<ResourceCache> {
        let mut caches = self.caches.write();
        caches
            .entry(spec.prefix.clone())
            .or_insert_with(|| {
                Arc::new(ResourceCache::new(
                    spec.prefix,
                    spec.group,
                    spec.kind,
                    spec.namespaced,
                    self.indexer,
                    self.progress.clone(),
                    rv,
                ))
            })
            .clone()
    }

    /// Registers a resource while the server runs and loads what the store already holds
    /// under its prefix (e.g. custom resources of a CRD served again after a restart).
    pub async fn add_loaded(
        &self,
        store: &dyn Store,
        spec: CacheSpec,
    ) -> Result<Arc<ResourceCache>, StoreError> {
        if let Some(c) = self.resource(&spec.prefix) {
            return Ok(c);
        }
        let prefix = spec.prefix.clone();
        // Registered first, so events from now on reach it; then loaded from a snapshot at
        // least as new as anything it missed.
        let cache = self.add(spec, 0);
        for _ in 0..10 {
            let resp = store
                .range(RangeRequest {
                    start: prefix.clone(),
                    end: prefix_end(&prefix),
                    revision: None,
                    limit: None,
                })
                .await?;
            if cache.fill(&resp.kvs, resp.revision) {
                return Ok(cache);
            }
        }
        Err(StoreError::Backend(format!(
            "could not load {prefix}: the store kept changing"
        )))
    }

    /// The cache of a storage prefix.
    pub fn resource(&self, prefix: &str) -> Option<Arc<ResourceCache>> {
        self.caches.read().get(prefix).cloned()
    }

    async fn reload(&self, store: &dyn Store) -> Result<u64, StoreError> {
        let resp = store
            .range(RangeRequest {
                start: ROOT_PREFIX.into(),
                end: prefix_end(ROOT_PREFIX),
                revision: None,
                limit: None,
            })
            .await?;
        let caches: Vec<Arc<ResourceCache>> = self.caches.read().values().cloned().collect();
        for c in caches {
            let start = c.prefix.as_str();
            let kvs: Vec<KeyValue> = resp
                .kvs
                .iter()
                .filter(|kv| kv.key.starts_with(start))
                .cloned()
                .collect();
            c.reset(&kvs, resp.revision);
        }
        self.progress_tx.send_replace(resp.revision);
        Ok(resp.revision)
    }

    fn cache_for_key(&self, key: &str) -> Option<Arc<ResourceCache>> {
        // /registry/<group>/<plural>/...
        let rest = key.strip_prefix(ROOT_PREFIX)?;
        let mut parts = rest.splitn(3, '/');
        let group = parts.next()?;
        let plural = parts.next()?;
        self.resource(&format!("{ROOT_PREFIX}{group}/{plural}/"))
    }

    /// Follows the store from `rv` forever, re-loading everything if the watch breaks.
    pub async fn follow(
        self: Arc<Self>,
        store: Arc<dyn Store>,
        mut rv: u64,
        shutdown: tokio_util::sync::CancellationToken,
    ) {
        use futures_util::StreamExt;
        loop {
            let mut stream = match store.watch(ROOT_PREFIX, rv).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "watch cache: store watch failed, re-loading");
                    rv = self.reload_until_ok(store.as_ref(), &shutdown).await;
                    continue;
                }
            };
            loop {
                let next = tokio::select! {
                    _ = shutdown.cancelled() => return,
                    n = stream.next() => n,
                };
                match next {
                    Some(Ok(ev)) => {
                        if let Some(c) = self.cache_for_key(&ev.kv.key) {
                            c.apply(ev.kind, &ev.kv);
                        }
                        rv = ev.kv.mod_revision;
                        self.progress_tx.send_replace(rv);
                    }
                    Some(Err(e)) => {
                        tracing::warn!(error = %e, "watch cache: store watch broke, re-loading");
                        rv = self.reload_until_ok(store.as_ref(), &shutdown).await;
                        break;
                    }
                    None => {
                        if shutdown.is_cancelled() {
                            return;
                        }
                        tracing::warn!("watch cache: store watch ended, re-loading");
                        rv = self.reload_until_ok(store.as_ref(), &shutdown).await;
                        break;
                    }
                }
            }
        }
    }

    async fn reload_until_ok(
        &self,
        store: &dyn Store,
        shutdown: &tokio_util::sync::CancellationToken,
    ) -> u64 {
        loop {
            match self.reload(store).await {
                Ok(rv) => return rv,
                Err(e) => {
                    tracing::error!(error = %e, "watch cache: re-load failed; retrying");
                    tokio::select! {
                        _ = shutdown.cancelled() => return *self.progress.borrow(),
                        _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    }
                }
            }
        }
    }

    /// The newest revision the cache has applied.
    pub fn revision(&self) -> u64 {
        *self.progress.borrow()
    }

    /// Waits until the cache has applied revision `rv`, for at most `timeout`.
    pub async fn wait_for(&self, rv: u64, timeout: Duration) -> Result<(), ApiError> {
        let mut progress = self.progress.clone();
        let wait = progress.wait_for(|p| *p >= rv);
        match tokio::time::timeout(timeout, wait).await {
            Ok(Ok(_)) => Ok(()),
            _ => Err(ApiError::timeout(
                format!("Too large resource version: {rv}, current: {}", self.revision()),
                1,
            )),
        }
    }
}
