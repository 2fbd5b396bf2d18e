//! The CronJob controller, as upstream's `pkg/controller/cronjob` (v2) in Kubernetes 1.33:
//! starts a Job from `jobTemplate` at each activation of `schedule` (5-field cron or a
//! macro, in `timeZone`), named `<cronjob>-<scheduled minute>`, honouring `suspend`,
//! `startingDeadlineSeconds` and `concurrencyPolicy`; after downtime it starts only the
//! latest missed activation. It keeps `status.active`, `lastScheduleTime` and
//! `lastSuccessfulTime`, and deletes finished Jobs beyond the history limits.
//!
//! No polling: each sync asks to be woken just after the next activation. Keys are
//! `namespace/name` of CronJobs; Job changes reach the CronJob that controls them.

mod decide;
mod missed;
mod schedule;
mod sync;

use std::sync::Arc;

use futures_util::future::BoxFuture;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use tokio_util::sync::CancellationToken;

use crate::informers::Informers;
use crate::keyed::{self, Seen};
use crate::manager::Context;
use crate::replicaset::{Events, controller_key, nudged, ready};
use crate::workqueue::Queue;

/// The name in the controller registry (upstream's).
pub const NAME: &str = "cronjob-controller";

/// The key of the CronJob controlling a Job, if one does.
fn cronjob_of(job: &Job) -> Option<String> {
    controller_key::<CronJob>(&job.metadata)
}

/// Registers the controller on the shared CronJob and Job informers.
pub fn register(
    informers: &mut Informers,
    ctx: Arc<Context>,
    stop: CancellationToken,
) -> BoxFuture<'static, ()> {
    let cronjobs = informers.store::<CronJob>();
    let cronjob_changes = nudged(informers.subscribe::<CronJob>());
    let jobs = informers.store::<Job>();
    let job_changes = nudged(informers.subscribe::<Job>());
    Box::pin(async move {
        let queue: Arc<Queue<String>> = Queue::new();
        let state = Arc::new(sync::State {
            client: ctx.client.clone(),
            cronjobs: cronjobs.clone(),
            jobs: jobs.clone(),
            events: Events::new(ctx.client.clone(), NAME, &ctx.config.identity),
        });
        let on_cronjob = {
            let queue = queue.clone();
            move |seen: Seen<'_, CronJob>| queue.add(keyed::key_of(seen.object()))
        };
        let on_job = {
            let queue = queue.clone();
            move |seen: Seen<'_, Job>| {
                if let Some(k) = cronjob_of(seen.object()) {
                    queue.add(k);
                }
            }
        };
        let feed = futures_util::future::join(
            keyed::follow(cronjob_changes, cronjobs.clone(), stop.clone(), on_cronjob),
            keyed::follow(job_changes, jobs.clone(), stop.clone(), on_job),
        );
        let state = state.clone();
        let work = keyed::run_workers_when_synced(
            NAME,
            queue.clone(),
            ctx.config.workers,
            stop.clone(),
            async {
                let (a, b) = futures_util::future::join(ready(&cronjobs), ready(&jobs)).await;
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
    fn jobs_map_to_their_cronjob() {
        let mut j = Job::default();
        j.metadata.namespace = Some("ns".into());
        assert_eq!(cronjob_of(&j), None);
        j.metadata.owner_references = Some(vec![OwnerReference {
            api_version: "batch/v1".into(),
            kind: "CronJob".into(),
            name: "nightly".into(),
            controller: Some(true),
            ..Default::default()
        }]);
        assert_eq!(cronjob_of(&j).as_deref(), Some("ns/nightly"));
    }
}
