//! The embedded backend: one redb file, one writer thread, no other process.
//!
//! Writes go through the writer thread ([`writer`]), which commits queued transactions in
//! groups with one fsync each and then feeds watchers. Reads ([`read`]) run in short redb
//! read transactions on the caller's side and never wait for the writer. The layout is
//! described in [`tables`], opening and its checks in [`open`], compaction in
//! [`compaction`].

mod compaction;
mod config;
mod open;
mod read;
mod tables;
mod write;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Instant;

use parking_lot::{Mutex, RwLock};
use redb::Database;
use tokio::sync::oneshot;

pub use config::{CompactionPolicy, EmbeddedConfig};

use crate::exec;
use crate::types::{
    KeyValue, RangeRequest, RangeResponse, Revision, Store, StoreError, Txn, TxnResponse, WatchStream,
};
use crate::watch::{self, EventSource, Replay, WatchHub};
use writer::{Command, Writer};

/// The default [`Store`]: a single redb file on local disk.
///
/// A successful [`Store::txn`] is durable (fsynced) before it returns, and concurrent
/// writers share fsyncs. Reads do not wait for writes. History is compacted automatically
/// according to [`EmbeddedConfig::compaction`].
///
/// Call [`EmbeddedStore::close`] (or drop the store) to finish queued writes and release
/// the file; watch streams end then. Only one process may have the file open.
pub struct EmbeddedStore {
    shared: Arc<Shared>,
    commands: RwLock<Option<mpsc::Sender<Command>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    path: PathBuf,
}

/// What the store handle, the writer thread and watch streams share.
pub(super) struct Shared {
    /// `None` once the store is closed.
    db: RwLock<Option<Arc<Database>>>,
    hub: WatchHub,
    /// The last committed revision, for cheap `current_revision` calls.
    current: AtomicU64,
    /// The last committed compaction revision.
    compacted: AtomicU64,
    /// Counters for [`EmbeddedStore::stats`].
    stats: StatsCounters,
    /// Whether the previous run did not close the file cleanly.
    unclean: bool,
}

/// Counters the writer keeps, for monitoring and for checking that commits are shared.
#[derive(Debug, Default)]
struct StatsCounters {
    commits: AtomicU64,
    transactions: AtomicU64,
    largest_batch: AtomicU64,
    compaction_steps: AtomicU64,
}

/// A snapshot of what the writer has done since the store was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EmbeddedStats {
    /// Durable commits (fsyncs) made.
    pub commits: u64,
    /// Client transactions answered successfully (including ones that changed nothing).
    pub transactions: u64,
    /// The most transactions committed together.
    pub largest_batch: u64,
    /// Compaction steps run (each discards a bounded part of old history).
    pub compaction_steps: u64,
    /// Whether the previous run did not close the store cleanly (crash, kill, power loss),
    /// so redb recovered the file while opening it.
    pub recovered_at_open: bool,
}

impl Shared {
    fn db(&self) -> Result<Arc<Database>, StoreError> {
        self.db.read().clone().ok_or(StoreError::Closed)
    }
}

impl EventSource for Shared {
    fn events_after(&self, prefix: &str, after: Revision, max_events: usize) -> Result<Replay, StoreError> {
        read::events_after(&*self.db()?, prefix, after, max_events)
    }
}

impl EmbeddedStore {
    /// Opens the store file at `path`, creating it (and its directory) if absent.
    ///
    /// After an unclean shutdown redb repairs the file first (logged as a warning); with
    /// [`EmbeddedConfig::verify_on_open`] every page checksum is verified. A file that fails
    /// the checks gives [`StoreError::Corrupt`] with what is wrong and what to do. Blocks
    /// while it reads the file; call it before serving, or from `spawn_blocking`.
    pub fn open(path: &Path, config: EmbeddedConfig) -> Result<Self, StoreError> {
        let open::Opened { db, meta, unclean } = open::open_database(path, &config)?;
        let db = Arc::new(db);
        let shared = Arc::new(Shared {
            db: RwLock::new(Some(Arc::clone(&db))),
            hub: WatchHub::new(config.watch_buffer),
            current: AtomicU64::new(meta.current),
            compacted: AtomicU64::new(meta.compacted),
            stats: StatsCounters::default(),
            unclean,
        });
        let (sender, receiver) = mpsc::channel();
        let writer = Writer {
            db,
            shared: Arc::clone(&shared),
            commands: receiver,
            meta,
            scheduler: compaction::Scheduler::new(config.compaction.clone(), Instant::now(), meta.current),
            max_batch: config.max_batch.max(1),
            linger: config.batch_linger,
            chunk_changes: config.compaction.chunk_changes,
        };
        let handle = std::thread::Builder::new()
            .name("krust-store-writer".to_string())
            .spawn(move || writer.run())
            .map_err(|e| StoreError::Backend(format!("cannot start the store writer thread: {e}")))?;
        Ok(Self {
            shared,
            commands: RwLock::new(Some(sender)),
            writer: Mutex::new(Some(handle)),
            path: path.to_path_buf(),
        })
    }

    /// The store file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the writer has done since the store was opened: commits versus transactions
    /// shows how well fsyncs are shared.
    pub fn stats(&self) -> EmbeddedStats {
        let stats = &self.shared.stats;
        EmbeddedStats {
            commits: stats.commits.load(Ordering::Relaxed),
            transactions: stats.transactions.load(Ordering::Relaxed),
            largest_batch: stats.largest_batch.load(Ordering::Relaxed),
            compaction_steps: stats.compaction_steps.load(Ordering::Relaxed),
            recovered_at_open: self.shared.unclean,
        }
    }

    /// Stops accepting requests, lets the writer finish what is queued, ends watch streams
    /// and closes the file. Later calls of any method fail with [`StoreError::Closed`].
    ///
    /// Blocks until the writer thread has stopped (normally a few milliseconds). Calling it
    /// again is harmless. Dropping the store does the same.
    pub fn close(&self) -> Result<(), StoreError> {
        drop(self.commands.write().take());
        let handle = self.writer.lock().take();
        let mut result = Ok(());
        if let Some(handle) = handle
            && handle.join().is_err()
        {
            result = Err(StoreError::Backend(
                "the store writer thread panicked".to_string(),
            ));
        }
        self.shared.hub.close();
        if let Some(db) = self.shared.db.write().take() {
            // If a read still holds the database, it closes when that read finishes.
            if let Ok(db) = Arc::try_unwrap(db) {
                db.close()
                    .map_err(|e| StoreError::Backend(format!("closing the store file: {e}")))?;
            }
        }
        result
    }

    async fn send<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> Command,
    ) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        {
            let commands = self.commands.read();
            let sender = commands.as_ref().ok_or(StoreError::Closed)?;
            sender.send(make(reply)).map_err(|_| StoreError::Closed)?;
        }
        answer.await.map_err(|_| {
            StoreError::Backend("the store writer stopped before answering; see its log".to_string())
        })?
    }
}

impl Drop for EmbeddedStore {
    fn drop(&mut self) {
        if let Err(error) = self.close() {
            tracing::error!(%error, "closing the embedded store failed");
        }
    }
}

impl std::fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl Store for EmbeddedStore {
    async fn get(&self, key: &str) -> Result<Option<KeyValue>, StoreError> {
        // A point read is a few page lookups, usually cached: cheaper inline than on a
        // blocking-pool thread.
        read::get(&*self.shared.db()?, key)
    }

    async fn range(&self, req: RangeRequest) -> Result<RangeResponse, StoreError> {
        let db = self.shared.db()?;
        tokio::task::spawn_blocking(move || read::range(&db, &req))
            .await
            .map_err(|e| StoreError::Backend(format!("range read task failed: {e}")))?
    }

    async fn txn(&self, txn: Txn) -> Result<TxnResponse, StoreError> {
        exec::validate(&txn)?;
        self.send(|reply| Command::Txn { txn, reply }).await
    }

    async fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream, StoreError> {
        let source: Arc<dyn EventSource> = self.shared.clone();
        watch::open(source, &self.shared.hub, prefix, after).await
    }

    async fn compact(&self, revision: Revision) -> Result<(), StoreError> {
        self.send(|reply| Command::Compact { revision, reply }).await
    }

    async fn current_revision(&self) -> Result<Revision, StoreError> {
        self.shared.db()?;
        Ok(self.shared.current.load(Ordering::Acquire))
    }

    async fn compacted_revision(&self) -> Result<Revision, StoreError> {
        self.shared.db()?;
        Ok(self.shared.compacted.load(Ordering::Acquire))
    }
}
