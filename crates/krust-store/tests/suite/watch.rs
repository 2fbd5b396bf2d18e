//! Watch behaviour: replay, live delivery under concurrency, filtering, lag.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use krust_store::{EventKind, Store, StoreError};

use super::{assert_quiet, delete_ok, put_ok, take};

pub async fn watch_from_zero_and_middle(store: Arc<dyn Store>) {
    put_ok(&store, "/w/a", "1").await; // 1
    put_ok(&store, "/x/ignored", "1").await; // 2
    put_ok(&store, "/w/a", "2").await; // 3
    delete_ok(&store, "/w/a").await; // 4
    put_ok(&store, "/w/b", "1").await; // 5
    let mut all = store.watch("/w/", 0).await.expect("watch from 0");
    let events = take(&mut all, 4).await;
    let revisions: Vec<_> = events.iter().map(|e| e.kv.mod_revision).collect();
    assert_eq!(revisions, [1, 3, 4, 5]);
    assert_eq!(events[0].kind, EventKind::Put);
    assert_eq!(events[0].prev, None);
    assert_eq!(
        events[1].prev.as_ref().map(|p| p.value.clone()),
        Some(Bytes::from_static(b"1"))
    );
    assert_eq!(events[2].kind, EventKind::Delete);
    assert_eq!(events[2].kv.key, "/w/a");
    assert!(events[2].kv.value.is_empty());
    assert_eq!(events[2].prev.as_ref().map(|p| p.version), Some(2));
    let mut middle = store.watch("/w/", 3).await.expect("watch from 3");
    let later = take(&mut middle, 2).await;
    assert_eq!(later, events[2..].to_vec());
    // Both continue with live events, each exactly once.
    put_ok(&store, "/w/c", "1").await; // 6
    assert_eq!(take(&mut all, 1).await[0].kv.mod_revision, 6);
    assert_eq!(take(&mut middle, 1).await[0].kv.mod_revision, 6);
    assert_quiet(&mut all).await;
    // Watching from the current revision gives only what comes next.
    let mut now = store.watch("/w/", 6).await.expect("watch from now");
    assert_quiet(&mut now).await;
    put_ok(&store, "/w/d", "1").await;
    assert_eq!(take(&mut now, 1).await[0].kv.key, "/w/d");
}

/// Many concurrent writers while watchers start at different points: every watcher sees
/// every revision after its start exactly once, in order.
pub async fn watch_live_with_many_writers(store: Arc<dyn Store>) {
    const WRITERS: usize = 16;
    const EACH: usize = 40;
    put_ok(&store, "/live/seed", "0").await;
    let early = store.watch("/live/", 1).await.expect("watch");
    let mut tasks = Vec::new();
    for writer in 0..WRITERS {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            for i in 0..EACH {
                put_ok(&store, &format!("/live/{writer}/{}", i % 7), &i.to_string()).await;
            }
        }));
    }
    // A watcher that starts mid-way, from whatever revision is current then.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let mid_start = store.current_revision().await.expect("rev");
    let mid = store.watch("/live/", mid_start).await.expect("watch mid");
    for task in tasks {
        task.await.expect("writer");
    }
    let end = store.current_revision().await.expect("rev");
    assert_eq!(end, 1 + (WRITERS * EACH) as u64);
    for (mut stream, start) in [(early, 1), (mid, mid_start)] {
        let events = take(&mut stream, (end - start) as usize).await;
        let revisions: Vec<_> = events.iter().map(|e| e.kv.mod_revision).collect();
        let expected: Vec<_> = (start + 1..=end).collect();
        assert_eq!(revisions, expected, "watch from {start}");
        assert_quiet(&mut stream).await;
    }
}

pub async fn watch_filters_by_prefix(store: Arc<dyn Store>) {
    let mut pods = store.watch("/pods/", 0).await.expect("watch");
    put_ok(&store, "/pods/a", "1").await;
    put_ok(&store, "/podsx", "1").await;
    put_ok(&store, "/services/a", "1").await;
    put_ok(&store, "/pods/b", "1").await;
    let keys: Vec<_> = take(&mut pods, 2).await.into_iter().map(|e| e.kv.key).collect();
    assert_eq!(keys, ["/pods/a", "/pods/b"]);
    assert_quiet(&mut pods).await;
}

/// A live watcher that stops reading while writes continue is cancelled with
/// `WatchLagged` (the store must be built with a small watch buffer), after delivering
/// every event before the gap in order.
pub async fn lagging_watcher_is_cancelled(store: Arc<dyn Store>) {
    let mut watch = store.watch("/lag/", 0).await.expect("watch");
    put_ok(&store, "/lag/first", "0").await;
    assert_eq!(take(&mut watch, 1).await[0].kv.mod_revision, 1);
    for i in 0..200 {
        put_ok(&store, "/lag/x", &i.to_string()).await;
    }
    let mut last = 1;
    loop {
        let item = tokio::time::timeout(Duration::from_secs(20), watch.next())
            .await
            .expect("item");
        match item {
            Some(Ok(event)) => {
                assert_eq!(
                    event.kv.mod_revision,
                    last + 1,
                    "events stay in order until the gap"
                );
                last = event.kv.mod_revision;
            }
            Some(Err(error)) => {
                assert_eq!(error, StoreError::WatchLagged);
                break;
            }
            None => panic!("stream ended without an error"),
        }
    }
    assert!(watch.next().await.is_none(), "stream ends after the error");
}

/// A replay longer than one history read (several chunks) while writers keep going.
pub async fn watch_replays_long_history(store: Arc<dyn Store>) {
    let write = |count: usize| {
        let store = Arc::clone(&store);
        async move {
            let mut tasks = Vec::new();
            for task in 0..32 {
                let store = Arc::clone(&store);
                tasks.push(tokio::spawn(async move {
                    for i in 0..count {
                        put_ok(&store, &format!("/long/{task}/{}", i % 5), "v").await;
                    }
                }));
            }
            for task in tasks {
                task.await.expect("writer");
            }
        }
    };
    write(80).await; // 2560 revisions
    let more = tokio::spawn(write(20));
    let mut watch = store.watch("/long/", 0).await.expect("watch");
    more.await.expect("more writers");
    let end = store.current_revision().await.expect("rev");
    assert_eq!(end, 32 * 100);
    let events = take(&mut watch, end as usize).await;
    assert!(
        events.iter().map(|e| e.kv.mod_revision).eq(1..=end),
        "every revision once, in order"
    );
    assert_quiet(&mut watch).await;
}

/// A watcher whose live buffer overflows before it has caught up re-reads the gap from
/// history instead of failing (the store must be built with a small watch buffer).
pub async fn lag_during_catch_up_is_recovered(store: Arc<dyn Store>) {
    for i in 0..30 {
        put_ok(&store, "/catch/a", &i.to_string()).await;
    }
    let mut watch = store.watch("/catch/", 0).await.expect("watch");
    // Overflow the buffer before the stream is first polled.
    for i in 0..30 {
        put_ok(&store, "/catch/b", &i.to_string()).await;
    }
    let events = take(&mut watch, 60).await;
    assert!(events.iter().map(|e| e.kv.mod_revision).eq(1..=60));
    put_ok(&store, "/catch/c", "live").await;
    assert_eq!(take(&mut watch, 1).await[0].kv.key, "/catch/c");
}
