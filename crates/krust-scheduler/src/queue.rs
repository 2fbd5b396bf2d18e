//! The scheduling queue, as upstream's: pods wait in **active** (ordered by priority, then
//! by the time they entered), in **backoff** after a failed attempt (1 s doubling to 10 s
//! per pod), or in **unschedulable** until a cluster event that could help them (a node
//! added or changed, a pod deleted, a volume bound, …) or until they have waited there 5
//! minutes. Pods with scheduling gates wait aside until the gates are removed. Nothing
//! polls: the scheduler sleeps until a pod is added or the next backoff or flush is due.

mod nominator;

use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use nominator::Nominator;

use crate::framework::events::{ClusterEvent, EventKind};
use crate::framework::interface::Nominated;
use crate::framework::pod_info::PodInfo;

/// A pod in the queue with its scheduling history.
#[derive(Debug, Clone)]
pub struct QueuedPodInfo {
    /// The pod.
    pub info: Arc<PodInfo>,
    /// When it entered its current sub-queue (orders active pods of equal priority).
    pub timestamp: Instant,
    /// When it was first seen (for end-to-end latency).
    pub initial: Instant,
    /// Scheduling attempts so far.
    pub attempts: u32,
    /// Plugins that rejected it in its last attempt (empty after an error).
    pub unschedulable_plugins: BTreeSet<&'static str>,
}

/// Queue timings.
#[derive(Debug, Clone, Copy)]
pub struct QueueConfig {
    /// Backoff after the first failure.
    pub initial_backoff: Duration,
    /// Longest backoff.
    pub max_backoff: Duration,
    /// Longest stay in unschedulable without an event.
    pub max_unschedulable: Duration,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(10),
            max_unschedulable: Duration::from_secs(300),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Active,
    Backoff,
    Unschedulable,
    InFlight,
    Gated,
}

#[derive(Debug)]
struct Entry {
    qp: QueuedPodInfo,
    place: Place,
    /// Bumped on every move; heap items with an older seq are stale.
    seq: u64,
    /// The pod changed while it was being scheduled.
    updated_in_flight: bool,
}

#[derive(Debug, PartialEq, Eq)]
struct ActiveItem {
    priority: i32,
    timestamp: Instant,
    seq: u64,
    key: String,
}

impl Ord for ActiveItem {
    fn cmp(&self, other: &Self) -> Ordering {
        // Max-heap: higher priority first, then the earlier timestamp.
        self.priority
            .cmp(&other.priority)
            .then_with(|| other.timestamp.cmp(&self.timestamp))
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

impl PartialOrd for ActiveItem {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// What [`SchedulingQueue::pop`] found.
#[derive(Debug)]
pub enum Pop {
    /// A pod to schedule now.
    Pod(QueuedPodInfo),
    /// Nothing is ready; wake up at this time at the latest (None: only on a new event).
    Wait(Option<Instant>),
}

/// The queue.
#[derive(Debug)]
pub struct SchedulingQueue {
    config: QueueConfig,
    pods: HashMap<String, Entry>,
    active: BinaryHeap<ActiveItem>,
    backoff: BinaryHeap<Reverse<(Instant, u64, String)>>,
    unschedulable: BTreeMap<(Instant, u64), String>,
    next_seq: u64,
    scheduling_cycle: u64,
    move_request_cycle: u64,
    nominator: Nominator,
}

/// Backoff after `attempts` failed attempts: the initial backoff doubled per further
/// attempt, at most the maximum.
fn backoff_duration(config: &QueueConfig, attempts: u32) -> Duration {
    let mut d = config.initial_backoff;
    for _ in 1..attempts {
        if d >= config.max_backoff / 2 {
            return config.max_backoff;
        }
        d *= 2;
    }
    d.min(config.max_backoff)
}

fn has_gates(info: &PodInfo) -> bool {
    info.spec()
        .scheduling_gates
        .as_ref()
        .is_some_and(|g| !g.is_empty())
}

/// Whether a pod changed in a way that may change the scheduling result (anything but
/// status and bookkeeping metadata).
fn spec_or_labels_changed(old: &PodInfo, new: &PodInfo) -> bool {
    old.pod.spec != new.pod.spec
        || old.pod.metadata.labels != new.pod.metadata.labels
        || old.pod.metadata.annotations != new.pod.metadata.annotations
}

impl SchedulingQueue {
    /// An empty queue.
    pub fn new(config: QueueConfig) -> Self {
        Self {
            config,
            pods: HashMap::new(),
            active: BinaryHeap::new(),
            backoff: BinaryHeap::new(),
            unschedulable: BTreeMap::new(),
            next_seq: 0,
            scheduling_cycle: 0,
            move_request_cycle: 0,
            nominator: Nominator::default(),
        }
    }

    /// Moves the entry `key` to `place`, indexing it there.
    fn put(&mut self, key: &str, place: Place) {
        self.next_seq += 1;
        let seq = self.next_seq;
        let Some(e) = self.pods.get_mut(key) else { return };
        if e.place == Place::Unschedulable {
            self.unschedulable.remove(&(e.qp.timestamp, e.seq));
        }
        e.place = place;
        e.seq = seq;
        let (priority, timestamp) = (e.qp.info.priority, e.qp.timestamp);
        let expiry = timestamp + backoff_duration(&self.config, e.qp.attempts);
        match place {
            Place::Active => self.active.push(ActiveItem {
                priority,
                timestamp,
                seq,
                key: key.to_string(),
            }),
            Place::Backoff => self.backoff.push(Reverse((expiry, seq, key.to_string()))),
            Place::Unschedulable => {
                self.unschedulable.insert((timestamp, seq), key.to_string());
            }
            Place::InFlight | Place::Gated => {}
        }
    }

    fn backoff_expiry_of(&self, key: &str) -> Instant {
        self.pods
            .get(key)
            .map(|e| e.qp.timestamp + backoff_duration(&self.config, e.qp.attempts))
            .unwrap_or_else(Instant::now)
    }

    /// A new pending pod (or a pending pod the informer saw again).
    pub fn add(&mut self, info: Arc<PodInfo>, now: Instant) {
        if self.pods.contains_key(&info.key) {
            self.update(info, now);
            return;
        }
        let key = info.key.clone();
        let nominated = info.nominated_node_name().to_string();
        if !nominated.is_empty() {
            self.nominator.set(info.clone(), &nominated);
        }
        let place = if has_gates(&info) {
            Place::Gated
        } else {
            Place::Active
        };
        let qp = QueuedPodInfo {
            info,
            timestamp: now,
            initial: now,
            attempts: 0,
            unschedulable_plugins: BTreeSet::new(),
        };
        self.pods.insert(
            key.clone(),
            Entry {
                qp,
                place: Place::Gated,
                seq: 0,
                updated_in_flight: false,
            },
        );
        self.put(&key, place);
    }

    /// A pending pod changed.
    pub fn update(&mut self, info: Arc<PodInfo>, now: Instant) {
        let key = info.key.clone();
        let Some(e) = self.pods.get_mut(&key) else {
            self.add(info, now);
            return;
        };
        let changed = spec_or_labels_changed(&e.qp.info, &info);
        e.qp.info = info.clone();
        let place = e.place;
        self.nominator.refresh(&info);
        match place {
            Place::InFlight => {
                if changed && let Some(e) = self.pods.get_mut(&key) {
                    e.updated_in_flight = true;
                }
            }
            Place::Gated if !has_gates(&info) => {
                if let Some(e) = self.pods.get_mut(&key) {
                    e.qp.timestamp = now;
                }
                self.put(&key, Place::Active);
            }
            Place::Gated => {}
            Place::Unschedulable if changed => {
                let to = if self.backoff_expiry_of(&key) > now {
                    Place::Backoff
                } else {
                    Place::Active
                };
                self.put(&key, to);
            }
            // Re-index so the heap carries the new priority.
            Place::Active => self.put(&key, Place::Active),
            Place::Backoff | Place::Unschedulable => {}
        }
    }

    /// A pending pod was deleted or got bound: it leaves the queue.
    pub fn delete(&mut self, key: &str) {
        if let Some(e) = self.pods.remove(key)
            && e.place == Place::Unschedulable
        {
            self.unschedulable.remove(&(e.qp.timestamp, e.seq));
        }
        self.nominator.remove(key);
    }

    /// The latest object of a queued pod.
    pub fn get(&self, key: &str) -> Option<Arc<PodInfo>> {
        self.pods.get(key).map(|e| e.qp.info.clone())
    }

    /// Whether the queue knows the pod.
    pub fn contains(&self, key: &str) -> bool {
        self.pods.contains_key(key)
    }

    /// Whether the pod is waiting for its scheduling gates.
    pub fn is_gated(&self, key: &str) -> bool {
        self.pods.get(key).is_some_and(|e| e.place == Place::Gated)
    }

    /// Moves pods whose backoff expired to active, and pods unschedulable for too long to
    /// active or backoff.
    fn flush(&mut self, now: Instant) {
        while let Some(Reverse((expiry, seq, key))) = self.backoff.peek().cloned() {
            if expiry > now {
                break;
            }
            self.backoff.pop();
            if self
                .pods
                .get(&key)
                .is_some_and(|e| e.seq == seq && e.place == Place::Backoff)
            {
                self.put(&key, Place::Active);
            }
        }
        let cutoff = now.checked_sub(self.config.max_unschedulable);
        if let Some(cutoff) = cutoff {
            let old: Vec<String> = self
                .unschedulable
                .range(..(cutoff, u64::MAX))
                .map(|(_, k)| k.clone())
                .collect();
            for key in old {
                self.move_one(&key, now);
            }
        }
    }

    fn move_one(&mut self, key: &str, now: Instant) {
        let to = if self.backoff_expiry_of(key) > now {
            Place::Backoff
        } else {
            Place::Active
        };
        self.put(key, to);
    }

    /// The next pod to schedule, or when to look again.
    pub fn pop(&mut self, now: Instant) -> Pop {
        self.flush(now);
        while let Some(item) = self.active.pop() {
            let Some(e) = self.pods.get_mut(&item.key) else {
                continue;
            };
            if e.seq != item.seq || e.place != Place::Active {
                continue;
            }
            self.scheduling_cycle += 1;
            e.qp.attempts += 1;
            e.updated_in_flight = false;
            e.place = Place::InFlight;
            return Pop::Pod(e.qp.clone());
        }
        let next_backoff = self.backoff.peek().map(|Reverse((t, _, _))| *t);
        let next_flush = self
            .unschedulable
            .keys()
            .next()
            .map(|(t, _)| *t + self.config.max_unschedulable);
        Pop::Wait(match (next_backoff, next_flush) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        })
    }

    /// The number of the cycle that popped the most recent pod.
    pub fn scheduling_cycle(&self) -> u64 {
        self.scheduling_cycle
    }

    /// A popped pod failed in cycle `cycle`: it waits in unschedulable for an event, or in
    /// backoff when its failure was an error, when it changed meanwhile, or when an event
    /// arrived during the cycle that might have helped it.
    pub fn requeue_failed(&mut self, mut qp: QueuedPodInfo, cycle: u64, now: Instant) {
        let key = qp.info.key.clone();
        let Some(e) = self.pods.get_mut(&key) else { return };
        let updated = std::mem::take(&mut e.updated_in_flight);
        // Keep the freshest object the informer delivered.
        qp.info = e.qp.info.clone();
        qp.timestamp = now;
        e.qp = qp;
        let to = if has_gates(&e.qp.info) {
            Place::Gated
        } else if e.qp.unschedulable_plugins.is_empty() || updated || self.move_request_cycle >= cycle {
            Place::Backoff
        } else {
            Place::Unschedulable
        };
        self.put(&key, to);
    }

    /// A popped pod's binding failed: retry it after backoff.
    pub fn requeue_backoff(&mut self, mut qp: QueuedPodInfo, now: Instant) {
        let key = qp.info.key.clone();
        let Some(e) = self.pods.get_mut(&key) else { return };
        qp.info = e.qp.info.clone();
        qp.timestamp = now;
        qp.unschedulable_plugins.clear();
        e.qp = qp;
        self.put(&key, Place::Backoff);
    }

    /// A popped pod was bound: it leaves the queue.
    pub fn done(&mut self, key: &str) {
        self.delete(key);
    }

    /// Moves unschedulable pods that `event` may help to active (or backoff while their
    /// backoff runs). `helps(pod, event)` asks the plugins that rejected the pod.
    pub fn move_on_event(
        &mut self,
        event: &ClusterEvent,
        now: Instant,
        helps: &dyn Fn(&QueuedPodInfo, &ClusterEvent) -> bool,
    ) -> usize {
        self.move_request_cycle = self.scheduling_cycle;
        let keys: Vec<String> = self.unschedulable.values().cloned().collect();
        let mut moved = 0;
        for key in keys {
            let Some(e) = self.pods.get(&key) else { continue };
            if event.kind == EventKind::Flush || e.qp.unschedulable_plugins.is_empty() || helps(&e.qp, event)
            {
                self.move_one(&key, now);
                moved += 1;
            }
        }
        moved
    }

    /// Nominates a pod to a node (preemption); an empty node clears it.
    pub fn nominate(&mut self, info: Arc<PodInfo>, node: &str) {
        self.nominator.set(info, node);
    }

    /// The node a pod is nominated to.
    pub fn nominated_node(&self, key: &str) -> Option<&str> {
        self.nominator.node_of(key)
    }

    /// Nominations for one cycle.
    pub fn nominated(&self) -> Arc<Nominated> {
        self.nominator.snapshot()
    }

    /// Pods in each sub-queue: (active, backoff, unschedulable, gated, in flight).
    pub fn counts(&self) -> (usize, usize, usize, usize, usize) {
        let mut c = (0, 0, 0, 0, 0);
        for e in self.pods.values() {
            match e.place {
                Place::Active => c.0 += 1,
                Place::Backoff => c.1 += 1,
                Place::Unschedulable => c.2 += 1,
                Place::Gated => c.3 += 1,
                Place::InFlight => c.4 += 1,
            }
        }
        c
    }
}

#[cfg(test)]
mod tests;
