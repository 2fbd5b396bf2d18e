//! One sync of a Service's Endpoints object: read the Service and its pods from the caches,
//! build the subsets, and write the object only when it differs (subsets, labels, the
//! over-capacity annotation). A deleted Service takes its Endpoints with it; Services
//! without a selector (their Endpoints are written by hand), ExternalName Services and the
//! `default/kubernetes` Service (the API server's own) are left alone.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Endpoints, Pod, Service};
use kube::{
    Api,
    api::{DeleteParams, PostParams},
    runtime::reflector::Store,
};

use super::{pods, subsets, trigger};
use crate::apierror;
use crate::keyed::{self, Index, Next};

/// Label marking the Endpoints of a headless Service.
pub const HEADLESS_LABEL: &str = "service.kubernetes.io/headless";

/// Failures of a sync (retried with back-off).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Writing the Endpoints failed.
    #[error("writing endpoints {key}: {source}")]
    Write {
        /// namespace/name
        key: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
}

/// What a sync reads and remembers.
pub struct State {
    pub client: kube::Client,
    pub services: Store<Service>,
    pub pods: Store<Pod>,
    pub endpoints: Store<Endpoints>,
    pub triggers: trigger::TriggerTimes,
    /// Service key → keys of the pods it selected at its last sync.
    pub selected: Index<String, String>,
}

/// The pods of the cache that `svc` selects.
pub fn selected_pods(all: &[Arc<Pod>], svc: &Service) -> Vec<Arc<Pod>> {
    all.iter().filter(|p| pods::selects(svc, p)).cloned().collect()
}

/// The labels the Endpoints should carry: the Service's, plus the headless marker.
pub fn labels_for(svc: &Service) -> BTreeMap<String, String> {
    let mut labels = svc.metadata.labels.clone().unwrap_or_default();
    if pods::has_cluster_ip(svc) {
        labels.remove(HEADLESS_LABEL);
    } else {
        labels.insert(HEADLESS_LABEL.into(), String::new());
    }
    labels
}

/// The Endpoints object `svc` should have, built on `current` (kept: its other metadata).
pub fn desired(
    svc: &Service,
    selected: &[&Pod],
    current: Option<&Endpoints>,
    trigger: Option<String>,
) -> Endpoints {
    let mut built = subsets::build(svc, selected);
    let truncated = subsets::truncate(&mut built);
    let mut ep = current.cloned().unwrap_or_else(|| Endpoints {
        metadata: kube::api::ObjectMeta {
            name: svc.metadata.name.clone(),
            namespace: svc.metadata.namespace.clone(),
            ..Default::default()
        },
        ..Default::default()
    });
    ep.subsets = Some(subsets::normalized(Some(&built)));
    ep.metadata.labels = Some(labels_for(svc));
    let annotations = ep.metadata.annotations.get_or_insert_with(BTreeMap::new);
    match trigger {
        Some(t) => annotations.insert(trigger::ANNOTATION.into(), t),
        None => annotations.remove(trigger::ANNOTATION),
    };
    if truncated {
        annotations.insert(subsets::OVER_CAPACITY.into(), "truncated".into());
    } else {
        annotations.remove(subsets::OVER_CAPACITY);
    }
    ep
}

/// Whether `current` already says what `want` says (subsets, labels, over-capacity); the
/// trigger-time annotation alone is no reason to write.
pub fn up_to_date(current: &Endpoints, want: &Endpoints) -> bool {
    let over = |e: &Endpoints| {
        e.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(subsets::OVER_CAPACITY))
            .cloned()
    };
    subsets::normalized(current.subsets.as_ref()) == subsets::normalized(want.subsets.as_ref())
        && current.metadata.labels.clone().unwrap_or_default()
            == want.metadata.labels.clone().unwrap_or_default()
        && over(current) == over(want)
}

impl State {
    /// Syncs the Endpoints of the Service `key`.
    pub async fn sync(&self, key: &str) -> Result<Next, Error> {
        let (ns, name) = keyed::split_key(key);
        let api: Api<Endpoints> = Api::namespaced(self.client.clone(), ns);
        let err = |source| Error::Write {
            key: key.to_string(),
            source,
        };
        let Some(svc) = keyed::cached(&self.services, key) else {
            self.triggers.forget(key);
            self.selected.remove(&key.to_string());
            if keyed::cached(&self.endpoints, key).is_some() {
                match api.delete(name, &DeleteParams::default()).await {
                    Ok(_) => {
                        tracing::info!(endpoints = %key, "endpoints: deleted endpoints of a deleted service")
                    }
                    Err(e) if apierror::is_not_found(&e) => {}
                    Err(e) => return Err(err(e)),
                }
            }
            return Ok(Next::Done);
        };
        if key == "default/kubernetes" || pods::is_external_name(&svc) || pods::selector(&svc).is_none() {
            self.selected.remove(&key.to_string());
            return Ok(Next::Done);
        }
        let all = self.pods.state();
        let selected = selected_pods(&all, &svc);
        let refs: Vec<&Pod> = selected.iter().map(AsRef::as_ref).collect();
        self.selected.set(
            &key.to_string(),
            selected.iter().map(|p| keyed::key_of(p.as_ref())).collect(),
        );
        let trigger = self.triggers.compute(key, &svc, &refs).map(trigger::format);
        let current = keyed::cached(&self.endpoints, key);
        let want = desired(&svc, &refs, current.as_deref(), trigger);
        if let Some(cur) = current.as_deref()
            && up_to_date(cur, &want)
        {
            return Ok(Next::Done);
        }
        let written = if current.is_some() {
            // Carries the cached resourceVersion: a stale cache makes this a conflict.
            api.replace(name, &PostParams::default(), &want).await
        } else {
            api.create(&PostParams::default(), &want).await
        };
        match written {
            Ok(_) => {
                tracing::debug!(endpoints = %key, "endpoints: updated");
                Ok(Next::Done)
            }
            // A namespace being deleted refuses new objects; nothing to do.
            Err(e) if current.is_none() && apierror::is_forbidden(&e) => Ok(Next::Done),
            Err(e) => Err(err(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoints::pods::tests::{pod, service};

    #[test]
    fn desired_endpoints_carry_labels_and_annotations() {
        let mut svc = service();
        svc.metadata.labels = Some(BTreeMap::from([("team".to_string(), "a".to_string())]));
        let a = pod("a", "10.42.0.1", true);
        let ep = desired(&svc, &[&a], None, Some("2024-01-01T00:00:00Z".into()));
        assert_eq!(ep.metadata.name.as_deref(), Some("web"));
        assert_eq!(
            ep.metadata.labels,
            Some(BTreeMap::from([("team".to_string(), "a".to_string())]))
        );
        let ann = ep.metadata.annotations.clone().unwrap_or_default();
        assert_eq!(
            ann.get(trigger::ANNOTATION).map(String::as_str),
            Some("2024-01-01T00:00:00Z")
        );
        assert!(!ann.contains_key(subsets::OVER_CAPACITY));

        // Same content, other trigger time: nothing to write.
        let again = desired(&svc, &[&a], Some(&ep), None);
        assert!(up_to_date(&ep, &again));
        // A pod turning unready: write.
        let a_unready = pod("a", "10.42.0.1", false);
        assert!(!up_to_date(&ep, &desired(&svc, &[&a_unready], Some(&ep), None)));

        // Headless services are labelled.
        if let Some(s) = svc.spec.as_mut() {
            s.cluster_ip = Some("None".into());
        }
        assert!(labels_for(&svc).contains_key(HEADLESS_LABEL));
        assert!(!up_to_date(&ep, &desired(&svc, &[&a], Some(&ep), None)));
    }

    #[test]
    fn over_capacity_is_annotated() {
        let svc = service();
        let many: Vec<Pod> = (0..1001)
            .map(|i| {
                pod(
                    &format!("p{i}"),
                    &format!("10.42.{}.{}", i / 250, i % 250 + 1),
                    true,
                )
            })
            .collect();
        let refs: Vec<&Pod> = many.iter().collect();
        let ep = desired(&svc, &refs, None, None);
        let ann = ep.metadata.annotations.clone().unwrap_or_default();
        assert_eq!(
            ann.get(subsets::OVER_CAPACITY).map(String::as_str),
            Some("truncated")
        );
        let n: usize = ep
            .subsets
            .iter()
            .flatten()
            .map(|s| s.addresses.as_ref().map_or(0, Vec::len))
            .sum();
        assert_eq!(n, subsets::MAX_CAPACITY);
        assert!(
            up_to_date(&ep, &desired(&svc, &refs, Some(&ep), None)),
            "no rewrite every sync"
        );
    }
}
