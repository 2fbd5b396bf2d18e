//! The expected number of pods behind a PodDisruptionBudget: the sum of the scales of the
//! controllers of its pods, each counted once, as upstream's finders find them — a pod's
//! ReplicaSet (or the Deployment controlling that ReplicaSet), ReplicationController or
//! StatefulSet from the caches, any other controller through its `scale` subresource.
//! Pods without a controller are reported, not counted (upstream's "unmanaged pods").

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Pod, ReplicationController};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::{
    Api, Resource,
    api::{DynamicObject, GroupVersionKind},
    discovery,
    runtime::reflector::{ObjectRef, Store},
};

/// Why the expected count could not be found.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A pod's controller is not known (deleted, or of a kind without a scale).
    #[error("found no controllers for pod {pod:?}")]
    NoController {
        /// The pod's name.
        pod: String,
    },
    /// Reading a controller's scale failed.
    #[error("reading the scale of {kind} {name:?}: {source}")]
    Scale {
        /// The controller's kind.
        kind: String,
        /// Its name.
        name: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
}

/// The caches the finders read.
pub struct Finders {
    pub client: kube::Client,
    pub replica_sets: Store<ReplicaSet>,
    pub deployments: Store<Deployment>,
    pub stateful_sets: Store<StatefulSet>,
    pub replication_controllers: Store<ReplicationController>,
}

/// The controller reference of an object's metadata.
pub fn controller_of(meta: &kube::api::ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true))
}

fn group_of(api_version: &str) -> &str {
    api_version.split_once('/').map_or("", |(g, _)| g)
}

/// The cached object `r` names in `ns`, if its uid matches.
fn cached<K>(store: &Store<K>, ns: &str, r: &OwnerReference) -> Option<Arc<K>>
where
    K: Resource<DynamicType = ()> + Clone + 'static,
{
    store
        .get(&ObjectRef::new(&r.name).within(ns))
        .filter(|o| o.meta().uid.as_deref() == Some(r.uid.as_str()))
}

impl Finders {
    /// (uid, scale) of the controller `r` of a pod in `ns`, if found.
    async fn find(&self, ns: &str, r: &OwnerReference) -> Result<Option<(String, i32)>, Error> {
        let group = group_of(&r.api_version);
        match (group, r.kind.as_str()) {
            ("apps", "ReplicaSet") => {
                let Some(rs) = cached(&self.replica_sets, ns, r) else {
                    return Ok(None);
                };
                if let Some(owner) = controller_of(&rs.metadata).filter(|o| o.kind == "Deployment")
                    && let Some(d) = cached(&self.deployments, ns, owner)
                {
                    let replicas = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
                    return Ok(Some((owner.uid.clone(), replicas)));
                }
                Ok(Some((
                    r.uid.clone(),
                    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
                )))
            }
            ("", "ReplicationController") => Ok(cached(&self.replication_controllers, ns, r).map(|rc| {
                (
                    r.uid.clone(),
                    rc.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
                )
            })),
            ("apps", "StatefulSet") => Ok(cached(&self.stateful_sets, ns, r).map(|s| {
                (
                    r.uid.clone(),
                    s.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
                )
            })),
            _ => self.scale_subresource(ns, r).await,
        }
    }

    /// Any other controller: its `scale` subresource, found through discovery.
    async fn scale_subresource(&self, ns: &str, r: &OwnerReference) -> Result<Option<(String, i32)>, Error> {
        let gvk = GroupVersionKind::from(r.clone());
        let err = |source| Error::Scale {
            kind: r.kind.clone(),
            name: r.name.clone(),
            source,
        };
        let (resource, caps) = match discovery::pinned_kind(&self.client, &gvk).await {
            Ok(found) => found,
            Err(_) => return Ok(None),
        };
        if !caps.subresources.iter().any(|(sub, _)| sub.plural == "scale") {
            return Ok(None);
        }
        let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), ns, &resource);
        let scale: DynamicObject = match api.get_subresource("scale", &r.name).await {
            Ok(s) => s,
            Err(e) if crate::apierror::is_not_found(&e) => return Ok(None),
            Err(e) => return Err(err(e)),
        };
        if scale.metadata.uid.as_deref().is_some_and(|u| u != r.uid) {
            return Ok(None);
        }
        let replicas = scale
            .data
            .pointer("/spec/replicas")
            .and_then(serde_json::Value::as_i64)
            .and_then(|n| i32::try_from(n).ok())
            .unwrap_or(0);
        Ok(Some((r.uid.clone(), replicas)))
    }

    /// The total scale of the pods' controllers, and the names of pods without one.
    pub async fn expected_scale(&self, pods: &[&Pod]) -> Result<(i32, Vec<String>), Error> {
        let mut scales: HashMap<String, i32> = HashMap::new();
        let mut seen_refs: HashMap<String, String> = HashMap::new();
        let mut unmanaged = Vec::new();
        for pod in pods {
            let name = pod.metadata.name.clone().unwrap_or_default();
            let Some(r) = controller_of(&pod.metadata) else {
                unmanaged.push(name);
                continue;
            };
            if seen_refs.contains_key(&r.uid) {
                continue;
            }
            let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
            let Some((uid, scale)) = self.find(ns, r).await? else {
                return Err(Error::NoController { pod: name });
            };
            seen_refs.insert(r.uid.clone(), uid.clone());
            scales.insert(uid, scale);
        }
        Ok((scales.values().sum(), unmanaged))
    }
}
