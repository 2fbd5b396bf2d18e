//! The binding cycle, run asynchronously after Reserve: PreBind (volumes) and Bind
//! (`pods/binding`). Success starts the assumed pod's expiry clock and records the
//! `Scheduled` event; failure un-reserves, forgets the assumed pod (freeing its node for
//! others) and retries the pod after backoff.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use super::Shared;
use super::failure::{self, Failure, SCHEDULER_ERROR};
use crate::events::{EventRequest, pod_ref};
use crate::framework::{ClusterEvent, CycleState, EventKind, PodInfo};
use crate::queue::QueuedPodInfo;

/// Binds `assumed` (the pod with `spec.nodeName` set to `host`).
pub(crate) async fn bind(
    shared: &Arc<Shared>,
    qp: QueuedPodInfo,
    mut state: CycleState,
    assumed: Arc<PodInfo>,
    host: String,
) {
    let fw = &shared.framework;
    let mut s = fw.run_pre_bind(&state, &assumed, &host).await;
    if s.is_success() {
        s = fw.run_bind(&state, &assumed, &host).await;
    }
    if s.is_success() {
        let now = Instant::now();
        shared.cache.lock().finish_binding(assumed.uid(), now);
        shared.queue.lock().done(&assumed.key);
        shared.stats.scheduled(now.duration_since(qp.initial));
        shared.recorder.record(EventRequest {
            regarding: pod_ref(&assumed),
            related: None,
            warning: false,
            reason: "Scheduled",
            action: "Binding",
            note: format!(
                "Successfully assigned {}/{} to {host}",
                assumed.namespace(),
                assumed.name()
            ),
            aggregate: false,
        });
        return;
    }
    tracing::warn!(pod = %assumed.key, node = %host, error = %s.message(), "binding failed");
    fw.run_unreserve(&mut state, &assumed, &host);
    let forgotten = shared.cache.lock().forget_pod(assumed.uid());
    if let Some(p) = forgotten {
        shared.on_event(ClusterEvent::pod(EventKind::AssignedPodDelete, p));
    }
    let cycle = shared.queue.lock().scheduling_cycle();
    failure::handle(
        shared,
        qp,
        cycle,
        Failure {
            reason: SCHEDULER_ERROR,
            message: format!("Binding rejected: {}", s.message()),
            plugins: BTreeSet::new(),
            nominated_node: None,
            backoff: true,
        },
    );
}
