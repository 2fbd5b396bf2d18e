//! The sync loop: watch caches of Services and EndpointSlices, turn each burst of changes
//! into one render, and load the result only when its text changed.
//!
//! [`run`] wires the kube watchers to [`drive`], which knows nothing about the API server:
//! it consumes a stream of [`Signal`]s and reads a snapshot closure, so it is tested with
//! a channel and a fake [`Applier`].

use std::{
    pin::pin,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use futures_util::{Stream, StreamExt as _};
use k8s_openapi::api::{core::v1::Service, discovery::v1::EndpointSlice};
use kube::{
    Api,
    runtime::{WatchStreamExt as _, reflector, watcher},
};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::{Applier, ProxyConfig, ProxyError, render::ruleset_of};

/// How long to gather changes before rendering: a rollout touches a Service's slices
/// several times within milliseconds, and one sync should cover them all.
const DEBOUNCE: Duration = Duration::from_millis(15);
/// First wait after a failed apply; doubled per failure up to [`BACKOFF_MAX`].
const BACKOFF_START: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// Counters of the sync loop, for the agent to log or export.
#[derive(Debug, Default)]
pub struct SyncStats {
    applied: AtomicU64,
    unchanged: AtomicU64,
    failures: AtomicU64,
    last_micros: AtomicU64,
}

impl SyncStats {
    /// Syncs whose script was loaded into the kernel.
    pub fn applied(&self) -> u64 {
        self.applied.load(Ordering::Relaxed)
    }

    /// Syncs skipped because the rendered text equalled the last loaded one.
    pub fn unchanged(&self) -> u64 {
        self.unchanged.load(Ordering::Relaxed)
    }

    /// Syncs whose apply failed (each is retried with back-off).
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// Render plus apply time of the last successful sync that loaded rules.
    pub fn last_sync(&self) -> Option<Duration> {
        match self.last_micros.load(Ordering::Relaxed) {
            0 => None,
            micros => Some(Duration::from_micros(micros)),
        }
    }
}

/// Runs the proxy until `cancel` fires, then deletes its table.
///
/// Watches Services and EndpointSlices cluster-wide; nothing is loaded until both have
/// been listed once, so a restart never programs a half-known cluster.
pub async fn run(
    client: kube::Client,
    cfg: ProxyConfig,
    applier: impl Applier,
    cancel: CancellationToken,
) -> Result<(), ProxyError> {
    run_with_stats(client, cfg, applier, cancel, Arc::default()).await
}

/// [`run`], recording into `stats` so the caller can report sync counts and durations.
pub async fn run_with_stats(
    client: kube::Client,
    cfg: ProxyConfig,
    applier: impl Applier,
    cancel: CancellationToken,
    stats: Arc<SyncStats>,
) -> Result<(), ProxyError> {
    cfg.validate()?;
    let (services, services_writer) = reflector::store::<Service>();
    let (slices, slices_writer) = reflector::store::<EndpointSlice>();
    let service_signals = reflector(
        services_writer,
        watcher(Api::<Service>::all(client.clone()), watcher::Config::default()),
    )
    .default_backoff()
    .filter_map(|event| std::future::ready(signal(Kind::Services, event)))
    .chain(futures_util::stream::once(std::future::ready(Signal::Ended(
        Kind::Services,
    ))));
    let slice_signals = reflector(
        slices_writer,
        watcher(Api::<EndpointSlice>::all(client), watcher::Config::default()),
    )
    .default_backoff()
    .filter_map(|event| std::future::ready(signal(Kind::Slices, event)))
    .chain(futures_util::stream::once(std::future::ready(Signal::Ended(
        Kind::Slices,
    ))));
    let signals = futures_util::stream::select(service_signals, slice_signals);
    let snapshot = move || (services.state(), slices.state());
    drive(
        signals,
        snapshot,
        Syncer::new(cfg, Arc::new(applier), stats),
        cancel,
    )
    .await
}

/// Which cache a [`Signal`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Services,
    Slices,
}

impl Kind {
    fn plural(self) -> &'static str {
        match self {
            Self::Services => "services",
            Self::Slices => "endpointslices",
        }
    }
}

/// What the loop needs to know from a watch stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Signal {
    /// An object was added, changed or deleted.
    Changed(Kind),
    /// A (re-)list finished: the cache is complete.
    Listed(Kind),
    /// The stream ended; the cache would go stale.
    Ended(Kind),
}

/// Keeps list completion and real changes; logs watch errors, which the back-off retries.
fn signal<K>(kind: Kind, event: Result<watcher::Event<K>, watcher::Error>) -> Option<Signal> {
    match event {
        Ok(watcher::Event::Apply(_) | watcher::Event::Delete(_)) => Some(Signal::Changed(kind)),
        Ok(watcher::Event::InitDone) => Some(Signal::Listed(kind)),
        Ok(watcher::Event::Init | watcher::Event::InitApply(_)) => None,
        Err(error) => {
            warn!(%error, kind = kind.plural(), "watch failed; retrying");
            None
        }
    }
}

/// The cached objects one sync renders from.
pub(crate) type Snapshot = (Vec<Arc<Service>>, Vec<Arc<EndpointSlice>>);

/// The loop proper: debounce, wait for both lists, sync, back off on failure, clean up.
pub(crate) async fn drive<A: Applier>(
    signals: impl Stream<Item = Signal>,
    snapshot: impl Fn() -> Snapshot,
    mut syncer: Syncer<A>,
    cancel: CancellationToken,
) -> Result<(), ProxyError> {
    let mut signals = pin!(signals);
    let (mut services_listed, mut slices_listed) = (false, false);
    let mut due: Option<Instant> = None;
    let mut backoff = BACKOFF_START;
    let result = loop {
        let wake = due.filter(|_| services_listed && slices_listed);
        tokio::select! {
            biased;
            () = cancel.cancelled() => break Ok(()),
            signal = signals.next() => match signal {
                Some(Signal::Changed(_)) => {
                    due.get_or_insert_with(|| Instant::now() + DEBOUNCE);
                }
                Some(Signal::Listed(kind)) => {
                    match kind {
                        Kind::Services => services_listed = true,
                        Kind::Slices => slices_listed = true,
                    }
                    due.get_or_insert_with(|| Instant::now() + DEBOUNCE);
                }
                Some(Signal::Ended(kind)) => break Err(ProxyError::WatchEnded(kind.plural())),
                None => break Err(ProxyError::WatchEnded("services and endpointslices")),
            },
            () = sleep_until(wake), if wake.is_some() => {
                due = None;
                let (services, slices) = snapshot();
                match syncer.sync(services, slices).await {
                    Ok(()) => backoff = BACKOFF_START,
                    Err(error) => {
                        warn!(%error, retry_in = ?backoff, "loading service rules failed");
                        due = Some(Instant::now() + backoff);
                        backoff = (backoff * 2).min(BACKOFF_MAX);
                    }
                }
            }
        }
    };
    // Only a requested stop removes the rules: after a failure they keep traffic flowing
    // until the agent restarts the proxy.
    if result.is_ok()
        && let Err(error) = syncer.remove().await
    {
        warn!(%error, table = %syncer.cfg.table, "removing service rules failed");
    }
    result
}

async fn sleep_until(deadline: Option<Instant>) {
    if let Some(deadline) = deadline {
        tokio::time::sleep_until(deadline).await;
    }
}

/// Renders and applies, remembering the last loaded text so equal renders cost no `nft` run.
pub(crate) struct Syncer<A> {
    cfg: Arc<ProxyConfig>,
    applier: Arc<A>,
    last: Option<String>,
    stats: Arc<SyncStats>,
}

impl<A: Applier> Syncer<A> {
    pub(crate) fn new(cfg: ProxyConfig, applier: Arc<A>, stats: Arc<SyncStats>) -> Self {
        Self {
            cfg: Arc::new(cfg),
            applier,
            last: None,
            stats,
        }
    }

    /// One sync, off the async runtime: rendering 1,000 services and running nft block.
    async fn sync(
        &mut self,
        services: Vec<Arc<Service>>,
        slices: Vec<Arc<EndpointSlice>>,
    ) -> Result<(), ProxyError> {
        let cfg = Arc::clone(&self.cfg);
        let applier = Arc::clone(&self.applier);
        let stats = Arc::clone(&self.stats);
        let last = self.last.take();
        let (result, last) = tokio::task::spawn_blocking(move || {
            let start = std::time::Instant::now();
            let services: Vec<&Service> = services.iter().map(Arc::as_ref).collect();
            let slices: Vec<&EndpointSlice> = slices.iter().map(Arc::as_ref).collect();
            let text = ruleset_of(&cfg, &services, &slices);
            if last.as_deref() == Some(text.as_str()) {
                stats.unchanged.fetch_add(1, Ordering::Relaxed);
                return (Ok(()), last);
            }
            match applier.apply(&text) {
                Ok(()) => {
                    let elapsed = start.elapsed();
                    stats.applied.fetch_add(1, Ordering::Relaxed);
                    let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX).max(1);
                    stats.last_micros.store(micros, Ordering::Relaxed);
                    debug!(
                        ?elapsed,
                        bytes = text.len(),
                        services = services.len(),
                        "service rules synced"
                    );
                    (Ok(()), Some(text))
                }
                Err(error) => {
                    stats.failures.fetch_add(1, Ordering::Relaxed);
                    // nft loads all or nothing, so the kernel still holds `last`.
                    (Err(error), last)
                }
            }
        })
        .await
        .map_err(|e| ProxyError::Task(e.to_string()))?;
        self.last = last;
        result
    }

    async fn remove(&self) -> Result<(), ProxyError> {
        let applier = Arc::clone(&self.applier);
        let table = self.cfg.table.clone();
        tokio::task::spawn_blocking(move || applier.remove(&table))
            .await
            .map_err(|e| ProxyError::Task(e.to_string()))?
    }
}

#[cfg(test)]
mod tests;
