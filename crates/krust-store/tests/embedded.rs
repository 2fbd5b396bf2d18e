//! Behaviour specific to the embedded backend: persistence across reopen, group commit,
//! automatic and chunked compaction, bounded file size, shutdown.

mod suite;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use krust_store::{CompactionPolicy, EmbeddedConfig, EmbeddedStore, Op, Store, StoreError, Txn};
use suite::{delete_ok, model, prefix, put_ok, take};

fn config(compaction: CompactionPolicy) -> EmbeddedConfig {
    EmbeddedConfig {
        compaction,
        cache_size: 16 << 20,
        ..EmbeddedConfig::default()
    }
}

fn open(path: &Path, compaction: CompactionPolicy) -> Arc<EmbeddedStore> {
    Arc::new(EmbeddedStore::open(path, config(compaction)).expect("open"))
}

fn dyn_store(store: &Arc<EmbeddedStore>) -> Arc<dyn Store> {
    Arc::clone(store) as Arc<dyn Store>
}

/// Polls until `check` holds, failing after 20 seconds.
async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopen_keeps_everything() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("data/store.redb");
    let mut model = model::Model::default();
    let mut rng = model::Rng(42);
    {
        let store = open(&path, CompactionPolicy::manual());
        let dynamic = dyn_store(&store);
        for _ in 0..60 {
            let txn = model.random_txn(&mut rng);
            let expected = model.apply(&txn);
            assert_eq!(dynamic.txn(txn).await.expect("txn"), expected);
        }
        dynamic.compact(20).await.expect("compact");
        store.close().expect("close");
        assert_eq!(dynamic.get("/m/k0").await, Err(StoreError::Closed));
    }
    let store = open(&path, CompactionPolicy::manual());
    assert!(!store.stats().recovered_at_open, "a clean close needs no repair");
    let dynamic = dyn_store(&store);
    let current = model.current();
    assert_eq!(dynamic.current_revision().await.expect("rev"), current);
    assert_eq!(dynamic.compacted_revision().await.expect("compacted"), 20);
    assert!(matches!(
        dynamic.range(prefix(model::PREFIX, Some(19))).await,
        Err(StoreError::Compacted { .. })
    ));
    for rev in 20..=current {
        let got = dynamic
            .range(prefix(model::PREFIX, Some(rev)))
            .await
            .expect("range");
        assert_eq!(got.kvs, model.state_at(rev), "range at {rev} after reopen");
    }
    let mut watch = dynamic.watch(model::PREFIX, 20).await.expect("watch");
    let expected: Vec<_> = model
        .events()
        .into_iter()
        .filter(|e| e.kv.mod_revision > 20)
        .collect();
    assert_eq!(take(&mut watch, expected.len()).await, expected);
    // Writing continues from the stored revision.
    let response = put_ok(&dynamic, "/after/reopen", "x").await;
    assert_eq!(response.revision, current + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_share_commits() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(&dir.path().join("store.redb"), CompactionPolicy::manual());
    let dynamic = dyn_store(&store);
    let value = Bytes::from(vec![7u8; 2048]);
    let mut tasks = Vec::new();
    for task in 0..64 {
        let store = Arc::clone(&dynamic);
        let value = value.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..20 {
                let put = Op::Put(format!("/gc/{task}/{i}"), value.clone());
                store
                    .txn(Txn {
                        success: vec![put],
                        ..Txn::default()
                    })
                    .await
                    .expect("put");
            }
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    let stats = store.stats();
    assert_eq!(stats.transactions, 64 * 20);
    assert_eq!(dynamic.current_revision().await.expect("rev"), 64 * 20);
    assert!(
        stats.commits * 2 <= stats.transactions,
        "64 concurrent writers should share fsyncs: {stats:?}"
    );
    assert!(stats.largest_batch > 1, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn automatic_compaction_by_revisions_in_small_steps() {
    let dir = tempfile::tempdir().expect("temp dir");
    let policy = CompactionPolicy {
        interval: Some(Duration::from_millis(20)),
        retain_for: None,
        retain_revisions: Some(10),
        chunk_changes: 3,
    };
    let store = open(&dir.path().join("store.redb"), policy);
    let dynamic = dyn_store(&store);
    let mut model = model::Model::default();
    let mut rng = model::Rng(7);
    while model.current() < 120 {
        let txn = model.random_txn(&mut rng);
        let expected = model.apply(&txn);
        assert_eq!(dynamic.txn(txn).await.expect("txn"), expected);
    }
    let current = model.current();
    eventually("automatic compaction", async || {
        dynamic.compacted_revision().await.expect("compacted") == current - 10
    })
    .await;
    eventually("history to be discarded", async || {
        store.stats().compaction_steps > 5
    })
    .await;
    assert!(matches!(
        dynamic.range(prefix(model::PREFIX, Some(current - 11))).await,
        Err(StoreError::Compacted { .. })
    ));
    for rev in current - 10..=current {
        let got = dynamic
            .range(prefix(model::PREFIX, Some(rev)))
            .await
            .expect("range");
        assert_eq!(got.kvs, model.state_at(rev), "range at {rev}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn automatic_compaction_by_time() {
    let dir = tempfile::tempdir().expect("temp dir");
    let policy = CompactionPolicy {
        interval: Some(Duration::from_millis(50)),
        retain_for: Some(Duration::from_millis(100)),
        retain_revisions: None,
        chunk_changes: 100,
    };
    let store = open(&dir.path().join("store.redb"), policy);
    let dynamic = dyn_store(&store);
    for i in 0..5 {
        put_ok(&dynamic, "/t/a", &i.to_string()).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    put_ok(&dynamic, "/t/a", "later").await;
    // Revision 5 was current more than 100 ms ago; the value written just now must survive.
    eventually("time-based compaction", async || {
        dynamic.compacted_revision().await.expect("compacted") >= 5
    })
    .await;
    assert!(matches!(
        dynamic.range(prefix("/t/", Some(4))).await,
        Err(StoreError::Compacted { .. })
    ));
    let latest = dynamic.get("/t/a").await.expect("get").expect("exists");
    assert_eq!(latest.value, Bytes::from_static(b"later"));
    assert_eq!(latest.version, 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_resumes_after_reopen() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("store.redb");
    let policy = CompactionPolicy {
        chunk_changes: 1,
        ..CompactionPolicy::manual()
    };
    {
        let store = open(&path, policy.clone());
        let dynamic = dyn_store(&store);
        for i in 0..300 {
            put_ok(&dynamic, &format!("/cr/{}", i % 10), &i.to_string()).await;
        }
        dynamic.compact(290).await.expect("compact");
        // Closing right away usually leaves most of the discarding for the next open.
        store.close().expect("close");
    }
    let store = open(&path, policy);
    let dynamic = dyn_store(&store);
    assert_eq!(dynamic.compacted_revision().await.expect("compacted"), 290);
    let at = dynamic.range(prefix("/cr/", Some(290))).await.expect("range");
    let values: Vec<_> = at
        .kvs
        .iter()
        .map(|kv| String::from_utf8_lossy(&kv.value).into_owned())
        .collect();
    let expected: Vec<_> = (280..290).map(|i| i.to_string()).collect();
    assert_eq!(values, expected);
    put_ok(&dynamic, "/cr/0", "new").await;
    let mut watch = dynamic.watch("/cr/", 290).await.expect("watch");
    let events = take(&mut watch, 11).await;
    assert_eq!(
        events.last().and_then(|e| e.prev.clone()).map(|p| p.value),
        Some("290".into())
    );
}

/// Rewriting the same keys with compaction on keeps the file size flat: discarded history
/// is freed and its pages reused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_size_stays_bounded_under_updates() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("store.redb");
    let policy = CompactionPolicy {
        interval: Some(Duration::from_millis(10)),
        retain_for: None,
        retain_revisions: Some(50),
        chunk_changes: 1000,
    };
    let store = open(&path, policy);
    let dynamic = dyn_store(&store);
    let value = Bytes::from(vec![1u8; 1024]);
    let round = async |n: usize| {
        let mut tasks = Vec::new();
        for task in 0..16 {
            let store = Arc::clone(&dynamic);
            let value = value.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..n {
                    let ops = (0..10)
                        .map(|k| Op::Put(format!("/grow/{task}/{k}"), value.clone()))
                        .collect();
                    store
                        .txn(Txn {
                            success: ops,
                            ..Txn::default()
                        })
                        .await
                        .expect("txn");
                    if i % 50 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            }));
        }
        for task in tasks {
            task.await.expect("task");
        }
    };
    // Without compaction the file would grow with every round (6400 versions of 1 KiB
    // each); with it, only the last 50 revisions are kept.
    round(40).await;
    let first = std::fs::metadata(&path).expect("size").len();
    round(40).await;
    let second = std::fs::metadata(&path).expect("size").len();
    round(40).await;
    round(40).await;
    let fourth = std::fs::metadata(&path).expect("size").len();
    let stats = store.stats();
    println!("file size {first} -> {second} -> {fourth} bytes; {stats:?}");
    assert!(stats.compaction_steps > 0, "{stats:?}");
    assert!(
        fourth <= second + second / 2,
        "file keeps growing: {first} -> {second} -> {fourth}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_ends_watches_and_rejects_calls() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("store.redb");
    let store = open(&path, CompactionPolicy::manual());
    let dynamic = dyn_store(&store);
    let mut watch = dynamic.watch("/", 0).await.expect("watch");
    put_ok(&dynamic, "/a", "1").await;
    delete_ok(&dynamic, "/a").await;
    store.close().expect("close");
    assert_eq!(
        take(&mut watch, 2).await.len(),
        2,
        "committed events are still delivered"
    );
    let end = tokio::time::timeout(Duration::from_secs(5), watch.next())
        .await
        .expect("ends");
    assert!(end.is_none(), "stream ends when the store closes");
    assert_eq!(dynamic.txn(Txn::default()).await, Err(StoreError::Closed));
    assert_eq!(dynamic.range(prefix("/", None)).await, Err(StoreError::Closed));
    assert!(matches!(dynamic.watch("/", 0).await, Err(StoreError::Closed)));
    store.close().expect("second close is harmless");
    // The file is released: it opens again in this process.
    let again = open(&path, CompactionPolicy::manual());
    assert_eq!(dyn_store(&again).current_revision().await.expect("rev"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_open_of_an_open_file_fails() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("store.redb");
    let _store = open(&path, CompactionPolicy::manual());
    let error = EmbeddedStore::open(&path, EmbeddedConfig::default()).expect_err("second open");
    assert!(error.to_string().contains("already open"), "{error}");
}

#[test]
fn garbage_file_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("store.redb");
    std::fs::write(&path, vec![0x5a; 64 * 1024]).expect("write garbage");
    let error = EmbeddedStore::open(&path, EmbeddedConfig::default()).expect_err("garbage");
    println!("{error}");
    assert!(
        error.to_string().contains("store.redb"),
        "the message names the file: {error}"
    );
}
