//! Defaulting of built-in kinds, as upstream's `SetDefaults_*` functions do.
//!
//! The API server calls, on every create and update, [`apply`]; then on create
//! [`prepare_create`] (after it has set `metadata.uid`, `metadata.creationTimestamp` and the
//! name); then `validation::validate`. [`prepare_update`] is the optional counterpart for
//! updates (generation bumps, values a Service keeps once allocated).
//!
//! Objects are `serde_json::Value`s that passed the OpenAPI type check but may miss any
//! field; defaulters only fill absent (or Go-zero) fields and never fail. Quantities in
//! resource lists are rewritten in upstream's canonical spelling (`0.5` → `500m`).

use serde_json::Value;

mod core;
mod other;
mod pod;
mod prepare;
mod util;
mod workloads;

pub use pod::image_tag;
pub use prepare::{DAEMONSET_TEMPLATE_GENERATION, qos_class, tracks_generation};
pub use workloads::{
    CONTROLLER_UID_LABEL, JOB_NAME_LABEL, LEGACY_CONTROLLER_UID_LABEL, LEGACY_JOB_NAME_LABEL, job_selector,
};

/// Fills in the defaults upstream applies to an object of `group`/`kind` on every write.
pub fn apply(group: &str, kind: &str, obj: &mut Value) {
    match (group, kind) {
        ("", "Pod") => pod::pod(obj),
        ("", "PodTemplate") => {
            if let Some(t) = obj.as_object_mut().and_then(|o| util::child(o, "template")) {
                pod::template(t);
            }
        }
        ("", "ReplicationController") => workloads::replication_controller(obj),
        ("", "Service") => core::service(obj),
        ("", "Namespace") => core::namespace(obj),
        ("", "Secret") => core::secret(obj),
        ("", "PersistentVolume") => core::persistent_volume(obj),
        ("", "PersistentVolumeClaim") => core::persistent_volume_claim(obj),
        ("", "Endpoints") => core::endpoints(obj),
        ("", "LimitRange") => core::limit_range(obj),
        ("", "Node") => core::node(obj),
        ("", "ResourceQuota") => core::resource_quota(obj),
        ("apps", "Deployment") => workloads::deployment(obj),
        ("apps", "ReplicaSet") => workloads::replica_set(obj),
        ("apps", "StatefulSet") => workloads::stateful_set(obj),
        ("apps", "DaemonSet") => workloads::daemon_set(obj),
        ("batch", "Job") => workloads::job(obj),
        ("batch", "CronJob") => workloads::cron_job(obj),
        ("networking.k8s.io", "NetworkPolicy") => other::network_policy(obj),
        ("networking.k8s.io", "IngressClass") => other::ingress_class(obj),
        ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding") => other::role_binding(obj),
        ("storage.k8s.io", "StorageClass") => other::storage_class(obj),
        ("scheduling.k8s.io", "PriorityClass") => other::priority_class(obj),
        ("autoscaling", "HorizontalPodAutoscaler") => other::horizontal_pod_autoscaler(obj),
        ("discovery.k8s.io", "EndpointSlice") => other::endpoint_slice(obj),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => other::custom_resource_definition(obj),
        _ => {}
    }
}

/// Sets what a freshly created object starts with (e.g. a Pod's `status.phase: Pending`),
/// after `apply`. Status sent by the client on create is replaced by this, as upstream's
/// `PrepareForCreate` does (Nodes keep theirs: kubelets register with status).
///
/// Also sets `metadata.generation: 1` where upstream does ([`tracks_generation`]) and, for
/// a Job, its generated selector and labels ([`job_selector`]); that needs `metadata.uid`,
/// so the server must set the uid (and `creationTimestamp`, copied into a few status
/// timestamps) before calling this.
pub fn prepare_create(group: &str, kind: &str, obj: &mut Value) {
    prepare::prepare_create(group, kind, obj);
}

/// Optional update-time counterpart of [`prepare_create`], called after `apply` with the
/// stored object: keeps the stored `uid`, `creationTimestamp` and deletion fields when the
/// update leaves them out, bumps `metadata.generation` when `spec` changed (for the kinds of
/// [`tracks_generation`]) and the DaemonSet template generation annotation when the
/// template changed, keeps a Pod's admission-set `priority`/`preemptionPolicy`, a Namespace's `spec.finalizers` (only the finalize subresource
/// changes them), and keeps a Service's allocated cluster IPs, IP families, node ports and
/// health check port when the update leaves them out.
pub fn prepare_update(group: &str, kind: &str, obj: &mut Value, old: &Value) {
    prepare::prepare_update(group, kind, obj, old);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
#[path = "defaults/tests.rs"]
mod tests;
