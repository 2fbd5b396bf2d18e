//! The memory backend: exact etcd semantics without a disk, for tests.
//!
//! Everything sits behind one lock: a transaction applies and publishes its events while
//! holding it, so events reach watchers in revision order. Nothing survives the process.

mod state;

use std::sync::Arc;

use parking_lot::Mutex;

use crate::exec;
use crate::request;
use crate::types::{
    KeyValue, RangeRequest, RangeResponse, Revision, Store, StoreError, Txn, TxnResponse, WatchStream,
};
use crate::watch::{self, EventSource, Replay, WatchHub};
use state::State;

/// How many commits a live watcher may fall behind by default before it is cancelled.
const DEFAULT_WATCH_BUFFER: usize = 4096;

/// A [`Store`] held entirely in memory, for tests and simulations.
///
/// It keeps every revision until [`Store::compact`] is called and never compacts on its
/// own. Dropping it ends all watch streams.
#[derive(Debug)]
pub struct MemoryStore {
    state: Arc<Shared>,
    hub: WatchHub,
}

#[derive(Debug)]
struct Shared(Mutex<State>);

impl MemoryStore {
    /// An empty store at revision 0.
    pub fn new() -> Self {
        Self::with_watch_buffer(DEFAULT_WATCH_BUFFER)
    }

    /// An empty store whose live watchers are cancelled with [`StoreError::WatchLagged`]
    /// once they fall more than `commits` commits behind; small values let tests exercise
    /// that path.
    pub fn with_watch_buffer(commits: usize) -> Self {
        Self {
            state: Arc::new(Shared(Mutex::new(State::default()))),
            hub: WatchHub::new(commits),
        }
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl EventSource for Shared {
    fn events_after(&self, prefix: &str, after: Revision, max_events: usize) -> Result<Replay, StoreError> {
        self.0.lock().events_after(prefix, after, max_events)
    }
}

#[async_trait::async_trait]
impl Store for MemoryStore {
    async fn get(&self, key: &str) -> Result<Option<KeyValue>, StoreError> {
        let req = RangeRequest {
            start: key.to_string(),
            ..RangeRequest::default()
        };
        Ok(self.state.0.lock().range(&req)?.kvs.pop())
    }

    async fn range(&self, req: RangeRequest) -> Result<RangeResponse, StoreError> {
        self.state.0.lock().range(&req)
    }

    async fn txn(&self, txn: Txn) -> Result<TxnResponse, StoreError> {
        exec::validate(&txn)?;
        let mut state = self.state.0.lock();
        let current = state.current;
        let applied = exec::apply(&mut *state, &txn, current)?;
        if applied.response.revision != current {
            state.commit(applied.response.revision, applied.events.clone());
            self.hub.publish(applied.events);
        }
        Ok(applied.response)
    }

    async fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream, StoreError> {
        let source: Arc<dyn EventSource> = self.state.clone();
        watch::open(source, &self.hub, prefix, after).await
    }

    async fn compact(&self, revision: Revision) -> Result<(), StoreError> {
        let mut state = self.state.0.lock();
        if request::compaction_target(revision, state.current, state.compacted)? {
            state.compact(revision);
        }
        Ok(())
    }

    async fn current_revision(&self) -> Result<Revision, StoreError> {
        Ok(self.state.0.lock().current)
    }

    async fn compacted_revision(&self) -> Result<Revision, StoreError> {
        Ok(self.state.0.lock().compacted)
    }
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt;

    use super::*;
    use crate::types::Op;

    #[tokio::test]
    async fn dropping_the_store_ends_watch_streams() {
        let store = MemoryStore::new();
        let mut watch = store.watch("/", 0).await.expect("watch");
        let put = Op::Put("/a".into(), bytes::Bytes::from_static(b"1"));
        store
            .txn(Txn {
                success: vec![put],
                ..Txn::default()
            })
            .await
            .expect("put");
        drop(store);
        assert!(
            matches!(watch.next().await, Some(Ok(_))),
            "committed event still delivered"
        );
        assert!(watch.next().await.is_none());
    }
}
