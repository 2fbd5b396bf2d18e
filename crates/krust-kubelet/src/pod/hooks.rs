//! postStart and preStop hooks of a real node's containers: a command in the container,
//! an HTTP GET or TCP connection to the pod, or a sleep, as the kubelet runs them. A
//! failed postStart hook gets its container stopped (the restart policy decides what
//! follows); preStop hooks run before a pod's containers are stopped and use up part of
//! its grace period.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Container, LifecycleHandler, Pod};

use crate::probe::{Hook, Target, check, hook_of};
use crate::runtime::{ContainerState, PodRuntimeStatus, Runtime};

/// How long a postStart hook may take before it counts as failed (upstream has no
/// limit but the pod's grace period; a hook that hangs must not hold the worker forever).
const POST_START_LIMIT: Duration = Duration::from_secs(120);

/// Runs `handler` of `c` against the instance `id` (`<runtime>://<id>`) of a pod at
/// `pod_ip`, for at most `limit`.
async fn run<R: Runtime>(
    rt: &R,
    c: &Container,
    handler: &LifecycleHandler,
    id: &str,
    pod_ip: Option<std::net::IpAddr>,
    limit: Duration,
) -> Result<(), String> {
    let target = Target {
        container_id: id.split_once("://").map_or(id, |(_, rest)| rest).to_string(),
        pod_ip,
    };
    match hook_of(c, handler)? {
        Hook::Sleep(d) => {
            tokio::time::sleep(d.min(limit)).await;
            Ok(())
        }
        Hook::Check(action) => match tokio::time::timeout(limit, check(rt, &target, &action, limit)).await {
            Ok(r) => r,
            Err(_) => Err(format!("the hook did not finish within {}s", limit.as_secs())),
        },
    }
}

/// Runs the postStart hook of `c` (just started as instance `id`); `Err` says why it
/// failed.
pub(crate) async fn post_start<R: Runtime>(
    rt: &R,
    c: &Container,
    id: &str,
    current: &PodRuntimeStatus,
) -> Result<(), String> {
    let Some(h) = c.lifecycle.as_ref().and_then(|l| l.post_start.as_ref()) else {
        return Ok(());
    };
    let ip = current.sandbox.ip.map(std::net::IpAddr::V4);
    run(rt, c, h, id, ip, POST_START_LIMIT).await
}

/// Runs the preStop hooks of `pod`'s running containers, all at once, within `grace`;
/// returns how much of the grace period is left for the containers to stop.
pub(crate) async fn pre_stop<R: Runtime>(
    rt: &R,
    pod: &Pod,
    current: Option<&PodRuntimeStatus>,
    grace: Duration,
) -> Duration {
    let Some(current) = current else { return grace };
    let started = Instant::now();
    let ip = current.sandbox.ip.map(std::net::IpAddr::V4);
    let containers = super::app_containers(pod)
        .iter()
        .chain(super::init_containers(pod));
    let hooks = containers.filter_map(|c| {
        let h = c.lifecycle.as_ref()?.pre_stop.as_ref()?;
        let s = current.container(&c.name)?;
        matches!(s.state, ContainerState::Running { .. }).then_some((c, h, s.id.clone()))
    });
    let hooks: Vec<_> = hooks.collect();
    if hooks.is_empty() {
        return grace;
    }
    let runs = hooks.into_iter().map(|(c, h, id)| async move {
        if let Err(why) = run(rt, c, h, &id, ip, grace).await {
            tracing::info!(pod = %super::key(pod), container = %c.name, %why, "PreStop hook failed");
        }
    });
    futures_util::future::join_all(runs).await;
    grace.saturating_sub(started.elapsed())
}
