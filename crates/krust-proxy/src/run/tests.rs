//! The sync loop driven by a channel and a recording applier; time is paused, so the
//! debounce and back-off elapse instantly and nothing depends on the machine's speed.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use tokio::sync::mpsc;

use super::*;
use crate::fixtures::{cfg, ep, service, slice};

/// Records every call; fails the first `failures` applies.
#[derive(Default)]
struct Recorder {
    applied: Mutex<Vec<String>>,
    removed: Mutex<Vec<String>>,
    failures: AtomicUsize,
}

impl Applier for Recorder {
    fn apply(&self, script: &str) -> Result<(), ProxyError> {
        let left = self.failures.load(Ordering::SeqCst);
        if left > 0 {
            self.failures.store(left - 1, Ordering::SeqCst);
            return Err(ProxyError::Nft {
                status: "exit status: 1".into(),
                stderr: "injected".into(),
            });
        }
        self.applied.lock().unwrap().push(script.to_owned());
        Ok(())
    }

    fn remove(&self, table: &str) -> Result<(), ProxyError> {
        self.removed.lock().unwrap().push(table.to_owned());
        Ok(())
    }
}

struct Harness {
    signals: mpsc::UnboundedSender<Signal>,
    objects: Arc<Mutex<Snapshot>>,
    recorder: Arc<Recorder>,
    stats: Arc<SyncStats>,
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), ProxyError>>,
}

impl Harness {
    fn start(failures: usize) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let signals = futures_util::stream::unfold(rx, |mut rx| async { rx.recv().await.map(|s| (s, rx)) });
        let objects: Arc<Mutex<Snapshot>> = Arc::default();
        let recorder = Arc::new(Recorder {
            failures: AtomicUsize::new(failures),
            ..Recorder::default()
        });
        let stats = Arc::new(SyncStats::default());
        let cancel = CancellationToken::new();
        let snapshot = {
            let objects = Arc::clone(&objects);
            move || objects.lock().unwrap().clone()
        };
        let syncer = Syncer::new(cfg(), Arc::clone(&recorder), Arc::clone(&stats));
        let task = tokio::spawn(drive(signals, snapshot, syncer, cancel.clone()));
        Self {
            signals: tx,
            objects,
            recorder,
            stats,
            cancel,
            task,
        }
    }

    fn send(&self, signal: Signal) {
        self.signals.send(signal).unwrap();
    }

    fn listed(&self) {
        self.send(Signal::Listed(Kind::Services));
        self.send(Signal::Listed(Kind::Slices));
    }

    fn set_web(&self, endpoint_ip: &str) {
        let svc = service("ns", "web", "10.43.0.5", &[("", "TCP", 80)]);
        let eps = slice(
            "ns",
            "web",
            "web-a",
            &[("", "TCP", 8080)],
            vec![ep(endpoint_ip, "node-a")],
        );
        *self.objects.lock().unwrap() = (vec![Arc::new(svc)], vec![Arc::new(eps)]);
    }

    fn applied(&self) -> Vec<String> {
        self.recorder.applied.lock().unwrap().clone()
    }

    /// Lets the loop run until it is idle: paused time jumps past every pending timer.
    async fn settle(&self) {
        tokio::time::sleep(Duration::from_secs(120)).await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_burst_of_changes_is_one_sync() {
    let h = Harness::start(0);
    h.set_web("10.42.0.1");
    h.listed();
    for _ in 0..5 {
        h.send(Signal::Changed(Kind::Slices));
    }
    h.settle().await;
    assert_eq!(h.applied().len(), 1);
    assert!(h.applied()[0].contains("dnat to 10.42.0.1:8080"));
    assert_eq!(h.stats.applied(), 1);
    assert!(h.stats.last_sync().is_some());
}

#[tokio::test(start_paused = true)]
async fn nothing_is_loaded_until_both_caches_are_listed() {
    let h = Harness::start(0);
    h.set_web("10.42.0.1");
    h.send(Signal::Listed(Kind::Services));
    h.send(Signal::Changed(Kind::Services));
    h.settle().await;
    assert!(
        h.applied().is_empty(),
        "a half-known cluster must not be programmed"
    );
    h.send(Signal::Listed(Kind::Slices));
    h.settle().await;
    assert_eq!(h.applied().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn unchanged_text_is_not_loaded_again() {
    let h = Harness::start(0);
    h.set_web("10.42.0.1");
    h.listed();
    h.settle().await;
    // A change that does not alter the rules (e.g. a label on a Service).
    h.send(Signal::Changed(Kind::Services));
    h.settle().await;
    assert_eq!(h.applied().len(), 1);
    assert_eq!(h.stats.unchanged(), 1);
    // A real change is loaded.
    h.set_web("10.42.0.2");
    h.send(Signal::Changed(Kind::Slices));
    h.settle().await;
    assert_eq!(h.applied().len(), 2);
    assert!(h.applied()[1].contains("dnat to 10.42.0.2:8080"));
}

#[tokio::test(start_paused = true)]
async fn a_failed_load_is_retried_with_back_off() {
    let h = Harness::start(3);
    h.set_web("10.42.0.1");
    h.listed();
    h.settle().await;
    assert_eq!(h.stats.failures(), 3);
    assert_eq!(
        h.applied().len(),
        1,
        "retried without any new event until it succeeded"
    );
}

#[tokio::test(start_paused = true)]
async fn cancel_removes_the_table_and_returns() {
    let h = Harness::start(0);
    h.set_web("10.42.0.1");
    h.listed();
    h.settle().await;
    h.cancel.cancel();
    h.task.await.unwrap().unwrap();
    assert_eq!(*h.recorder.removed.lock().unwrap(), ["krust-proxy-test"]);
}

#[tokio::test(start_paused = true)]
async fn an_ended_watch_is_an_error_and_keeps_the_rules() {
    let h = Harness::start(0);
    h.send(Signal::Ended(Kind::Slices));
    let err = h.task.await.unwrap().unwrap_err();
    assert!(matches!(err, ProxyError::WatchEnded("endpointslices")), "{err}");
    assert!(h.recorder.removed.lock().unwrap().is_empty());
}

#[test]
fn watch_events_map_to_signals() {
    use kube::runtime::watcher::Event;
    let svc = Service::default();
    assert_eq!(
        signal(Kind::Services, Ok(Event::Apply(svc.clone()))),
        Some(Signal::Changed(Kind::Services))
    );
    assert_eq!(
        signal(Kind::Services, Ok(Event::Delete(svc.clone()))),
        Some(Signal::Changed(Kind::Services))
    );
    assert_eq!(
        signal(Kind::Slices, Ok(Event::<Service>::InitDone)),
        Some(Signal::Listed(Kind::Slices))
    );
    assert_eq!(signal(Kind::Slices, Ok(Event::<Service>::Init)), None);
    assert_eq!(signal(Kind::Slices, Ok(Event::InitApply(svc))), None);
}
