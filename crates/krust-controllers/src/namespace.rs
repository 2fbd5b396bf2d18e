//! The namespace controller: once a namespace is marked for deletion, deletes everything
//! in it, shows in its status conditions what it is waiting for, and finally removes the
//! `kubernetes` finalizer through the `finalize` subresource, after which the API server
//! removes the namespace.
//!
//! Level-triggered: every pass reads the namespace fresh, deletes what is there, and asks
//! to be called again while content remains.

mod conditions;
mod deleter;

use std::sync::Arc;
use std::time::Duration;

use futures_util::{StreamExt, future::BoxFuture};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::{
    Api,
    api::{Patch, PatchParams, PostParams},
    runtime::{Controller, controller::Action},
};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::apierror;
use crate::informers::Informers;
use crate::manager::Context;
use crate::replicaset::nudged;

/// The name in the controller registry.
pub const NAME: &str = "namespace-controller";

/// The finalizer the namespace controller owns in `spec.finalizers`.
const FINALIZER: &str = "kubernetes";

/// How soon a failed pass is retried.
const RETRY: Duration = Duration::from_secs(5);

/// Failures of one pass (retried).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An API call failed.
    #[error("api: {0}")]
    Api(#[from] kube::Error),
    /// Some content could not be deleted.
    #[error("content deletion failed: {0}")]
    Content(String),
}

/// Registers the controller on the shared namespace informer.
pub fn register(
    informers: &mut Informers,
    ctx: Arc<Context>,
    stop: CancellationToken,
) -> BoxFuture<'static, ()> {
    let store = informers.store::<Namespace>();
    let stream = informers.subscribe::<Namespace>();
    let concurrency = ctx.config.workers;
    Box::pin(async move {
        Controller::for_shared_stream(nudged(stream), store)
            .with_config(kube::runtime::controller::Config::default().concurrency(concurrency))
            .graceful_shutdown_on(stop.cancelled_owned())
            .run(reconcile, error_policy, ctx)
            .for_each(|r| async move {
                if let Err(e) = r {
                    tracing::debug!(error = %e, "namespace controller");
                }
            })
            .await;
    })
}

fn error_policy(ns: Arc<Namespace>, e: &Error, _: Arc<Context>) -> Action {
    tracing::info!(namespace = ns.metadata.name.as_deref().unwrap_or(""), error = %e, "namespace deletion: will retry");
    Action::requeue(RETRY)
}

fn terminating(ns: &Namespace) -> bool {
    ns.metadata.deletion_timestamp.is_some()
}

fn has_finalizer(ns: &Namespace) -> bool {
    ns.spec
        .as_ref()
        .and_then(|s| s.finalizers.as_ref())
        .is_some_and(|f| f.iter().any(|x| x == FINALIZER))
}

/// The longest wait between passes while content remains. Upstream waits half the
/// estimate plus one second (16 s for pods with the default grace period); pods usually
/// go much sooner, and a pass is cheap, so krust looks again at least this often.
const MAX_REQUEUE: Duration = Duration::from_secs(5);

/// How long to wait before looking again when content remains: half the estimate plus
/// one second, as upstream, but at most [`MAX_REQUEUE`].
fn requeue_after(estimate: i64) -> Duration {
    Duration::from_secs(u64::try_from(estimate / 2 + 1).unwrap_or(1)).min(MAX_REQUEUE)
}

async fn reconcile(cached: Arc<Namespace>, ctx: Arc<Context>) -> Result<Action, Error> {
    if !terminating(&cached) {
        return Ok(Action::await_change());
    }
    let name = cached.metadata.name.clone().unwrap_or_default();
    let api: Api<Namespace> = Api::all(ctx.client.clone());
    // Several controllers edit a terminating namespace: work from its latest state.
    let Some(mut ns) = api.get_opt(&name).await? else {
        return Ok(Action::await_change());
    };
    if !terminating(&ns) || !has_finalizer(&ns) {
        return Ok(Action::await_change());
    }
    let outcome = deleter::delete_all_content(&ctx.client, &ns).await;
    let status = ns.status.clone().unwrap_or_default();
    let mut conds = status.conditions.clone().unwrap_or_default();
    let changed = conditions::update(&mut conds, &outcome.report, &Time(Timestamp::now()));
    if changed || status.phase.as_deref() != Some("Terminating") {
        let body = json!({"status": {"phase": "Terminating", "conditions": conds}});
        match api
            .patch_status(&name, &PatchParams::default(), &Patch::Merge(&body))
            .await
        {
            // Finalize from the updated namespace (its resourceVersion moved).
            Ok(updated) => ns = updated,
            Err(e) => tracing::info!(namespace = %name, error = %e, "cannot update namespace conditions"),
        }
    }
    if !outcome.report.content_errors.is_empty() {
        return Err(Error::Content(outcome.report.content_errors.join(", ")));
    }
    if outcome.report.content_remains() || outcome.estimate > 0 {
        tracing::debug!(namespace = %name, estimate = outcome.estimate, "namespace content remains");
        return Ok(Action::requeue(requeue_after(outcome.estimate)));
    }
    finalize(&api, &ns).await?;
    tracing::info!(namespace = %name, "namespace content deleted; finalized");
    Ok(Action::await_change())
}

/// Removes our finalizer through the `finalize` subresource.
async fn finalize(api: &Api<Namespace>, ns: &Namespace) -> Result<(), Error> {
    let mut done = ns.clone();
    if let Some(spec) = done.spec.as_mut() {
        let rest: Vec<String> = spec
            .finalizers
            .iter()
            .flatten()
            .filter(|f| *f != FINALIZER)
            .cloned()
            .collect();
        spec.finalizers = Some(rest);
    }
    let name = ns.metadata.name.as_deref().unwrap_or_default();
    match api
        .replace_subresource("finalize", name, &PostParams::default(), &done)
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if apierror::is_not_found(&e) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::NamespaceSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    #[test]
    fn requeue_is_half_the_estimate_plus_one_capped() {
        assert_eq!(requeue_after(0), Duration::from_secs(1));
        assert_eq!(requeue_after(4), Duration::from_secs(3));
        assert_eq!(requeue_after(30), MAX_REQUEUE);
    }

    #[test]
    fn only_terminating_namespaces_with_our_finalizer_are_worked_on() {
        let mut ns = Namespace {
            metadata: ObjectMeta::default(),
            spec: Some(NamespaceSpec {
                finalizers: Some(vec![FINALIZER.into()]),
            }),
            status: None,
        };
        assert!(!terminating(&ns) && has_finalizer(&ns));
        ns.metadata.deletion_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
        assert!(terminating(&ns));
        ns.spec = None;
        assert!(!has_finalizer(&ns));
    }
}
