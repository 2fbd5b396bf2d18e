//! Runs the conformance suite (`tests/suite`) against every backend.

mod suite;

use std::sync::Arc;

use krust_store::{CompactionPolicy, EmbeddedConfig, EmbeddedStore, MemoryStore, Store};
use suite::Made;

fn memory() -> Made {
    (Arc::new(MemoryStore::new()), Box::new(()))
}

fn memory_small_buffer() -> Made {
    (Arc::new(MemoryStore::with_watch_buffer(4)), Box::new(()))
}

fn embedded_with(config: EmbeddedConfig) -> Made {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = EmbeddedStore::open(&dir.path().join("store.redb"), config).expect("open");
    (Arc::new(store), Box::new(dir))
}

fn embedded() -> Made {
    embedded_with(EmbeddedConfig {
        compaction: CompactionPolicy::manual(),
        cache_size: 16 << 20,
        ..EmbeddedConfig::default()
    })
}

fn embedded_small_buffer() -> Made {
    embedded_with(EmbeddedConfig {
        compaction: CompactionPolicy::manual(),
        watch_buffer: 4,
        // One commit per transaction, so that the writes overflow the small buffer.
        max_batch: 1,
        ..EmbeddedConfig::default()
    })
}

macro_rules! conformance {
    ($backend:ident, $make:expr, $make_small_buffer:expr, [$($test:ident),+ $(,)?]) => {
        mod $backend {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    let (store, _guard): Made = $make;
                    suite::$test(store).await;
                }
            )+
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn lagging_watcher_is_cancelled() {
                let (store, _guard): Made = $make_small_buffer;
                suite::lagging_watcher_is_cancelled(store).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn lag_during_catch_up_is_recovered() {
                let (store, _guard): Made = $make_small_buffer;
                suite::lag_during_catch_up_is_recovered(store).await;
            }
        }
    };
}

macro_rules! all_backends {
    ($($test:ident),+ $(,)?) => {
        conformance!(memory_backend, memory(), memory_small_buffer(), [$($test),+]);
        conformance!(embedded_backend, embedded(), embedded_small_buffer(), [$($test),+]);
    };
}

all_backends!(
    revisions_strictly_increase,
    create_if_absent,
    update_if_mod_revision_matches,
    stale_update_fails_with_current_value,
    delete_and_recreate,
    range_latest_and_older,
    limit_and_more,
    watch_from_zero_and_middle,
    watch_live_with_many_writers,
    watch_filters_by_prefix,
    watch_replays_long_history,
    compaction,
    future_revision,
    invalid_transactions_are_rejected,
    matches_model,
);

/// The trait object must be usable as the API server holds it.
#[test]
fn backends_are_store_trait_objects() {
    fn assert_store(_: &Arc<dyn Store>) {}
    assert_store(&memory().0);
}
