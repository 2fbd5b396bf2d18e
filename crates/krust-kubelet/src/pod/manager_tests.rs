use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::*;
use crate::clock::TokioClock;
use crate::config::SimulatedConfig;
use crate::pod::api::fake::{Call, FakePodApi};
use crate::pod::fixtures::{pod, t};
use crate::runtime::SimulatedRuntime;

struct Harness {
    tx: mpsc::Sender<Input>,
    api: Arc<FakePodApi>,
    table: Arc<NodeTable>,
    runtime: Arc<SimulatedRuntime>,
    shutdown: CancellationToken,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

fn start(capacity: &[(&str, &str)]) -> Harness {
    let config = SimulatedConfig {
        count: 2,
        capacity: capacity
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        pod_duration: Duration::from_secs(1),
        ..Default::default()
    };
    let spec = Arc::new(PoolSpec::from_config(&config).unwrap());
    let clock: Arc<dyn Clock> = Arc::new(TokioClock::at(t("2025-01-01T00:00:00Z")));
    let runtime = Arc::new(SimulatedRuntime::new(2, spec.pod_duration, clock.clone()));
    let table = Arc::new(NodeTable::new(2));
    let api = Arc::new(FakePodApi::default());
    let (tx, rx) = mpsc::channel(64);
    *api.echo.lock() = Some(tx.clone());
    let manager = PodManager::new(spec, table.clone(), runtime.clone(), api.clone(), clock, None);
    let shutdown = CancellationToken::new();
    tokio::spawn(manager.run(rx, shutdown.clone()));
    Harness {
        tx,
        api,
        table,
        runtime,
        shutdown,
    }
}

fn named(name: &str, uid: &str, policy: &str) -> Pod {
    let mut p = pod(policy, &["c"], &[]);
    p.metadata.name = Some(name.into());
    p.metadata.uid = Some(uid.into());
    p
}

fn phases(h: &Harness, name: &str) -> Vec<String> {
    h.api
        .calls()
        .into_iter()
        .filter_map(|c| match c {
            Call::Status { name: n, phase } if n == name => phase,
            _ => None,
        })
        .collect()
}

/// Lets the manager and its tasks run (time is paused, so this is instant) until `done`.
async fn until(h: &Harness, what: &str, done: impl Fn(&Harness) -> bool) {
    for _ in 0..2000 {
        if done(h) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what} did not happen; calls: {:?}", h.api.calls());
}

#[tokio::test(start_paused = true)]
async fn pods_wait_for_their_node_then_run() {
    let h = start(&[("cpu", "1"), ("pods", "10")]);
    h.tx.send(Input::Pod(Box::new(named("web", "u-web", "Always"))))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(h.api.calls().is_empty(), "node sim-0 is not registered yet");
    h.table.set_registered(0, true);
    h.tx.send(Input::NodeReady(0)).await.unwrap();
    until(&h, "Running", |h| phases(h, "web") == ["Running"]).await;
    // The echoed pod (as the watch would bring it) needs no further write.
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(phases(&h, "web"), ["Running"]);
}

#[tokio::test(start_paused = true)]
async fn job_pods_succeed_or_fail_and_free_their_slot() {
    let h = start(&[("pods", "1")]);
    h.table.set_registered(0, true);
    h.tx.send(Input::Pod(Box::new(named("ok", "u-ok", "Never"))))
        .await
        .unwrap();
    until(&h, "ok Running", |h| phases(h, "ok") == ["Running"]).await;
    // The node holds one pod: the next is rejected while the first runs.
    h.tx.send(Input::Pod(Box::new(named("extra", "u-extra", "Never"))))
        .await
        .unwrap();
    until(&h, "extra rejected", |h| phases(h, "extra") == ["Failed"]).await;
    until(&h, "ok Succeeded", |h| {
        phases(h, "ok") == ["Running", "Succeeded"]
    })
    .await;
    assert!(
        h.runtime
            .pod_status("u-ok")
            .await
            .unwrap()
            .is_some_and(|s| !s.sandbox.ready),
        "sandbox stopped (address given back), containers kept for their logs"
    );
    // Its slot is free again.
    let mut failing = named("bad", "u-bad", "Never");
    failing.metadata.annotations = Some([(crate::EXIT_CODE_ANNOTATION.to_string(), "3".to_string())].into());
    h.tx.send(Input::Pod(Box::new(failing))).await.unwrap();
    until(&h, "bad Failed", |h| phases(h, "bad") == ["Running", "Failed"]).await;
}

#[tokio::test(start_paused = true)]
async fn deletion_stops_the_pod_and_deletes_it_once() {
    let h = start(&[("pods", "10")]);
    h.table.set_registered(1, true);
    let mut p = named("web", "u-web", "Always");
    p.spec.as_mut().unwrap().node_name = Some("sim-1".into());
    h.tx.send(Input::Pod(Box::new(p.clone()))).await.unwrap();
    until(&h, "Running", |h| phases(h, "web") == ["Running"]).await;
    p.metadata.deletion_timestamp = Some(crate::clock::time(t("2025-01-01T00:00:30Z")));
    p.metadata.deletion_grace_period_seconds = Some(30);
    p.metadata.resource_version = Some("100".into());
    h.tx.send(Input::Pod(Box::new(p.clone()))).await.unwrap();
    let deleted = |h: &Harness| {
        h.api
            .calls()
            .iter()
            .filter(|c| matches!(c, Call::Delete { .. }))
            .count()
    };
    until(&h, "deleted", |h| deleted(h) == 1).await;
    assert!(h.api.calls().contains(&Call::Delete {
        name: "web".into(),
        uid: "u-web".into()
    }));
    assert!(h.runtime.pod_status("u-web").await.unwrap().is_none());
}

#[tokio::test(start_paused = true)]
async fn a_conflict_is_retried() {
    let h = start(&[("pods", "10")]);
    h.table.set_registered(0, true);
    *h.api.conflict_next.lock() = true;
    h.tx.send(Input::Pod(Box::new(named("web", "u-web", "Always"))))
        .await
        .unwrap();
    until(&h, "written after a conflict", |h| {
        phases(h, "web") == ["Running", "Running"]
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn pods_gone_from_a_relist_are_cleaned_up() {
    let h = start(&[("pods", "10")]);
    h.table.set_registered(0, true);
    h.tx.send(Input::Pod(Box::new(named("a", "u-a", "Always"))))
        .await
        .unwrap();
    h.tx.send(Input::Pod(Box::new(named("b", "u-b", "Always"))))
        .await
        .unwrap();
    until(&h, "both running", |h| {
        phases(h, "a").len() == 1 && phases(h, "b").len() == 1
    })
    .await;
    h.tx.send(Input::Relist).await.unwrap();
    let mut b = named("b", "u-b", "Always");
    b.metadata.resource_version = Some("50".into());
    h.tx.send(Input::Pod(Box::new(b))).await.unwrap();
    h.tx.send(Input::RelistDone).await.unwrap();
    for _ in 0..100 {
        if h.runtime.pod_status("u-a").await.unwrap().is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(h.runtime.pod_status("u-a").await.unwrap().is_none());
    assert!(h.runtime.pod_status("u-b").await.unwrap().is_some());
}

#[tokio::test(start_paused = true)]
async fn pods_of_other_nodes_are_ignored() {
    let h = start(&[("pods", "10")]);
    h.table.set_registered(0, true);
    let mut p = named("x", "u-x", "Always");
    p.spec.as_mut().unwrap().node_name = Some("real-node".into());
    h.tx.send(Input::Pod(Box::new(p))).await.unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(h.api.calls().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_pod_made_final_by_someone_else_is_stopped_not_revived() {
    let h = start(&[("pods", "1")]);
    h.table.set_registered(0, true);
    let mut p = named("web", "u-web", "Always");
    h.tx.send(Input::Pod(Box::new(p.clone()))).await.unwrap();
    until(&h, "Running", |h| phases(h, "web") == ["Running"]).await;
    p.metadata.resource_version = Some("100".into());
    p.status.as_mut().unwrap().phase = Some("Failed".into());
    h.tx.send(Input::Pod(Box::new(p))).await.unwrap();
    for _ in 0..100 {
        if h.runtime.pod_status("u-web").await.unwrap().is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(h.runtime.pod_status("u-web").await.unwrap().is_none());
    assert_eq!(
        phases(&h, "web"),
        ["Running"],
        "nothing written over the final phase"
    );
    // Its slot is free.
    h.tx.send(Input::Pod(Box::new(named("next", "u-next", "Always"))))
        .await
        .unwrap();
    until(&h, "next Running", |h| phases(h, "next") == ["Running"]).await;
}
