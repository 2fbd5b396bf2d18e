//! The scheduler loop against a recording fake API: informer changes in, binds, events and
//! status patches out.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::cycle::{Cycle, schedule_one};
use super::*;
use crate::api::fake::{Call, FakeApi};
use crate::informers::Change;
use crate::plugins::testing::{node, pod};
use crate::queue::Pop;

fn setup(config: SchedulerConfig) -> (Arc<Shared>, FakeApi, CancellationToken) {
    let api = FakeApi::default();
    let dyn_api: Arc<dyn ClusterApi> = Arc::new(api.clone());
    let fw = build_framework(&config.profile, &Handle { api: dyn_api.clone() }).unwrap();
    let (recorder, task) = EventRecorder::new(dyn_api.clone(), "default-scheduler".into(), "test".into());
    let token = CancellationToken::new();
    tokio::spawn(task.run(token.clone()));
    (
        Arc::new(Shared::new(config, fw, dyn_api, recorder, Stats::default())),
        api,
        token,
    )
}

/// Runs one cycle if a pod is ready; returns whether one ran.
fn step(shared: &Arc<Shared>, cycle: &mut Cycle) -> bool {
    let popped = shared.queue.lock().pop(std::time::Instant::now());
    match popped {
        Pop::Pod(qp) => {
            let permit = shared.bindings.clone().try_acquire_owned().unwrap();
            schedule_one(shared, cycle, qp, permit);
            true
        }
        Pop::Wait(_) => false,
    }
}

async fn wait_for(api: &FakeApi, what: impl Fn(&[Call]) -> bool) -> Vec<Call> {
    for _ in 0..2000 {
        let calls = api.calls();
        if what(&calls) {
            return calls;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("condition not met; calls: {:#?}", api.calls());
}

fn binds(calls: &[Call]) -> Vec<(String, String)> {
    calls
        .iter()
        .filter_map(|c| match c {
            Call::Bind { pod, node } => Some((pod.clone(), node.clone())),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn binds_to_the_fitting_node_and_records_scheduled() {
    let (shared, api, token) = setup(SchedulerConfig::default());
    shared.on_node_change(Change::Apply(node("small").alloc("cpu", "1").0));
    shared.on_node_change(Change::Apply(node("big").0));
    shared.on_pod_change(Change::Apply(pod("p").req("cpu", "2").0));
    let mut cycle = Cycle::default();
    assert!(step(&shared, &mut cycle));
    let calls = wait_for(&api, |c| {
        c.iter()
            .any(|c| matches!(c, Call::CreateEvent { reason, .. } if reason == "Scheduled"))
    })
    .await;
    assert_eq!(binds(&calls), vec![("default/p".to_string(), "big".to_string())]);
    assert!(calls.contains(&Call::CreateEvent {
        reason: "Scheduled".into(),
        note: "Successfully assigned default/p to big".into(),
        regarding: "p".into(),
    }));
    assert_eq!(shared.stats.snapshot().scheduled, 1);
    token.cancel();
}

#[tokio::test]
async fn unschedulable_until_a_node_is_added() {
    let (shared, api, token) = setup(SchedulerConfig::default());
    shared.on_node_change(Change::Apply(
        node("gpu").taint("dedicated", "gpu", "NoSchedule").0,
    ));
    shared.on_node_change(Change::Apply(node("a").alloc("cpu", "1").0));
    shared.on_node_change(Change::Apply(node("b").alloc("cpu", "1").0));
    shared.on_pod_change(Change::Apply(pod("p").req("cpu", "2").0));
    let mut cycle = Cycle::default();
    assert!(step(&shared, &mut cycle));
    let want = "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 Insufficient cpu. \
                preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.";
    let calls = wait_for(&api, |c| c.iter().any(|c| matches!(c, Call::PatchStatus { .. }))).await;
    assert!(
        calls.iter().any(|c| matches!(c, Call::CreateEvent { reason, note, .. } if reason == "FailedScheduling" && note == want)),
        "{calls:#?}"
    );
    let patch = calls.iter().find_map(|c| match c {
        Call::PatchStatus { patch, .. } => Some(patch.clone()),
        _ => None,
    });
    let patch = patch.unwrap();
    assert_eq!(patch["status"]["conditions"][0]["reason"], "Unschedulable");
    assert_eq!(patch["status"]["conditions"][0]["message"], want);
    // Waiting in unschedulable: nothing to do, even after the backoff.
    assert_eq!(shared.queue.lock().counts().2, 1);
    assert!(!step(&shared, &mut cycle));
    // An unrelated node update (a label on the tainted node) does not help the pod…
    shared.on_node_change(Change::Apply(
        node("gpu")
            .taint("dedicated", "gpu", "NoSchedule")
            .label("x", "y")
            .0,
    ));
    assert_eq!(shared.queue.lock().counts().2, 1);
    // …a node with room does.
    shared.on_node_change(Change::Apply(node("c").0));
    assert_eq!(shared.queue.lock().counts().2, 0);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(step(&shared, &mut cycle));
    let calls = wait_for(&api, |c| !binds(c).is_empty()).await;
    assert_eq!(binds(&calls), vec![("default/p".to_string(), "c".to_string())]);
    token.cancel();
}

#[tokio::test]
async fn preemption_nominates_and_deletes_victims() {
    let (shared, api, token) = setup(SchedulerConfig::default());
    shared.on_node_change(Change::Apply(node("n").0));
    shared.on_pod_change(Change::Apply(pod("low").priority(1).req("cpu", "3").node("n").0));
    shared.on_pod_change(Change::Apply(pod("high").priority(100).req("cpu", "2").0));
    let mut cycle = Cycle::default();
    assert!(step(&shared, &mut cycle));
    let calls = wait_for(&api, |c| c.iter().any(|c| matches!(c, Call::Delete { .. }))).await;
    assert!(calls.contains(&Call::Delete {
        pod: "default/low".into()
    }));
    let nominated = calls.iter().any(|c| matches!(c, Call::PatchStatus { pod, patch } if pod == "default/high" && patch["status"]["nominatedNodeName"] == "n"));
    assert!(nominated, "{calls:#?}");
    assert_eq!(shared.queue.lock().nominated_node("default/high"), Some("n"));
    // The victim goes away (as the kubelet would finish it): the pod fits on its node.
    shared.on_pod_change(Change::Delete(pod("low").priority(1).req("cpu", "3").node("n").0));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(step(&shared, &mut cycle));
    let calls = wait_for(&api, |c| !binds(c).is_empty()).await;
    assert_eq!(binds(&calls), vec![("default/high".to_string(), "n".to_string())]);
    token.cancel();
}

#[tokio::test]
async fn bind_failures_forget_the_pod_and_retry() {
    let (shared, api, token) = setup(SchedulerConfig::default());
    api.failing_nodes.lock().push("n".into());
    shared.on_node_change(Change::Apply(node("n").0));
    shared.on_pod_change(Change::Apply(pod("p").req("cpu", "1").0));
    let mut cycle = Cycle::default();
    assert!(step(&shared, &mut cycle));
    wait_for(&api, |c| {
        c.iter()
            .any(|c| matches!(c, Call::CreateEvent { reason, .. } if reason == "FailedScheduling"))
    })
    .await;
    assert_eq!(shared.cache.lock().pod_count(), 0, "the assumed pod is forgotten");
    assert_eq!(shared.queue.lock().counts().1, 1, "retried after backoff");
    token.cancel();
}

#[tokio::test]
async fn ignores_other_schedulers_and_gated_pods() {
    let (shared, api, token) = setup(SchedulerConfig::default());
    shared.on_node_change(Change::Apply(node("n").0));
    shared.on_pod_change(Change::Apply(
        pod("other")
            .with_spec(|s| s.scheduler_name = Some("custom".into()))
            .0,
    ));
    shared.on_pod_change(Change::Apply(
        pod("gated")
            .with_spec(|s| {
                s.scheduling_gates = Some(vec![k8s_openapi::api::core::v1::PodSchedulingGate {
                    name: "g".into(),
                }])
            })
            .0,
    ));
    let mut cycle = Cycle::default();
    assert!(!step(&shared, &mut cycle));
    let calls = wait_for(&api, |c| !c.is_empty()).await;
    let gated = calls.iter().any(|c| matches!(c, Call::PatchStatus { pod, patch } if pod == "default/gated" && patch["status"]["conditions"][0]["reason"] == "SchedulingGated"));
    assert!(gated, "{calls:#?}");
    assert!(binds(&calls).is_empty());
    token.cancel();
}
