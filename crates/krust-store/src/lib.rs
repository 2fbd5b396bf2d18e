//! The datastore: a revisioned key-value store with the semantics of etcd v3.
//!
//! One global revision increases by one with every successful write transaction; every
//! key remembers the revision that created it and the one that last modified it. Reads can
//! be served at an older revision until compaction removes it, and a watch delivers every
//! change after a given revision, in order, exactly once. The API server relies only on
//! this trait, so the embedded backend and an etcd backend are interchangeable.
//!
//! Backends: [`EmbeddedStore`] (one redb file, the default) and [`MemoryStore`] (tests).
//! Both share the transaction rules (`exec`), request interpretation (`request`) and watch
//! machinery (`watch`), so they behave identically.

#![warn(missing_docs)]

mod embedded;
mod exec;
mod memory;
mod request;
mod types;
mod watch;

pub use embedded::{CompactionPolicy, EmbeddedConfig, EmbeddedStats, EmbeddedStore};
pub use memory::MemoryStore;
pub use types::{
    Compare, Event, EventKind, KeyValue, Op, OpResult, RangeRequest, RangeResponse, Revision, Store,
    StoreError, Txn, TxnResponse, WatchStream, prefix_end,
};
