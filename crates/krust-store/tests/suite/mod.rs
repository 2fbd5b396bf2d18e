//! The conformance suite: behaviour every `Store` backend must show, written once against
//! `Arc<dyn Store>` and run for each backend by `tests/conformance.rs`.

#![allow(dead_code)]

pub mod model;
mod watch;

#[allow(unused_imports)] // Not every test crate runs the watch tests.
pub use watch::*;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use krust_store::{
    Compare, Event, KeyValue, Op, OpResult, RangeRequest, Revision, Store, StoreError, Txn, TxnResponse,
    WatchStream, prefix_end,
};

use model::Model;

/// A store under test, with whatever must live as long as it (a temporary directory).
pub type Made = (Arc<dyn Store>, Box<dyn std::any::Any + Send>);

pub fn put(key: &str, value: &str) -> Op {
    Op::Put(key.to_string(), Bytes::copy_from_slice(value.as_bytes()))
}

pub async fn put_ok(store: &Arc<dyn Store>, key: &str, value: &str) -> TxnResponse {
    let response = store
        .txn(Txn {
            success: vec![put(key, value)],
            ..Txn::default()
        })
        .await
        .expect("put");
    assert!(response.succeeded);
    response
}

pub async fn delete_ok(store: &Arc<dyn Store>, key: &str) -> TxnResponse {
    store
        .txn(Txn {
            success: vec![Op::Delete(key.to_string())],
            ..Txn::default()
        })
        .await
        .expect("delete")
}

pub fn prefix(prefix: &str, revision: Option<Revision>) -> RangeRequest {
    RangeRequest {
        start: prefix.to_string(),
        end: prefix_end(prefix),
        revision,
        limit: None,
    }
}

/// Takes `n` events from a watch, failing the test after 20 seconds.
pub async fn take(stream: &mut WatchStream, n: usize) -> Vec<Event> {
    let mut events = Vec::with_capacity(n);
    while events.len() < n {
        let next = tokio::time::timeout(Duration::from_secs(20), stream.next())
            .await
            .unwrap_or_else(|_| panic!("timed out after {} of {n} events", events.len()));
        events.push(next.expect("stream ended early").expect("watch error"));
    }
    events
}

/// Asserts that nothing more arrives on a watch for a short while.
pub async fn assert_quiet(stream: &mut WatchStream) {
    let next = tokio::time::timeout(Duration::from_millis(200), stream.next()).await;
    assert!(next.is_err(), "unexpected watch item: {next:?}");
}

pub async fn revisions_strictly_increase(store: Arc<dyn Store>) {
    assert_eq!(store.current_revision().await.expect("rev"), 0);
    let mut last = 0;
    for i in 0..5 {
        let response = put_ok(&store, &format!("/rev/{i}"), "v").await;
        assert_eq!(response.revision, last + 1);
        last = response.revision;
    }
    // All writes of one transaction share one revision.
    let both = Txn {
        success: vec![put("/rev/a", "1"), put("/rev/b", "2")],
        ..Txn::default()
    };
    let response = store.txn(both).await.expect("txn");
    assert_eq!(response.revision, last + 1);
    for result in &response.results {
        let OpResult::Put { kv, .. } = result else {
            panic!("expected put results")
        };
        assert_eq!(kv.mod_revision, last + 1);
    }
    last += 1;
    // Reads and deletes of absent keys do not advance the revision.
    let read = Txn {
        success: vec![Op::Get("/rev/a".into())],
        ..Txn::default()
    };
    assert_eq!(store.txn(read).await.expect("txn").revision, last);
    assert_eq!(delete_ok(&store, "/rev/absent").await.revision, last);
    assert_eq!(store.current_revision().await.expect("rev"), last);
}

pub async fn create_if_absent(store: Arc<dyn Store>) {
    let create = || Txn {
        compares: vec![Compare::ModRevision("/c/x".into(), 0)],
        success: vec![put("/c/x", "first")],
        failure: vec![Op::Get("/c/x".into())],
    };
    let first = store.txn(create()).await.expect("create");
    assert!(first.succeeded);
    let OpResult::Put { prev: None, kv } = &first.results[0] else {
        panic!("expected a fresh put")
    };
    assert_eq!((kv.create_revision, kv.mod_revision, kv.version), (1, 1, 1));
    let second = store.txn(create()).await.expect("create again");
    assert!(!second.succeeded);
    assert_eq!(second.revision, 1);
    assert_eq!(second.results, vec![OpResult::Get(Some(kv.clone()))]);
}

pub async fn update_if_mod_revision_matches(store: Arc<dyn Store>) {
    put_ok(&store, "/u/other", "o").await;
    let created = put_ok(&store, "/u/x", "1").await;
    let update = Txn {
        compares: vec![Compare::ModRevision("/u/x".into(), created.revision)],
        success: vec![put("/u/x", "2")],
        failure: vec![Op::Get("/u/x".into())],
    };
    let response = store.txn(update).await.expect("update");
    assert!(response.succeeded);
    let OpResult::Put { prev: Some(prev), kv } = &response.results[0] else {
        panic!("no prev")
    };
    assert_eq!(prev.value, Bytes::from_static(b"1"));
    assert_eq!(kv.create_revision, created.revision);
    assert_eq!(kv.mod_revision, created.revision + 1);
    assert_eq!(kv.version, 2);
    assert_eq!(store.get("/u/x").await.expect("get").as_ref(), Some(kv));
}

pub async fn stale_update_fails_with_current_value(store: Arc<dyn Store>) {
    let first = put_ok(&store, "/s/x", "1").await;
    let second = put_ok(&store, "/s/x", "2").await;
    let stale = Txn {
        compares: vec![Compare::ModRevision("/s/x".into(), first.revision)],
        success: vec![put("/s/x", "lost")],
        failure: vec![Op::Get("/s/x".into())],
    };
    let response = store.txn(stale).await.expect("txn");
    assert!(!response.succeeded);
    assert_eq!(response.revision, second.revision);
    let [OpResult::Get(Some(current))] = response.results.as_slice() else {
        panic!("no get")
    };
    assert_eq!(current.value, Bytes::from_static(b"2"));
    assert_eq!(current.mod_revision, second.revision);
    assert_eq!(current.version, 2);
}

pub async fn delete_and_recreate(store: Arc<dyn Store>) {
    let created = put_ok(&store, "/d/x", "1").await;
    put_ok(&store, "/d/x", "2").await;
    let deleted = delete_ok(&store, "/d/x").await;
    let [OpResult::Delete { prev: Some(prev) }] = deleted.results.as_slice() else {
        panic!("prev")
    };
    assert_eq!(prev.value, Bytes::from_static(b"2"));
    assert_eq!(prev.create_revision, created.revision);
    assert_eq!(store.get("/d/x").await.expect("get"), None);
    // A delete guarded on the old revision now fails: the key is absent (mod revision 0).
    let guarded = Txn {
        compares: vec![Compare::ModRevision("/d/x".into(), 0)],
        success: vec![put("/d/x", "3")],
        ..Txn::default()
    };
    let recreated = store.txn(guarded).await.expect("recreate");
    assert!(recreated.succeeded);
    let kv = store.get("/d/x").await.expect("get").expect("exists");
    assert_eq!((kv.create_revision, kv.version), (recreated.revision, 1));
}

pub async fn range_latest_and_older(store: Arc<dyn Store>) {
    put_ok(&store, "/r/a", "a1").await; // 1
    put_ok(&store, "/r/b", "b1").await; // 2
    put_ok(&store, "/r/c", "c1").await; // 3
    put_ok(&store, "/other", "x").await; // 4
    put_ok(&store, "/r/b", "b2").await; // 5
    delete_ok(&store, "/r/a").await; // 6
    put_ok(&store, "/r/d", "d1").await; // 7
    let values = |kvs: &[KeyValue]| {
        kvs.iter()
            .map(|kv| format!("{}={}", kv.key, String::from_utf8_lossy(&kv.value)))
            .collect::<Vec<_>>()
    };
    let latest = store.range(prefix("/r/", None)).await.expect("range");
    assert_eq!(latest.revision, 7);
    assert_eq!(values(&latest.kvs), ["/r/b=b2", "/r/c=c1", "/r/d=d1"]);
    let at = |rev| store.range(prefix("/r/", Some(rev)));
    let at3 = at(3).await.expect("range at 3");
    assert_eq!(at3.revision, 3);
    assert_eq!(values(&at3.kvs), ["/r/a=a1", "/r/b=b1", "/r/c=c1"]);
    assert_eq!(
        values(&at(5).await.expect("at 5").kvs),
        ["/r/a=a1", "/r/b=b2", "/r/c=c1"]
    );
    assert_eq!(values(&at(6).await.expect("at 6").kvs), ["/r/b=b2", "/r/c=c1"]);
    assert_eq!(values(&at(1).await.expect("at 1").kvs), ["/r/a=a1"]);
    let b_at_2 = &at(2).await.expect("at 2").kvs[1];
    assert_eq!(
        (b_at_2.create_revision, b_at_2.mod_revision, b_at_2.version),
        (2, 2, 1)
    );
    // A single key (empty end), now and earlier.
    let single = |revision| RangeRequest {
        start: "/r/b".into(),
        end: String::new(),
        revision,
        limit: None,
    };
    assert_eq!(
        values(&store.range(single(None)).await.expect("single").kvs),
        ["/r/b=b2"]
    );
    assert_eq!(
        values(&store.range(single(Some(4))).await.expect("single").kvs),
        ["/r/b=b1"]
    );
    // An empty span.
    let backwards = RangeRequest {
        start: "/r/z".into(),
        end: "/r/a".into(),
        ..RangeRequest::default()
    };
    assert!(store.range(backwards).await.expect("empty").kvs.is_empty());
}

pub async fn limit_and_more(store: Arc<dyn Store>) {
    for key in ["a", "b", "c", "d", "e"] {
        put_ok(&store, &format!("/l/{key}"), key).await;
    }
    delete_ok(&store, "/l/e").await; // 6
    put_ok(&store, "/l/f", "f").await; // 7
    for revision in [None, Some(5), Some(6)] {
        let mut req = prefix("/l/", revision);
        req.limit = Some(2);
        let page = store.range(req.clone()).await.expect("page");
        assert_eq!(page.kvs.len(), 2);
        assert!(page.more);
        assert_eq!(page.kvs[0].key, "/l/a");
        req.limit = Some(if revision == Some(6) { 4 } else { 5 });
        let all = store.range(req.clone()).await.expect("all");
        assert!(!all.more, "exact limit at {revision:?} has no more");
        req.limit = Some(0);
        assert!(!store.range(req).await.expect("no limit").more);
    }
}

pub async fn compaction(store: Arc<dyn Store>) {
    for i in 1..=10 {
        put_ok(&store, "/k/hot", &i.to_string()).await; // 1..=10
    }
    put_ok(&store, "/k/gone", "x").await; // 11
    delete_ok(&store, "/k/gone").await; // 12
    put_ok(&store, "/k/hot", "11").await; // 13
    store.compact(12).await.expect("compact");
    assert_eq!(store.compacted_revision().await.expect("compacted"), 12);
    for rev in [1, 5, 11] {
        let err = store
            .range(prefix("/k/", Some(rev)))
            .await
            .expect_err("compacted");
        assert_eq!(
            err,
            StoreError::Compacted {
                requested: rev,
                compacted: 12
            }
        );
    }
    let at12 = store.range(prefix("/k/", Some(12))).await.expect("at 12");
    assert_eq!(at12.kvs.len(), 1);
    assert_eq!(at12.kvs[0].value, Bytes::from_static(b"10"));
    assert_eq!(at12.kvs[0].version, 10);
    let at13 = store.range(prefix("/k/", Some(13))).await.expect("at 13");
    assert_eq!(at13.kvs[0].value, Bytes::from_static(b"11"));
    assert!(matches!(
        store.watch("/k/", 11).await,
        Err(StoreError::Compacted { .. })
    ));
    let mut watch = store
        .watch("/k/", 12)
        .await
        .expect("watch at compaction revision");
    let event = &take(&mut watch, 1).await[0];
    assert_eq!(event.kv.mod_revision, 13);
    assert_eq!(
        event.prev.as_ref().map(|p| p.version),
        Some(10),
        "prev survives compaction"
    );
    // Compacting again to the same revision is a no-op; to an older one is an error.
    store.compact(12).await.expect("same revision");
    assert!(matches!(
        store.compact(3).await,
        Err(StoreError::Compacted { .. })
    ));
    assert!(matches!(
        store.compact(99).await,
        Err(StoreError::FutureRevision { .. })
    ));
    // A key deleted before the compaction revision can be created afresh.
    let again = put_ok(&store, "/k/gone", "y").await;
    let OpResult::Put { prev: None, kv } = &again.results[0] else {
        panic!("stale prev")
    };
    assert_eq!(kv.version, 1);
}

pub async fn future_revision(store: Arc<dyn Store>) {
    put_ok(&store, "/f/a", "1").await;
    let err = store.range(prefix("/f/", Some(2))).await.expect_err("future");
    assert_eq!(
        err,
        StoreError::FutureRevision {
            requested: 2,
            current: 1
        }
    );
    assert!(matches!(
        store.watch("/f/", 2).await,
        Err(StoreError::FutureRevision { .. })
    ));
    assert!(matches!(
        store.compact(2).await,
        Err(StoreError::FutureRevision { .. })
    ));
}

pub async fn invalid_transactions_are_rejected(store: Arc<dyn Store>) {
    let twice = Txn {
        success: vec![put("/i/a", "1"), put("/i/a", "2")],
        ..Txn::default()
    };
    assert!(matches!(store.txn(twice).await, Err(StoreError::Backend(_))));
    let empty = Txn {
        success: vec![put("", "1")],
        ..Txn::default()
    };
    assert!(store.txn(empty).await.is_err());
    assert_eq!(store.current_revision().await.expect("rev"), 0);
}

/// Random transactions checked against an independent model: every response, every
/// revision's full range, and the watch history; then again after a compaction.
pub async fn matches_model(store: Arc<dyn Store>) {
    let mut model = Model::default();
    let mut rng = model::Rng(0x5eed_1234_abcd);
    for _ in 0..150 {
        let txn = model.random_txn(&mut rng);
        let expected = model.apply(&txn);
        let actual = store.txn(txn.clone()).await.expect("txn");
        assert_eq!(actual, expected, "response to {txn:?}");
    }
    let current = model.current();
    assert_eq!(store.current_revision().await.expect("rev"), current);
    for rev in 1..=current {
        let got = store
            .range(prefix(model::PREFIX, Some(rev)))
            .await
            .expect("range");
        assert_eq!(got.kvs, model.state_at(rev), "range at {rev}");
    }
    let mut watch = store.watch(model::PREFIX, 0).await.expect("watch");
    let events = take(&mut watch, model.events().len()).await;
    assert_eq!(events, model.events(), "watch from 0");
    let middle = current / 2;
    store.compact(middle).await.expect("compact");
    for rev in middle..=current {
        let got = store
            .range(prefix(model::PREFIX, Some(rev)))
            .await
            .expect("range");
        assert_eq!(got.kvs, model.state_at(rev), "range at {rev} after compaction");
    }
    let mut watch = store.watch(model::PREFIX, middle).await.expect("watch");
    let expected: Vec<_> = model
        .events()
        .into_iter()
        .filter(|e| e.kv.mod_revision > middle)
        .collect();
    assert_eq!(
        take(&mut watch, expected.len()).await,
        expected,
        "watch after compaction"
    );
    for rev in 1..middle {
        assert!(store.range(prefix(model::PREFIX, Some(rev))).await.is_err());
    }
    // Writing on after the compaction still agrees with the model.
    for _ in 0..30 {
        let txn = model.random_txn(&mut rng);
        let expected = model.apply(&txn);
        assert_eq!(store.txn(txn).await.expect("txn"), expected);
    }
    let latest = store.range(prefix(model::PREFIX, None)).await.expect("range");
    assert_eq!(latest.kvs, model.state_at(model.current()));
}
