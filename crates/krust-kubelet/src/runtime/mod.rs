//! The container runtime as the pod worker sees it: sandboxes and containers, modelled on
//! CRI's calls (RunPodSandbox, CreateContainer + StartContainer, PodSandboxStatus +
//! ContainerStatus, StopPodSandbox, RemovePodSandbox, GetContainerEvents).
//!
//! The pod worker decides *what* should run; a runtime only does what it is told and
//! reports what is. [`SimulatedRuntime`] pretends; a CRI client for containerd will
//! implement the same trait.

pub(crate) mod cri;
mod simulated;

use std::future::Future;
use std::net::Ipv4Addr;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;

pub use cri::CriRuntime;

/// A downward-API field of `pod` (no addresses: those exist for env only).
pub(crate) fn downward_field(pod: &Pod, path: &str) -> Option<String> {
    cri::field_value(pod, path, &cri::Addresses::default())
}

pub(crate) use cri::resource_value as resource_field;
pub use simulated::SimulatedRuntime;

/// The node a pod runs on, as a runtime may need it (a pooled runtime serves many nodes;
/// a real one ignores the index).
#[derive(Debug, Clone)]
pub struct NodeContext {
    /// The node's index in its pool.
    pub index: u32,
    /// The node's name.
    pub name: String,
    /// The node's InternalIP.
    pub ip: Ipv4Addr,
}

/// Init container or app container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerKind {
    /// `spec.initContainers[i]`.
    Init,
    /// `spec.containers[i]`.
    App,
}

/// One container of a pod's spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContainerRef {
    /// Which list.
    pub kind: ContainerKind,
    /// Position in that list.
    pub index: usize,
}

/// What the runtime knows about a pod.
#[derive(Debug, Clone, PartialEq)]
pub struct PodRuntimeStatus {
    /// The sandbox (network namespace and address).
    pub sandbox: SandboxStatus,
    /// The latest instance of each container started so far.
    pub containers: Vec<ContainerRuntimeStatus>,
}

impl PodRuntimeStatus {
    /// The container named `name`, if it was ever started.
    pub fn container(&self, name: &str) -> Option<&ContainerRuntimeStatus> {
        self.containers.iter().find(|c| c.name == name)
    }
}

/// A pod sandbox.
#[derive(Debug, Clone, PartialEq)]
pub struct SandboxStatus {
    /// Whether it is up (false once stopped).
    pub ready: bool,
    /// The pod's address.
    pub ip: Option<Ipv4Addr>,
    /// When it was created.
    pub created_at: jiff::Timestamp,
}

/// The latest instance of a container.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerRuntimeStatus {
    /// The container's name in the pod spec.
    pub name: String,
    /// The runtime's id, `<runtime>://<id>`.
    pub id: String,
    /// The image actually run (digest form).
    pub image_ref: String,
    /// How many times it was started before this instance (the restart count).
    pub attempt: u32,
    /// Its state.
    pub state: ContainerState,
    /// How the instance before this one ended.
    pub previous: Option<Termination>,
}

/// State of a container instance.
#[derive(Debug, Clone, PartialEq)]
pub enum ContainerState {
    /// Created, not started.
    Created,
    /// Running since `started_at`.
    Running {
        /// When it started.
        started_at: jiff::Timestamp,
    },
    /// Ended.
    Exited(Termination),
}

/// How a container instance ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Termination {
    /// The runtime's id of that instance.
    pub id: String,
    /// When it started.
    pub started_at: jiff::Timestamp,
    /// When it ended.
    pub finished_at: jiff::Timestamp,
    /// Its exit code.
    pub exit_code: i32,
    /// The runtime's reason (`OOMKilled`), if any; else `Completed` or `Error` by exit code.
    pub reason: Option<String>,
    /// What the container wrote to its termination message file, if anything.
    pub message: Option<String>,
}

/// What a command run in a container came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecResult {
    /// Its exit code.
    pub exit_code: i32,
    /// Its standard output and error, as one text.
    pub output: String,
}

/// Failures of a runtime call.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The pod has no sandbox.
    #[error("pod {0} has no sandbox")]
    NoSandbox(String),
    /// The node's pod subnet is full.
    #[error("no pod address left on node {0}")]
    AddressesExhausted(String),
    /// The spec has no such container.
    #[error("the pod spec has no container {0:?}")]
    UnknownContainer(ContainerRef),
    /// A container could not be started; `reason` is what its status shows while it
    /// waits (`ErrImagePull`, `CreateContainerConfigError`, ...).
    #[error("{reason}: {message}")]
    Container {
        /// Upstream's waiting reason.
        reason: &'static str,
        /// What went wrong, for the waiting message.
        message: String,
    },
    /// Anything else the runtime reports.
    #[error("runtime: {0}")]
    Other(String),
}

/// A container runtime.
///
/// Every call is idempotent where CRI's is: creating an existing sandbox or starting a
/// running container does nothing, stopping or removing what is gone succeeds.
pub trait Runtime: Send + Sync + 'static {
    /// Creates and starts the pod's sandbox (network namespace, pod address) on `node`.
    fn run_pod_sandbox(
        &self,
        node: &NodeContext,
        pod: &Pod,
    ) -> impl Future<Output = Result<(), RuntimeError>> + Send;

    /// Creates and starts a new instance of `container` in the pod's sandbox; the instance
    /// it replaces (if any) becomes its `previous`.
    fn start_container(
        &self,
        pod: &Pod,
        container: ContainerRef,
    ) -> impl Future<Output = Result<(), RuntimeError>> + Send;

    /// What the runtime knows about pod `uid`; `None` when it has no sandbox for it.
    fn pod_status(
        &self,
        uid: &str,
    ) -> impl Future<Output = Result<Option<PodRuntimeStatus>, RuntimeError>> + Send;

    /// Stops every container of pod `uid` (giving each up to `grace` to exit) and its
    /// sandbox.
    fn kill_pod(&self, uid: &str, grace: Duration) -> impl Future<Output = Result<(), RuntimeError>> + Send;

    /// Removes pod `uid`'s containers and sandbox and releases its address.
    fn remove_pod(&self, uid: &str) -> impl Future<Output = Result<(), RuntimeError>> + Send;

    /// Brings the content of pod's configMap, secret, downwardAPI and projected volumes up
    /// to date (called at every sync of a running pod).
    fn refresh_volumes(&self, pod: &Pod) -> impl Future<Output = Result<(), RuntimeError>> + Send;

    /// Stops the running instance of container `name` of pod `uid` (SIGTERM, then
    /// SIGKILL after `grace`), as when its liveness probe fails; it is then started again
    /// or not as the restart policy says.
    fn stop_container(
        &self,
        uid: &str,
        name: &str,
        grace: Duration,
    ) -> impl Future<Output = Result<(), RuntimeError>> + Send;

    /// Runs `cmd` in container `id` (the runtime's id, without the `<runtime>://` prefix)
    /// and returns its exit code and output, killing it after `timeout`: exec probes and
    /// hooks.
    fn exec_sync(
        &self,
        id: &str,
        cmd: &[String],
        timeout: Duration,
    ) -> impl Future<Output = Result<ExecResult, RuntimeError>> + Send;

    /// Waits for the next change the pod worker did not cause itself (a container
    /// exited) and returns the uid of the pod concerned; `None` when the runtime is gone.
    fn next_event(&self) -> impl Future<Output = Option<String>> + Send;
}
