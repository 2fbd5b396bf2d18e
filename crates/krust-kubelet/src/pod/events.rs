//! The Events a real node records about its pods, with upstream kubelet's reasons and
//! wording, since users read them in `kubectl describe pod` and tools match on reasons.

use k8s_openapi::api::core::v1::{ObjectReference, Pod};
use krust_runtime::Events;

/// The reference to `pod`, or to its container `container` (`spec.containers{name}`).
pub(crate) fn regarding(pod: &Pod, container: Option<&str>) -> ObjectReference {
    let m = &pod.metadata;
    let field_path = container.map(|name| {
        let init = super::init_containers(pod).iter().any(|c| c.name == name);
        let list = if init { "initContainers" } else { "containers" };
        format!("spec.{list}{{{name}}}")
    });
    ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("Pod".into()),
        name: m.name.clone(),
        namespace: m.namespace.clone(),
        uid: m.uid.clone(),
        resource_version: m.resource_version.clone(),
        field_path,
    }
}

/// A container was started.
pub(crate) fn started(events: &Events, pod: &Pod, container: &str) {
    events.normal(
        regarding(pod, Some(container)),
        "Created",
        "Create",
        format!("Created container: {container}"),
    );
    events.normal(
        regarding(pod, Some(container)),
        "Started",
        "Start",
        format!("Started container {container}"),
    );
}

/// A container could not be started (`reason` is its waiting reason).
pub(crate) fn failed(events: &Events, pod: &Pod, container: &str, reason: &str, message: &str) {
    let note = match reason {
        "ErrImagePull" | "ErrImageNeverPull" => message.to_string(),
        _ => format!("Error: {message}"),
    };
    events.warning(regarding(pod, Some(container)), "Failed", "Start", note);
}

/// A sync failed before any container could be started.
pub(crate) fn sync_failed(events: &Events, pod: &Pod, message: &str) {
    let (reason, note) = if message.contains("MountVolume.SetUp failed") {
        ("FailedMount", message.trim_start_matches("runtime: ").to_string())
    } else if message.contains("pod sandbox") {
        (
            "FailedCreatePodSandBox",
            format!("Failed to create pod sandbox: {message}"),
        )
    } else {
        ("FailedSync", format!("error determining status: {message}"))
    };
    events.warning(regarding(pod, None), reason, "Sync", note);
}

/// A container is being stopped; `why` is upstream's sentence for the cause.
pub(crate) fn killing(events: &Events, pod: &Pod, container: &str, why: &str) {
    events.normal(
        regarding(pod, Some(container)),
        "Killing",
        "Kill",
        why.to_string(),
    );
}

/// A container waits out its crash-loop back-off.
pub(crate) fn back_off(events: &Events, pod: &Pod, container: &str) {
    let m = &pod.metadata;
    let note = format!(
        "Back-off restarting failed container {container} in pod {}_{}({})",
        m.name.as_deref().unwrap_or_default(),
        m.namespace.as_deref().unwrap_or_default(),
        m.uid.as_deref().unwrap_or_default()
    );
    events.warning(regarding(pod, Some(container)), "BackOff", "Start", note);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pod::fixtures::pod;

    #[test]
    fn references_name_the_container_list() {
        let p = pod("Always", &["app"], &["setup"]);
        assert_eq!(
            regarding(&p, Some("app")).field_path.as_deref(),
            Some("spec.containers{app}")
        );
        assert_eq!(
            regarding(&p, Some("setup")).field_path.as_deref(),
            Some("spec.initContainers{setup}")
        );
        let r = regarding(&p, None);
        assert_eq!((r.kind.as_deref(), r.field_path), (Some("Pod"), None));
    }
}
