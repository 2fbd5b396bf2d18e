//! TTL after finished: deletes a finished Job (`Complete` or `Failed`) once
//! `spec.ttlSecondsAfterFinished` has passed since it finished, with Foreground
//! propagation so its pods go first.
//!
//! No polling: a Job not yet due is looked at again exactly when it falls due. Before
//! deleting, the Job is read fresh and checked again (the TTL may have been changed), and
//! the delete carries its resourceVersion so a Job modified meanwhile is not deleted on
//! stale grounds.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{StreamExt, future::BoxFuture};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::jiff::Timestamp;
use kube::{
    Api, ResourceExt,
    api::{DeleteParams, Preconditions, PropagationPolicy},
    runtime::{Controller, controller::Action},
};
use tokio_util::sync::CancellationToken;

use crate::apierror;
use crate::informers::Informers;
use crate::manager::Context;
use crate::replicaset::nudged;

/// The name in the controller registry (upstream's).
pub const NAME: &str = "ttl-after-finished-controller";

/// Failures of one pass (retried).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An API call failed.
    #[error("api: {0}")]
    Api(#[from] kube::Error),
}

/// Registers the controller on the shared Job informer.
pub fn register(
    informers: &mut Informers,
    ctx: Arc<Context>,
    stop: CancellationToken,
) -> BoxFuture<'static, ()> {
    let store = informers.store::<Job>();
    let changes = informers.subscribe::<Job>();
    let concurrency = ctx.config.workers;
    Box::pin(async move {
        Controller::for_shared_stream(nudged(changes), store)
            .with_config(kube::runtime::controller::Config::default().concurrency(concurrency))
            .graceful_shutdown_on(stop.cancelled_owned())
            .run(reconcile, error_policy, ctx)
            .for_each(|_| async {})
            .await;
    })
}

fn error_policy(job: Arc<Job>, e: &Error, _: Arc<Context>) -> Action {
    tracing::debug!(job = %job.name_any(), error = %e, "ttl-after-finished: will retry");
    Action::requeue(Duration::from_secs(5))
}

/// When a Job finished: the transition time of its `Complete` or `Failed` condition
/// (else its completionTime).
pub fn finished_at(job: &Job) -> Option<Timestamp> {
    let status = job.status.as_ref()?;
    let finished = status
        .conditions
        .iter()
        .flatten()
        .find(|c| matches!(c.type_.as_str(), "Complete" | "Failed") && c.status == "True")?;
    finished
        .last_transition_time
        .as_ref()
        .or(status.completion_time.as_ref())
        .map(|t| t.0)
}

/// What to do with a Job now.
#[derive(Debug, PartialEq, Eq)]
pub enum Due {
    /// Not subject to TTL (no TTL, not finished, or already being deleted).
    Never,
    /// Delete it now.
    Now,
    /// Look again after this long.
    After(Duration),
}

/// Whether a Job's TTL has run out at `now`.
pub fn due(job: &Job, now: Timestamp) -> Due {
    if job.metadata.deletion_timestamp.is_some() {
        return Due::Never;
    }
    let Some(ttl) = job.spec.as_ref().and_then(|s| s.ttl_seconds_after_finished) else {
        return Due::Never;
    };
    let Some(done) = finished_at(job) else {
        return Due::Never;
    };
    let expires = done
        .checked_add(k8s_openapi::jiff::SignedDuration::from_secs(i64::from(ttl)))
        .unwrap_or(done);
    let left = expires.duration_since(now);
    if left.is_positive() {
        Due::After(left.unsigned_abs())
    } else {
        Due::Now
    }
}

async fn reconcile(cached: Arc<Job>, ctx: Arc<Context>) -> Result<Action, Error> {
    match due(&cached, Timestamp::now()) {
        Due::Never => return Ok(Action::await_change()),
        Due::After(d) => return Ok(Action::requeue(d)),
        Due::Now => {}
    }
    let (Some(ns), name) = (cached.namespace(), cached.name_any()) else {
        return Ok(Action::await_change());
    };
    let api: Api<Job> = Api::namespaced(ctx.client.clone(), &ns);
    let Some(fresh) = api.get_opt(&name).await? else {
        return Ok(Action::await_change());
    };
    match due(&fresh, Timestamp::now()) {
        Due::Never => return Ok(Action::await_change()),
        Due::After(d) => return Ok(Action::requeue(d)),
        Due::Now => {}
    }
    let params = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Foreground),
        preconditions: Some(Preconditions {
            resource_version: fresh.metadata.resource_version.clone(),
            uid: fresh.metadata.uid.clone(),
        }),
        ..Default::default()
    };
    match api.delete(&name, &params).await {
        Ok(_) => {
            tracing::info!(job = %name, namespace = %ns, "ttl-after-finished: deleted finished job");
            Ok(Action::await_change())
        }
        Err(e) if apierror::is_not_found(&e) => Ok(Action::await_change()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::batch::v1::{JobCondition, JobSpec, JobStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    fn job(ttl: Option<i32>, finished: Option<(&str, &str, i64)>) -> Job {
        Job {
            spec: Some(JobSpec {
                ttl_seconds_after_finished: ttl,
                ..Default::default()
            }),
            status: Some(JobStatus {
                conditions: finished.map(|(t, s, when)| {
                    vec![JobCondition {
                        type_: t.into(),
                        status: s.into(),
                        last_transition_time: Some(Time(at(when))),
                        ..Default::default()
                    }]
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn due_when_the_ttl_has_passed_since_finishing() {
        let j = job(Some(10), Some(("Complete", "True", 100)));
        assert_eq!(due(&j, at(105)), Due::After(Duration::from_secs(5)));
        assert_eq!(due(&j, at(110)), Due::Now);
        assert_eq!(
            due(&job(Some(0), Some(("Failed", "True", 100))), at(100)),
            Due::Now
        );
    }

    #[test]
    fn not_subject_to_ttl() {
        assert_eq!(
            due(&job(None, Some(("Complete", "True", 0))), at(100)),
            Due::Never
        );
        assert_eq!(due(&job(Some(1), None), at(100)), Due::Never);
        assert_eq!(
            due(&job(Some(1), Some(("Complete", "False", 0))), at(100)),
            Due::Never
        );
        assert_eq!(
            due(&job(Some(1), Some(("Suspended", "True", 0))), at(100)),
            Due::Never
        );
        let mut deleting = job(Some(1), Some(("Complete", "True", 0)));
        deleting.metadata.deletion_timestamp = Some(Time(at(1)));
        assert_eq!(due(&deleting, at(100)), Due::Never);
    }

    #[test]
    fn completion_time_stands_in_for_a_missing_transition_time() {
        let mut j = job(Some(5), Some(("Complete", "True", 0)));
        if let Some(s) = j.status.as_mut() {
            if let Some(c) = s.conditions.as_mut() {
                c[0].last_transition_time = None;
            }
            s.completion_time = Some(Time(at(50)));
        }
        assert_eq!(due(&j, at(52)), Due::After(Duration::from_secs(3)));
    }
}
