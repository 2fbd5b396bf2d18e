//! A runtime that runs nothing: sandboxes get an address from the node's fake subnet and
//! containers are records whose state follows a script, as kwok does.
//!
//! The script, decided when a container starts:
//! - init containers exit with code 0 at once; sidecars (init containers with
//!   `restartPolicy: Always`) run until the pod is killed;
//! - app containers of pods with `restartPolicy: Always` run until killed;
//! - app containers of pods with `OnFailure` or `Never` run for the pool's pod duration and
//!   exit with code 0;
//! - the pod annotation `krust.io/simulate-exit-code: "N"` makes every app container run for
//!   the pod duration and exit with code N, whatever the restart policy (so an `Always` pod
//!   crash-loops and a `Never` pod fails).
//!
//! A container's state is computed from its script when asked, so a status read is right
//! even before the exit event has been delivered. One process can hold thousands of nodes:
//! per node the runtime keeps one 40-byte address allocator.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, Pod};
use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::{
    ContainerKind, ContainerRef, ContainerRuntimeStatus, ContainerState, ExecResult, NodeContext,
    PodRuntimeStatus, Runtime, RuntimeError, SandboxStatus, Termination,
};
use crate::EXIT_CODE_ANNOTATION;
use crate::clock::Clock;
use crate::ipam::{self, SubnetAllocator};

/// The simulated runtime of a pool of nodes.
pub struct SimulatedRuntime {
    state: Mutex<State>,
    wake: Notify,
    clock: Arc<dyn Clock>,
    pod_duration: Duration,
}

struct State {
    pods: HashMap<String, SimPod>,
    subnets: Vec<SubnetAllocator>,
    /// When containers exit on their own, earliest first.
    exits: BinaryHeap<Reverse<(Instant, String)>>,
    next_id: u64,
}

struct SimPod {
    node: u32,
    host: u8,
    id: u64,
    created_at: jiff::Timestamp,
    stopped: bool,
    containers: Vec<SimContainer>,
}

struct SimContainer {
    name: Box<str>,
    image: Box<str>,
    attempt: u32,
    started_at: jiff::Timestamp,
    /// When it exits on its own (monotonic), after how long, and with which code.
    ends: Option<(Instant, Duration, i32)>,
    /// How it ended when the pod was killed.
    killed: Option<Termination>,
    previous: Option<Termination>,
}

fn container_id(pod_id: u64, position: usize, attempt: u32) -> String {
    format!("simulated://{pod_id:016x}{position:04x}{attempt:08x}")
}

impl SimContainer {
    fn state(&self, pod_id: u64, position: usize, now: Instant) -> ContainerState {
        if let Some(t) = &self.killed {
            return ContainerState::Exited(t.clone());
        }
        match self.ends {
            Some((at, ran, exit_code)) if now >= at => ContainerState::Exited(Termination {
                id: container_id(pod_id, position, self.attempt),
                started_at: self.started_at,
                finished_at: self.started_at.checked_add(ran).unwrap_or(self.started_at),
                exit_code,
                reason: None,
                message: None,
            }),
            _ => ContainerState::Running {
                started_at: self.started_at,
            },
        }
    }
}

/// The spec of `which`, if the pod has it.
fn spec_container(pod: &Pod, which: ContainerRef) -> Option<&Container> {
    let spec = pod.spec.as_ref()?;
    match which.kind {
        ContainerKind::Init => spec.init_containers.as_ref()?.get(which.index),
        ContainerKind::App => spec.containers.get(which.index),
    }
}

impl SimulatedRuntime {
    /// A runtime for `nodes` nodes whose run-to-completion containers run for
    /// `pod_duration`.
    pub fn new(nodes: u32, pod_duration: Duration, clock: Arc<dyn Clock>) -> Self {
        let subnets = (0..nodes).map(|_| SubnetAllocator::default()).collect();
        Self {
            state: Mutex::new(State {
                pods: HashMap::new(),
                subnets,
                exits: BinaryHeap::new(),
                next_id: 1,
            }),
            wake: Notify::new(),
            clock,
            pod_duration,
        }
    }

    /// How long and with which exit code `which` runs before exiting on its own; `None`
    /// for a container that runs until killed.
    fn script(&self, pod: &Pod, which: ContainerRef, container: &Container) -> Option<(Duration, i32)> {
        if which.kind == ContainerKind::Init {
            let sidecar = container.restart_policy.as_deref() == Some("Always");
            return (!sidecar).then_some((Duration::ZERO, 0));
        }
        let exit_code = pod
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(EXIT_CODE_ANNOTATION))
            .and_then(|v| v.trim().parse::<i32>().ok());
        let policy = pod
            .spec
            .as_ref()
            .and_then(|s| s.restart_policy.as_deref())
            .unwrap_or("Always");
        match (exit_code, policy) {
            (Some(code), _) => Some((self.pod_duration, code)),
            (None, "Always") => None,
            (None, _) => Some((self.pod_duration, 0)),
        }
    }
}

impl Runtime for SimulatedRuntime {
    async fn run_pod_sandbox(&self, node: &NodeContext, pod: &Pod) -> Result<(), RuntimeError> {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let mut st = self.state.lock();
        match st.pods.get(&uid) {
            Some(sim) if !sim.stopped => return Ok(()),
            // A stopped sandbox is replaced, with its containers (its address went when
            // it stopped).
            Some(_) => {
                st.pods.remove(&uid);
            }
            None => {}
        }
        let subnet = st
            .subnets
            .get_mut(node.index as usize)
            .ok_or_else(|| RuntimeError::Other(format!("node {} is not in this runtime", node.name)))?;
        let host = subnet
            .allocate()
            .ok_or_else(|| RuntimeError::AddressesExhausted(node.name.clone()))?;
        let id = st.next_id;
        st.next_id += 1;
        let pod = SimPod {
            node: node.index,
            host,
            id,
            created_at: self.clock.now(),
            stopped: false,
            containers: Vec::new(),
        };
        st.pods.insert(uid, pod);
        Ok(())
    }

    async fn start_container(&self, pod: &Pod, which: ContainerRef) -> Result<(), RuntimeError> {
        let uid = pod.metadata.uid.as_deref().unwrap_or_default();
        let container = spec_container(pod, which).ok_or(RuntimeError::UnknownContainer(which))?;
        let script = self.script(pod, which, container);
        let now = Instant::now();
        let wall = self.clock.now();
        let mut guard = self.state.lock();
        let st = &mut *guard;
        let sim = st
            .pods
            .get_mut(uid)
            .ok_or_else(|| RuntimeError::NoSandbox(uid.to_string()))?;
        if sim.stopped {
            return Err(RuntimeError::Other(format!(
                "the sandbox of pod {uid} is stopped"
            )));
        }
        let pod_id = sim.id;
        let ends = script.map(|(ran, code)| (now + ran, ran, code));
        let c = match sim.containers.iter().position(|c| *c.name == *container.name) {
            None => {
                sim.containers.push(SimContainer {
                    name: container.name.as_str().into(),
                    image: container.image.as_deref().unwrap_or_default().into(),
                    attempt: 0,
                    started_at: wall,
                    ends,
                    killed: None,
                    previous: None,
                });
                let last = sim.containers.len() - 1;
                &mut sim.containers[last]
            }
            Some(position) => {
                let c = &mut sim.containers[position];
                // A new instance replaces the current one only once that has ended.
                let ContainerState::Exited(t) = c.state(pod_id, position, now) else {
                    return Ok(());
                };
                c.previous = Some(t);
                c.attempt += 1;
                c.started_at = wall;
                c.killed = None;
                c.ends = ends;
                c
            }
        };
        if let Some((at, ran, _)) = c.ends
            && !ran.is_zero()
        {
            st.exits.push(Reverse((at, uid.to_string())));
            self.wake.notify_one();
        }
        Ok(())
    }

    async fn pod_status(&self, uid: &str) -> Result<Option<PodRuntimeStatus>, RuntimeError> {
        let now = Instant::now();
        let st = self.state.lock();
        let Some(sim) = st.pods.get(uid) else {
            return Ok(None);
        };
        let containers = sim
            .containers
            .iter()
            .enumerate()
            .map(|(position, c)| ContainerRuntimeStatus {
                name: c.name.to_string(),
                id: container_id(sim.id, position, c.attempt),
                image_ref: format!("simulated://{}", c.image),
                attempt: c.attempt,
                state: c.state(sim.id, position, now),
                previous: c.previous.clone(),
            })
            .collect();
        Ok(Some(PodRuntimeStatus {
            sandbox: SandboxStatus {
                ready: !sim.stopped,
                ip: Some(ipam::pod_ip(sim.node, sim.host)),
                created_at: sim.created_at,
            },
            containers,
        }))
    }

    async fn kill_pod(&self, uid: &str, _grace: Duration) -> Result<(), RuntimeError> {
        // Simulated processes exit on SIGTERM at once, so no part of the grace period is
        // needed.
        let now = Instant::now();
        let wall = self.clock.now();
        let mut st = self.state.lock();
        let Some(sim) = st.pods.get_mut(uid) else {
            return Ok(());
        };
        // A stopped sandbox gives its address back, as CRI's StopPodSandbox tears down
        // the pod network; its containers stay (for their status and logs) until removal.
        let release = (!sim.stopped).then_some((sim.node, sim.host));
        sim.stopped = true;
        let pod_id = sim.id;
        for (position, c) in sim.containers.iter_mut().enumerate() {
            if let ContainerState::Running { started_at } = c.state(pod_id, position, now) {
                c.killed = Some(Termination {
                    id: container_id(pod_id, position, c.attempt),
                    started_at,
                    finished_at: wall,
                    exit_code: 0,
                    reason: None,
                    message: None,
                });
            }
        }
        if let Some((node, host)) = release
            && let Some(subnet) = st.subnets.get_mut(node as usize)
        {
            subnet.release(host);
        }
        Ok(())
    }

    async fn remove_pod(&self, uid: &str) -> Result<(), RuntimeError> {
        let mut st = self.state.lock();
        if let Some(sim) = st.pods.remove(uid)
            && !sim.stopped
            && let Some(subnet) = st.subnets.get_mut(sim.node as usize)
        {
            subnet.release(sim.host);
        }
        Ok(())
    }

    async fn refresh_volumes(&self, _pod: &Pod) -> Result<(), RuntimeError> {
        // Nothing is mounted anywhere.
        Ok(())
    }

    async fn stop_container(&self, uid: &str, name: &str, _grace: Duration) -> Result<(), RuntimeError> {
        let now = Instant::now();
        let wall = self.clock.now();
        let mut st = self.state.lock();
        let Some(sim) = st.pods.get_mut(uid) else {
            return Ok(());
        };
        let pod_id = sim.id;
        for (position, c) in sim.containers.iter_mut().enumerate() {
            if &*c.name == name
                && let ContainerState::Running { started_at } = c.state(pod_id, position, now)
            {
                // As a process that does not handle SIGTERM: killed at the grace period.
                c.killed = Some(Termination {
                    id: container_id(pod_id, position, c.attempt),
                    started_at,
                    finished_at: wall,
                    exit_code: 137,
                    reason: Some("Error".into()),
                    message: None,
                });
            }
        }
        Ok(())
    }

    async fn exec_sync(
        &self,
        _id: &str,
        _cmd: &[String],
        _timeout: Duration,
    ) -> Result<ExecResult, RuntimeError> {
        // Nothing runs in a simulated container: every command succeeds silently.
        Ok(ExecResult {
            exit_code: 0,
            output: String::new(),
        })
    }

    async fn next_event(&self) -> Option<String> {
        loop {
            let next = self.state.lock().exits.peek().map(|Reverse((at, _))| *at);
            match next {
                None => self.wake.notified().await,
                Some(at) if at <= Instant::now() => {
                    let mut st = self.state.lock();
                    // Still the earliest? Another caller may have taken it.
                    if st
                        .exits
                        .peek()
                        .is_some_and(|Reverse((first, _))| *first <= Instant::now())
                        && let Some(Reverse((_, uid))) = st.exits.pop()
                    {
                        return Some(uid);
                    }
                }
                Some(at) => {
                    tokio::select! {
                        _ = tokio::time::sleep_until(at) => {}
                        _ = self.wake.notified() => {}
                    }
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "simulated_tests.rs"]
mod tests;
