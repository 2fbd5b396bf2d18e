//! Settings of the embedded store.

use std::time::Duration;

/// How the embedded store is tuned. `Default` suits a single-node cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddedConfig {
    /// Bytes of memory redb may use to cache pages. More cache means fewer disk reads for
    /// lists and watch replays; the default is 256 MiB.
    pub cache_size: usize,
    /// The most transactions committed together with one fsync. Larger batches raise
    /// throughput under load; each waiting caller also waits for the whole batch. Default 256.
    pub max_batch: usize,
    /// How long the writer may wait for more transactions when far fewer are queued than
    /// it committed last time (callers it just answered are about to send again); they then
    /// share one fsync instead of each paying for their own. 0 turns it off. Default 1 ms.
    pub batch_linger: Duration,
    /// When history is discarded automatically.
    pub compaction: CompactionPolicy,
    /// How many commits (batches) a live watcher may fall behind before it is cancelled
    /// with `WatchLagged`. Default 4096.
    pub watch_buffer: usize,
    /// Verify the checksum of every page when opening (redb's integrity check). It reads the
    /// whole file, so it costs start-up time on large stores; a file that fails it is
    /// reported as corrupt instead of being trusted. Default true. After an unclean shutdown
    /// redb repairs the file at open whatever this says.
    pub verify_on_open: bool,
}

impl Default for EmbeddedConfig {
    fn default() -> Self {
        Self {
            cache_size: 256 * 1024 * 1024,
            max_batch: 256,
            batch_linger: Duration::from_millis(1),
            compaction: CompactionPolicy::default(),
            watch_buffer: 4096,
            verify_on_open: true,
        }
    }
}

/// When the writer compacts history on its own.
///
/// Every `interval` the writer notes the current revision, then compacts to the newest
/// revision that every configured retention allows: one noted at least `retain_for` ago,
/// and one at least `retain_revisions` behind the current revision. The default matches
/// kube-apiserver, which every 5 minutes compacts to the revision current 5 minutes before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompactionPolicy {
    /// How often to check; `None` turns automatic compaction off (explicit `compact` still
    /// works).
    pub interval: Option<Duration>,
    /// Keep at least this much time of history; `None` sets no time bound.
    pub retain_for: Option<Duration>,
    /// Keep at least this many revisions of history; `None` sets no revision bound.
    pub retain_revisions: Option<u64>,
    /// The most key changes (history records) discarded in one step; a step finishes the
    /// revision it is in. The writer interleaves steps with client batches, so this bounds
    /// how long compaction can delay writers. Default 1000.
    pub chunk_changes: usize,
}

impl Default for CompactionPolicy {
    fn default() -> Self {
        Self {
            interval: Some(Duration::from_secs(300)),
            retain_for: Some(Duration::from_secs(300)),
            retain_revisions: None,
            chunk_changes: 1000,
        }
    }
}

impl CompactionPolicy {
    /// A policy that never compacts on its own.
    pub fn manual() -> Self {
        Self {
            interval: None,
            ..Self::default()
        }
    }
}
