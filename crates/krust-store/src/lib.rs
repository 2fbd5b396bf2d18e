//! The datastore: a revisioned key-value store with the semantics of etcd v3.
//!
//! One global revision increases by one with every successful write transaction; every
//! key remembers the revision that created it and the one that last modified it. Reads can
//! be served at an older revision until compaction removes it, and a watch delivers every
//! change after a given revision, in order, exactly once. The API server relies only on
//! this trait, so the embedded backend and an etcd backend are interchangeable.

mod types;

pub use types::{
    Compare, Event, EventKind, KeyValue, Op, OpResult, RangeRequest, RangeResponse, Revision, Store,
    StoreError, Txn, TxnResponse, WatchStream, prefix_end,
};
