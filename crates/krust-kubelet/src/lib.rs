//! The node agent: registers nodes, renews their Leases, reports their status, and brings
//! the pods bound to them to life through a container runtime.
//!
//! A simulated node is this same agent with [`SimulatedRuntime`]: pods go Running at once
//! (as kwok does) and nothing is executed, so thousands of nodes fit in one process. The
//! containerd runtime will plug in behind the same [`Runtime`] trait.
//!
//! Shape of the agent (see `docs/architecture.md`):
//! - `node::heartbeat` registers the nodes and, spread over the heartbeat interval, renews
//!   each node's Lease and reports its status when it changed or is due;
//! - `node::watch` (one watch for all nodes) notices deleted nodes, the heartbeat
//!   annotation and conditions changed by others;
//! - `pod::watch` (one watch for all bound pods) feeds `pod::manager`, which admits pods
//!   and runs `pod::worker` syncs, at most one at a time per pod; a sync follows
//!   `pod::plan` through the runtime and computes `pod::status`, which `pod::api` writes
//!   through `pods/<name>/status`;
//! - per node the pool keeps a few bytes (`node::table`), an address allocator in the
//!   runtime and its pods' usage.
//!
//! Annotations understood by simulated nodes:
//! - [`HEARTBEAT_ANNOTATION`] `"false"` on a Node: it stops renewing its Lease and status
//!   (so node failure can be exercised) until the annotation is removed or changed;
//! - [`EXIT_CODE_ANNOTATION`] `"N"` on a Pod: its app containers run for the pod duration
//!   and exit with code N. With `restartPolicy: Never` the pod fails (phase `Failed`, the
//!   container terminated with exit code N, reason `Error`); with `OnFailure` or `Always`
//!   the container is restarted with upstream's crash-loop back-off, as the kubelet would.

mod agent;
mod api_error;
mod clock;
mod config;
pub mod csr;
mod ipam;
mod names;
mod node;
mod pod;
mod pool;
mod probe;
mod runtime;
mod volumes;

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

pub use agent::{Agent, AgentConfig, import_image};
pub use clock::{Clock, SystemClock};
pub use config::SimulatedConfig;
pub use runtime::{
    ContainerKind, ContainerRef, ContainerRuntimeStatus, ContainerState, CriRuntime, ExecResult, NodeContext,
    PodRuntimeStatus, Runtime, RuntimeError, SandboxStatus, SimulatedRuntime, Termination,
};
pub use volumes::{KubeObjects, ObjectSource};

/// Node annotation: `"false"` stops the node's heartbeats (Lease and status) until removed.
pub const HEARTBEAT_ANNOTATION: &str = "krust.io/simulate-heartbeat";
/// Pod annotation: `"N"` makes the pod's app containers exit with code N after the pod
/// duration.
pub const EXIT_CODE_ANNOTATION: &str = "krust.io/simulate-exit-code";

/// Failures of the node agent.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API could not be reached.
    #[error("api: {0}")]
    Api(String),
    /// The settings are not usable.
    #[error("simulated nodes: {0}")]
    Config(String),
    /// One of the agent's tasks panicked.
    #[error("node agent task failed: {0}")]
    Task(String),
}

/// A pool of simulated nodes.
pub struct SimulatedNodes {
    config: SimulatedConfig,
    client: kube::Client,
}

impl SimulatedNodes {
    /// A pool reaching the API server through `client`.
    pub fn new(config: SimulatedConfig, client: kube::Client) -> Self {
        Self { config, client }
    }

    /// Runs the nodes until `shutdown`. Fails at once if the settings are unusable.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), Error> {
        let spec = Arc::new(config::PoolSpec::from_config(&self.config)?);
        if spec.names.count() == 0 {
            shutdown.cancelled().await;
            return Ok(());
        }
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let runtime = Arc::new(SimulatedRuntime::new(
            spec.names.count(),
            spec.pod_duration,
            clock.clone(),
        ));
        pool::run(spec, self.client, runtime, clock, shutdown).await
    }
}
