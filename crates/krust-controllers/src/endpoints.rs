//! The endpoints controller, as upstream's `pkg/controller/endpoint`: every Service with a
//! selector gets an Endpoints object of the same name listing the pods it selects —
//! Ready pods in `addresses`, the others (not terminating) in `notReadyAddresses`, all in
//! `addresses` with `publishNotReadyAddresses` — with named target ports resolved per pod,
//! hostnames for pods whose subdomain names the Service, the
//! `endpoints.kubernetes.io/last-change-trigger-time` annotation, and at most 1000
//! addresses (`endpoints.kubernetes.io/over-capacity: truncated` beyond).
//!
//! Keyed by Service. Pod changes reach the Services selecting the pod now and those that
//! selected it at their last sync (a relabelled or deleted pod leaves them).
//!
//! `pods` and `trigger` are shared with the EndpointSlice controller.

pub(crate) mod pods;
mod subsets;
mod sync;
pub(crate) mod trigger;

pub(crate) use sync::HEADLESS_LABEL;

use std::sync::Arc;

use futures_util::future::BoxFuture;
use k8s_openapi::api::core::v1::{Endpoints, Pod, Service};
use kube::runtime::reflector::Store;
use tokio_util::sync::CancellationToken;

use crate::informers::Informers;
use crate::keyed::{self, Index, Seen};
use crate::manager::Context;
use crate::replicaset::nudged;
use crate::workqueue::Queue;

/// The name in the controller registry (upstream's).
pub const NAME: &str = "endpoints-controller";

/// The keys of the Services a pod change concerns: those in its namespace selecting it
/// now, and those that selected it at their last sync.
pub(crate) fn services_for_pod(
    services: &Store<Service>,
    selected: &Index<String, String>,
    pod: &Pod,
) -> Vec<String> {
    let mut keys = selected.pointing_at(&keyed::key_of(pod));
    for svc in services.state() {
        if pods::selects(&svc, pod) {
            let k = keyed::key_of(svc.as_ref());
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
    }
    keys
}

/// Registers the controller on the shared Service, pod and Endpoints informers.
pub fn register(
    informers: &mut Informers,
    ctx: Arc<Context>,
    stop: CancellationToken,
) -> BoxFuture<'static, ()> {
    let services = informers.store::<Service>();
    let service_changes = nudged(informers.subscribe::<Service>());
    let pods = informers.store::<Pod>();
    let pod_changes = nudged(informers.subscribe::<Pod>());
    let endpoints = informers.store::<Endpoints>();
    let endpoints_changes = nudged(informers.subscribe::<Endpoints>());
    Box::pin(async move {
        let queue: Arc<Queue<String>> = Queue::new();
        let state = Arc::new(sync::State {
            client: ctx.client.clone(),
            services: services.clone(),
            pods: pods.clone(),
            endpoints: endpoints.clone(),
            triggers: trigger::TriggerTimes::default(),
            selected: Index::default(),
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
        let on_endpoints = {
            let (queue, services) = (queue.clone(), services.clone());
            move |seen: Seen<'_, Endpoints>| {
                // Someone else changed or deleted the Endpoints of a Service: put them
                // right. Endpoints without a Service are none of this controller's business
                // (they may be written before their Service).
                let key = keyed::key_of(seen.object());
                if keyed::cached(&services, &key).is_some() {
                    queue.add(key);
                }
            }
        };
        let feed = futures_util::future::join3(
            keyed::follow(service_changes, services.clone(), stop.clone(), on_service),
            keyed::follow(pod_changes, pods.clone(), stop.clone(), on_pod),
            keyed::follow(endpoints_changes, endpoints.clone(), stop.clone(), on_endpoints),
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
                    pods.wait_until_ready(),
                    endpoints.wait_until_ready(),
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
