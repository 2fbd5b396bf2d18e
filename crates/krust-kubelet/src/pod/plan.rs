//! What the pod worker does next for a pod, decided from its spec and what the runtime
//! reports: create the sandbox, run the init containers one at a time in order (sidecars
//! are started and left running), then start the app containers, and start again those the
//! restart policy says to, after the crash-loop back-off.
//!
//! Pure: the worker carries the plan out and asks again until nothing is left to do.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;

use super::{RestartPolicy, app_containers, init_containers, is_sidecar};
use crate::runtime::{ContainerKind, ContainerRef, ContainerState, PodRuntimeStatus, Termination};

/// One step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// Create the pod sandbox.
    CreateSandbox,
    /// Start (or start again) a container.
    Start(ContainerRef),
}

/// The steps to take now, and when to look again for a step not due yet.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Plan {
    pub actions: Vec<Action>,
    pub wake_at: Option<jiff::Timestamp>,
}

/// First back-off after a crash (the first restart itself is immediate).
const BACKOFF_INITIAL: Duration = Duration::from_secs(10);
/// The back-off doubles up to this.
const BACKOFF_MAX: Duration = Duration::from_secs(300);
/// A container that ran this long before it exited starts again at once.
const BACKOFF_RESET: Duration = Duration::from_secs(600);

/// How long to wait before starting a container again whose instance number `attempt`
/// ended as `t`: nothing after the first run or after a long one, then 10 s doubling to
/// 5 min, as upstream's crash-loop back-off.
pub(crate) fn restart_delay(attempt: u32, t: &Termination) -> Duration {
    let ran = t.finished_at.duration_since(t.started_at);
    if attempt == 0
        || ran >= jiff::SignedDuration::try_from(BACKOFF_RESET).unwrap_or(jiff::SignedDuration::MAX)
    {
        return Duration::ZERO;
    }
    BACKOFF_INITIAL
        .saturating_mul(1 << (attempt - 1).min(16))
        .min(BACKOFF_MAX)
}

/// When the container may start again.
pub(crate) fn restart_at(attempt: u32, t: &Termination) -> jiff::Timestamp {
    t.finished_at
        .checked_add(restart_delay(attempt, t))
        .unwrap_or(t.finished_at)
}

impl Plan {
    fn restart(&mut self, which: ContainerRef, attempt: u32, t: &Termination, now: jiff::Timestamp) {
        let at = restart_at(attempt, t);
        if at <= now {
            self.actions.push(Action::Start(which));
        } else {
            self.wake_at = Some(self.wake_at.map_or(at, |w| w.min(at)));
        }
    }
}

/// The next steps for `pod` given what the runtime reports (`None`: no sandbox yet).
pub(crate) fn plan(pod: &Pod, rt: Option<&PodRuntimeStatus>, now: jiff::Timestamp) -> Plan {
    let mut p = Plan::default();
    let Some(rt) = rt else {
        p.actions.push(Action::CreateSandbox);
        return p;
    };
    let policy = RestartPolicy::of(pod);
    if !rt.sandbox.ready {
        // The sandbox died or never came up fully: a new one, and the containers start
        // again in it; unless nothing may be restarted (Never, and containers ran).
        if policy != RestartPolicy::Never || rt.containers.is_empty() {
            p.actions.push(Action::CreateSandbox);
        }
        return p;
    }
    for (index, c) in init_containers(pod).iter().enumerate() {
        let which = ContainerRef {
            kind: ContainerKind::Init,
            index,
        };
        let status = rt.container(&c.name);
        if is_sidecar(c) {
            match status {
                None => {
                    // Started before the init containers after it, which wait for it.
                    p.actions.push(Action::Start(which));
                    return p;
                }
                Some(s) => {
                    if let ContainerState::Exited(t) = &s.state {
                        p.restart(which, s.attempt, t, now);
                    }
                }
            }
            continue;
        }
        match status {
            None => {
                p.actions.push(Action::Start(which));
                return p;
            }
            Some(s) => match &s.state {
                ContainerState::Exited(t) if t.exit_code == 0 => {}
                ContainerState::Exited(t) => {
                    if policy != RestartPolicy::Never {
                        p.restart(which, s.attempt, t, now);
                    }
                    return p;
                }
                ContainerState::Created | ContainerState::Running { .. } => return p,
            },
        }
    }
    for (index, c) in app_containers(pod).iter().enumerate() {
        let which = ContainerRef {
            kind: ContainerKind::App,
            index,
        };
        match rt.container(&c.name) {
            None => p.actions.push(Action::Start(which)),
            Some(s) => {
                if let ContainerState::Exited(t) = &s.state
                    && policy.restarts(t.exit_code)
                {
                    p.restart(which, s.attempt, t, now);
                }
            }
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pod::fixtures::*;

    fn start(kind: ContainerKind, index: usize) -> Action {
        Action::Start(ContainerRef { kind, index })
    }

    #[test]
    fn sandbox_first_then_init_in_order_then_apps() {
        let p = pod("Always", &["a", "b"], &["i1", "i2"]);
        let now = t("2025-01-01T00:00:10Z");
        assert_eq!(plan(&p, None, now).actions, vec![Action::CreateSandbox]);
        assert_eq!(
            plan(&p, Some(&sandbox()), now).actions,
            vec![start(ContainerKind::Init, 0)]
        );
        let rt = with(sandbox(), vec![running("i1", 0, "2025-01-01T00:00:01Z")]);
        assert_eq!(plan(&p, Some(&rt), now).actions, vec![]);
        let rt = with(
            sandbox(),
            vec![exited("i1", 0, 0, "2025-01-01T00:00:01Z", "2025-01-01T00:00:01Z")],
        );
        assert_eq!(
            plan(&p, Some(&rt), now).actions,
            vec![start(ContainerKind::Init, 1)]
        );
        let rt = with(
            sandbox(),
            vec![
                exited("i1", 0, 0, "2025-01-01T00:00:01Z", "2025-01-01T00:00:01Z"),
                exited("i2", 0, 0, "2025-01-01T00:00:01Z", "2025-01-01T00:00:01Z"),
            ],
        );
        assert_eq!(
            plan(&p, Some(&rt), now).actions,
            vec![start(ContainerKind::App, 0), start(ContainerKind::App, 1)]
        );
    }

    #[test]
    fn sidecars_start_before_later_init_containers_and_keep_running() {
        let p = pod("Never", &["a"], &["side:s", "i"]);
        let now = t("2025-01-01T00:00:10Z");
        assert_eq!(
            plan(&p, Some(&sandbox()), now).actions,
            vec![start(ContainerKind::Init, 0)]
        );
        let rt = with(sandbox(), vec![running("s", 0, "2025-01-01T00:00:01Z")]);
        assert_eq!(
            plan(&p, Some(&rt), now).actions,
            vec![start(ContainerKind::Init, 1)]
        );
    }

    #[test]
    fn restart_policy_decides_which_exits_restart() {
        let now = t("2025-01-01T00:01:00Z");
        let ok = with(
            sandbox(),
            vec![exited("a", 0, 0, "2025-01-01T00:00:00Z", "2025-01-01T00:00:01Z")],
        );
        let failed = with(
            sandbox(),
            vec![exited("a", 0, 2, "2025-01-01T00:00:00Z", "2025-01-01T00:00:01Z")],
        );
        let restart = vec![start(ContainerKind::App, 0)];
        assert_eq!(plan(&pod("Always", &["a"], &[]), Some(&ok), now).actions, restart);
        assert_eq!(
            plan(&pod("OnFailure", &["a"], &[]), Some(&ok), now).actions,
            vec![]
        );
        assert_eq!(
            plan(&pod("OnFailure", &["a"], &[]), Some(&failed), now).actions,
            restart
        );
        assert_eq!(
            plan(&pod("Never", &["a"], &[]), Some(&failed), now).actions,
            vec![]
        );
        // A failed init container blocks the app containers; it is retried unless Never.
        let init_failed = with(
            sandbox(),
            vec![exited("i", 0, 1, "2025-01-01T00:00:00Z", "2025-01-01T00:00:01Z")],
        );
        assert_eq!(
            plan(&pod("Never", &["a"], &["i"]), Some(&init_failed), now).actions,
            vec![]
        );
        assert_eq!(
            plan(&pod("OnFailure", &["a"], &["i"]), Some(&init_failed), now).actions,
            vec![start(ContainerKind::Init, 0)]
        );
    }

    #[test]
    fn crash_loop_back_off_doubles_and_caps() {
        let term = |ran: i64| Termination {
            id: String::new(),
            started_at: t("2025-01-01T00:00:00Z"),
            finished_at: t("2025-01-01T00:00:00Z") + jiff::SignedDuration::from_secs(ran),
            exit_code: 1,
            reason: None,
            message: None,
        };
        let secs: Vec<u64> = (0..9).map(|a| restart_delay(a, &term(1)).as_secs()).collect();
        assert_eq!(secs, vec![0, 10, 20, 40, 80, 160, 300, 300, 300]);
        assert_eq!(restart_delay(5, &term(601)), Duration::ZERO);
    }

    #[test]
    fn a_restart_not_due_yet_sets_the_wake_up() {
        let p = pod("Always", &["a"], &[]);
        let rt = with(
            sandbox(),
            vec![exited("a", 2, 1, "2025-01-01T00:00:00Z", "2025-01-01T00:00:05Z")],
        );
        let pl = plan(&p, Some(&rt), t("2025-01-01T00:00:10Z"));
        assert_eq!(pl.actions, vec![]);
        assert_eq!(pl.wake_at, Some(t("2025-01-01T00:00:25Z")));
        let pl = plan(&p, Some(&rt), t("2025-01-01T00:00:25Z"));
        assert_eq!(pl.actions, vec![start(ContainerKind::App, 0)]);
    }

    #[test]
    fn a_dead_sandbox_is_replaced_unless_nothing_may_restart() {
        let mut rt = sandbox();
        rt.sandbox.ready = false;
        let now = t("2025-01-01T00:00:00Z");
        assert_eq!(
            plan(&pod("Always", &["a"], &[]), Some(&rt), now).actions,
            vec![Action::CreateSandbox]
        );
        assert_eq!(
            plan(&pod("Never", &["a"], &[]), Some(&rt), now).actions,
            vec![Action::CreateSandbox],
            "no container ran yet"
        );
        let ran = with(
            rt,
            vec![exited("a", 0, 1, "2025-01-01T00:00:00Z", "2025-01-01T00:00:01Z")],
        );
        assert_eq!(plan(&pod("Never", &["a"], &[]), Some(&ran), now), Plan::default());
    }
}
