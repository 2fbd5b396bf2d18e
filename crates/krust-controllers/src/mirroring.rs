//! The EndpointSlice mirroring controller, as upstream's
//! `pkg/controller/endpointslicemirroring`: the Endpoints of a Service without a selector
//! are written by hand (or by another controller); they are mirrored into EndpointSlices
//! (`endpointslice.kubernetes.io/managed-by: endpointslicemirroring-controller.k8s.io`,
//! owned by the Service, carrying the Endpoints' labels and annotations) so that consumers
//! of slices see them too. Endpoints labelled `endpointslice.kubernetes.io/skip-mirror:
//! "true"` (the API server's own `default/kubernetes`) or used as leader-election locks are
//! not mirrored; the mirrored slices go when the Endpoints or the Service go, or the
//! Service gets a selector.
//!
//! Keyed by `namespace/name` (Service and Endpoints share it).

mod desired;

use std::collections::BTreeMap;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use k8s_openapi::api::core::v1::{Endpoints, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::runtime::reflector::Store;
use tokio_util::sync::CancellationToken;

use crate::endpoints::{pods, trigger};
use crate::endpointslice::plan::{self, MANAGED_BY, Plan, SERVICE_NAME, Template};
use crate::endpointslice::sync::{apply, managed_slices, owner_ref, slice_prefix};
use crate::endpointslice::{service_key_of, tracker::Tracker};
use crate::informers::Informers;
use crate::keyed::{self, Next, Seen};
use crate::manager::Context;
use crate::replicaset::nudged;
use crate::workqueue::Queue;

/// The name in the controller registry (upstream's).
pub const NAME: &str = "endpointslice-mirroring-controller";
/// This controller's `managed-by` value.
pub const CONTROLLER: &str = "endpointslicemirroring-controller.k8s.io";

/// Annotation kubectl apply keeps (not mirrored).
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Failures of a sync (retried with back-off).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The slice cache has not caught up with this controller's own writes yet.
    #[error("{key}: the EndpointSlice cache is behind this controller's writes")]
    Stale {
        /// namespace/name
        key: String,
    },
    /// Writing a slice failed.
    #[error("{key}: writing mirrored endpoint slices: {source}")]
    Write {
        /// namespace/name
        key: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
}

/// The template of the mirrored slices: the Endpoints' labels and annotations (less the
/// ones that describe the Endpoints object itself) with the Service name and manager.
fn template(ep: &Endpoints, svc: &Service) -> Template {
    let name = ep.metadata.name.clone().unwrap_or_default();
    let mut labels: BTreeMap<String, String> = ep.metadata.labels.clone().unwrap_or_default();
    labels.insert(SERVICE_NAME.into(), name.clone());
    labels.insert(MANAGED_BY.into(), CONTROLLER.into());
    let annotations: BTreeMap<String, String> = ep
        .metadata
        .annotations
        .iter()
        .flatten()
        .filter(|(k, _)| k.as_str() != trigger::ANNOTATION && k.as_str() != LAST_APPLIED)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Template {
        namespace: ep.metadata.namespace.clone().unwrap_or_default(),
        generate_name: slice_prefix(&name),
        labels,
        annotations: Some(annotations),
        owner: owner_ref(svc),
    }
}

struct State {
    client: kube::Client,
    services: Store<Service>,
    endpoints: Store<Endpoints>,
    slices: Store<EndpointSlice>,
    tracker: Tracker,
    max_per_subset: usize,
}

impl State {
    async fn sync(&self, key: &str) -> Result<Next, Error> {
        let (ns, name) = keyed::split_key(key);
        let existing = managed_slices(&self.slices, ns, name, CONTROLLER);
        if self.tracker.stale(key, &existing) {
            return Err(Error::Stale { key: key.to_string() });
        }
        let svc = keyed::cached(&self.services, key);
        let ep = keyed::cached(&self.endpoints, key);
        let mirror = match (&svc, &ep) {
            (Some(svc), Some(ep)) if pods::selector(svc).is_none() && desired::mirrorable(ep) => {
                Some((svc, ep))
            }
            _ => None,
        };
        let plan = match mirror {
            None => Plan {
                delete: existing,
                ..Default::default()
            },
            Some((svc, ep)) => {
                let (groups, truncated) = desired::groups(ep, self.max_per_subset);
                if truncated {
                    tracing::info!(endpoints = %key, max = self.max_per_subset, "mirroring: endpoints subset over the limit; mirroring only part of it");
                }
                let mut types: Vec<&str> = groups.iter().map(|g| g.address_type.as_str()).collect();
                types.dedup();
                if types.is_empty() {
                    // Nothing to mirror: no slice at all (placeholders are the endpointslice
                    // controller's convention, not the mirror's).
                    Plan {
                        delete: existing,
                        ..Default::default()
                    }
                } else {
                    plan::plan(
                        &existing,
                        groups.clone(),
                        &types,
                        &template(ep, svc),
                        self.max_per_subset,
                    )
                }
            }
        };
        if plan.is_empty() {
            return Ok(Next::Done);
        }
        let deleting = svc
            .as_ref()
            .is_none_or(|s| s.metadata.deletion_timestamp.is_some());
        apply(&self.client, &self.tracker, key, plan, deleting, None)
            .await
            .map_err(|source| Error::Write {
                key: key.to_string(),
                source,
            })?;
        if svc.is_none() {
            self.tracker.forget(key);
        }
        Ok(Next::Done)
    }
}

/// Registers the controller on the shared Service, Endpoints and EndpointSlice informers.
pub fn register(
    informers: &mut Informers,
    ctx: Arc<Context>,
    stop: CancellationToken,
) -> BoxFuture<'static, ()> {
    let services = informers.store::<Service>();
    let service_changes = nudged(informers.subscribe::<Service>());
    let endpoints = informers.store::<Endpoints>();
    let endpoints_changes = nudged(informers.subscribe::<Endpoints>());
    let slices = informers.store::<EndpointSlice>();
    let slice_changes = nudged(informers.subscribe::<EndpointSlice>());
    Box::pin(async move {
        let queue: Arc<Queue<String>> = Queue::new();
        let state = Arc::new(State {
            client: ctx.client.clone(),
            services: services.clone(),
            endpoints: endpoints.clone(),
            slices: slices.clone(),
            tracker: Tracker::default(),
            max_per_subset: usize::try_from(ctx.config.mirroring_max_endpoints_per_subset).unwrap_or(1000),
        });
        let by_key = |queue: Arc<Queue<String>>| move |key: String| queue.add(key);
        let on_service = {
            let add = by_key(queue.clone());
            move |seen: Seen<'_, Service>| add(keyed::key_of(seen.object()))
        };
        let on_endpoints = {
            let add = by_key(queue.clone());
            move |seen: Seen<'_, Endpoints>| add(keyed::key_of(seen.object()))
        };
        let on_slice = {
            let add = by_key(queue.clone());
            move |seen: Seen<'_, EndpointSlice>| {
                if let Some(k) = service_key_of(seen.object(), CONTROLLER) {
                    add(k);
                }
            }
        };
        let feed = futures_util::future::join3(
            keyed::follow(service_changes, services.clone(), stop.clone(), on_service),
            keyed::follow(endpoints_changes, endpoints.clone(), stop.clone(), on_endpoints),
            keyed::follow(slice_changes, slices.clone(), stop.clone(), on_slice),
        );
        let state = state.clone();
        let work = keyed::run_workers_when_synced(
            NAME,
            queue.clone(),
            ctx.config.workers,
            stop.clone(),
            async {
                futures_util::future::try_join3(
                    services.wait_until_ready(),
                    endpoints.wait_until_ready(),
                    slices.wait_until_ready(),
                )
                .await
                .is_ok()
            },
            move |key| {
                let state = state.clone();
                async move { state.sync(&key).await }
            },
        );
        futures_util::future::join(feed, work).await;
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoints::pods::tests::service;

    #[test]
    fn the_template_carries_the_endpoints_metadata() {
        let mut ep = Endpoints::default();
        ep.metadata.name = Some("ext".into());
        ep.metadata.namespace = Some("default".into());
        ep.metadata.labels = Some(BTreeMap::from([("team".to_string(), "a".to_string())]));
        ep.metadata.annotations = Some(BTreeMap::from([
            ("note".to_string(), "x".to_string()),
            (LAST_APPLIED.to_string(), "{}".to_string()),
            (trigger::ANNOTATION.to_string(), "t".to_string()),
        ]));
        let t = template(&ep, &service());
        assert_eq!(t.labels.get("team").map(String::as_str), Some("a"));
        assert_eq!(t.labels.get(MANAGED_BY).map(String::as_str), Some(CONTROLLER));
        assert_eq!(t.labels.get(SERVICE_NAME).map(String::as_str), Some("ext"));
        assert_eq!(
            t.annotations,
            Some(BTreeMap::from([("note".to_string(), "x".to_string())]))
        );
        assert_eq!(t.generate_name, "ext-");
        assert_eq!(t.owner.uid, "svc-uid");
    }
}
