use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use super::*;
use crate::framework::ClusterEvent;
use crate::plugins::testing::pod;

fn q() -> SchedulingQueue {
    SchedulingQueue::new(QueueConfig::default())
}

fn pop(q: &mut SchedulingQueue, now: Instant) -> Option<QueuedPodInfo> {
    match q.pop(now) {
        Pop::Pod(p) => Some(p),
        Pop::Wait(_) => None,
    }
}

#[test]
fn priority_then_fifo() {
    let mut q = q();
    let t = Instant::now();
    q.add(pod("low").priority(1).arc(), t);
    q.add(pod("first").priority(10).arc(), t + Duration::from_millis(1));
    q.add(pod("second").priority(10).arc(), t + Duration::from_millis(2));
    let order: Vec<String> = (0..3)
        .filter_map(|_| pop(&mut q, t))
        .map(|p| p.info.name().to_string())
        .collect();
    assert_eq!(order, vec!["first", "second", "low"]);
    assert!(pop(&mut q, t).is_none());
}

#[test]
fn backoff_doubles_up_to_the_maximum() {
    let c = QueueConfig::default();
    let d: Vec<u64> = (1..=6).map(|a| backoff_duration(&c, a).as_secs()).collect();
    assert_eq!(d, vec![1, 2, 4, 8, 10, 10]);
}

#[test]
fn errors_wait_out_their_backoff() {
    let mut q = q();
    let t = Instant::now();
    q.add(pod("p").arc(), t);
    let p = pop(&mut q, t).unwrap();
    let cycle = q.scheduling_cycle();
    q.requeue_failed(p, cycle, t);
    // An error (no rejecting plugin) goes to backoff: 1 s for the first attempt.
    match q.pop(t) {
        Pop::Wait(Some(at)) => assert_eq!(at, t + Duration::from_secs(1)),
        other => panic!("expected a wait, got {other:?}"),
    }
    assert!(pop(&mut q, t + Duration::from_millis(999)).is_none());
    let again = pop(&mut q, t + Duration::from_secs(1)).unwrap();
    assert_eq!(again.attempts, 2);
}

#[test]
fn unschedulable_pods_move_on_helpful_events_only() {
    let mut q = q();
    let t = Instant::now();
    q.add(pod("p").arc(), t);
    let mut p = pop(&mut q, t).unwrap();
    p.unschedulable_plugins = BTreeSet::from(["NodeResourcesFit"]);
    let cycle = q.scheduling_cycle();
    q.requeue_failed(p, cycle, t);
    // Nothing is due: no backoff pending; the flush is 5 minutes out.
    match q.pop(t) {
        Pop::Wait(Some(at)) => assert_eq!(at, t + Duration::from_secs(300)),
        other => panic!("expected the flush deadline, got {other:?}"),
    }
    let event = ClusterEvent::simple(EventKind::NodeAdd);
    assert_eq!(q.move_on_event(&event, t, &|_, _| false), 0);
    assert!(pop(&mut q, t + Duration::from_secs(5)).is_none());
    assert_eq!(
        q.move_on_event(&event, t + Duration::from_secs(5), &|qp, _| qp
            .unschedulable_plugins
            .contains("NodeResourcesFit")),
        1
    );
    // Backoff (1 s) is over by then, so the pod is active again.
    assert!(pop(&mut q, t + Duration::from_secs(5)).is_some());
}

#[test]
fn an_event_during_the_cycle_sends_the_pod_to_backoff() {
    let mut q = q();
    let t = Instant::now();
    q.add(pod("p").arc(), t);
    let mut p = pop(&mut q, t).unwrap();
    let cycle = q.scheduling_cycle();
    // While the pod was being scheduled, a node was added.
    q.move_on_event(&ClusterEvent::simple(EventKind::NodeAdd), t, &|_, _| true);
    p.unschedulable_plugins = BTreeSet::from(["NodeResourcesFit"]);
    q.requeue_failed(p, cycle, t);
    assert_eq!(q.counts().1, 1, "in backoff, not unschedulable");
}

#[test]
fn unschedulable_pods_are_flushed_after_five_minutes() {
    let mut q = q();
    let t = Instant::now();
    q.add(pod("p").arc(), t);
    let mut p = pop(&mut q, t).unwrap();
    p.unschedulable_plugins = BTreeSet::from(["TaintToleration"]);
    let cycle = q.scheduling_cycle();
    q.requeue_failed(p, cycle, t);
    assert!(pop(&mut q, t + Duration::from_secs(299)).is_none());
    assert!(pop(&mut q, t + Duration::from_secs(301)).is_some());
}

#[test]
fn updates_requeue_and_deletes_remove() {
    let mut q = q();
    let t = Instant::now();
    q.add(pod("p").arc(), t);
    let mut p = pop(&mut q, t).unwrap();
    p.unschedulable_plugins = BTreeSet::from(["TaintToleration"]);
    let cycle = q.scheduling_cycle();
    q.requeue_failed(p, cycle, t);
    // A status-only update does not move it…
    let mut status_only = pod("p").0;
    status_only.status.get_or_insert_with(Default::default).message = Some("x".into());
    q.update(Arc::new(PodInfo::new(status_only)), t + Duration::from_secs(2));
    assert!(pop(&mut q, t + Duration::from_secs(2)).is_none());
    // …a new toleration does.
    q.update(
        pod("p").toleration("k", "Exists", "", "").arc(),
        t + Duration::from_secs(2),
    );
    assert!(pop(&mut q, t + Duration::from_secs(2)).is_some());
    q.delete("default/p");
    assert!(!q.contains("default/p"));
}

#[test]
fn gated_pods_wait_for_their_gates() {
    use k8s_openapi::api::core::v1::PodSchedulingGate;
    let mut q = q();
    let t = Instant::now();
    let gated = pod("g").with_spec(|s| {
        s.scheduling_gates = Some(vec![PodSchedulingGate {
            name: "example.com/wait".into(),
        }])
    });
    q.add(gated.arc(), t);
    assert!(q.is_gated("default/g"));
    assert!(pop(&mut q, t).is_none());
    q.update(pod("g").arc(), t);
    assert_eq!(
        pop(&mut q, t).map(|p| p.info.name().to_string()),
        Some("g".into())
    );
}

#[test]
fn nominations() {
    let mut q = q();
    let p = pod("p").priority(5).arc();
    q.add(p.clone(), Instant::now());
    q.nominate(p.clone(), "n1");
    assert_eq!(q.nominated_node("default/p"), Some("n1"));
    assert_eq!(q.nominated().get("n1").map(Vec::len), Some(1));
    q.nominate(p, "");
    assert!(q.nominated().is_empty());
}
