//! Recording events.k8s.io/v1 Events without storms: requests go through a bounded channel
//! to one task; a repeat of the same event (same object, reason and note) within 6 minutes
//! becomes a series count on the first event, written at most every few seconds, instead
//! of a new object.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use serde_json::json;
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

use crate::api::ClusterApi;
use crate::framework::PodInfo;

/// A repeat within this window joins the earlier event's series.
const SERIES_WINDOW: Duration = Duration::from_secs(6 * 60);
/// A series is written at most this often.
const SERIES_WRITE_INTERVAL: Duration = Duration::from_secs(5);
/// Events waiting to be written; beyond this new events are dropped (and logged).
const QUEUE: usize = 10_000;
/// Events API limit on the note.
const MAX_NOTE: usize = 1024;
/// Event writes in flight at once.
const PARALLEL_WRITES: usize = 16;

/// One event to record.
#[derive(Debug, Clone)]
pub(crate) struct EventRequest {
    pub regarding: ObjectReference,
    pub related: Option<ObjectReference>,
    pub warning: bool,
    pub reason: &'static str,
    pub action: &'static str,
    pub note: String,
    /// Whether repeats should join a series (false for one-off events such as Scheduled).
    pub aggregate: bool,
}

/// The sending side.
#[derive(Clone)]
pub(crate) struct EventRecorder {
    tx: mpsc::Sender<EventRequest>,
}

/// A reference to a pod for `regarding`/`related`.
pub(crate) fn pod_ref(pod: &PodInfo) -> ObjectReference {
    ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("Pod".into()),
        namespace: Some(pod.namespace().to_string()),
        name: Some(pod.name().to_string()),
        uid: pod.pod.metadata.uid.clone(),
        resource_version: pod.pod.metadata.resource_version.clone(),
        ..Default::default()
    }
}

fn truncate(mut s: String) -> String {
    if s.len() > MAX_NOTE {
        let mut end = MAX_NOTE - 3;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push_str("...");
    }
    s
}

impl EventRecorder {
    /// A recorder and the task that writes its events through `api`.
    pub(crate) fn new(api: Arc<dyn ClusterApi>, controller: String, instance: String) -> (Self, EventTask) {
        let (tx, rx) = mpsc::channel(QUEUE);
        (
            Self { tx },
            EventTask {
                api,
                controller,
                instance,
                rx,
            },
        )
    }

    /// Queues an event; drops it when the queue is full.
    pub(crate) fn record(&self, req: EventRequest) {
        if let Err(e) = self.tx.try_send(req) {
            tracing::debug!(error = %e, "event dropped");
        }
    }
}

/// The task writing queued events.
pub(crate) struct EventTask {
    api: Arc<dyn ClusterApi>,
    controller: String,
    instance: String,
    rx: mpsc::Receiver<EventRequest>,
}

impl EventTask {
    /// Writes events until `shutdown`.
    pub(crate) async fn run(self, shutdown: CancellationToken) {
        run(self.api, self.controller, self.instance, self.rx, shutdown).await
    }
}

struct Series {
    namespace: String,
    name: String,
    count: i32,
    first: Instant,
    last_write: Instant,
    pending: bool,
}

async fn run(
    api: Arc<dyn ClusterApi>,
    controller: String,
    instance: String,
    mut rx: mpsc::Receiver<EventRequest>,
    shutdown: CancellationToken,
) {
    let mut series: HashMap<(String, &'static str, String), Series> = HashMap::new();
    let writes = Arc::new(Semaphore::new(PARALLEL_WRITES));
    let mut tick = tokio::time::interval(SERIES_WRITE_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {
                flush(&api, &writes, &mut series, Instant::now()).await;
                series.retain(|_, s| s.first.elapsed() < SERIES_WINDOW || s.pending);
            }
            req = rx.recv() => {
                let Some(req) = req else { return };
                handle(&api, &writes, &controller, &instance, &mut series, req).await;
            }
        }
    }
}

/// Runs an API write in the background, at most [`PARALLEL_WRITES`] at once.
async fn spawn_write<F>(writes: &Arc<Semaphore>, write: F)
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let Ok(permit) = writes.clone().acquire_owned().await else {
        return;
    };
    tokio::spawn(async move {
        write.await;
        drop(permit);
    });
}

async fn flush(
    api: &Arc<dyn ClusterApi>,
    writes: &Arc<Semaphore>,
    series: &mut HashMap<(String, &'static str, String), Series>,
    now: Instant,
) {
    for s in series.values_mut().filter(|s| s.pending) {
        if now.duration_since(s.last_write) < SERIES_WRITE_INTERVAL {
            continue;
        }
        write_series(api, writes, s, now).await;
    }
}

async fn write_series(api: &Arc<dyn ClusterApi>, writes: &Arc<Semaphore>, s: &mut Series, now: Instant) {
    let patch = json!({"series": {"count": s.count, "lastObservedTime": MicroTime(jiff::Timestamp::now())}});
    let (api, ns, name) = (api.clone(), s.namespace.clone(), s.name.clone());
    spawn_write(writes, async move {
        if let Err(e) = api.patch_event(&ns, &name, patch).await {
            tracing::debug!(event = %name, error = %e, "updating event series failed");
        }
    })
    .await;
    s.last_write = now;
    s.pending = false;
}

async fn handle(
    api: &Arc<dyn ClusterApi>,
    writes: &Arc<Semaphore>,
    controller: &str,
    instance: &str,
    series: &mut HashMap<(String, &'static str, String), Series>,
    req: EventRequest,
) {
    let note = truncate(req.note);
    let uid = req.regarding.uid.clone().unwrap_or_default();
    let now = Instant::now();
    let key = (uid, req.reason, note.clone());
    if req.aggregate
        && let Some(s) = series.get_mut(&key)
        && now.duration_since(s.first) < SERIES_WINDOW
    {
        s.count += 1;
        s.pending = true;
        if now.duration_since(s.last_write) >= SERIES_WRITE_INTERVAL {
            write_series(api, writes, s, now).await;
        }
        return;
    }
    let ts = jiff::Timestamp::now();
    let namespace = req
        .regarding
        .namespace
        .clone()
        .unwrap_or_else(|| "default".into());
    let name = format!(
        "{}.{:x}",
        req.regarding.name.as_deref().unwrap_or(controller),
        ts.as_nanosecond()
    );
    let event = Event {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(namespace.clone()),
            ..Default::default()
        },
        event_time: Some(MicroTime(ts)),
        action: Some(req.action.into()),
        reason: Some(req.reason.into()),
        note: Some(note),
        type_: Some(if req.warning { "Warning" } else { "Normal" }.into()),
        regarding: Some(req.regarding),
        related: req.related,
        reporting_controller: Some(controller.to_string()),
        reporting_instance: Some(instance.to_string()),
        ..Default::default()
    };
    let api = api.clone();
    let event_name = name.clone();
    spawn_write(writes, async move {
        if let Err(e) = api.create_event(&event).await {
            tracing::debug!(event = %event_name, error = %e, "recording event failed");
        }
    })
    .await;
    if req.aggregate {
        series.insert(
            key,
            Series {
                namespace,
                name,
                count: 1,
                first: now,
                last_write: now,
                pending: false,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::fake::{Call, FakeApi};
    use crate::plugins::testing::pod;

    fn failed(note: &str) -> EventRequest {
        EventRequest {
            regarding: pod_ref(&pod("p").info()),
            related: None,
            warning: true,
            reason: "FailedScheduling",
            action: "Scheduling",
            note: note.into(),
            aggregate: true,
        }
    }

    async fn settle() {
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn repeats_become_a_series() {
        let api = FakeApi::default();
        let (rec, task) = EventRecorder::new(Arc::new(api.clone()), "default-scheduler".into(), "i".into());
        let token = CancellationToken::new();
        tokio::spawn(task.run(token.clone()));
        rec.record(failed("0/1 nodes are available: 1 Insufficient cpu."));
        rec.record(failed("0/1 nodes are available: 1 Insufficient cpu."));
        rec.record(failed("0/1 nodes are available: 1 Insufficient cpu."));
        rec.record(failed("0/2 nodes are available: 2 Insufficient cpu."));
        settle().await;
        let creates = |c: &[Call]| c.iter().filter(|c| matches!(c, Call::CreateEvent { .. })).count();
        let patches = |c: &[Call]| {
            c.iter()
                .filter(|c| matches!(c, Call::PatchEvent { .. }))
                .collect::<Vec<_>>()
                .len()
        };
        assert_eq!(creates(&api.calls()), 2);
        assert_eq!(patches(&api.calls()), 0, "repeats are batched");
        tokio::time::advance(Duration::from_secs(6)).await;
        settle().await;
        let calls = api.calls();
        assert_eq!(patches(&calls), 1);
        let count = calls.iter().find_map(|c| match c {
            Call::PatchEvent { patch, .. } => patch["series"]["count"].as_i64(),
            _ => None,
        });
        assert_eq!(count, Some(3));
        token.cancel();
    }
}
