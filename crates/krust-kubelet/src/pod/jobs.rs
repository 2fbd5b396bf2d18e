//! The work the pod manager hands out, one job per pod at a time: a sync through the
//! runtime followed by its status write, a status write alone, the final delete, or
//! stopping a pod someone else made final. A job reports what became of it in [`Done`].

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Pod, PodStatus};

use super::api::{PodApi, Written, write_status};
use super::key;
use super::worker::{RealNode, SyncResult, sync_pod};
use crate::api_error::ApiError;
use crate::clock::Clock;
use crate::config::PoolSpec;
use crate::runtime::{NodeContext, Runtime};

/// One piece of work for one pod.
pub(crate) enum Job {
    /// Drive the pod through the runtime and write the status that results.
    Sync,
    /// Write this (final) status.
    Write(Box<PodStatus>),
    /// Delete the pod from the API (grace period 0, uid precondition).
    Delete,
    /// Someone else made the pod final: stop it without writing anything.
    Teardown,
}

/// What a job reports back.
pub(crate) struct Done {
    pub uid: Arc<str>,
    /// The resourceVersion the job started from, and the pod it wrote.
    pub base_rv: Option<String>,
    pub written: Option<Box<Pod>>,
    pub terminal: Option<PodStatus>,
    pub wake_at: Option<jiff::Timestamp>,
    pub retry: bool,
    pub deleted: bool,
}

/// What every job works with.
pub(crate) struct Shared<R, A> {
    pub runtime: Arc<R>,
    pub api: A,
    pub clock: Arc<dyn Clock>,
    pub spec: Arc<PoolSpec>,
    /// The node's probes (a real node only).
    pub probes: Option<Arc<crate::probe::Probes<R>>>,
    /// Where a real node reports what happens to its pods.
    pub events: Option<krust_runtime::Events>,
}

/// Carries out one job for one pod.
pub(crate) async fn run_job<R: Runtime, A: PodApi>(
    shared: &Shared<R, A>,
    uid: Arc<str>,
    node: &NodeContext,
    pod: Arc<Pod>,
    job: Job,
) -> Done {
    let mut done = Done {
        uid,
        base_rv: pod.metadata.resource_version.clone(),
        written: None,
        terminal: None,
        wake_at: None,
        retry: false,
        deleted: false,
    };
    let status = match job {
        Job::Write(status) => *status,
        Job::Delete => {
            delete(shared, &pod, &mut done).await;
            return done;
        }
        Job::Teardown => {
            let uid = pod.metadata.uid.as_deref().unwrap_or_default();
            let stopped = shared.runtime.kill_pod(uid, Duration::ZERO).await;
            if stopped.and(shared.runtime.remove_pod(uid).await).is_err() {
                done.retry = true;
            }
            return done;
        }
        Job::Sync => match sync_pod(
            &*shared.runtime,
            &*shared.clock,
            node,
            &pod,
            shared.probes.as_ref().map(|probes| RealNode {
                probes,
                events: shared.events.as_ref(),
                resync: shared
                    .spec
                    .host
                    .as_ref()
                    .map_or(Duration::from_secs(60), |h| h.sync_frequency),
            }),
        )
        .await
        {
            SyncResult::Stopped => {
                delete(shared, &pod, &mut done).await;
                return done;
            }
            SyncResult::Failed(e) => {
                tracing::warn!(pod = %key(&pod), error = %e, "pod sync failed");
                done.retry = true;
                return done;
            }
            SyncResult::Status {
                status,
                terminal,
                wake_at,
            } => {
                done.wake_at = wake_at;
                if terminal {
                    done.terminal = Some((*status).clone());
                }
                *status
            }
        },
    };
    match write_status(&shared.api, &pod, status).await {
        Written::Unchanged => {}
        Written::Updated(p) => done.written = Some(p),
        Written::Stale => done.retry = true,
        Written::Failed(e) => {
            tracing::debug!(pod = %key(&pod), error = %e, "pod status write failed");
            done.retry = true;
        }
    }
    done
}

async fn delete<R: Runtime, A: PodApi>(shared: &Shared<R, A>, pod: &Pod, done: &mut Done) {
    match shared.api.delete(pod).await {
        Ok(()) | Err(ApiError::NotFound | ApiError::Conflict(_)) => {
            done.deleted = true;
        }
        Err(e) => {
            tracing::debug!(pod = %key(pod), error = %e, "pod delete failed");
            done.retry = true;
        }
    }
}
