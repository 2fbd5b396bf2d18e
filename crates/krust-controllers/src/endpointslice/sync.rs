//! One sync of a Service's EndpointSlices: read the Service, its pods and its slices from
//! the caches, plan the writes (`plan`) and carry them out. Also the write step the
//! mirroring controller shares.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::{
    Api,
    api::{DeleteParams, PostParams, Preconditions},
    runtime::reflector::{ObjectRef, Store},
};

use super::desired;
use super::plan::{self, MANAGED_BY, Plan, SERVICE_NAME, Template};
use super::tracker::Tracker;
use crate::apierror;
use crate::endpoints::{pods, trigger};
use crate::keyed::{self, Index, Next};

/// This controller's `managed-by` value.
pub const CONTROLLER: &str = "endpointslice-controller.k8s.io";
/// How soon a Service with a pod on an unknown node is looked at again.
const MISSING_NODE_RECHECK: Duration = Duration::from_secs(5);

/// Failures of a sync (retried with back-off).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The slice cache has not caught up with this controller's own writes yet.
    #[error("{key}: the EndpointSlice cache is behind this controller's writes")]
    Stale {
        /// namespace/name of the Service
        key: String,
    },
    /// Writing a slice failed.
    #[error("{key}: writing endpoint slices: {source}")]
    Write {
        /// namespace/name of the Service
        key: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
}

/// The controller reference to a Service.
pub fn owner_ref(svc: &Service) -> OwnerReference {
    OwnerReference {
        api_version: "v1".into(),
        kind: "Service".into(),
        name: svc.metadata.name.clone().unwrap_or_default(),
        uid: svc.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// `<name>-`, the generateName of a Service's slices.
pub fn slice_prefix(name: &str) -> String {
    // Generated names must stay within 253 characters with the 5 random ones added.
    let keep: String = name.chars().take(247).collect();
    format!("{keep}-")
}

/// The slices in the cache that `managed_by` manages for the Service `ns/name`.
pub fn managed_slices(
    slices: &Store<EndpointSlice>,
    ns: &str,
    name: &str,
    managed_by: &str,
) -> Vec<Arc<EndpointSlice>> {
    slices
        .state()
        .into_iter()
        .filter(|s| s.metadata.namespace.as_deref() == Some(ns))
        .filter(|s| {
            let labels = s.metadata.labels.as_ref();
            labels.and_then(|l| l.get(SERVICE_NAME)).map(String::as_str) == Some(name)
                && labels.and_then(|l| l.get(MANAGED_BY)).map(String::as_str) == Some(managed_by)
        })
        .collect()
}

/// Labels of a Service's slices: the Service's own (but the reserved ones), the headless
/// marker, the Service name and the manager.
pub fn slice_labels(svc: &Service) -> BTreeMap<String, String> {
    let mut labels: BTreeMap<String, String> = svc
        .metadata
        .labels
        .iter()
        .flatten()
        .filter(|(k, _)| k.as_str() != SERVICE_NAME && k.as_str() != MANAGED_BY)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if pods::has_cluster_ip(svc) {
        labels.remove(crate::endpoints::HEADLESS_LABEL);
    } else {
        labels.insert(crate::endpoints::HEADLESS_LABEL.into(), String::new());
    }
    labels.insert(SERVICE_NAME.into(), svc.metadata.name.clone().unwrap_or_default());
    labels.insert(MANAGED_BY.into(), CONTROLLER.into());
    labels
}

/// Carries out `plan` for the Service `key` in `ns`: creates (unless `no_creates`: the
/// Service is being deleted), updates, deletes; each write recorded in `tracker`.
/// `trigger` sets (or, `Some(None)`, removes) the trigger-time annotation on written slices.
pub async fn apply(
    client: &kube::Client,
    tracker: &Tracker,
    key: &str,
    plan: Plan,
    no_creates: bool,
    trigger: Option<Option<String>>,
) -> Result<(), kube::Error> {
    let (ns, _) = keyed::split_key(key);
    let api: Api<EndpointSlice> = Api::namespaced(client.clone(), ns);
    let stamp = |s: &mut EndpointSlice| {
        if let Some(t) = &trigger {
            let a = s.metadata.annotations.get_or_insert_with(BTreeMap::new);
            match t {
                Some(v) => a.insert(trigger::ANNOTATION.into(), v.clone()),
                None => a.remove(trigger::ANNOTATION),
            };
        }
    };
    if !no_creates {
        for mut s in plan.create {
            stamp(&mut s);
            match api.create(&PostParams::default(), &s).await {
                Ok(created) => tracker.written(key, &created),
                // A namespace being deleted refuses new objects; nothing more to do.
                Err(e) if apierror::is_forbidden(&e) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    }
    for mut s in plan.update {
        stamp(&mut s);
        let name = s.metadata.name.clone().unwrap_or_default();
        let updated = api.replace(&name, &PostParams::default(), &s).await?;
        tracker.written(key, &updated);
    }
    for s in plan.delete {
        let name = s.metadata.name.clone().unwrap_or_default();
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                uid: s.metadata.uid.clone(),
                resource_version: None,
            }),
            ..Default::default()
        };
        match api.delete(&name, &params).await {
            Ok(_) => tracker.deleted(key, &s),
            Err(e) if apierror::is_not_found(&e) => tracker.deleted(key, &s),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// What a sync reads and remembers.
pub struct State {
    pub client: kube::Client,
    pub services: Store<Service>,
    pub pods: Store<Pod>,
    pub nodes: Store<Node>,
    pub slices: Store<EndpointSlice>,
    pub tracker: Tracker,
    pub triggers: trigger::TriggerTimes,
    /// Service key → keys of the pods it selected at its last sync.
    pub selected: Index<String, String>,
    /// Endpoints per slice.
    pub max_per_slice: usize,
}

impl State {
    /// Syncs the slices of the Service `key`.
    pub async fn sync(&self, key: &str) -> Result<Next, Error> {
        let (ns, name) = keyed::split_key(key);
        let write_err = |source| Error::Write {
            key: key.to_string(),
            source,
        };
        let Some(svc) = keyed::cached(&self.services, key) else {
            // The garbage collector deletes the slices with their owner.
            self.triggers.forget(key);
            self.tracker.forget(key);
            self.selected.remove(&key.to_string());
            return Ok(Next::Done);
        };
        if pods::is_external_name(&svc) {
            return Ok(Next::Done);
        }
        let existing = managed_slices(&self.slices, ns, name, CONTROLLER);
        if self.tracker.stale(key, &existing) {
            return Err(Error::Stale { key: key.to_string() });
        }
        if pods::selector(&svc).is_none() {
            // No selector (any more): its slices come from the mirroring controller.
            self.selected.remove(&key.to_string());
            let plan = Plan {
                delete: existing,
                ..Default::default()
            };
            apply(&self.client, &self.tracker, key, plan, true, None)
                .await
                .map_err(write_err)?;
            return Ok(Next::Done);
        }
        let all = self.pods.state();
        let selected: Vec<&Pod> = all
            .iter()
            .map(AsRef::as_ref)
            .filter(|p| pods::selects(&svc, p))
            .collect();
        self.selected.set(
            &key.to_string(),
            selected.iter().map(|p| keyed::key_of(*p)).collect(),
        );
        let trigger_time = self.triggers.compute(key, &svc, &selected).map(trigger::format);
        let types = pods::service_address_types(&svc);
        let want = desired::desired(&svc, &selected, &types, |n| self.nodes.get(&ObjectRef::new(n)));
        let template = Template {
            namespace: ns.to_string(),
            generate_name: slice_prefix(name),
            labels: slice_labels(&svc),
            annotations: None,
            owner: owner_ref(&svc),
        };
        let plan = plan::plan(&existing, want.groups, &types, &template, self.max_per_slice);
        if !plan.is_empty() {
            let deleting = svc.metadata.deletion_timestamp.is_some();
            apply(
                &self.client,
                &self.tracker,
                key,
                plan,
                deleting,
                Some(trigger_time),
            )
            .await
            .map_err(write_err)?;
        }
        Ok(if want.missing_node {
            Next::After(MISSING_NODE_RECHECK)
        } else {
            Next::Done
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoints::pods::tests::service;

    #[test]
    fn labels_and_names() {
        let mut svc = service();
        svc.metadata.labels = Some(BTreeMap::from([
            ("team".to_string(), "a".to_string()),
            (MANAGED_BY.to_string(), "someone".to_string()),
        ]));
        let labels = slice_labels(&svc);
        assert_eq!(labels.get("team").map(String::as_str), Some("a"));
        assert_eq!(labels.get(MANAGED_BY).map(String::as_str), Some(CONTROLLER));
        assert_eq!(labels.get(SERVICE_NAME).map(String::as_str), Some("web"));
        assert!(!labels.contains_key(crate::endpoints::HEADLESS_LABEL));
        assert_eq!(slice_prefix("web"), "web-");
        assert_eq!(slice_prefix(&"x".repeat(300)).len(), 248);
        let o = owner_ref(&svc);
        assert_eq!(
            (o.kind.as_str(), o.uid.as_str(), o.controller),
            ("Service", "svc-uid", Some(true))
        );
    }
}
