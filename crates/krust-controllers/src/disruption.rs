//! The disruption controller, as upstream's `pkg/controller/disruption`: keeps each
//! PodDisruptionBudget's status — `expectedPods` (from the scale of the pods' controllers,
//! or the pod count for an integer `minAvailable`), `currentHealthy` (Ready pods not being
//! deleted), `desiredHealthy` (from `minAvailable`/`maxUnavailable`, integers or percents
//! rounded up), `disruptionsAllowed`, `observedGeneration`, the `DisruptionAllowed`
//! condition (`SufficientPods`/`InsufficientPods`, `SyncFailed` with no disruption allowed
//! when the status cannot be computed) — and clears `disruptedPods` entries once their pod
//! is gone or being deleted, or after 2 minutes. The eviction subresource reads this status
//! to allow or refuse (429) evictions.
//!
//! It also resets a `DisruptionTarget` condition left for 2 minutes on a pod that was never
//! deleted.
//!
//! Keys: `pdb:<namespace>/<name>` and `pod:<namespace>/<name>`.

mod arith;
mod scale;
mod sync;

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Pod, ReplicationController};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::jiff::Timestamp;
use kube::runtime::reflector::Store;
use tokio_util::sync::CancellationToken;

use crate::informers::Informers;
use crate::keyed::{self, Index, Next, Seen};
use crate::manager::Context;
use crate::replicaset::{Events, nudged};
use crate::workqueue::Queue;

/// The name in the controller registry (upstream's).
pub const NAME: &str = "disruption-controller";

/// Every budget is looked at again this often, whatever happened (scale changes of
/// controllers reach budgets through their pods; this bounds anything missed).
const RESYNC: Duration = Duration::from_secs(60);

const PDB: &str = "pdb:";
const POD: &str = "pod:";

/// The keys of the budgets a pod change concerns: those selecting it now and those that
/// selected it at their last sync.
fn budgets_for_pod(
    budgets: &Store<PodDisruptionBudget>,
    selected: &Index<String, String>,
    pod: &Pod,
) -> Vec<String> {
    let mut keys = selected.pointing_at(&keyed::key_of(pod));
    for pdb in budgets.state() {
        if pdb.metadata.namespace == pod.metadata.namespace && sync::selects(&pdb, pod) {
            let k = keyed::key_of(pdb.as_ref());
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
    }
    keys
}

/// Registers the controller on the shared budget, pod and workload informers.
pub fn register(
    informers: &mut Informers,
    ctx: Arc<Context>,
    stop: CancellationToken,
) -> BoxFuture<'static, ()> {
    let budgets = informers.store::<PodDisruptionBudget>();
    let budget_changes = nudged(informers.subscribe::<PodDisruptionBudget>());
    let pods = informers.store::<Pod>();
    let pod_changes = nudged(informers.subscribe::<Pod>());
    let finders = scale::Finders {
        client: ctx.client.clone(),
        replica_sets: informers.store::<ReplicaSet>(),
        deployments: informers.store::<Deployment>(),
        stateful_sets: informers.store::<StatefulSet>(),
        replication_controllers: informers.store::<ReplicationController>(),
    };
    Box::pin(async move {
        let queue: Arc<Queue<String>> = Queue::new();
        let state = Arc::new(sync::State {
            client: ctx.client.clone(),
            budgets: budgets.clone(),
            pods: pods.clone(),
            events: Events::new(ctx.client.clone(), "controllermanager", &ctx.config.identity),
            selected: Index::default(),
            finders,
        });
        let on_budget = {
            let queue = queue.clone();
            move |seen: Seen<'_, PodDisruptionBudget>| {
                queue.add(format!("{PDB}{}", keyed::key_of(seen.object())))
            }
        };
        let on_pod = {
            let (queue, state) = (queue.clone(), state.clone());
            move |seen: Seen<'_, Pod>| {
                let pod = seen.object();
                for k in budgets_for_pod(&state.budgets, &state.selected, pod) {
                    queue.add(format!("{PDB}{k}"));
                }
                if matches!(seen, Seen::Changed(_)) && sync::stale_disruption(pod, Timestamp::now()).is_some()
                {
                    queue.add(format!("{POD}{}", keyed::key_of(pod)));
                }
            }
        };
        let resync = {
            let (queue, budgets, stop) = (queue.clone(), budgets.clone(), stop.clone());
            async move {
                let mut tick = tokio::time::interval(RESYNC);
                loop {
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tick.tick() => {
                            for pdb in budgets.state() {
                                queue.add(format!("{PDB}{}", keyed::key_of(pdb.as_ref())));
                            }
                        }
                    }
                }
            }
        };
        let feed = futures_util::future::join3(
            keyed::follow(budget_changes, budgets.clone(), stop.clone(), on_budget),
            keyed::follow(pod_changes, pods.clone(), stop.clone(), on_pod),
            resync,
        );
        let work = async {
            let f = &state.finders;
            let caches_ready = futures_util::future::try_join4(
                futures_util::future::try_join(budgets.wait_until_ready(), pods.wait_until_ready()),
                futures_util::future::try_join(
                    f.replica_sets.wait_until_ready(),
                    f.deployments.wait_until_ready(),
                ),
                f.stateful_sets.wait_until_ready(),
                f.replication_controllers.wait_until_ready(),
            );
            tokio::select! {
                _ = stop.cancelled() => return,
                r = caches_ready => if r.is_err() { return },
            }
            let state = state.clone();
            keyed::run_workers(
                NAME,
                queue.clone(),
                ctx.config.workers,
                stop.clone(),
                move |key| {
                    let state = state.clone();
                    async move {
                        if let Some(k) = key.strip_prefix(PDB) {
                            state.sync_budget(k).await
                        } else if let Some(k) = key.strip_prefix(POD) {
                            state.sync_pod(k).await
                        } else {
                            Ok(Next::Done)
                        }
                    }
                },
            )
            .await;
        };
        futures_util::future::join(feed, work).await;
    })
}
