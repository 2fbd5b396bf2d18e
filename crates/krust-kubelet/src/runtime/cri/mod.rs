//! The runtime of a real node: containerd (or any CRI v1 runtime) over its gRPC socket.
//!
//! Nothing about running pods is kept here that the runtime does not keep itself: every
//! sandbox and container carries the pod's uid and the container's name as labels, so a
//! restarted agent finds what runs and adopts it. Container exits are noticed by listing
//! the node's containers every second and comparing (upstream's PLEG relist), since
//! containerd 1.6 has no event stream in CRI.

mod auth;
pub(crate) mod dns;
mod expand;
pub(crate) mod spec;
mod state;

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::time::Duration;

use futures_util::future::join_all;
use k8s_openapi::api::core::v1::Pod;
use krust_cri::{Cri, v1};

use crate::volumes::{self, ObjectSource};

pub(crate) use spec::{Addresses, Paths, field_value, resource_value};

use super::{
    ContainerKind, ContainerRef, ExecResult, NodeContext, PodRuntimeStatus, Runtime, RuntimeError,
    SandboxStatus,
};

/// How often the containers are listed to notice exits.
const RELIST: Duration = Duration::from_secs(1);

/// A CRI runtime; ConfigMaps and Secrets its pods refer to come from `S`.
pub struct CriRuntime<S = crate::volumes::KubeObjects> {
    cri: Cri,
    objects: S,
    paths: Paths,
    node_ip: String,
    dns: dns::ClusterDns,
    relist: tokio::sync::Mutex<Relist>,
}

/// What the last relist saw: container id → (state, pod uid), and the pods whose
/// containers changed since, not yet handed out.
#[derive(Default)]
struct Relist {
    seen: Option<HashMap<String, (i32, String)>>,
    changed: VecDeque<String>,
}

/// A container's termination message: what it wrote to its file, at most 4096 bytes as
/// upstream, `None` when empty.
fn read_message(path: &std::path::Path) -> Option<String> {
    use std::io::Read;
    let mut buf = Vec::new();
    std::fs::File::open(path)
        .ok()?
        .take(4096)
        .read_to_end(&mut buf)
        .ok()?;
    (!buf.is_empty()).then(|| String::from_utf8_lossy(&buf).into_owned())
}

/// A grace period in whole seconds for CRI, rounded up so that no part of it is lost.
fn whole_seconds(d: Duration) -> i64 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    i64::try_from(secs).unwrap_or(i64::MAX)
}

fn call_err(what: &str, e: krust_cri::Status) -> RuntimeError {
    RuntimeError::Other(format!("{what}: {}", e.message()))
}

impl<S: ObjectSource> CriRuntime<S> {
    /// A runtime reached through `cri`; pod logs go under `logs`, pod volumes under
    /// `pods`; `node_ip` is what `status.hostIP` in a container's env says.
    pub fn new(cri: Cri, objects: S, logs: PathBuf, pods: PathBuf, node_ip: String) -> Self {
        Self {
            cri,
            objects,
            paths: Paths { logs, pods },
            node_ip,
            dns: dns::ClusterDns::default(),
            relist: tokio::sync::Mutex::new(Relist::default()),
        }
    }

    /// Pods' resolv.conf follows `dns` (without it every pod gets the host's).
    pub fn with_dns(mut self, dns: dns::ClusterDns) -> Self {
        self.dns = dns;
        self
    }

    /// The sandboxes of pod `uid`, newest first.
    async fn sandboxes(&self, uid: &str) -> Result<Vec<v1::PodSandbox>, RuntimeError> {
        let mut items = self
            .cri
            .runtime
            .clone()
            .list_pod_sandbox(v1::ListPodSandboxRequest {
                filter: Some(v1::PodSandboxFilter {
                    label_selector: HashMap::from([(spec::POD_UID.to_string(), uid.to_string())]),
                    ..Default::default()
                }),
            })
            .await
            .map_err(|e| call_err("listing pod sandboxes", e))?
            .into_inner()
            .items;
        items.sort_by_key(|s| std::cmp::Reverse(s.created_at));
        Ok(items)
    }

    /// Removes sandbox `id` with its containers; one already gone is fine.
    async fn remove_sandbox(&self, id: &str) -> Result<(), RuntimeError> {
        let request = v1::RemovePodSandboxRequest {
            pod_sandbox_id: id.to_string(),
        };
        match self.cri.runtime.clone().remove_pod_sandbox(request).await {
            Ok(_) => Ok(()),
            Err(e) if e.code() == krust_cri::Code::NotFound => Ok(()),
            Err(e) => Err(call_err("removing the pod sandbox", e)),
        }
    }

    async fn containers(&self, sandbox: &str) -> Result<Vec<v1::Container>, RuntimeError> {
        Ok(self
            .cri
            .runtime
            .clone()
            .list_containers(v1::ListContainersRequest {
                filter: Some(v1::ContainerFilter {
                    pod_sandbox_id: sandbox.to_string(),
                    ..Default::default()
                }),
            })
            .await
            .map_err(|e| call_err("listing containers", e))?
            .into_inner()
            .containers)
    }

    async fn container_status(&self, id: &str) -> Result<Option<v1::ContainerStatus>, RuntimeError> {
        match self
            .cri
            .runtime
            .clone()
            .container_status(v1::ContainerStatusRequest {
                container_id: id.to_string(),
                verbose: false,
            })
            .await
        {
            Ok(r) => Ok(r.into_inner().status),
            Err(e) if e.code() == krust_cri::Code::NotFound => Ok(None),
            Err(e) => Err(call_err("reading a container's status", e)),
        }
    }

    async fn sandbox_ip(&self, id: &str) -> Result<(bool, Option<String>), RuntimeError> {
        let st = self
            .cri
            .runtime
            .clone()
            .pod_sandbox_status(v1::PodSandboxStatusRequest {
                pod_sandbox_id: id.to_string(),
                verbose: false,
            })
            .await
            .map_err(|e| call_err("reading the pod sandbox's status", e))?
            .into_inner()
            .status
            .unwrap_or_default();
        let ip = st.network.map(|n| n.ip).filter(|ip| !ip.is_empty());
        Ok((st.state == v1::PodSandboxState::SandboxReady as i32, ip))
    }

    /// Makes sure the image of a container is present, pulling it when the policy says so.
    async fn ensure_image(
        &self,
        image: &str,
        policy: Option<&str>,
        sandbox: &v1::PodSandboxConfig,
        auth: Option<v1::AuthConfig>,
    ) -> Result<(), RuntimeError> {
        let spec = v1::ImageSpec {
            image: image.to_string(),
            ..Default::default()
        };
        let present = self
            .cri
            .images
            .clone()
            .image_status(v1::ImageStatusRequest {
                image: Some(spec.clone()),
                verbose: false,
            })
            .await
            .map_err(|e| call_err("reading an image's status", e))?
            .into_inner()
            .image
            .is_some();
        let pull = match policy {
            Some("Never") if !present => {
                return Err(RuntimeError::Container {
                    reason: "ErrImageNeverPull",
                    message: format!("Container image {image:?} is not present with pull policy of Never"),
                });
            }
            Some("Never") => false,
            Some("Always") => true,
            _ => !present,
        };
        if pull {
            self.cri
                .images
                .clone()
                .pull_image(v1::PullImageRequest {
                    image: Some(spec),
                    auth,
                    sandbox_config: Some(sandbox.clone()),
                })
                .await
                .map_err(|e| RuntimeError::Container {
                    reason: "ErrImagePull",
                    message: format!("failed to pull image {image:?}: {}", e.message()),
                })?;
        }
        Ok(())
    }

    /// Lists every container of the node and queues the pods of those that changed.
    async fn relist_once(&self, state: &mut Relist) -> Result<(), RuntimeError> {
        let all = self
            .cri
            .runtime
            .clone()
            .list_containers(v1::ListContainersRequest { filter: None })
            .await
            .map_err(|e| call_err("listing containers", e))?
            .into_inner()
            .containers;
        let now: HashMap<String, (i32, String)> = all
            .into_iter()
            .map(|c| {
                let uid = c.labels.get(spec::POD_UID).cloned().unwrap_or_default();
                (c.id, (c.state, uid))
            })
            .collect();
        // The first listing compares with nothing: containers that ended while no agent
        // watched wake their pods once.
        let before = state.seen.take().unwrap_or_default();
        let mut changed = state::changed_pods(&before, &now);
        changed.retain(|uid| !state.changed.contains(uid));
        state.changed.extend(changed);
        state.seen = Some(now);
        Ok(())
    }
}

impl<S: ObjectSource> Runtime for CriRuntime<S> {
    async fn run_pod_sandbox(&self, _node: &NodeContext, pod: &Pod) -> Result<(), RuntimeError> {
        let uid = pod.metadata.uid.as_deref().unwrap_or_default();
        let existing = self.sandboxes(uid).await?;
        if existing
            .first()
            .is_some_and(|s| s.state == v1::PodSandboxState::SandboxReady as i32)
        {
            return Ok(());
        }
        // A sandbox that died or failed half-way is replaced, with its containers.
        for old in existing {
            self.remove_sandbox(&old.id).await?;
        }
        let config = spec::sandbox_config(pod, &self.paths, &self.dns);
        std::fs::create_dir_all(&config.log_directory)
            .map_err(|e| RuntimeError::Other(format!("creating {}: {e}", config.log_directory)))?;
        self.cri
            .runtime
            .clone()
            .run_pod_sandbox(v1::RunPodSandboxRequest {
                config: Some(config),
                runtime_handler: String::new(),
            })
            .await
            .map_err(|e| call_err("creating the pod sandbox", e))?;
        Ok(())
    }

    async fn start_container(&self, pod: &Pod, which: ContainerRef) -> Result<(), RuntimeError> {
        let uid = pod.metadata.uid.as_deref().unwrap_or_default();
        let spec_ = pod.spec.as_ref().ok_or(RuntimeError::UnknownContainer(which))?;
        let container = match which.kind {
            ContainerKind::Init => spec_
                .init_containers
                .as_deref()
                .unwrap_or_default()
                .get(which.index),
            ContainerKind::App => spec_.containers.get(which.index),
        }
        .ok_or(RuntimeError::UnknownContainer(which))?;
        let sandbox = self
            .sandboxes(uid)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| RuntimeError::NoSandbox(uid.to_string()))?;
        let (_, ip) = self.sandbox_ip(&sandbox.id).await?;
        // Instances of this container so far; the newest but one is kept for `logs
        // --previous`, older ones go.
        let mut earlier: Vec<v1::Container> = self
            .containers(&sandbox.id)
            .await?
            .into_iter()
            .filter(|c| c.metadata.as_ref().is_some_and(|m| m.name == container.name))
            .collect();
        earlier.sort_by_key(|c| std::cmp::Reverse(c.metadata.as_ref().map_or(0, |m| m.attempt)));
        let attempt = earlier
            .first()
            .and_then(|c| c.metadata.as_ref())
            .map_or(0, |m| m.attempt + 1);
        for old in earlier.iter().skip(1) {
            let _ = self
                .cri
                .runtime
                .clone()
                .remove_container(v1::RemoveContainerRequest {
                    container_id: old.id.clone(),
                })
                .await;
        }
        let sandbox_config = spec::sandbox_config(pod, &self.paths, &self.dns);
        let addrs = spec::Addresses {
            pod_ip: ip.unwrap_or_default(),
            host_ip: self.node_ip.clone(),
        };
        let config_error = |message: String| RuntimeError::Container {
            reason: "CreateContainerConfigError",
            message,
        };
        let fetched = volumes::fetch(&self.objects, pod, Some(container))
            .await
            .map_err(RuntimeError::Other)?;
        volumes::materialise(&self.paths.pods, pod, &fetched).map_err(RuntimeError::Other)?;
        let mut config = spec::container_config(pod, container, attempt, &addrs, &self.paths, &fetched)
            .map_err(|e| config_error(e.0))?;
        // The termination message file: writable by any user the container runs as.
        let log = self.paths.termination_log(uid, &container.name, attempt);
        let made = log
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&log, b""))
            .and_then(|()| {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&log, std::fs::Permissions::from_mode(0o666))
            });
        made.map_err(|e| RuntimeError::Other(format!("creating {}: {e}", log.display())))?;
        config.mounts.push(v1::Mount {
            container_path: container
                .termination_message_path
                .clone()
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| "/dev/termination-log".into()),
            host_path: log.display().to_string(),
            ..Default::default()
        });
        for vol in pod.spec.iter().flat_map(|s| s.volumes.iter().flatten()) {
            if let Some(ed) = &vol.empty_dir {
                let dir = self.paths.empty_dir(uid, &vol.name);
                std::fs::create_dir_all(&dir)
                    .map_err(|e| RuntimeError::Other(format!("creating {}: {e}", dir.display())))?;
                if ed.medium.as_deref() == Some("Memory") {
                    volumes::mount_tmpfs(&dir, ed.size_limit.as_ref().map(|q| q.0.as_str())).map_err(
                        |e| {
                            RuntimeError::Other(format!(
                                "MountVolume.SetUp failed for volume {:?} : {e}",
                                vol.name
                            ))
                        },
                    )?;
                }
            }
        }
        let image = container.image.as_deref().unwrap_or_default();
        self.ensure_image(
            image,
            container.image_pull_policy.as_deref(),
            &sandbox_config,
            auth::pull_auth(image, pod, &fetched),
        )
        .await?;
        let id = self
            .cri
            .runtime
            .clone()
            .create_container(v1::CreateContainerRequest {
                pod_sandbox_id: sandbox.id.clone(),
                config: Some(config),
                sandbox_config: Some(sandbox_config),
            })
            .await
            .map_err(|e| RuntimeError::Container {
                reason: "CreateContainerError",
                message: e.message().to_string(),
            })?
            .into_inner()
            .container_id;
        self.cri
            .runtime
            .clone()
            .start_container(v1::StartContainerRequest {
                container_id: id.clone(),
            })
            .await
            .map_err(|e| RuntimeError::Container {
                reason: "RunContainerError",
                message: e.message().to_string(),
            })?;
        Ok(())
    }

    async fn pod_status(&self, uid: &str) -> Result<Option<PodRuntimeStatus>, RuntimeError> {
        let Some(sandbox) = self.sandboxes(uid).await?.into_iter().next() else {
            return Ok(None);
        };
        let (ready, ip) = self.sandbox_ip(&sandbox.id).await?;
        let containers = self.containers(&sandbox.id).await?;
        let mut statuses = Vec::with_capacity(containers.len());
        for c in &containers {
            if let Some(st) = self.container_status(&c.id).await? {
                statuses.push(st);
            }
        }
        Ok(Some(PodRuntimeStatus {
            sandbox: SandboxStatus {
                ready,
                ip: ip.and_then(|ip| ip.parse().ok()),
                created_at: state::timestamp(sandbox.created_at),
            },
            containers: state::latest_instances(statuses)
                .into_iter()
                .map(|mut c| {
                    let read =
                        |attempt: u32| read_message(&self.paths.termination_log(uid, &c.name, attempt));
                    if let super::ContainerState::Exited(t) = &mut c.state {
                        t.message = read(c.attempt);
                    }
                    let previous = c.attempt.checked_sub(1).and_then(read);
                    if let Some(p) = &mut c.previous {
                        p.message = previous;
                    }
                    c
                })
                .collect(),
        }))
    }

    async fn kill_pod(&self, uid: &str, grace: Duration) -> Result<(), RuntimeError> {
        let timeout = whole_seconds(grace);
        for sandbox in self.sandboxes(uid).await? {
            let running: Vec<String> = self
                .containers(&sandbox.id)
                .await?
                .into_iter()
                .filter(|c| c.state == v1::ContainerState::ContainerRunning as i32)
                .map(|c| c.id)
                .collect();
            let stops = running.into_iter().map(|id| {
                let mut rt = self.cri.runtime.clone();
                async move {
                    rt.stop_container(v1::StopContainerRequest {
                        container_id: id,
                        timeout,
                    })
                    .await
                }
            });
            for r in join_all(stops).await {
                if let Err(e) = r
                    && e.code() != krust_cri::Code::NotFound
                {
                    return Err(call_err("stopping a container", e));
                }
            }
            if sandbox.state == v1::PodSandboxState::SandboxReady as i32 {
                self.cri
                    .runtime
                    .clone()
                    .stop_pod_sandbox(v1::StopPodSandboxRequest {
                        pod_sandbox_id: sandbox.id.clone(),
                    })
                    .await
                    .map_err(|e| call_err("stopping the pod sandbox", e))?;
            }
        }
        Ok(())
    }

    async fn remove_pod(&self, uid: &str) -> Result<(), RuntimeError> {
        for sandbox in self.sandboxes(uid).await? {
            self.remove_sandbox(&sandbox.id).await?;
        }
        volumes::unmount_all(&self.paths.pods, uid);
        let mut dirs = vec![self.paths.pod_dir(uid)];
        dirs.extend(self.paths.log_dirs_of(uid));
        for dir in dirs {
            match std::fs::remove_dir_all(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(RuntimeError::Other(format!("removing {}: {e}", dir.display()))),
            }
        }
        Ok(())
    }

    async fn refresh_volumes(&self, pod: &Pod) -> Result<(), RuntimeError> {
        let has_content = pod
            .spec
            .iter()
            .flat_map(|s| s.volumes.iter().flatten())
            .any(|v| volumes::kind_dir(v).is_some());
        if !has_content {
            return Ok(());
        }
        let fetched = volumes::fetch(&self.objects, pod, None)
            .await
            .map_err(RuntimeError::Other)?;
        volumes::materialise(&self.paths.pods, pod, &fetched).map_err(RuntimeError::Other)
    }

    async fn stop_container(&self, uid: &str, name: &str, grace: Duration) -> Result<(), RuntimeError> {
        let timeout = whole_seconds(grace);
        let Some(sandbox) = self.sandboxes(uid).await?.into_iter().next() else {
            return Ok(());
        };
        for c in self.containers(&sandbox.id).await? {
            let named = c.metadata.as_ref().is_some_and(|m| m.name == name);
            if !named || c.state != v1::ContainerState::ContainerRunning as i32 {
                continue;
            }
            match self
                .cri
                .runtime
                .clone()
                .stop_container(v1::StopContainerRequest {
                    container_id: c.id,
                    timeout,
                })
                .await
            {
                Ok(_) => {}
                Err(e) if e.code() == krust_cri::Code::NotFound => {}
                Err(e) => return Err(call_err("stopping a container", e)),
            }
        }
        Ok(())
    }

    async fn exec_sync(
        &self,
        id: &str,
        cmd: &[String],
        timeout: Duration,
    ) -> Result<ExecResult, RuntimeError> {
        let secs = i64::try_from(timeout.as_secs().max(1)).unwrap_or(i64::MAX);
        let mut client = self.cri.runtime.clone();
        let call = client.exec_sync(v1::ExecSyncRequest {
            container_id: id.to_string(),
            cmd: cmd.to_vec(),
            timeout: secs,
        });
        // containerd enforces the timeout too; this bounds a runtime that does not.
        let reply = tokio::time::timeout(timeout + Duration::from_secs(1), call)
            .await
            .map_err(|_| RuntimeError::Other(format!("command timed out after {}s", timeout.as_secs())))?
            .map_err(|e| call_err("running a command in the container", e))?
            .into_inner();
        let mut output = String::from_utf8_lossy(&reply.stdout).into_owned();
        output.push_str(&String::from_utf8_lossy(&reply.stderr));
        Ok(ExecResult {
            exit_code: reply.exit_code,
            output,
        })
    }

    async fn next_event(&self) -> Option<String> {
        loop {
            {
                let mut state = self.relist.lock().await;
                if let Some(uid) = state.changed.pop_front() {
                    return Some(uid);
                }
                if let Err(e) = self.relist_once(&mut state).await {
                    tracing::debug!(error = %e, "relisting containers failed");
                }
                if let Some(uid) = state.changed.pop_front() {
                    return Some(uid);
                }
            }
            tokio::time::sleep(RELIST).await;
        }
    }
}
