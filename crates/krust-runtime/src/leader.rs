//! Leader election over a coordination.k8s.io Lease, as client-go's leaderelection does:
//! the holder renews the lease every `retry_period`; others take it over once it has not
//! been renewed for `lease_duration`; a holder that cannot renew within `renew_deadline`
//! stops acting before anyone else may start.

use std::future::Future;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, PostParams};
use tokio_util::sync::CancellationToken;

/// Which lease, who we are, and the timings.
#[derive(Debug, Clone)]
pub struct LeaderConfig {
    /// Lease namespace (`kube-system`).
    pub namespace: String,
    /// Lease name (`kube-scheduler`).
    pub name: String,
    /// This instance's identity (host name plus a random suffix).
    pub identity: String,
    /// How long a lease is valid without renewal (15 s upstream).
    pub lease_duration: Duration,
    /// How long a leader keeps trying to renew before it gives up (10 s upstream).
    pub renew_deadline: Duration,
    /// How often to try acquiring or renewing (2 s upstream).
    pub retry_period: Duration,
}

impl LeaderConfig {
    /// Upstream's default timings for a lease in `kube-system`.
    pub fn new(name: &str, identity: &str) -> Self {
        Self {
            namespace: "kube-system".into(),
            name: name.into(),
            identity: identity.into(),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

/// Whether the lease can be taken by `me` now.
fn available(lease: &Lease, me: &str, now: jiff::Timestamp) -> bool {
    let Some(spec) = &lease.spec else { return true };
    let holder = spec.holder_identity.as_deref().unwrap_or("");
    if holder.is_empty() || holder == me {
        return true;
    }
    let renewed = spec
        .renew_time
        .as_ref()
        .map(|t| t.0)
        .or(spec.acquire_time.as_ref().map(|t| t.0));
    let duration = i64::from(spec.lease_duration_seconds.unwrap_or(15));
    match renewed {
        Some(t) => t.as_second() + duration < now.as_second(),
        None => true,
    }
}

/// Tries once to acquire or renew; true when we hold the lease afterwards.
async fn try_acquire(api: &Api<Lease>, cfg: &LeaderConfig) -> bool {
    let now = jiff::Timestamp::now();
    let seconds = i32::try_from(cfg.lease_duration.as_secs()).unwrap_or(15);
    match api.get_opt(&cfg.name).await {
        Ok(None) => {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(cfg.name.clone()),
                    ..Default::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(cfg.identity.clone()),
                    lease_duration_seconds: Some(seconds),
                    acquire_time: Some(MicroTime(now)),
                    renew_time: Some(MicroTime(now)),
                    lease_transitions: Some(0),
                    ..Default::default()
                }),
            };
            api.create(&PostParams::default(), &lease).await.is_ok()
        }
        Ok(Some(mut lease)) => {
            if !available(&lease, &cfg.identity, now) {
                return false;
            }
            let spec = lease.spec.get_or_insert_with(Default::default);
            if spec.holder_identity.as_deref() != Some(cfg.identity.as_str()) {
                spec.holder_identity = Some(cfg.identity.clone());
                spec.acquire_time = Some(MicroTime(now));
                spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
            }
            spec.renew_time = Some(MicroTime(now));
            spec.lease_duration_seconds = Some(seconds);
            // The resourceVersion in `lease` makes this a compare-and-swap.
            api.replace(&cfg.name, &PostParams::default(), &lease)
                .await
                .is_ok()
        }
        Err(e) => {
            tracing::debug!(lease = %cfg.name, error = %e, "reading lease failed");
            false
        }
    }
}

/// Runs `work` whenever this instance holds the lease, until `shutdown`. `work` gets a
/// token that is cancelled when leadership is lost; it should return promptly then, and
/// it is started again if leadership comes back.
pub async fn run_as_leader<F, Fut>(
    client: kube::Client,
    cfg: LeaderConfig,
    shutdown: CancellationToken,
    work: F,
) where
    F: Fn(CancellationToken) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let api: Api<Lease> = Api::namespaced(client, &cfg.namespace);
    loop {
        // Acquire.
        loop {
            if try_acquire(&api, &cfg).await {
                break;
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(cfg.retry_period) => {}
            }
        }
        tracing::info!(lease = %cfg.name, identity = %cfg.identity, "became leader");
        let lost = shutdown.child_token();
        let task = tokio::spawn(work(lost.clone()));
        // Renew until we cannot, or shutdown.
        let mut last_renewed = tokio::time::Instant::now();
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => {
                    lost.cancel();
                    let _ = task.await;
                    release(&api, &cfg).await;
                    return;
                }
                _ = tokio::time::sleep(cfg.retry_period) => {}
            }
            if try_acquire(&api, &cfg).await {
                last_renewed = tokio::time::Instant::now();
            } else if last_renewed.elapsed() >= cfg.renew_deadline {
                tracing::warn!(lease = %cfg.name, "lost leadership");
                lost.cancel();
                let _ = task.await;
                break;
            }
        }
    }
}

/// Gives the lease up at shutdown so another instance can take over at once.
async fn release(api: &Api<Lease>, cfg: &LeaderConfig) {
    if let Ok(Some(mut lease)) = api.get_opt(&cfg.name).await
        && let Some(spec) = lease
            .spec
            .as_mut()
            .filter(|s| s.holder_identity.as_deref() == Some(cfg.identity.as_str()))
    {
        spec.holder_identity = None;
        spec.renew_time = None;
        let _ = api.replace(&cfg.name, &PostParams::default(), &lease).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(holder: &str, renewed_secs_ago: i64) -> Lease {
        let now = jiff::Timestamp::now();
        Lease {
            metadata: ObjectMeta::default(),
            spec: Some(LeaseSpec {
                holder_identity: Some(holder.into()),
                lease_duration_seconds: Some(15),
                renew_time: Some(MicroTime(now - jiff::SignedDuration::from_secs(renewed_secs_ago))),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn availability() {
        let now = jiff::Timestamp::now();
        assert!(available(&lease("me", 1), "me", now));
        assert!(!available(&lease("other", 1), "me", now));
        assert!(available(&lease("other", 30), "me", now));
        assert!(available(&lease("", 1), "me", now));
        assert!(available(&Lease::default(), "me", now));
    }
}
