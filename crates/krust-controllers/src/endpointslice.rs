//! The EndpointSlice controller, as upstream's `pkg/controller/endpointslice`: every
//! Service with a selector gets `discovery.k8s.io/v1` EndpointSlices (named
//! `<service>-<random>`, owned by the Service, labelled `kubernetes.io/service-name` and
//! `endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io`) listing its
//! pods with their ready/serving/terminating conditions, node, zone and target, at most
//! `max_endpoints_per_slice` (100) per slice, rewritten with as few slice writes as
//! possible when pods change (`plan`).
//!
//! Keyed by Service. `plan`, `tracker` and the write step are shared with the mirroring
//! controller.

mod desired;
pub(crate) mod plan;
pub(crate) mod sync;
pub(crate) mod tracker;

use std::sync::Arc;

use futures_util::future::BoxFuture;
use k8s_openapi::api::core::v1::{Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use tokio_util::sync::CancellationToken;

use crate::endpoints::{services_for_pod, trigger};
use crate::informers::Informers;
use crate::keyed::{self, Index, Seen};
use crate::manager::Context;
use crate::replicaset::nudged;
use crate::workqueue::Queue;

/// The name in the controller registry (upstream's).
pub const NAME: &str = "endpointslice-controller";

/// The key of the Service a slice managed by `managed_by` belongs to.
pub(crate) fn service_key_of(slice: &EndpointSlice, managed_by: &str) -> Option<String> {
    let labels = slice.metadata.labels.as_ref()?;
    if labels.get(plan::MANAGED_BY).map(String::as_str) != Some(managed_by) {
        return None;
    }
    let name = labels.get(plan::SERVICE_NAME)?;
    Some(format!(
        "{}/{name}",
        slice.metadata.namespace.as_deref().unwrap_or_default()
    ))
}

/// Registers the controller on the shared Service, pod, node and EndpointSlice informers.
pub fn register(
    informers: &mut Informers,
    ctx: Arc<Context>,
    stop: CancellationToken,
) -> BoxFuture<'static, ()> {
    let services = informers.store::<Service>();
    let service_changes = nudged(informers.subscribe::<Service>());
    let pods = informers.store::<Pod>();
    let pod_changes = nudged(informers.subscribe::<Pod>());
    let nodes = informers.store::<Node>();
    let slices = informers.store::<EndpointSlice>();
    let slice_changes = nudged(informers.subscribe::<EndpointSlice>());
    Box::pin(async move {
        let queue: Arc<Queue<String>> = Queue::new();
        let state = Arc::new(sync::State {
            client: ctx.client.clone(),
            services: services.clone(),
            pods: pods.clone(),
            nodes: nodes.clone(),
            slices: slices.clone(),
            tracker: tracker::Tracker::default(),
            triggers: trigger::TriggerTimes::default(),
            selected: Index::default(),
            max_per_slice: usize::try_from(ctx.config.max_endpoints_per_slice).unwrap_or(100),
        });
        let on_service = {
            let queue = queue.clone();
            move |seen: Seen<'_, Service>| queue.add(keyed::key_of(seen.object()))
        };
        let on_pod = {
            let (queue, state) = (queue.clone(), state.clone());
            move |seen: Seen<'_, Pod>| {
                for k in services_for_pod(&state.services, &state.selected, seen.object()) {
                    queue.add(k);
                }
            }
        };
        let on_slice = {
            let queue = queue.clone();
            move |seen: Seen<'_, EndpointSlice>| {
                if let Some(k) = service_key_of(seen.object(), sync::CONTROLLER) {
                    queue.add(k);
                }
            }
        };
        let feed = futures_util::future::join3(
            keyed::follow(service_changes, services.clone(), stop.clone(), on_service),
            keyed::follow(pod_changes, pods.clone(), stop.clone(), on_pod),
            keyed::follow(slice_changes, slices.clone(), stop.clone(), on_slice),
        );
        let state = state.clone();
        let work = keyed::run_workers_when_synced(
            NAME,
            queue.clone(),
            ctx.config.workers,
            stop.clone(),
            async {
                futures_util::future::try_join4(
                    services.wait_until_ready(),
                    pods.wait_until_ready(),
                    nodes.wait_until_ready(),
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
