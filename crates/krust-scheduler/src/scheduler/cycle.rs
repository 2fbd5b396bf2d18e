//! One scheduling cycle, as upstream's `scheduleOne`: bring the snapshot up to date, run
//! PreFilter, filter nodes from a rotating start until enough feasible ones are found
//! (the adaptive percentage of nodes to score), score them, pick the best (random among
//! ties), assume the pod onto it and hand it to an asynchronous binding task. When no node
//! fits, PostFilter (preemption) runs and the failure is reported.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use rand::Rng;
use tokio::sync::OwnedSemaphorePermit;
use tokio_util::sync::CancellationToken;

use super::Shared;
use super::binding;
use super::failure::{self, Failure, SCHEDULER_ERROR, UNSCHEDULABLE};
use crate::cache::Snapshot;
use crate::framework::{
    CycleState, Diagnosis, FitError, Framework, NodeInfo, Nominated, PodInfo, PostFilterContext, Status,
};
use crate::queue::{Pop, QueuedPodInfo};

/// Fewer nodes than this are always all evaluated.
const MIN_FEASIBLE_NODES_TO_FIND: usize = 100;
/// The adaptive percentage never goes below this.
const MIN_FEASIBLE_NODES_PERCENTAGE: usize = 5;

/// How many feasible nodes to look for among `all` (upstream's `numFeasibleNodesToFind`):
/// all below 100 nodes; otherwise the configured percentage, or 50% minus 1% per 125
/// nodes (at least 5%), and at least 100.
pub(crate) fn num_feasible_nodes_to_find(percentage: Option<u32>, all: usize) -> usize {
    if all < MIN_FEASIBLE_NODES_TO_FIND {
        return all;
    }
    let pct = match percentage {
        Some(p) if p > 0 => (p as usize).min(100),
        _ => 50usize
            .saturating_sub(all / 125)
            .max(MIN_FEASIBLE_NODES_PERCENTAGE),
    };
    (all * pct / 100).max(MIN_FEASIBLE_NODES_TO_FIND)
}

/// Why no host was chosen.
pub(crate) enum ScheduleError {
    /// The snapshot has no nodes.
    NoNodes,
    /// No node fits.
    Fit(Box<FitError>),
    /// A plugin failed.
    Internal(Status),
}

/// Per-loop state: the snapshot and where the next node search starts.
#[derive(Default)]
pub(crate) struct Cycle {
    pub snapshot: Snapshot,
    pub next_start: usize,
}

/// Finds the nodes that pass every filter, starting at `*next_start` and stopping once
/// enough are found; moves `*next_start` past the nodes looked at.
fn feasible_nodes<'a>(
    snap: &'a Snapshot,
    next_start: &mut usize,
    fw: &Framework,
    state: &mut CycleState,
    pod: &PodInfo,
    nominated: &Nominated,
) -> Result<Vec<&'a Arc<NodeInfo>>, ScheduleError> {
    let mut diagnosis = Diagnosis::default();
    let s = fw.run_pre_filter(state, pod, snap);
    if !s.is_success() {
        if !s.is_rejected() {
            return Err(ScheduleError::Internal(s));
        }
        diagnosis.pre_filter_msg = s.message();
        diagnosis.unschedulable_plugins.insert(s.plugin());
        diagnosis.node_to_status.set_absent(s);
        return Err(ScheduleError::Fit(Box::new(FitError {
            num_all_nodes: snap.num_nodes(),
            diagnosis,
        })));
    }
    // A pod nominated by an earlier preemption tries its node first.
    let nominated_node = pod.nominated_node_name();
    if !nominated_node.is_empty()
        && pod.may_preempt()
        && let Some(n) = snap.get(nominated_node)
        && fw
            .run_filter_with_nominated(state, pod, n, nominated)
            .is_success()
    {
        return Ok(vec![n]);
    }
    let all = snap.nodes();
    let want = num_feasible_nodes_to_find(fw.percentage_of_nodes_to_score, all.len());
    let mut feasible = Vec::with_capacity(want.min(all.len()));
    let mut processed = 0;
    for k in 0..all.len() {
        let node = &all[(*next_start + k) % all.len()];
        processed += 1;
        let s = fw.run_filter_with_nominated(state, pod, node, nominated);
        if s.is_success() {
            feasible.push(node);
            if feasible.len() >= want {
                break;
            }
        } else if s.is_rejected() {
            diagnosis.unschedulable_plugins.insert(s.plugin());
            diagnosis.node_to_status.set(node.name(), s);
        } else {
            return Err(ScheduleError::Internal(s));
        }
    }
    *next_start = (*next_start + processed) % all.len().max(1);
    if feasible.is_empty() {
        return Err(ScheduleError::Fit(Box::new(FitError {
            num_all_nodes: all.len(),
            diagnosis,
        })));
    }
    Ok(feasible)
}

impl Cycle {
    /// Picks the node for `pod`.
    pub(crate) fn find_host(
        &mut self,
        fw: &Framework,
        state: &mut CycleState,
        pod: &PodInfo,
        nominated: &Nominated,
    ) -> Result<Arc<NodeInfo>, ScheduleError> {
        if self.snapshot.num_nodes() == 0 {
            return Err(ScheduleError::NoNodes);
        }
        let feasible = feasible_nodes(&self.snapshot, &mut self.next_start, fw, state, pod, nominated)?;
        if feasible.len() == 1 {
            return Ok(feasible[0].clone());
        }
        // Plain references: scoring hundreds of nodes should not touch their refcounts.
        let nodes: Vec<&NodeInfo> = feasible.iter().map(|n| n.as_ref()).collect();
        let s = fw.run_pre_score(state, pod, &nodes, &self.snapshot);
        if !s.is_success() {
            return Err(ScheduleError::Internal(s));
        }
        let totals = fw
            .run_score(state, pod, &nodes)
            .map_err(ScheduleError::Internal)?;
        Ok(feasible[select_host(&totals)].clone())
    }
}

/// The index of the highest score; ties are broken uniformly at random.
pub(crate) fn select_host(scores: &[i64]) -> usize {
    let mut rng = rand::rng();
    let mut best = 0;
    let mut ties = 0u32;
    let mut max = i64::MIN;
    for (i, s) in scores.iter().enumerate() {
        if *s > max {
            max = *s;
            best = i;
            ties = 1;
        } else if *s == max {
            ties += 1;
            if rng.random_range(0..ties) == 0 {
                best = i;
            }
        }
    }
    best
}

/// Pops pods and schedules them until `shutdown`; sleeps when nothing is ready.
pub(crate) async fn scheduling_loop(shared: Arc<Shared>, shutdown: CancellationToken) {
    let mut cycle = Cycle::default();
    loop {
        if shutdown.is_cancelled() {
            return;
        }
        let popped = shared.queue.lock().pop(Instant::now());
        match popped {
            Pop::Pod(qp) => {
                let permit = tokio::select! {
                    p = shared.bindings.clone().acquire_owned() => p,
                    _ = shutdown.cancelled() => return,
                };
                let Ok(permit) = permit else { return };
                schedule_one(&shared, &mut cycle, qp, permit);
                tokio::task::yield_now().await;
            }
            Pop::Wait(deadline) => {
                let sleep = async move {
                    match deadline {
                        Some(d) => tokio::time::sleep_until(d.into()).await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = shared.wake.notified() => {}
                    _ = sleep => {}
                }
            }
        }
    }
}

/// Schedules one pod.
pub(crate) fn schedule_one(
    shared: &Arc<Shared>,
    cycle: &mut Cycle,
    qp: QueuedPodInfo,
    permit: OwnedSemaphorePermit,
) {
    let cycle_no = shared.queue.lock().scheduling_cycle();
    let pod = qp.info.clone();
    if pod.is_terminating() {
        shared.queue.lock().done(&pod.key);
        return;
    }
    shared.stats.attempt();
    shared.cache.lock().update_snapshot(&mut cycle.snapshot);
    let nominated = shared.queue.lock().nominated();
    let fw = &shared.framework;
    let mut state = CycleState::default();
    match cycle.find_host(fw, &mut state, &pod, &nominated) {
        Ok(node) => assume_and_bind(shared, qp, state, node, permit, cycle_no),
        Err(ScheduleError::NoNodes) => failure::handle(
            shared,
            qp,
            cycle_no,
            Failure {
                reason: UNSCHEDULABLE,
                message: "no nodes available to schedule pods".into(),
                plugins: BTreeSet::new(),
                nominated_node: None,
                backoff: false,
            },
        ),
        Err(ScheduleError::Fit(mut fit)) => {
            let mut nominate = None;
            if fw.has_post_filter() {
                let ctx = PostFilterContext {
                    snapshot: &cycle.snapshot,
                    framework: fw,
                    nominated: &nominated,
                };
                let (result, status) = fw.run_post_filter(&ctx, &state, &pod, &fit.diagnosis.node_to_status);
                fit.diagnosis.post_filter_msg = status.message();
                if status.is_success() && !result.victims.is_empty() {
                    failure::preempt(shared, &pod, &result);
                }
                nominate = result.nominated_node;
            }
            let plugins = std::mem::take(&mut fit.diagnosis.unschedulable_plugins);
            failure::handle(
                shared,
                qp,
                cycle_no,
                Failure {
                    reason: UNSCHEDULABLE,
                    message: fit.to_string(),
                    plugins,
                    nominated_node: nominate,
                    backoff: false,
                },
            );
        }
        Err(ScheduleError::Internal(s)) => {
            tracing::warn!(pod = %pod.key, plugin = s.plugin(), error = %s.message(), "scheduling error");
            failure::handle(
                shared,
                qp,
                cycle_no,
                Failure {
                    reason: SCHEDULER_ERROR,
                    message: s.message(),
                    plugins: BTreeSet::new(),
                    nominated_node: None,
                    backoff: false,
                },
            );
        }
    }
}

/// Assumes the pod onto `node`, runs Reserve and starts the binding cycle.
fn assume_and_bind(
    shared: &Arc<Shared>,
    qp: QueuedPodInfo,
    mut state: CycleState,
    node: Arc<NodeInfo>,
    permit: OwnedSemaphorePermit,
    cycle_no: u64,
) {
    let host = node.name().to_string();
    let mut assumed = (*qp.info).clone();
    assumed.pod.spec.get_or_insert_with(Default::default).node_name = Some(host.clone());
    let assumed = Arc::new(assumed);
    shared.cache.lock().assume_pod(assumed.clone());
    shared.queue.lock().nominate(assumed.clone(), "");
    let fw = &shared.framework;
    let s = fw.run_reserve(&mut state, &assumed, &node);
    if !s.is_success() {
        fw.run_unreserve(&mut state, &assumed, &host);
        shared.cache.lock().forget_pod(assumed.uid());
        let (reason, plugins) = if s.is_rejected() {
            (UNSCHEDULABLE, BTreeSet::from([s.plugin()]))
        } else {
            (SCHEDULER_ERROR, BTreeSet::new())
        };
        failure::handle(
            shared,
            qp,
            cycle_no,
            Failure {
                reason,
                message: s.message(),
                plugins,
                nominated_node: None,
                backoff: false,
            },
        );
        return;
    }
    let shared = shared.clone();
    tokio::spawn(async move {
        let _permit = permit;
        binding::bind(&shared, qp, state, assumed, host).await;
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adaptive_percentage() {
        assert_eq!(num_feasible_nodes_to_find(None, 50), 50);
        assert_eq!(num_feasible_nodes_to_find(None, 100), 100);
        // 5,000 nodes: 50 − 40 = 10% → 500.
        assert_eq!(num_feasible_nodes_to_find(None, 5000), 500);
        // 10,000 nodes: floor 5% → 500.
        assert_eq!(num_feasible_nodes_to_find(None, 10_000), 500);
        assert_eq!(num_feasible_nodes_to_find(Some(100), 5000), 5000);
        assert_eq!(num_feasible_nodes_to_find(Some(1), 5000), 100);
    }

    #[test]
    fn select_host_picks_the_maximum() {
        assert_eq!(select_host(&[1, 5, 3]), 1);
        let picks: BTreeSet<usize> = (0..200).map(|_| select_host(&[7, 2, 7])).collect();
        assert!(picks.iter().all(|i| *i == 0 || *i == 2));
    }
}
