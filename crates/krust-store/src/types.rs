//! The `Store` trait and the values that cross it.

use std::pin::Pin;

use bytes::Bytes;
use futures_core::Stream;

/// A store revision. 0 means "before anything was written".
pub type Revision = u64;

/// One key at one revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    /// The key.
    pub key: String,
    /// The value (empty for a delete event's `kv`).
    pub value: Bytes,
    /// Revision of the write that created this key (since its last delete).
    pub create_revision: Revision,
    /// Revision of the last write to this key.
    pub mod_revision: Revision,
    /// Number of writes since creation, starting at 1.
    pub version: u64,
}

/// A condition a transaction checks before choosing its branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Compare {
    /// The key's `mod_revision` equals the given one; 0 means the key does not exist.
    ModRevision(String, Revision),
}

/// One operation of a transaction branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Read the latest value of a key.
    Get(String),
    /// Create or replace a key.
    Put(String, Bytes),
    /// Remove a key (no-op when absent).
    Delete(String),
}

/// The result of one `Op`, in the same position as the op.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpResult {
    /// The value read, if any.
    Get(Option<KeyValue>),
    /// The value that was replaced, if any, and the new key-value.
    Put {
        /// Previous value.
        prev: Option<KeyValue>,
        /// The value as stored, with its revisions.
        kv: KeyValue,
    },
    /// The value that was removed, if any.
    Delete {
        /// Previous value.
        prev: Option<KeyValue>,
    },
}

/// An atomic compare-then-act transaction, as etcd's `Txn`.
///
/// All writes of the chosen branch share one new revision; a branch without writes does
/// not advance the revision.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Txn {
    /// Conditions that must all hold for `success` to run.
    pub compares: Vec<Compare>,
    /// Ops run when every compare holds.
    pub success: Vec<Op>,
    /// Ops run otherwise.
    pub failure: Vec<Op>,
}

/// What a transaction did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnResponse {
    /// Whether the compares held (and `success` ran).
    pub succeeded: bool,
    /// The store revision after the transaction (the new one if it wrote).
    pub revision: Revision,
    /// One result per op of the branch that ran.
    pub results: Vec<OpResult>,
}

/// A range read over `[start, end)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeRequest {
    /// First key (inclusive).
    pub start: String,
    /// End key (exclusive); use [`prefix_end`] to read a prefix.
    pub end: String,
    /// Read as of this revision; `None` reads the latest.
    pub revision: Option<Revision>,
    /// At most this many keys; `None` or 0 means no limit.
    pub limit: Option<usize>,
}

/// The answer to a range read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeResponse {
    /// The keys in order.
    pub kvs: Vec<KeyValue>,
    /// True when the limit cut the result short.
    pub more: bool,
    /// The revision the read was served at.
    pub revision: Revision,
}

/// Whether a change wrote or removed a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// Created or updated.
    Put,
    /// Removed.
    Delete,
}

/// One change, as delivered by a watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Put or delete.
    pub kind: EventKind,
    /// For a put, the new key-value; for a delete, the key with `mod_revision` set to the
    /// delete's revision and an empty value.
    pub kv: KeyValue,
    /// The key-value before this change, if the key existed.
    pub prev: Option<KeyValue>,
}

/// Errors of every backend.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The revision asked for has been compacted away.
    #[error("required revision {requested} has been compacted (oldest available is {compacted})")]
    Compacted {
        /// Revision asked for.
        requested: Revision,
        /// The compaction revision.
        compacted: Revision,
    },
    /// The revision asked for is newer than the store's.
    #[error("required revision {requested} is a future revision (current is {current})")]
    FutureRevision {
        /// Revision asked for.
        requested: Revision,
        /// The current revision.
        current: Revision,
    },
    /// A watcher fell too far behind and was dropped; it must re-list.
    #[error("watch fell behind and was cancelled")]
    WatchLagged,
    /// On-disk data failed an integrity check.
    #[error("store data is corrupt: {0}")]
    Corrupt(String),
    /// The store is shut down.
    #[error("store is closed")]
    Closed,
    /// Any other backend failure (I/O, network, engine).
    #[error("store backend failure: {0}")]
    Backend(String),
}

/// A stream of changes in revision order; it ends with an error item if the watch breaks.
pub type WatchStream = Pin<Box<dyn Stream<Item = Result<Event, StoreError>> + Send>>;

/// A revisioned key-value store.
#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    /// The latest value of one key.
    async fn get(&self, key: &str) -> Result<Option<KeyValue>, StoreError>;

    /// The keys in a range, at the latest revision or a given older one.
    async fn range(&self, req: RangeRequest) -> Result<RangeResponse, StoreError>;

    /// Runs a transaction atomically; once it returns, its writes are durable.
    async fn txn(&self, txn: Txn) -> Result<TxnResponse, StoreError>;

    /// Every change to keys starting with `prefix` with a revision greater than `after`,
    /// in order, then live changes as they commit. Fails with `Compacted` when `after` is
    /// older than the compaction revision.
    async fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream, StoreError>;

    /// Discards history older than `revision`: reads and watches before it fail afterwards.
    async fn compact(&self, revision: Revision) -> Result<(), StoreError>;

    /// The current revision.
    async fn current_revision(&self) -> Result<Revision, StoreError>;

    /// The compaction revision (0 if never compacted).
    async fn compacted_revision(&self) -> Result<Revision, StoreError>;
}

/// The exclusive end key of all keys starting with `prefix`.
pub fn prefix_end(prefix: &str) -> String {
    let mut bytes = prefix.as_bytes().to_vec();
    while let Some(last) = bytes.pop() {
        if last < 0xff {
            bytes.push(last + 1);
            // Keys are UTF-8 paths of ASCII characters; incrementing an ASCII byte stays ASCII.
            return String::from_utf8(bytes).unwrap_or_else(|_| "\u{10FFFF}".to_string());
        }
    }
    "\u{10FFFF}".to_string()
}
