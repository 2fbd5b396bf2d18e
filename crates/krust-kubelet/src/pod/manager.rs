//! The pod workers of all the pool's nodes. One small entry per pod bound to one of our
//! nodes; work for a pod (a sync, a status write, the final delete) runs as a short task,
//! at most one at a time per pod, and changes arriving meanwhile are folded into one more
//! sync after it — upstream's pod worker semantics without a parked task per pod, so idle
//! pods cost only their entry.
//!
//! Events that start work: the pod changed (watch), its node was (re)registered, the
//! runtime reported a change (a container exited), or a timer set by the last sync (a
//! back-off ending, a retry) fired. Admission happens here, the first time a pod of a
//! registered node is seen, since only here is every pod of a node known.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Pod, PodStatus};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::time::{DelayQueue, delay_queue};

use super::admission::{self, Amounts};
use super::api::PodApi;
use super::jobs::{Done, Job, Shared, run_job};
use super::{is_terminal, key, status};
use crate::clock::Clock;
use crate::config::PoolSpec;
use crate::node::table::NodeTable;
use crate::runtime::{NodeContext, Runtime};

/// What the watches tell the manager.
#[derive(Debug)]
pub(crate) enum Input {
    /// A (re)list of pods starts; pods not listed before [`Input::RelistDone`] are gone.
    Relist,
    /// A pod bound to one of our node names was added or changed.
    Pod(Box<Pod>),
    /// Such a pod was deleted.
    PodDeleted(Box<Pod>),
    /// The (re)list is complete.
    RelistDone,
    /// Node `i` exists (again): its pods are ours now.
    NodeReady(u32),
}

/// How long to wait before trying again after a failure.
const RETRY_AFTER: Duration = Duration::from_secs(2);

enum State {
    /// Not admitted yet: its node may not be registered, or it just arrived.
    New,
    /// Admitted: counts against its node and the worker drives it.
    Admitted,
    /// Done here (finished, rejected, or stopped); the final status still to be written.
    Final(Option<Box<PodStatus>>),
}

struct Entry {
    pod: Arc<Pod>,
    node: u32,
    state: State,
    busy: bool,
    dirty: bool,
    /// Deleted from the API while busy: forget it once the work returns.
    removed: bool,
    /// The final delete went out.
    delete_sent: bool,
    wake: Option<delay_queue::Key>,
}

/// The pod workers.
pub(crate) struct PodManager<R, A> {
    shared: Arc<Shared<R, A>>,
    table: Arc<NodeTable>,
    pods: HashMap<Arc<str>, Entry>,
    by_node: Vec<Vec<Arc<str>>>,
    usage: Vec<Amounts>,
    wakes: DelayQueue<Arc<str>>,
    relist: Option<HashSet<Arc<str>>>,
    done_tx: mpsc::UnboundedSender<Done>,
    done_rx: Option<mpsc::UnboundedReceiver<Done>>,
    /// Pods whose probe results changed.
    probe_changes: Option<mpsc::UnboundedReceiver<String>>,
}

impl<R: Runtime, A: PodApi> PodManager<R, A> {
    pub fn new(
        spec: Arc<PoolSpec>,
        table: Arc<NodeTable>,
        runtime: Arc<R>,
        api: A,
        clock: Arc<dyn Clock>,
        events: Option<krust_runtime::Events>,
    ) -> Self {
        let n = spec.names.count() as usize;
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        // Only a real node's containers are probed; a simulated one's are ready as they run.
        let (probes, probe_changes) = if spec.host.is_some() {
            let (tx, rx) = mpsc::unbounded_channel();
            (
                Some(crate::probe::Probes::new(runtime.clone(), tx, events.clone())),
                Some(rx),
            )
        } else {
            (None, None)
        };
        Self {
            shared: Arc::new(Shared {
                runtime,
                api,
                clock,
                spec,
                probes,
                events,
            }),
            probe_changes,
            table,
            pods: HashMap::new(),
            by_node: vec![Vec::new(); n],
            usage: vec![Amounts::new(); n],
            wakes: DelayQueue::new(),
            relist: None,
            done_tx,
            done_rx: Some(done_rx),
        }
    }

    /// Runs until `shutdown` or until every input sender is gone.
    pub async fn run(mut self, mut inputs: mpsc::Receiver<Input>, shutdown: CancellationToken) {
        let Some(mut done_rx) = self.done_rx.take() else {
            return;
        };
        let (event_tx, mut events) = mpsc::unbounded_channel::<String>();
        if let Some(mut changes) = self.probe_changes.take() {
            let tx = event_tx.clone();
            tokio::spawn(async move {
                while let Some(uid) = changes.recv().await {
                    if tx.send(uid).is_err() {
                        return;
                    }
                }
            });
        }
        let runtime = self.shared.runtime.clone();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            loop {
                let event = tokio::select! {
                    _ = stop.cancelled() => return,
                    e = runtime.next_event() => e,
                };
                let Some(uid) = event else { return };
                if event_tx.send(uid).is_err() {
                    return;
                }
            }
        });
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                input = inputs.recv() => match input {
                    Some(i) => self.on_input(i),
                    None => return,
                },
                Some(done) = done_rx.recv() => self.on_done(done),
                Some(uid) = events.recv() => self.kick(&uid),
                Some(expired) = std::future::poll_fn(|cx| self.wakes.poll_expired(cx)), if !self.wakes.is_empty() => {
                    let uid = expired.into_inner();
                    if let Some(e) = self.pods.get_mut(&uid) {
                        e.wake = None;
                    }
                    self.kick(&uid);
                }
            }
        }
    }

    fn on_input(&mut self, input: Input) {
        match input {
            Input::Relist => self.relist = Some(HashSet::new()),
            Input::Pod(pod) => self.upsert(*pod),
            Input::PodDeleted(pod) => {
                if let Some(uid) = pod.metadata.uid.as_deref() {
                    self.remove(uid);
                }
            }
            Input::RelistDone => {
                if let Some(seen) = self.relist.take() {
                    let gone: Vec<Arc<str>> =
                        self.pods.keys().filter(|k| !seen.contains(*k)).cloned().collect();
                    for uid in gone {
                        self.remove(&uid);
                    }
                }
            }
            Input::NodeReady(i) => {
                let uids = self.by_node.get(i as usize).cloned().unwrap_or_default();
                for uid in uids {
                    self.kick(&uid);
                }
            }
        }
    }

    fn upsert(&mut self, pod: Pod) {
        let Some(uid) = pod.metadata.uid.clone() else {
            return;
        };
        let node = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .and_then(|n| self.shared.spec.names.index(n));
        let Some(node) = node else { return };
        let pod = keep(&self.shared.spec, pod);
        let key: Arc<str> = match self.pods.get_key_value(uid.as_str()) {
            Some((k, _)) => k.clone(),
            None => uid.as_str().into(),
        };
        if let Some(seen) = &mut self.relist {
            seen.insert(key.clone());
        }
        match self.pods.get_mut(&key) {
            Some(e) => e.pod = Arc::new(pod),
            None => {
                if let Some(list) = self.by_node.get_mut(node as usize) {
                    list.push(key.clone());
                }
                let entry = Entry {
                    pod: Arc::new(pod),
                    node,
                    state: State::New,
                    busy: false,
                    dirty: false,
                    removed: false,
                    delete_sent: false,
                    wake: None,
                };
                self.pods.insert(key.clone(), entry);
            }
        }
        self.kick(&key);
    }

    fn remove(&mut self, uid: &str) {
        let Some(e) = self.pods.get_mut(uid) else { return };
        if e.busy {
            e.removed = true;
            return;
        }
        if let Some((key, e)) = self.pods.remove_entry(uid) {
            self.forget(key, e);
        }
    }

    /// Drops a removed pod: its node usage, its timer, and whatever the runtime holds.
    fn forget(&mut self, key: Arc<str>, e: Entry) {
        if matches!(e.state, State::Admitted) {
            self.release(e.node, &e.pod);
        }
        if let Some(k) = e.wake {
            self.wakes.remove(&k);
        }
        if let Some(list) = self.by_node.get_mut(e.node as usize) {
            list.retain(|u| *u != key);
        }
        let runtime = self.shared.runtime.clone();
        tokio::spawn(async move {
            let _ = runtime.kill_pod(&key, Duration::ZERO).await;
            let _ = runtime.remove_pod(&key).await;
        });
    }

    fn release(&mut self, node: u32, pod: &Pod) {
        if let Some(used) = self.usage.get_mut(node as usize) {
            admission::subtract(used, &admission::pod_requests(pod));
        }
    }

    /// Starts the work `uid` needs now, or notes that more is needed after the current.
    fn kick(&mut self, uid: &str) {
        let Some((key, e)) = self.pods.get_key_value(uid) else {
            return;
        };
        let key = key.clone();
        if e.busy {
            if let Some(e) = self.pods.get_mut(uid) {
                e.dirty = true;
            }
            return;
        }
        if e.removed || !self.table.registered(e.node) {
            return;
        }
        let node = e.node;
        let Some(job) = self.next_job(uid) else { return };
        let Some(e) = self.pods.get_mut(uid) else { return };
        e.busy = true;
        let pod = e.pod.clone();
        let shared = self.shared.clone();
        let done_tx = self.done_tx.clone();
        let ctx = NodeContext {
            index: node,
            name: shared.spec.names.name(node),
            ip: shared.spec.node_ip(node),
        };
        tokio::spawn(async move {
            let done = run_job(&shared, key, &ctx, pod, job).await;
            let _ = done_tx.send(done);
        });
    }

    /// Decides the work for a pod that is not busy, admitting it first if it is new.
    fn next_job(&mut self, uid: &str) -> Option<Job> {
        let allocatable = &self.shared.spec.allocatable;
        let e = self.pods.get_mut(uid)?;
        let deleting = e.pod.metadata.deletion_timestamp.is_some();
        let api_terminal = is_terminal(e.pod.status.as_ref().and_then(|s| s.phase.as_deref()));
        let can_delete = !e.delete_sent;
        let delete = move || can_delete.then_some(Job::Delete);
        match &e.state {
            State::New if api_terminal || deleting => {
                let job = if deleting { delete() } else { None };
                e.state = State::Final(None);
                job
            }
            State::New => {
                let used = self.usage.get_mut(e.node as usize)?;
                let request = admission::pod_requests(&e.pod);
                match admission::admit(allocatable, used, &request) {
                    Ok(()) => {
                        admission::add(used, &request);
                        e.state = State::Admitted;
                        Some(Job::Sync)
                    }
                    Err(why) => {
                        tracing::info!(pod = %key(&e.pod), reason = %why.reason, "pod rejected: {}", why.message);
                        let st = status::rejected_status(&e.pod, &why);
                        e.state = State::Final(Some(Box::new(st.clone())));
                        Some(Job::Write(Box::new(st)))
                    }
                }
            }
            State::Admitted if api_terminal && !deleting => {
                // Made final by someone else (an eviction, say): a final phase is never
                // undone, so stop the pod and give its share of the node back.
                e.state = State::Final(None);
                if let Some(used) = self.usage.get_mut(e.node as usize) {
                    admission::subtract(used, &admission::pod_requests(&e.pod));
                }
                Some(Job::Teardown)
            }
            State::Admitted => Some(Job::Sync),
            State::Final(_) if deleting => delete(),
            State::Final(Some(_)) if api_terminal => {
                e.state = State::Final(None);
                None
            }
            State::Final(Some(st)) => Some(Job::Write(st.clone())),
            State::Final(None) => None,
        }
    }

    fn on_done(&mut self, d: Done) {
        let now = self.shared.clock.now();
        let Some(e) = self.pods.get_mut(&d.uid) else {
            return;
        };
        e.busy = false;
        if let Some(p) = d.written
            && e.pod.metadata.resource_version == d.base_rv
        {
            e.pod = Arc::new(keep(&self.shared.spec, *p));
        }
        let mut release = false;
        if let Some(st) = d.terminal {
            release |= matches!(e.state, State::Admitted);
            let stored = is_terminal(e.pod.status.as_ref().and_then(|s| s.phase.as_deref()));
            e.state = State::Final((!stored).then(|| Box::new(st)));
        }
        if d.deleted {
            release |= matches!(e.state, State::Admitted);
            e.state = State::Final(None);
            e.delete_sent = true;
        }
        let (node, pod, removed, dirty) = (e.node, e.pod.clone(), e.removed, e.dirty);
        e.dirty = false;
        let old_wake = e.wake.take();
        if release {
            self.release(node, &pod);
        }
        if let Some(k) = old_wake {
            self.wakes.remove(&k);
        }
        if removed {
            if let Some((key, e)) = self.pods.remove_entry(&d.uid) {
                self.forget(key, e);
            }
            return;
        }
        let after = match (d.retry, d.wake_at) {
            (true, _) => Some(RETRY_AFTER),
            (false, Some(at)) => Some(Duration::try_from(at.duration_since(now)).unwrap_or(Duration::ZERO)),
            (false, None) => None,
        };
        if let Some(after) = after {
            let k = self.wakes.insert(d.uid.clone(), after);
            if let Some(e) = self.pods.get_mut(&d.uid) {
                e.wake = Some(k);
            }
        }
        if dirty {
            self.kick(&d.uid);
        }
    }
}

#[cfg(test)]
#[path = "manager_tests.rs"]
mod tests;

/// What the manager keeps of a pod: a simulated pool only the slim form, since it runs
/// nothing; a real node everything, since its runtime needs the whole spec (a node has at
/// most a few hundred pods).
fn keep(spec: &PoolSpec, pod: Pod) -> Pod {
    if spec.host.is_some() {
        pod
    } else {
        super::slim(pod)
    }
}
