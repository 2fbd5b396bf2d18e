//! One sync of one pod: bring the runtime in line with the pod (create the sandbox, start
//! what the plan says, step by step while steps are possible now), then compute the status
//! the API should show. A pod being deleted is stopped and removed from the runtime instead;
//! a pod that reached a final phase is stopped too, so its address goes back to the node.
//!
//! The pod manager runs at most one sync per pod at a time.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Pod, PodStatus};

use std::sync::Arc;

use super::containers::{Failures, Verdicts};
use super::plan::{Action, plan};
use super::{is_terminal, status};
use crate::clock::Clock;
use crate::probe::Probes;
use crate::runtime::{NodeContext, PodRuntimeStatus, Runtime, RuntimeError};

/// More steps than any pod needs in one go (one per init container, then the apps); a
/// bound so a runtime that never reaches the planned state cannot spin a sync forever.
const MAX_STEPS: usize = 64;

/// The least time containers get to stop after their preStop hooks.
const MIN_STOP_GRACE: Duration = Duration::from_secs(2);

/// When a container that could not be started is tried again.
const START_RETRY: jiff::SignedDuration = jiff::SignedDuration::from_secs(10);

/// What a sync came to.
#[derive(Debug)]
pub(crate) enum SyncResult {
    /// The status the pod should have, and when to look again (a back-off ending).
    Status {
        status: Box<PodStatus>,
        terminal: bool,
        wake_at: Option<jiff::Timestamp>,
    },
    /// The pod was being deleted and is now stopped and removed from the runtime.
    Stopped,
    /// The runtime failed; try again later.
    Failed(RuntimeError),
}

/// How a real node syncs: its probes, and how often it looks at each pod anyway.
pub(crate) struct RealNode<'a, R> {
    pub probes: &'a Arc<Probes<R>>,
    pub resync: Duration,
    /// Where to record what happens to the pod.
    pub events: Option<&'a krust_runtime::Events>,
}

/// Syncs `pod` on `node`; `real` is set on a real node, whose containers are probed and
/// whose pods are looked at again every `resync` (their volumes' sources may change).
pub(crate) async fn sync_pod<R: Runtime>(
    rt: &R,
    clock: &dyn Clock,
    node: &NodeContext,
    pod: &Pod,
    real: Option<RealNode<'_, R>>,
) -> SyncResult {
    let events = real.as_ref().and_then(|r| r.events);
    match drive(rt, clock, node, pod, real).await {
        Ok(r) => r,
        Err(e) => {
            if let Some(ev) = events {
                super::events::sync_failed(ev, pod, &e.to_string());
            }
            SyncResult::Failed(e)
        }
    }
}

/// The pod's grace period for stopping its containers (`terminationGracePeriodSeconds`,
/// 30 s by default).
fn grace_period(pod: &Pod) -> Duration {
    let secs = pod
        .spec
        .as_ref()
        .and_then(|s| s.termination_grace_period_seconds)
        .unwrap_or(30)
        .max(0);
    Duration::from_secs(secs.unsigned_abs())
}

/// The probe results of the instances `current` shows.
fn verdicts<R: Runtime>(
    probes: Option<&Arc<Probes<R>>>,
    uid: &str,
    current: Option<&PodRuntimeStatus>,
) -> Verdicts {
    let (Some(probes), Some(current)) = (probes, current) else {
        return Verdicts::new();
    };
    current
        .containers
        .iter()
        .filter_map(|c| probes.verdict(uid, &c.name, &c.id).map(|v| (c.name.clone(), v)))
        .collect()
}

/// Runs the postStart hooks of the containers just `started`; one that fails gets its
/// container stopped, and the restart policy decides what follows.
async fn post_start_hooks<R: Runtime>(
    rt: &R,
    pod: &Pod,
    started: &[&k8s_openapi::api::core::v1::Container],
    current: &PodRuntimeStatus,
) -> Result<(), RuntimeError> {
    let uid = pod.metadata.uid.as_deref().unwrap_or_default();
    for c in started {
        let Some(s) = current.container(&c.name) else {
            continue;
        };
        if let Err(why) = super::hooks::post_start(rt, c, &s.id, current).await {
            tracing::info!(pod = %super::key(pod), container = %c.name, %why, "PostStartHook failed; stopping the container");
            rt.stop_container(uid, &c.name, grace_period(pod)).await?;
        }
    }
    Ok(())
}

async fn drive<R: Runtime>(
    rt: &R,
    clock: &dyn Clock,
    node: &NodeContext,
    pod: &Pod,
    real: Option<RealNode<'_, R>>,
) -> Result<SyncResult, RuntimeError> {
    let probes = real.as_ref().map(|r| r.probes);
    let uid = pod.metadata.uid.as_deref().unwrap_or_default();
    if pod.metadata.deletion_timestamp.is_some() {
        if let Some(p) = probes {
            p.forget(uid);
        }
        let grace = pod.metadata.deletion_grace_period_seconds.unwrap_or(0).max(0);
        let mut grace = Duration::from_secs(grace.unsigned_abs());
        let current = rt.pod_status(uid).await?;
        if let (Some(ev), Some(cur)) = (real.as_ref().and_then(|r| r.events), current.as_ref()) {
            for c in cur
                .containers
                .iter()
                .filter(|c| matches!(c.state, crate::runtime::ContainerState::Running { .. }))
            {
                super::events::killing(ev, pod, &c.name, &format!("Stopping container {}", c.name));
            }
        }
        if real.is_some() && !grace.is_zero() {
            // preStop hooks first; the containers get what is left, and at least 2 s
            // to handle SIGTERM, as upstream.
            grace = super::hooks::pre_stop(rt, pod, current.as_ref(), grace)
                .await
                .max(MIN_STOP_GRACE);
        }
        rt.kill_pod(uid, grace).await?;
        rt.remove_pod(uid).await?;
        return Ok(SyncResult::Stopped);
    }
    if let Some(p) = probes {
        for (name, why) in p.take_failed(uid) {
            tracing::info!(pod = %super::key(pod), container = %name, %why, "container failed its probe, will be restarted");
            if let Some(ev) = real.as_ref().and_then(|r| r.events) {
                let probe = why.split(' ').next().unwrap_or("liveness").to_lowercase();
                super::events::killing(
                    ev,
                    pod,
                    &name,
                    &format!("Container {name} failed {probe} probe, will be restarted"),
                );
            }
            rt.stop_container(uid, &name, grace_period(pod)).await?;
        }
    }
    let mut current = rt.pod_status(uid).await?;
    let mut next = plan(pod, current.as_ref(), clock.now());
    // Containers that could not be started this time, with why (shown while they wait).
    let mut failures = Failures::new();
    'steps: for _ in 0..MAX_STEPS {
        if next.actions.is_empty() {
            break;
        }
        let mut started = Vec::new();
        for action in &next.actions {
            match action {
                Action::CreateSandbox => rt.run_pod_sandbox(node, pod).await?,
                Action::Start(which) => match rt.start_container(pod, *which).await {
                    Ok(()) => {
                        if let (Some(ev), Some(c)) = (
                            real.as_ref().and_then(|r| r.events),
                            super::container(pod, *which),
                        ) {
                            super::events::started(ev, pod, &c.name);
                        }
                        started.extend(super::container(pod, *which));
                    }
                    Err(RuntimeError::Container { reason, message }) => {
                        if let Some(c) = super::container(pod, *which) {
                            if let Some(ev) = real.as_ref().and_then(|r| r.events) {
                                super::events::failed(ev, pod, &c.name, reason, &message);
                            }
                            failures.insert(c.name.clone(), (reason, message));
                        }
                    }
                    Err(e) => return Err(e),
                },
            }
        }
        current = rt.pod_status(uid).await?;
        if real.is_some()
            && let Some(now) = &current
        {
            post_start_hooks(rt, pod, &started, now).await?;
        }
        if !failures.is_empty() {
            // Tried again at the next wake-up, not in a loop now.
            next.wake_at = clock.now().checked_add(START_RETRY).ok();
            break 'steps;
        }
        next = plan(pod, current.as_ref(), clock.now());
    }
    if let Some(p) = probes {
        p.sync(pod, current.as_ref());
        // A real node: ConfigMap and Secret edits reach running containers' volumes.
        if current.as_ref().is_some_and(|c| c.sandbox.ready)
            && let Err(e) = rt.refresh_volumes(pod).await
        {
            tracing::warn!(pod = %super::key(pod), error = %e, "refreshing volumes failed");
        }
    }
    let verdicts = verdicts(probes, uid, current.as_ref());
    let status = status::probed_pod_status(pod, node, current.as_ref(), clock.now(), &verdicts, &failures);
    if let Some(ev) = real.as_ref().and_then(|r| r.events) {
        let all = status
            .container_statuses
            .iter()
            .flatten()
            .chain(status.init_container_statuses.iter().flatten());
        for c in all {
            let waiting = c.state.as_ref().and_then(|s| s.waiting.as_ref());
            if waiting.and_then(|w| w.reason.as_deref()) == Some("CrashLoopBackOff") {
                super::events::back_off(ev, pod, &c.name);
            }
        }
    }
    let terminal = is_terminal(status.phase.as_deref());
    if terminal {
        if let Some(p) = probes {
            p.forget(uid);
        }
        // Stopped, not removed: a finished pod's containers and logs stay until the pod
        // is deleted, as upstream (`kubectl logs` of a completed Job's pod).
        rt.kill_pod(uid, Duration::ZERO).await?;
    }
    Ok(SyncResult::Status {
        status: Box::new(status),
        terminal,
        wake_at: if terminal {
            None
        } else if let Some(real) = &real {
            // A real node looks at each pod at least every `resync` (its volumes' sources
            // may have changed), as the kubelet's periodic sync does.
            let resync = clock.now().checked_add(real.resync).ok();
            match (next.wake_at, resync) {
                (Some(w), Some(r)) => Some(w.min(r)),
                (w, r) => w.or(r),
            }
        } else {
            next.wake_at
        },
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::FakeClock;
    use crate::pod::fixtures::*;
    use crate::runtime::SimulatedRuntime;

    fn node() -> NodeContext {
        NodeContext {
            index: 0,
            name: "sim-0".into(),
            ip: "10.200.0.1".parse().unwrap(),
        }
    }

    fn setup() -> (Arc<FakeClock>, SimulatedRuntime) {
        let clock = Arc::new(FakeClock::at(t("2025-01-01T00:00:00Z")));
        let rt = SimulatedRuntime::new(1, Duration::from_secs(1), clock.clone());
        (clock, rt)
    }

    fn phase(r: &SyncResult) -> &str {
        match r {
            SyncResult::Status { status, .. } => status.phase.as_deref().unwrap_or_default(),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn long_running_pod_goes_running_in_one_sync() {
        let (clock, rt) = setup();
        let p = pod("Always", &["a", "b"], &["i1", "side:s", "i2"]);
        let r = sync_pod(&rt, &*clock, &node(), &p, None).await;
        assert_eq!(phase(&r), "Running");
        let SyncResult::Status { status, wake_at, .. } = r else {
            unreachable!()
        };
        assert_eq!(wake_at, None);
        assert_eq!(status.pod_ip.as_deref(), Some("10.64.0.2"));
        assert!(status.container_statuses.unwrap().iter().all(|c| c.ready));
        let init = status.init_container_statuses.unwrap();
        assert!(init[0].state.as_ref().unwrap().terminated.is_some());
        assert!(init[1].state.as_ref().unwrap().running.is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn job_pod_succeeds_after_the_pod_duration_and_its_sandbox_stops() {
        let (clock, rt) = setup();
        let p = pod("Never", &["a"], &[]);
        assert_eq!(phase(&sync_pod(&rt, &*clock, &node(), &p, None).await), "Running");
        let uid = rt.next_event().await;
        assert_eq!(uid.as_deref(), Some("u-1"));
        clock.advance(Duration::from_secs(1));
        let r = sync_pod(&rt, &*clock, &node(), &p, None).await;
        assert_eq!(phase(&r), "Succeeded");
        // Stopped, not removed: its containers (and logs) stay until the pod is deleted.
        let stopped = rt.pod_status("u-1").await.unwrap().unwrap();
        assert!(!stopped.sandbox.ready);
        assert_eq!(stopped.containers.len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn crash_loop_under_always() {
        let (clock, rt) = setup();
        let mut p = pod("Always", &["a"], &[]);
        p.metadata.annotations = Some([(crate::EXIT_CODE_ANNOTATION.to_string(), "3".to_string())].into());
        sync_pod(&rt, &*clock, &node(), &p, None).await;
        rt.next_event().await;
        clock.advance(Duration::from_secs(1));
        // First exit: restarted at once.
        let r = sync_pod(&rt, &*clock, &node(), &p, None).await;
        let SyncResult::Status { status, .. } = &r else {
            panic!()
        };
        assert_eq!(status.container_statuses.as_ref().unwrap()[0].restart_count, 1);
        rt.next_event().await;
        clock.advance(Duration::from_secs(1));
        // Second exit: back-off 10 s.
        let r = sync_pod(&rt, &*clock, &node(), &p, None).await;
        let SyncResult::Status { status, wake_at, .. } = &r else {
            panic!()
        };
        assert_eq!(phase(&r), "Running");
        let c = &status.container_statuses.as_ref().unwrap()[0];
        assert_eq!(
            c.state
                .as_ref()
                .unwrap()
                .waiting
                .as_ref()
                .unwrap()
                .reason
                .as_deref(),
            Some("CrashLoopBackOff")
        );
        assert_eq!(*wake_at, Some(t("2025-01-01T00:00:12Z")));
    }

    #[tokio::test(start_paused = true)]
    async fn deletion_stops_and_removes() {
        let (clock, rt) = setup();
        let mut p = pod("Always", &["a"], &[]);
        sync_pod(&rt, &*clock, &node(), &p, None).await;
        p.metadata.deletion_timestamp = Some(crate::clock::time(clock.now()));
        p.metadata.deletion_grace_period_seconds = Some(30);
        assert!(matches!(
            sync_pod(&rt, &*clock, &node(), &p, None).await,
            SyncResult::Stopped
        ));
        assert!(rt.pod_status("u-1").await.unwrap().is_none());
    }
}
