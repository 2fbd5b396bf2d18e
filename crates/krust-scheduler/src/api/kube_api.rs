//! [`ClusterApi`] over the `kube` client.

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use k8s_openapi::api::core::v1::{
    Binding, ObjectReference, PersistentVolume, PersistentVolumeClaim, PersistentVolumeClaimStatus,
    PersistentVolumeStatus, Pod,
};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};

use super::{ApiError, ClusterApi};

/// The real API.
#[derive(Clone)]
pub struct KubeApi {
    client: kube::Client,
}

impl KubeApi {
    /// Uses `client`.
    pub fn new(client: kube::Client) -> Self {
        Self { client }
    }
}

fn map_err(e: kube::Error) -> ApiError {
    match e {
        kube::Error::Api(s) if s.code == 404 => ApiError::NotFound(s.message),
        kube::Error::Api(s) if s.code == 409 => ApiError::Conflict(s.message),
        other => ApiError::Other(other.to_string()),
    }
}

const BOUND_BY_CONTROLLER: &str = "pv.kubernetes.io/bound-by-controller";
const BIND_COMPLETED: &str = "pv.kubernetes.io/bind-completed";
/// The node a WaitForFirstConsumer claim is to be provisioned for.
const SELECTED_NODE: &str = "volume.kubernetes.io/selected-node";
/// How often a claim being provisioned is looked at.
const PROVISION_POLL: std::time::Duration = std::time::Duration::from_millis(250);

impl ClusterApi for KubeApi {
    fn bind_pod<'a>(
        &'a self,
        ns: &'a str,
        name: &'a str,
        uid: &'a str,
        node: &'a str,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        async move {
            let api: Api<Pod> = Api::namespaced(self.client.clone(), ns);
            let binding = Binding {
                metadata: ObjectMeta {
                    name: Some(name.to_string()),
                    namespace: Some(ns.to_string()),
                    uid: Some(uid.to_string()),
                    ..Default::default()
                },
                target: ObjectReference {
                    kind: Some("Node".into()),
                    name: Some(node.to_string()),
                    ..Default::default()
                },
            };
            api.create_subresource::<_, serde_json::Value>("binding", name, &PostParams::default(), &binding)
                .await
                .map(|_| ())
                .map_err(map_err)
        }
        .boxed()
    }

    fn patch_pod_status<'a>(
        &'a self,
        ns: &'a str,
        name: &'a str,
        patch: serde_json::Value,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        async move {
            let api: Api<Pod> = Api::namespaced(self.client.clone(), ns);
            api.patch_status(name, &PatchParams::default(), &Patch::Strategic(patch))
                .await
                .map(|_| ())
                .map_err(map_err)
        }
        .boxed()
    }

    fn delete_pod<'a>(
        &'a self,
        ns: &'a str,
        name: &'a str,
        uid: &'a str,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        async move {
            let api: Api<Pod> = Api::namespaced(self.client.clone(), ns);
            let dp = DeleteParams {
                preconditions: Some(kube::api::Preconditions {
                    uid: Some(uid.to_string()),
                    resource_version: None,
                }),
                ..Default::default()
            };
            api.delete(name, &dp).await.map(|_| ()).map_err(map_err)
        }
        .boxed()
    }

    fn create_event<'a>(&'a self, event: &'a Event) -> BoxFuture<'a, Result<(), ApiError>> {
        async move {
            let ns = event.metadata.namespace.as_deref().unwrap_or("default");
            let api: Api<Event> = Api::namespaced(self.client.clone(), ns);
            api.create(&PostParams::default(), event)
                .await
                .map(|_| ())
                .map_err(map_err)
        }
        .boxed()
    }

    fn patch_event<'a>(
        &'a self,
        ns: &'a str,
        name: &'a str,
        patch: serde_json::Value,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        async move {
            let api: Api<Event> = Api::namespaced(self.client.clone(), ns);
            api.patch(name, &PatchParams::default(), &Patch::Merge(patch))
                .await
                .map(|_| ())
                .map_err(map_err)
        }
        .boxed()
    }

    fn bind_volume<'a>(
        &'a self,
        pv: &'a PersistentVolume,
        pvc: &'a PersistentVolumeClaim,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        async move {
            let pvc_ns = pvc.metadata.namespace.clone().unwrap_or_default();
            let pvc_name = pvc.metadata.name.clone().unwrap_or_default();
            let pv_name = pv.metadata.name.clone().unwrap_or_default();
            // The volume side first, as upstream's binder does: once the PV points at the
            // claim, no other claim can take it.
            let pvs: Api<PersistentVolume> = Api::all(self.client.clone());
            let mut new_pv = pv.clone();
            let annotations = new_pv.metadata.annotations.get_or_insert_with(Default::default);
            annotations.insert(BOUND_BY_CONTROLLER.into(), "yes".into());
            let spec = new_pv.spec.get_or_insert_with(Default::default);
            spec.claim_ref = Some(ObjectReference {
                api_version: Some("v1".into()),
                kind: Some("PersistentVolumeClaim".into()),
                namespace: Some(pvc_ns.clone()),
                name: Some(pvc_name.clone()),
                uid: pvc.metadata.uid.clone(),
                resource_version: pvc.metadata.resource_version.clone(),
                ..Default::default()
            });
            let mut stored = pvs
                .replace(&pv_name, &PostParams::default(), &new_pv)
                .await
                .map_err(map_err)?;
            stored.status = Some(PersistentVolumeStatus {
                phase: Some("Bound".into()),
                ..Default::default()
            });
            pvs.replace_status(&pv_name, &PostParams::default(), &stored)
                .await
                .map_err(map_err)?;
            // Then the claim side (what the PV controller would finish).
            let claims: Api<PersistentVolumeClaim> = Api::namespaced(self.client.clone(), &pvc_ns);
            let mut new_pvc = pvc.clone();
            let annotations = new_pvc.metadata.annotations.get_or_insert_with(Default::default);
            annotations.insert(BIND_COMPLETED.into(), "yes".into());
            annotations.insert(BOUND_BY_CONTROLLER.into(), "yes".into());
            new_pvc.spec.get_or_insert_with(Default::default).volume_name = Some(pv_name.clone());
            let mut stored = claims
                .replace(&pvc_name, &PostParams::default(), &new_pvc)
                .await
                .map_err(map_err)?;
            let pv_spec = pv.spec.as_ref();
            stored.status = Some(PersistentVolumeClaimStatus {
                phase: Some("Bound".into()),
                access_modes: pv_spec.and_then(|s| s.access_modes.clone()),
                capacity: pv_spec.and_then(|s| s.capacity.clone()),
                ..Default::default()
            });
            claims
                .replace_status(&pvc_name, &PostParams::default(), &stored)
                .await
                .map_err(map_err)?;
            Ok(())
        }
        .boxed()
    }
    fn provision_volume<'a>(
        &'a self,
        pvc: &'a PersistentVolumeClaim,
        node: &'a str,
        timeout: std::time::Duration,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        async move {
            let ns = pvc.metadata.namespace.clone().unwrap_or_default();
            let name = pvc.metadata.name.clone().unwrap_or_default();
            let claims: Api<PersistentVolumeClaim> = Api::namespaced(self.client.clone(), &ns);
            let patch = serde_json::json!({"metadata": {"annotations": {SELECTED_NODE: node}}});
            claims
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map_err(map_err)?;
            // As upstream's PreBind: the pod is bound only once its claim is.
            let deadline = tokio::time::Instant::now() + timeout;
            loop {
                let claim = claims.get(&name).await.map_err(map_err)?;
                let bound = claim
                    .spec
                    .as_ref()
                    .and_then(|s| s.volume_name.as_deref())
                    .is_some_and(|v| !v.is_empty());
                if bound {
                    return Ok(());
                }
                if claim.metadata.deletion_timestamp.is_some() {
                    return Err(ApiError::Other(format!("claim {ns}/{name} is being deleted")));
                }
                if tokio::time::Instant::now() >= deadline {
                    return Err(ApiError::Other(format!(
                        "claim {ns}/{name} was not provisioned within {}s",
                        timeout.as_secs()
                    )));
                }
                tokio::time::sleep(PROVISION_POLL).await;
            }
        }
        .boxed()
    }
}
