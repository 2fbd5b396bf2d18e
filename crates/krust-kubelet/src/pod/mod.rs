//! Pods bound to our nodes: admission, the pod worker that drives each through the
//! runtime, the status it computes, and the manager and watch that feed it.

pub(crate) mod admission;
pub(crate) mod api;
pub(crate) mod conditions;
pub(crate) mod containers;
pub(crate) mod events;
pub(crate) mod hooks;
pub(crate) mod jobs;
pub(crate) mod manager;
pub(crate) mod phase;
pub(crate) mod plan;
pub(crate) mod status;
pub(crate) mod watch;
pub(crate) mod worker;

use k8s_openapi::api::core::v1::{Container, Pod, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// A pod's `restartPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RestartPolicy {
    Always,
    OnFailure,
    Never,
}

impl RestartPolicy {
    /// The policy of `pod` (`Always` when unset, as defaulting makes it).
    pub fn of(pod: &Pod) -> Self {
        match pod.spec.as_ref().and_then(|s| s.restart_policy.as_deref()) {
            Some("OnFailure") => Self::OnFailure,
            Some("Never") => Self::Never,
            _ => Self::Always,
        }
    }

    /// Whether a container that exited with `exit_code` is started again.
    pub fn restarts(self, exit_code: i32) -> bool {
        match self {
            Self::Always => true,
            Self::OnFailure => exit_code != 0,
            Self::Never => false,
        }
    }
}

/// An init container that keeps running beside the app containers.
pub(crate) fn is_sidecar(c: &Container) -> bool {
    c.restart_policy.as_deref() == Some("Always")
}

/// `spec.initContainers`.
pub(crate) fn init_containers(pod: &Pod) -> &[Container] {
    pod.spec
        .as_ref()
        .and_then(|s| s.init_containers.as_deref())
        .unwrap_or_default()
}

/// `spec.containers`.
pub(crate) fn app_containers(pod: &Pod) -> &[Container] {
    pod.spec
        .as_ref()
        .map(|s| s.containers.as_slice())
        .unwrap_or_default()
}

/// The container `which` refers to.
pub(crate) fn container(pod: &Pod, which: crate::runtime::ContainerRef) -> Option<&Container> {
    match which.kind {
        crate::runtime::ContainerKind::Init => init_containers(pod).get(which.index),
        crate::runtime::ContainerKind::App => app_containers(pod).get(which.index),
    }
}

/// Whether `phase` is final.
pub(crate) fn is_terminal(phase: Option<&str>) -> bool {
    matches!(phase, Some("Succeeded" | "Failed"))
}

/// What the node agent keeps of a pod between events: the parts its decisions read
/// (containers' names, images, restart policies and requests; restart policy, readiness
/// gates, overhead; annotations; deletion) and the whole status, which it computes from
/// and writes back. A status update takes only the status from the body, so the rest of a
/// pod (volumes, probes, env, affinity, ...) need not be held for thousands of pods.
pub(crate) fn slim(pod: Pod) -> Pod {
    let m = pod.metadata;
    let metadata = ObjectMeta {
        annotations: m.annotations,
        creation_timestamp: m.creation_timestamp,
        deletion_grace_period_seconds: m.deletion_grace_period_seconds,
        deletion_timestamp: m.deletion_timestamp,
        name: m.name,
        namespace: m.namespace,
        resource_version: m.resource_version,
        uid: m.uid,
        ..Default::default()
    };
    let keep = |c: Container| Container {
        name: c.name,
        image: c.image,
        resources: c.resources,
        restart_policy: c.restart_policy,
        ..Default::default()
    };
    let spec = pod.spec.map(|s| PodSpec {
        containers: s.containers.into_iter().map(keep).collect(),
        init_containers: s.init_containers.map(|l| l.into_iter().map(keep).collect()),
        node_name: s.node_name,
        overhead: s.overhead,
        readiness_gates: s.readiness_gates,
        restart_policy: s.restart_policy,
        ..Default::default()
    });
    Pod {
        metadata,
        spec,
        status: pod.status,
    }
}

/// The pod's `namespace/name`, for logs.
pub(crate) fn key(pod: &Pod) -> String {
    format!(
        "{}/{}",
        pod.metadata.namespace.as_deref().unwrap_or_default(),
        pod.metadata.name.as_deref().unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn slim_keeps_what_decisions_and_writes_need() {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "ns", "uid": "u", "resourceVersion": "7",
                         "labels": {"a": "b"}, "annotations": {"krust.io/simulate-exit-code": "1"}},
            "spec": {"nodeName": "sim-0", "restartPolicy": "Never", "volumes": [{"name": "v", "emptyDir": {}}],
                     "containers": [{"name": "c", "image": "i", "env": [{"name": "X", "value": "1"}],
                                     "resources": {"requests": {"cpu": "1"}}}],
                     "readinessGates": [{"conditionType": "g"}]},
            "status": {"phase": "Running", "qosClass": "Burstable"}
        }))
        .unwrap();
        let s = slim(pod.clone());
        assert_eq!(s.metadata.resource_version.as_deref(), Some("7"));
        assert_eq!(s.metadata.annotations, pod.metadata.annotations);
        assert_eq!(s.metadata.labels, None);
        let spec = s.spec.unwrap();
        assert_eq!(spec.containers[0].image.as_deref(), Some("i"));
        assert!(spec.containers[0].resources.is_some());
        assert_eq!(spec.containers[0].env, None);
        assert_eq!(spec.volumes, None);
        assert_eq!(spec.readiness_gates.unwrap().len(), 1);
        assert_eq!(s.status, pod.status);
    }
}

#[cfg(test)]
pub(crate) mod fixtures {
    //! Pods and runtime states for the tests of this module.

    use k8s_openapi::api::core::v1::Pod;
    use serde_json::json;

    use crate::runtime::{
        ContainerRuntimeStatus, ContainerState, PodRuntimeStatus, SandboxStatus, Termination,
    };

    pub fn t(s: &str) -> jiff::Timestamp {
        s.parse().unwrap()
    }

    pub fn pod(policy: &str, containers: &[&str], init: &[&str]) -> Pod {
        let c: Vec<_> = containers
            .iter()
            .map(|n| json!({"name": n, "image": format!("img-{n}")}))
            .collect();
        let i: Vec<_> = init
            .iter()
            .map(|n| match n.strip_prefix("side:") {
                Some(n) => json!({"name": n, "image": "side", "restartPolicy": "Always"}),
                None => json!({"name": n, "image": format!("img-{n}")}),
            })
            .collect();
        let mut spec = json!({"containers": c, "restartPolicy": policy, "nodeName": "sim-0"});
        if !i.is_empty() {
            spec["initContainers"] = json!(i);
        }
        serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "ns", "uid": "u-1", "resourceVersion": "5"},
            "spec": spec,
            "status": {"phase": "Pending", "qosClass": "BestEffort"}
        }))
        .unwrap()
    }

    pub fn sandbox() -> PodRuntimeStatus {
        PodRuntimeStatus {
            sandbox: SandboxStatus {
                ready: true,
                ip: Some("10.64.0.2".parse().unwrap()),
                created_at: t("2025-01-01T00:00:00Z"),
            },
            containers: Vec::new(),
        }
    }

    pub fn running(name: &str, attempt: u32, since: &str) -> ContainerRuntimeStatus {
        ContainerRuntimeStatus {
            name: name.into(),
            id: format!("simulated://{name}{attempt}"),
            image_ref: format!("simulated://img-{name}"),
            attempt,
            state: ContainerState::Running { started_at: t(since) },
            previous: None,
        }
    }

    pub fn exited(name: &str, attempt: u32, code: i32, from: &str, to: &str) -> ContainerRuntimeStatus {
        ContainerRuntimeStatus {
            state: ContainerState::Exited(Termination {
                id: format!("simulated://{name}{attempt}"),
                started_at: t(from),
                finished_at: t(to),
                exit_code: code,
                reason: None,
                message: None,
            }),
            ..running(name, attempt, from)
        }
    }

    pub fn with(mut rt: PodRuntimeStatus, cs: Vec<ContainerRuntimeStatus>) -> PodRuntimeStatus {
        rt.containers = cs;
        rt
    }
}
