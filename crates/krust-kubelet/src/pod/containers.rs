//! `containerStatuses` and `initContainerStatuses` from what the runtime reports.
//!
//! A container the runtime has not started yet is `waiting` (`PodInitializing` while init
//! containers run, else `ContainerCreating`); a running one is `running` and ready (there
//! are no probes yet, so readiness follows the process); one that ended and will be started
//! again after a back-off is `waiting` with `CrashLoopBackOff` and its end in `lastState`;
//! one that ended for good is `terminated`.

use k8s_openapi::api::core::v1::{
    Container, ContainerState as ApiState, ContainerStateRunning, ContainerStateTerminated,
    ContainerStateWaiting, ContainerStatus, Pod,
};

use super::plan::{restart_at, restart_delay};
use super::{RestartPolicy, is_sidecar};
use crate::clock::time;
use crate::probe::Verdict;
use crate::runtime::{ContainerKind, ContainerRuntimeStatus, ContainerState, PodRuntimeStatus, Termination};

/// What the status builder needs to know beyond the runtime's view.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Context<'a> {
    pub pod: &'a Pod,
    /// Whether every (non-sidecar) init container has completed.
    pub initialized: bool,
    /// Whether the pod's phase is final: nothing will be started again.
    pub terminal: bool,
    pub now: jiff::Timestamp,
    /// Probe results of the running instances, by container name (empty where nothing is
    /// probed: such a container is ready and started while it runs).
    pub verdicts: &'a Verdicts,
    /// Containers that could not be started: waiting reason and message.
    pub failures: &'a Failures,
}

/// Why containers could not be started, by name.
pub(crate) type Failures = std::collections::BTreeMap<String, (&'static str, String)>;

/// No start failures.
#[cfg(test)]
pub(crate) static NO_FAILURES: Failures = Failures::new();

/// Probe results by container name.
pub(crate) type Verdicts = std::collections::BTreeMap<String, Verdict>;

/// No probe results.
#[cfg(test)]
pub(crate) static NO_VERDICTS: Verdicts = Verdicts::new();

fn waiting(reason: &str, message: Option<String>) -> ApiState {
    ApiState {
        waiting: Some(ContainerStateWaiting {
            reason: Some(reason.into()),
            message,
        }),
        ..Default::default()
    }
}

fn terminated(t: &Termination) -> ApiState {
    let reason = t
        .reason
        .clone()
        .unwrap_or_else(|| if t.exit_code == 0 { "Completed" } else { "Error" }.into());
    ApiState {
        terminated: Some(ContainerStateTerminated {
            container_id: Some(t.id.clone()),
            exit_code: t.exit_code,
            finished_at: Some(time(t.finished_at)),
            message: t.message.clone(),
            reason: Some(reason),
            started_at: Some(time(t.started_at)),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Go's spelling of a whole-second duration (`10s`, `2m40s`, `5m0s`), as kubectl users see
/// it in back-off messages.
fn go_duration(d: std::time::Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        format!("{s}s")
    } else {
        format!("{}m{}s", s / 60, s % 60)
    }
}

/// Whether a container of this kind that ended as `t` is started again.
fn restarts(kind: ContainerKind, c: &Container, policy: RestartPolicy, t: &Termination) -> bool {
    match kind {
        ContainerKind::App => policy.restarts(t.exit_code),
        ContainerKind::Init if is_sidecar(c) => true,
        ContainerKind::Init => t.exit_code != 0 && policy != RestartPolicy::Never,
    }
}

fn status_of(
    ctx: &Context<'_>,
    kind: ContainerKind,
    c: &Container,
    s: &ContainerRuntimeStatus,
) -> ContainerStatus {
    let mut last_state = s.previous.as_ref().map(terminated);
    let (state, ready, started) = match &s.state {
        ContainerState::Created => (waiting("ContainerCreating", None), false, false),
        ContainerState::Running { started_at } => {
            let state = ApiState {
                running: Some(ContainerStateRunning {
                    started_at: Some(time(*started_at)),
                }),
                ..Default::default()
            };
            let verdict = ctx.verdicts.get(&c.name);
            let started = verdict.is_none_or(|v| v.started);
            let ready = (kind == ContainerKind::App || is_sidecar(c)) && verdict.is_none_or(|v| v.ready);
            (state, ready, started)
        }
        ContainerState::Exited(t) => {
            let again = !ctx.terminal && restarts(kind, c, RestartPolicy::of(ctx.pod), t);
            if again && restart_at(s.attempt, t) > ctx.now {
                let m = &ctx.pod.metadata;
                let message = format!(
                    "back-off {} restarting failed container={} pod={}_{}({})",
                    go_duration(restart_delay(s.attempt, t)),
                    c.name,
                    m.name.as_deref().unwrap_or_default(),
                    m.namespace.as_deref().unwrap_or_default(),
                    m.uid.as_deref().unwrap_or_default()
                );
                last_state = Some(terminated(t));
                (waiting("CrashLoopBackOff", Some(message)), false, false)
            } else {
                (terminated(t), false, false)
            }
        }
    };
    ContainerStatus {
        container_id: Some(s.id.clone()),
        image: c.image.clone().unwrap_or_default(),
        image_id: s.image_ref.clone(),
        last_state,
        name: c.name.clone(),
        ready,
        restart_count: i32::try_from(s.attempt).unwrap_or(i32::MAX),
        started: Some(started),
        state: Some(state),
        ..Default::default()
    }
}

/// The statuses of the containers of one list (`kind`) of the pod, in spec order.
pub(crate) fn statuses(
    ctx: &Context<'_>,
    kind: ContainerKind,
    spec: &[Container],
    rt: Option<&PodRuntimeStatus>,
) -> Vec<ContainerStatus> {
    spec.iter()
        .map(|c| match rt.and_then(|r| r.container(&c.name)) {
            Some(s) => status_of(ctx, kind, c, s),
            None => {
                let state = match ctx.failures.get(&c.name) {
                    Some((reason, message)) => waiting(reason, Some(message.clone())),
                    None if kind == ContainerKind::Init || !ctx.initialized => {
                        waiting("PodInitializing", None)
                    }
                    None => waiting("ContainerCreating", None),
                };
                ContainerStatus {
                    image: c.image.clone().unwrap_or_default(),
                    name: c.name.clone(),
                    started: Some(false),
                    state: Some(state),
                    ..Default::default()
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pod::fixtures::*;
    use crate::pod::{app_containers, init_containers};

    const T0: &str = "2025-01-01T00:00:00Z";
    const T1: &str = "2025-01-01T00:00:01Z";

    fn ctx<'a>(p: &'a Pod, now: &str) -> Context<'a> {
        Context {
            pod: p,
            initialized: true,
            terminal: false,
            now: t(now),
            verdicts: &NO_VERDICTS,
            failures: &NO_FAILURES,
        }
    }

    #[test]
    fn running_container() {
        let p = pod("Always", &["a"], &[]);
        let rt = with(sandbox(), vec![running("a", 0, T0)]);
        let s = &statuses(&ctx(&p, T1), ContainerKind::App, app_containers(&p), Some(&rt))[0];
        assert!(s.ready);
        assert_eq!(s.started, Some(true));
        assert_eq!(s.image, "img-a");
        assert_eq!(s.image_id, "simulated://img-a");
        assert_eq!(s.container_id.as_deref(), Some("simulated://a0"));
        assert_eq!(s.restart_count, 0);
        let run = s.state.as_ref().unwrap().running.as_ref().unwrap();
        assert_eq!(run.started_at, Some(time(t(T0))));
        assert_eq!(s.last_state, None);
    }

    #[test]
    fn waiting_reasons_before_start() {
        let p = pod("Always", &["a"], &["i"]);
        let mut c = ctx(&p, T1);
        c.initialized = false;
        let reason = |s: &ContainerStatus| {
            s.state
                .as_ref()
                .unwrap()
                .waiting
                .as_ref()
                .unwrap()
                .reason
                .clone()
                .unwrap()
        };
        let apps = statuses(&c, ContainerKind::App, app_containers(&p), Some(&sandbox()));
        assert_eq!(reason(&apps[0]), "PodInitializing");
        let inits = statuses(&c, ContainerKind::Init, init_containers(&p), Some(&sandbox()));
        assert_eq!(reason(&inits[0]), "PodInitializing");
        c.initialized = true;
        let apps = statuses(&c, ContainerKind::App, app_containers(&p), None);
        assert_eq!(reason(&apps[0]), "ContainerCreating");
        assert!(!apps[0].ready);
        // A container that could not be started says why.
        let failures: Failures = [(
            "a".to_string(),
            ("ErrImagePull", "failed to pull image \"x\"".to_string()),
        )]
        .into();
        c.failures = &failures;
        let apps = statuses(&c, ContainerKind::App, app_containers(&p), Some(&sandbox()));
        assert_eq!(reason(&apps[0]), "ErrImagePull");
        let waiting = apps[0].state.as_ref().unwrap().waiting.as_ref().unwrap();
        assert_eq!(waiting.message.as_deref(), Some("failed to pull image \"x\""));
    }

    #[test]
    fn completed_and_failed_containers() {
        let p = pod("Never", &["a"], &[]);
        let rt = with(sandbox(), vec![exited("a", 0, 0, T0, T1)]);
        let s = &statuses(&ctx(&p, T1), ContainerKind::App, app_containers(&p), Some(&rt))[0];
        let term = s.state.as_ref().unwrap().terminated.as_ref().unwrap();
        assert_eq!((term.exit_code, term.reason.as_deref()), (0, Some("Completed")));
        assert_eq!(term.finished_at, Some(time(t(T1))));
        assert!(!s.ready);
        let rt = with(sandbox(), vec![exited("a", 0, 7, T0, T1)]);
        let s = &statuses(&ctx(&p, T1), ContainerKind::App, app_containers(&p), Some(&rt))[0];
        let term = s.state.as_ref().unwrap().terminated.as_ref().unwrap();
        assert_eq!((term.exit_code, term.reason.as_deref()), (7, Some("Error")));
    }

    #[test]
    fn crash_loop_back_off() {
        let p = pod("Always", &["a"], &[]);
        let mut c = exited("a", 3, 1, T0, T1);
        c.previous = Some(Termination {
            id: "old".into(),
            started_at: t(T0),
            finished_at: t(T0),
            exit_code: 1,
            reason: None,
            message: None,
        });
        let rt = with(sandbox(), vec![c]);
        let s = &statuses(
            &ctx(&p, "2025-01-01T00:00:05Z"),
            ContainerKind::App,
            app_containers(&p),
            Some(&rt),
        )[0];
        let w = s.state.as_ref().unwrap().waiting.as_ref().unwrap();
        assert_eq!(w.reason.as_deref(), Some("CrashLoopBackOff"));
        assert_eq!(
            w.message.as_deref(),
            Some("back-off 40s restarting failed container=a pod=p_ns(u-1)")
        );
        let last = s.last_state.as_ref().unwrap().terminated.as_ref().unwrap();
        assert_eq!(last.container_id.as_deref(), Some("simulated://a3"));
        assert_eq!(s.restart_count, 3);
        // Terminal pods restart nothing.
        let mut done = ctx(&p, "2025-01-01T00:00:05Z");
        done.terminal = true;
        let s = &statuses(&done, ContainerKind::App, app_containers(&p), Some(&rt))[0];
        assert!(s.state.as_ref().unwrap().terminated.is_some());
    }

    #[test]
    fn go_durations() {
        use std::time::Duration;
        assert_eq!(go_duration(Duration::from_secs(10)), "10s");
        assert_eq!(go_duration(Duration::from_secs(160)), "2m40s");
        assert_eq!(go_duration(Duration::from_secs(300)), "5m0s");
    }
}
