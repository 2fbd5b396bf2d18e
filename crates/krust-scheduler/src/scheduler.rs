//! The scheduler component: `Scheduler::new(config, client)` and `run(shutdown)`. With
//! leader election it schedules only while holding Lease `kube-system/kube-scheduler`; each
//! term starts from fresh informers, cache and queue.

mod binding;
mod cycle;
mod failure;
mod handlers;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Namespace, Node, PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::storage::v1::StorageClass;
use kube::Api;
use parking_lot::Mutex;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::api::{ClusterApi, KubeApi};
use crate::cache::Cache;
use crate::config::SchedulerConfig;
use crate::error::Error;
use crate::events::EventRecorder;
use crate::framework::{ClusterEvent, EventKind, Framework};
use crate::informers::{Change, watch};
use crate::plugins::{Handle, build_framework};
use crate::queue::{QueueConfig, SchedulingQueue};
use crate::stats::Stats;

/// State shared by the informers, the scheduling loop and binding tasks. Lock order: cache
/// before queue, never the other way round.
pub(crate) struct Shared {
    pub config: SchedulerConfig,
    pub framework: Framework,
    pub cache: Mutex<Cache>,
    pub queue: Mutex<SchedulingQueue>,
    /// Wakes the scheduling loop when a pod becomes ready.
    pub wake: Notify,
    pub api: Arc<dyn ClusterApi>,
    pub recorder: EventRecorder,
    pub stats: Stats,
    /// Limits bindings in flight.
    pub bindings: Arc<Semaphore>,
    /// Informers that must deliver a full list before scheduling starts (pods, nodes).
    pub unsynced: AtomicUsize,
    pub synced: Notify,
}

impl Shared {
    pub(crate) fn new(
        config: SchedulerConfig,
        framework: Framework,
        api: Arc<dyn ClusterApi>,
        recorder: EventRecorder,
        stats: Stats,
    ) -> Self {
        let queue = SchedulingQueue::new(QueueConfig {
            initial_backoff: Duration::from_secs(config.pod_initial_backoff_seconds),
            max_backoff: Duration::from_secs(config.pod_max_backoff_seconds),
            max_unschedulable: Duration::from_secs(config.pod_max_in_unschedulable_pods_seconds),
        });
        Self {
            cache: Mutex::new(Cache::new(Duration::from_secs(config.assumed_pod_ttl_seconds))),
            queue: Mutex::new(queue),
            wake: Notify::new(),
            bindings: Arc::new(Semaphore::new(config.parallel_bindings.max(1))),
            unsynced: AtomicUsize::new(2),
            synced: Notify::new(),
            config,
            framework,
            api,
            recorder,
            stats,
        }
    }

    /// Moves unschedulable pods `event` may help, and wakes the loop if any moved.
    pub(crate) fn on_event(&self, event: ClusterEvent) {
        let moved = self
            .queue
            .lock()
            .move_on_event(&event, Instant::now(), &|qp, ev| {
                self.framework.event_may_help(qp, ev)
            });
        if moved > 0 {
            self.wake.notify_one();
        }
    }

    fn mark_synced(&self) {
        if self.unsynced.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.synced.notify_waiters();
        }
    }
}

/// The scheduler component.
pub struct Scheduler {
    config: SchedulerConfig,
    client: kube::Client,
    stats: Stats,
}

impl Scheduler {
    /// A scheduler using `client` to reach the API server.
    pub fn new(config: SchedulerConfig, client: kube::Client) -> Self {
        Self {
            config,
            client,
            stats: Stats::default(),
        }
    }

    /// Counters of this scheduler (readable while it runs).
    pub fn stats(&self) -> Stats {
        self.stats.clone()
    }

    /// Schedules pods until `shutdown` (while leader, with leader election).
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), Error> {
        // Reject a bad profile before campaigning for leadership.
        let probe: Arc<dyn ClusterApi> = Arc::new(KubeApi::new(self.client.clone()));
        build_framework(&self.config.profile, &Handle { api: probe }).map_err(Error::Config)?;
        if !self.config.leader_elect {
            return run_active(self.config, self.client, self.stats, shutdown).await;
        }
        let suffix: u32 = rand::random();
        let identity = format!("{}_{suffix:08x}", self.config.identity);
        let lease = krust_runtime::LeaderConfig::new("kube-scheduler", &identity);
        let (config, client, stats) = (self.config, self.client, self.stats);
        krust_runtime::run_as_leader(client.clone(), lease, shutdown, move |lost| {
            let (config, client, stats) = (config.clone(), client.clone(), stats.clone());
            async move {
                if let Err(e) = run_active(config, client, stats, lost).await {
                    tracing::error!(error = %e, "scheduler stopped");
                }
            }
        })
        .await;
        Ok(())
    }
}

/// Runs informers, the event writer, the assumed-pod janitor and the scheduling loop until
/// `shutdown`.
async fn run_active(
    config: SchedulerConfig,
    client: kube::Client,
    stats: Stats,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let api: Arc<dyn ClusterApi> = Arc::new(KubeApi::new(client.clone()));
    let framework = build_framework(&config.profile, &Handle { api: api.clone() }).map_err(Error::Config)?;
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "krust".into());
    let (recorder, events) = EventRecorder::new(
        api.clone(),
        config.scheduler_name.clone(),
        format!("{}-{host}", config.scheduler_name),
    );
    let shared = Arc::new(Shared::new(config, framework, api, recorder, stats));
    let token = shutdown.child_token();
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(events.run(token.clone()));
    spawn_informers(&mut tasks, &shared, &client, &token);
    tasks.spawn(janitor(shared.clone(), token.clone()));
    tracing::info!(scheduler = %shared.config.scheduler_name, "scheduler waiting for the pod and node lists");
    loop {
        let notified = shared.synced.notified();
        if shared.unsynced.load(Ordering::SeqCst) == 0 {
            break;
        }
        tokio::select! {
            _ = token.cancelled() => break,
            _ = notified => {}
        }
    }
    if !token.is_cancelled() {
        tracing::info!(nodes = shared.cache.lock().node_count(), "scheduler started");
        cycle::scheduling_loop(shared.clone(), token.clone()).await;
    }
    token.cancel();
    while tasks.join_next().await.is_some() {}
    Ok(())
}

fn spawn_informers(
    tasks: &mut tokio::task::JoinSet<()>,
    shared: &Arc<Shared>,
    client: &kube::Client,
    token: &CancellationToken,
) {
    let s = shared.clone();
    tasks.spawn(watch(
        Api::<Pod>::all(client.clone()),
        "pods",
        move |c| s.on_pod_change(c),
        token.clone(),
    ));
    let s = shared.clone();
    tasks.spawn(watch(
        Api::<Node>::all(client.clone()),
        "nodes",
        move |c| s.on_node_change(c),
        token.clone(),
    ));
    let s = shared.clone();
    tasks.spawn(watch(
        Api::<Namespace>::all(client.clone()),
        "namespaces",
        move |c| s.on_namespace_change(c),
        token.clone(),
    ));
    let s = shared.clone();
    tasks.spawn(watch(
        Api::<PersistentVolume>::all(client.clone()),
        "persistentvolumes",
        move |c| s.on_pv_change(c),
        token.clone(),
    ));
    let s = shared.clone();
    tasks.spawn(watch(
        Api::<PersistentVolumeClaim>::all(client.clone()),
        "persistentvolumeclaims",
        move |c| s.on_pvc_change(c),
        token.clone(),
    ));
    let s = shared.clone();
    tasks.spawn(watch(
        Api::<StorageClass>::all(client.clone()),
        "storageclasses",
        move |c| s.on_class_change(c),
        token.clone(),
    ));
    let s = shared.clone();
    tasks.spawn(watch(
        Api::<PodDisruptionBudget>::all(client.clone()),
        "poddisruptionbudgets",
        move |c: Change<PodDisruptionBudget>| s.on_pdb_change(c),
        token.clone(),
    ));
}

/// Drops assumed pods the informer never confirmed (their space is free again).
async fn janitor(shared: Arc<Shared>, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let expired = shared.cache.lock().cleanup_expired(Instant::now());
        for pod in expired {
            tracing::warn!(pod = %pod.key, "assumed pod expired without the binding being observed");
            shared.on_event(ClusterEvent::pod(EventKind::AssignedPodDelete, pod));
        }
    }
}
