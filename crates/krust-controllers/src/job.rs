//! The Job controller, as upstream's `pkg/controller/job` in Kubernetes 1.33: runs pods to
//! `completions` successes with at most `parallelism` at once (NonIndexed, or Indexed with
//! one completion per index), replaces failed pods after an exponential back-off, and
//! ends the Job as `Complete` or `Failed` (back-off limit, per-index limits, pod failure
//! policy, active deadline), with `suspend`, success policies and the full status.
//!
//! Finished pods are counted exactly once through the `batch.kubernetes.io/job-tracking`
//! finalizer and `status.uncountedTerminatedPods`: a finished pod is first recorded as
//! uncounted, then its finalizer is removed, then it moves into the counters.
//!
//! Keys are `namespace/name` of Jobs; pod changes reach the Job that controls them.
//! Decisions are pure ([`decide`]); [`sync`] carries them out.

mod backoff;
mod conditions;
mod decide;
mod expect;
mod failure_policy;
mod indexes;
mod manage;
mod pods;
mod sync;
mod template;

use std::sync::Arc;

use futures_util::future::BoxFuture;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use tokio_util::sync::CancellationToken;

use crate::informers::Informers;
use crate::keyed::{self, Seen};
use crate::manager::Context;
use crate::replicaset::{Events, controller_key, nudged, ready};
use crate::workqueue::Queue;

/// The name in the controller registry (upstream's).
pub const NAME: &str = "job-controller";

/// The key of the Job controlling a pod, if a Job does.
fn job_of(pod: &Pod) -> Option<String> {
    controller_key::<Job>(&pod.metadata)
}

/// Registers the controller on the shared Job and pod informers.
pub fn register(
    informers: &mut Informers,
    ctx: Arc<Context>,
    stop: CancellationToken,
) -> BoxFuture<'static, ()> {
    let jobs = informers.store::<Job>();
    let job_changes = nudged(informers.subscribe::<Job>());
    let pods = informers.store::<Pod>();
    let pod_changes = nudged(informers.subscribe::<Pod>());
    Box::pin(async move {
        let queue: Arc<Queue<String>> = Queue::new();
        let state = Arc::new(sync::State {
            client: ctx.client.clone(),
            jobs: jobs.clone(),
            pods: pods.clone(),
            events: Events::new(ctx.client.clone(), NAME, &ctx.config.identity),
            expectations: expect::Expectations::default(),
            backoff: Default::default(),
        });
        let on_job = {
            let (queue, state) = (queue.clone(), state.clone());
            move |seen: Seen<'_, Job>| {
                if let Seen::Deleted(j) = seen {
                    let uid = j.metadata.uid.as_deref().unwrap_or_default();
                    state.expectations.forget(uid);
                    state.backoff.lock().remove(uid);
                }
                queue.add(keyed::key_of(seen.object()));
            }
        };
        let on_pod = {
            let queue = queue.clone();
            move |seen: Seen<'_, Pod>| {
                if let Some(k) = job_of(seen.object()) {
                    queue.add(k);
                }
            }
        };
        let feed = futures_util::future::join(
            keyed::follow(job_changes, jobs.clone(), stop.clone(), on_job),
            keyed::follow(pod_changes, pods.clone(), stop.clone(), on_pod),
        );
        let state = state.clone();
        let work = keyed::run_workers_when_synced(
            NAME,
            queue.clone(),
            ctx.config.workers,
            stop.clone(),
            async {
                let (a, b) = futures_util::future::join(ready(&jobs), ready(&pods)).await;
                a && b
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
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

    #[test]
    fn pods_map_to_their_job() {
        let mut p = Pod::default();
        p.metadata.namespace = Some("ns".into());
        assert_eq!(job_of(&p), None);
        p.metadata.owner_references = Some(vec![OwnerReference {
            api_version: "batch/v1".into(),
            kind: "Job".into(),
            name: "pi".into(),
            controller: Some(true),
            ..Default::default()
        }]);
        assert_eq!(job_of(&p).as_deref(), Some("ns/pi"));
    }
}
