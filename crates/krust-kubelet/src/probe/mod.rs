//! Liveness, readiness and startup probes of the containers of a real node, as the
//! kubelet's prober: one task per probe of each running container, checking every period
//! after the initial delay; readiness and liveness wait until the startup probe (if any)
//! has passed. Results are kept per container instance (a restarted container starts
//! over) and a change wakes the pod's worker through the manager: it shows readiness and
//! `started` in the status and stops a container whose liveness or startup probe failed,
//! which the restart policy then starts again.

mod check;
mod spec;

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, Pod};
use parking_lot::Mutex;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub(crate) use check::{Target, check};
pub(crate) use spec::{Hook, Kind, hook_of};

use crate::pod::{app_containers, init_containers, is_sidecar};
use crate::runtime::{ContainerState, PodRuntimeStatus, Runtime};

/// A container's probe results, for its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Verdict {
    /// Readiness (true when it has no readiness probe).
    pub ready: bool,
    /// Whether the startup probe passed (true when it has none).
    pub started: bool,
}

struct Slot {
    /// The instance probed (`containerd://...`).
    container_id: String,
    ready: Option<bool>,
    started: Option<bool>,
    /// A liveness or startup failure not acted on yet, with its message.
    failed: Option<String>,
    stop: CancellationToken,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

type Key = (String, String);

/// The probes of one node.
pub(crate) struct Probes<R> {
    runtime: Arc<R>,
    events: Option<krust_runtime::Events>,
    slots: Mutex<HashMap<Key, Slot>>,
    changes: mpsc::UnboundedSender<String>,
}

/// The containers of `pod` that are probed: app containers and sidecars.
fn probed(pod: &Pod) -> impl Iterator<Item = &Container> {
    app_containers(pod)
        .iter()
        .chain(init_containers(pod).iter().filter(|c| is_sidecar(c)))
}

impl<R: Runtime> Probes<R> {
    /// Probes whose result changes are sent (as pod uids) to `changes`.
    pub fn new(
        runtime: Arc<R>,
        changes: mpsc::UnboundedSender<String>,
        events: Option<krust_runtime::Events>,
    ) -> Arc<Self> {
        Arc::new(Self {
            runtime,
            events,
            slots: Mutex::new(HashMap::new()),
            changes,
        })
    }

    /// Starts probing the containers of `pod` that run a new instance and stops probing
    /// those that no longer run.
    pub fn sync(self: &Arc<Self>, pod: &Pod, rt: Option<&PodRuntimeStatus>) {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let pod_ip = rt.and_then(|r| r.sandbox.ip).map(std::net::IpAddr::V4);
        let mut slots = self.slots.lock();
        for c in probed(pod) {
            let key = (uid.clone(), c.name.clone());
            let probes: Vec<(Kind, spec::ProbeSpec)> = [Kind::Startup, Kind::Readiness, Kind::Liveness]
                .into_iter()
                .filter_map(|k| match spec::probe_of(c, k) {
                    Ok(p) => p.map(|p| (k, p)),
                    Err(e) => {
                        tracing::warn!(container = %c.name, error = %e, "probe ignored");
                        None
                    }
                })
                .collect();
            let running = rt
                .and_then(|r| r.container(&c.name))
                .and_then(|s| match &s.state {
                    ContainerState::Running { started_at } => Some((s.id.clone(), *started_at)),
                    _ => None,
                });
            let Some((id, started_at)) = running.filter(|_| !probes.is_empty()) else {
                slots.remove(&key);
                continue;
            };
            if slots.get(&key).is_some_and(|s| s.container_id == id) {
                continue;
            }
            let stop = CancellationToken::new();
            let has = |k: Kind| probes.iter().any(|(kind, _)| *kind == k);
            slots.insert(
                key.clone(),
                Slot {
                    container_id: id.clone(),
                    ready: has(Kind::Readiness).then_some(false),
                    started: has(Kind::Startup).then_some(false),
                    failed: None,
                    stop: stop.clone(),
                },
            );
            let target = check::Target {
                container_id: id
                    .split_once("://")
                    .map_or(id.as_str(), |(_, rest)| rest)
                    .to_string(),
                pod_ip,
            };
            for (kind, spec) in probes {
                tokio::spawn(worker(
                    Arc::downgrade(self),
                    key.clone(),
                    id.clone(),
                    kind,
                    spec,
                    target.clone(),
                    started_at,
                    crate::pod::events::regarding(pod, Some(&c.name)),
                    stop.clone(),
                ));
            }
        }
    }

    /// The probe results of instance `id` of container `name` of pod `uid`; `None` when
    /// it is not probed.
    pub fn verdict(&self, uid: &str, name: &str, id: &str) -> Option<Verdict> {
        let slots = self.slots.lock();
        let s = slots.get(&(uid.to_string(), name.to_string()))?;
        (s.container_id == id).then(|| {
            let started = s.started.unwrap_or(true);
            Verdict {
                ready: started && s.ready.unwrap_or(true),
                started,
            }
        })
    }

    /// The containers of pod `uid` whose liveness or startup probe failed, with the
    /// message; each is reported once.
    pub fn take_failed(&self, uid: &str) -> Vec<(String, String)> {
        let mut slots = self.slots.lock();
        slots
            .iter_mut()
            .filter(|((u, _), _)| u == uid)
            .filter_map(|((_, name), s)| s.failed.take().map(|m| (name.clone(), m)))
            .collect()
    }

    /// Stops probing pod `uid`.
    pub fn forget(&self, uid: &str) {
        self.slots.lock().retain(|(u, _), _| u != uid);
    }

    /// Records that `kind` of `key`'s instance `id` flipped to `result`.
    fn apply(&self, key: &Key, id: &str, kind: Kind, result: bool, message: Option<String>) {
        {
            let mut slots = self.slots.lock();
            let Some(s) = slots.get_mut(key).filter(|s| s.container_id == id) else {
                return;
            };
            match (kind, result) {
                (Kind::Readiness, r) => s.ready = Some(r),
                (Kind::Startup, true) => s.started = Some(true),
                (Kind::Startup | Kind::Liveness, false) => {
                    s.failed = Some(format!(
                        "{} probe failed: {}",
                        kind.title(),
                        message.unwrap_or_default()
                    ))
                }
                (Kind::Liveness, true) => return,
            }
        }
        let _ = self.changes.send(key.0.clone());
    }

    /// Whether readiness and liveness may be checked: the startup probe passed, or there
    /// is none.
    fn started(&self, key: &Key) -> bool {
        self.slots
            .lock()
            .get(key)
            .is_some_and(|s| s.started != Some(false))
    }
}

/// Checks one probe of one container instance until stopped.
#[allow(clippy::too_many_arguments)]
async fn worker<R: Runtime>(
    probes: Weak<Probes<R>>,
    key: Key,
    id: String,
    kind: Kind,
    spec: spec::ProbeSpec,
    target: check::Target,
    started_at: jiff::Timestamp,
    regarding: k8s_openapi::api::core::v1::ObjectReference,
    stop: CancellationToken,
) {
    // The initial delay counts from the container's start, as upstream's.
    let ran = Duration::try_from(jiff::Timestamp::now().duration_since(started_at)).unwrap_or(Duration::ZERO);
    let mut next = spec.initial_delay.saturating_sub(ran);
    let mut tracker = spec::Tracker::new(kind, &spec);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(next) => {}
        }
        next = spec.period;
        let Some(p) = probes.upgrade() else { return };
        if kind != Kind::Startup && !p.started(&key) {
            continue;
        }
        let runtime = p.runtime.clone();
        drop(p);
        let outcome = tokio::select! {
            _ = stop.cancelled() => return,
            o = check::check(&*runtime, &target, &spec.action, spec.timeout) => o,
        };
        if let Err(why) = &outcome {
            tracing::debug!(pod = %key.0, container = %key.1, probe = kind.title(), %why, "probe failed");
            if let Some(p) = probes.upgrade()
                && let Some(ev) = &p.events
            {
                ev.warning(
                    regarding.clone(),
                    "Unhealthy",
                    "Probe",
                    format!("{} probe failed: {why}", kind.title()),
                );
            }
        }
        if let Some(result) = tracker.record(outcome.is_ok()) {
            let Some(p) = probes.upgrade() else { return };
            p.apply(&key, &id, kind, result, outcome.err());
        }
        if kind == Kind::Startup && tracker.result() {
            // A startup probe is done once it passed.
            return;
        }
    }
}
