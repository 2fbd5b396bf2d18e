//! Validation of built-in kinds, as upstream's `Validate*` functions do.
//!
//! Objects arrive defaulted (`defaults::apply`, and on create `defaults::prepare_create`)
//! and type-checked against the OpenAPI schema, but may miss any field. Every problem is
//! reported as a [`FieldError`] with upstream's field path and wording, so the 422 `Invalid`
//! Status kubectl prints reads as it does against Kubernetes.
//!
//! Messages that depend on Go's rendering of structs (`%#v`) show JSON instead; error
//! order follows upstream's order of checks, with map keys visited in sorted order.

use serde_json::Value;

use crate::field_error::FieldError;

mod apps;
mod batch;
mod containers;
mod core;
pub(crate) mod crd;
mod cron;
mod meta;
mod mounts;
pub mod names;
mod networking;
mod nodes;
mod other;
mod pod;
mod probes;
mod resources;
mod scheduling;
mod service;
mod service_ips;
mod storage;
mod util;
mod volumes;

pub use core::MAX_DATA_SIZE;
pub use cron::validate_schedule;
pub use meta::{
    TOTAL_ANNOTATION_SIZE_LIMIT, selector_matches, validate_annotations, validate_label_selector,
    validate_labels,
};
pub use service::NODE_PORT_RANGE;

/// Kinds validated without object metadata rules (answered on the spot, never stored):
/// only their request fields are checked.
fn is_ephemeral(group: &str, kind: &str) -> bool {
    matches!(
        (group, kind),
        ("", "Binding") | ("authorization.k8s.io", "SelfSubjectAccessReview")
    )
}

/// Validates an object of `group`/`kind` on create (`old` is None) or update (`old` is the
/// stored object; immutable fields are checked then). Returns every problem found.
///
/// Kinds this module does not know (custom resources) get the generic metadata checks
/// upstream applies to them (DNS subdomain names, qualified finalizers).
pub fn validate(group: &str, kind: &str, obj: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if is_ephemeral(group, kind) {
        other::ephemeral(&mut errs, kind, obj);
        return errs;
    }
    if let Some(old) = old {
        meta::object_meta_update(&mut errs, obj, old);
    }
    let mut kind_errs = Vec::new();
    let known = validate_kind(&mut kind_errs, group, kind, obj, old);
    let opts = meta::MetaOpts {
        rule: names::name_rule(group, kind),
        kube_finalizers: known,
    };
    meta::object_meta(&mut errs, obj, opts);
    errs.append(&mut kind_errs);
    errs
}

/// Dispatches to the per-kind checks; false when the kind is not a built-in one.
fn validate_kind(
    errs: &mut Vec<FieldError>,
    group: &str,
    kind: &str,
    obj: &Value,
    old: Option<&Value>,
) -> bool {
    match (group, kind) {
        ("", "Pod") => pod::pod(errs, obj, old),
        ("", "PodTemplate") => pod::template(
            errs,
            obj.get("template"),
            &crate::field_error::FieldPath::new("template"),
            &[],
        ),
        ("", "ReplicationController") => apps::replication_controller(errs, obj),
        ("", "Service") => service::service(errs, obj, old),
        ("", "ConfigMap") => core::config_map(errs, obj, old),
        ("", "Secret") => core::secret(errs, obj, old),
        ("", "Namespace") => core::namespace(errs, obj),
        ("", "ServiceAccount") => {}
        ("", "Node") => nodes::node(errs, obj, old),
        ("", "Endpoints") => nodes::endpoints(errs, obj),
        ("", "Event") | ("events.k8s.io", "Event") => nodes::event(errs, group, obj, old.is_none()),
        ("", "ResourceQuota") => nodes::resource_quota(errs, obj, old),
        ("", "LimitRange") => nodes::limit_range(errs, obj),
        ("", "PersistentVolume") => storage::persistent_volume(errs, obj, old),
        ("", "PersistentVolumeClaim") => storage::persistent_volume_claim(errs, obj, old),
        ("apps", "Deployment") => apps::deployment(errs, obj, old),
        ("apps", "ReplicaSet") => apps::replica_set(errs, obj, old),
        ("apps", "StatefulSet") => apps::stateful_set(errs, obj, old),
        ("apps", "DaemonSet") => apps::daemon_set(errs, obj, old),
        ("apps", "ControllerRevision") => apps::controller_revision(errs, obj, old),
        ("batch", "Job") => batch::job(errs, obj, old),
        ("batch", "CronJob") => batch::cron_job(errs, obj, old),
        ("networking.k8s.io", "Ingress") => networking::ingress(errs, obj),
        ("networking.k8s.io", "IngressClass") => networking::ingress_class(errs, obj, old),
        ("networking.k8s.io", "NetworkPolicy") => networking::network_policy(errs, obj),
        ("rbac.authorization.k8s.io", "Role" | "ClusterRole") => other::role(errs, kind, obj),
        ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding") => {
            other::role_binding(errs, kind, obj, old)
        }
        ("policy", "PodDisruptionBudget") => other::pod_disruption_budget(errs, obj),
        ("autoscaling", "HorizontalPodAutoscaler") => other::horizontal_pod_autoscaler(errs, obj),
        ("scheduling.k8s.io", "PriorityClass") => other::priority_class(errs, obj, old),
        ("storage.k8s.io", "StorageClass") => storage::storage_class(errs, obj, old),
        ("coordination.k8s.io", "Lease") => other::lease(errs, obj),
        ("apiregistration.k8s.io", "APIService") => other::api_service(errs, obj),
        ("discovery.k8s.io", "EndpointSlice") => networking::endpoint_slice(errs, obj, old),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            crd::custom_resource_definition(errs, obj, old)
        }
        _ => return false,
    }
    true
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
#[path = "validation/tests/mod.rs"]
mod tests;
