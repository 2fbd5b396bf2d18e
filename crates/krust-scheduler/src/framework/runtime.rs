//! The framework of one profile: the enabled plugins in order, and how each extension point
//! runs them (first rejection wins in Filter, Skip turns later points off, scores are
//! normalised and weighted).

use std::sync::Arc;

use super::cycle_state::CycleState;
use super::diagnosis::NodeToStatus;
use super::events::ClusterEvent;
use super::interface::{MAX_NODE_SCORE, Nominated, Plugin, PostFilterContext, PostFilterResult};
use super::node_info::NodeInfo;
use super::pod_info::PodInfo;
use super::status::{Code, Status};
use crate::cache::Snapshot;
use crate::queue::QueuedPodInfo;

/// The enabled plugins of one profile.
pub struct Framework {
    plugins: Vec<Arc<dyn Plugin>>,
    weights: Vec<i64>,
    pre_filter: Vec<usize>,
    filter: Vec<usize>,
    post_filter: Vec<usize>,
    pre_score: Vec<usize>,
    score: Vec<usize>,
    reserve: Vec<usize>,
    pre_bind: Vec<usize>,
    bind: Vec<usize>,
    /// The profile's percentageOfNodesToScore (None: adaptive).
    pub percentage_of_nodes_to_score: Option<u32>,
}

fn bit(i: usize) -> u64 {
    1u64 << (i % 64)
}

impl Framework {
    /// Builds the framework from plugins (in order) with their score weights.
    pub fn new(plugins: Vec<(Arc<dyn Plugin>, i64)>, percentage_of_nodes_to_score: Option<u32>) -> Self {
        let mut fw = Framework {
            plugins: Vec::new(),
            weights: Vec::new(),
            pre_filter: Vec::new(),
            filter: Vec::new(),
            post_filter: Vec::new(),
            pre_score: Vec::new(),
            score: Vec::new(),
            reserve: Vec::new(),
            pre_bind: Vec::new(),
            bind: Vec::new(),
            percentage_of_nodes_to_score,
        };
        for (i, (p, w)) in plugins.into_iter().enumerate() {
            if p.as_pre_filter().is_some() {
                fw.pre_filter.push(i);
            }
            if p.as_filter().is_some() {
                fw.filter.push(i);
            }
            if p.as_post_filter().is_some() {
                fw.post_filter.push(i);
            }
            if p.as_pre_score().is_some() {
                fw.pre_score.push(i);
            }
            if p.as_score().is_some() {
                fw.score.push(i);
            }
            if p.as_reserve().is_some() {
                fw.reserve.push(i);
            }
            if p.as_pre_bind().is_some() {
                fw.pre_bind.push(i);
            }
            if p.as_bind().is_some() {
                fw.bind.push(i);
            }
            fw.plugins.push(p);
            fw.weights.push(w);
        }
        fw
    }

    /// Names of the enabled plugins, in order.
    pub fn plugin_names(&self) -> Vec<&'static str> {
        self.plugins.iter().map(|p| p.name()).collect()
    }

    /// Whether a PostFilter plugin (preemption) is enabled.
    pub fn has_post_filter(&self) -> bool {
        !self.post_filter.is_empty()
    }

    /// Runs PreFilter; the first rejection or error is returned with its plugin.
    pub fn run_pre_filter(&self, state: &mut CycleState, pod: &PodInfo, snapshot: &Snapshot) -> Status {
        for &i in &self.pre_filter {
            let p = &self.plugins[i];
            let Some(pf) = p.as_pre_filter() else { continue };
            let s = pf.pre_filter(state, pod, snapshot);
            if s.is_skip() {
                state.skip_filter |= bit(i);
            } else if !s.is_success() {
                return s.with_plugin(p.name());
            }
        }
        Status::success()
    }

    /// Tells PreFilter plugins that `added` joins `node` (preemption, nominated pods).
    pub fn run_pre_filter_add_pod(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        added: &PodInfo,
        node: &NodeInfo,
    ) -> Status {
        for &i in &self.pre_filter {
            if state.skip_filter & bit(i) != 0 {
                continue;
            }
            let Some(pf) = self.plugins[i].as_pre_filter() else {
                continue;
            };
            let s = pf.add_pod(state, pod, added, node);
            if !s.is_success() {
                return s.with_plugin(self.plugins[i].name());
            }
        }
        Status::success()
    }

    /// Tells PreFilter plugins that `removed` leaves `node`.
    pub fn run_pre_filter_remove_pod(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        removed: &PodInfo,
        node: &NodeInfo,
    ) -> Status {
        for &i in &self.pre_filter {
            if state.skip_filter & bit(i) != 0 {
                continue;
            }
            let Some(pf) = self.plugins[i].as_pre_filter() else {
                continue;
            };
            let s = pf.remove_pod(state, pod, removed, node);
            if !s.is_success() {
                return s.with_plugin(self.plugins[i].name());
            }
        }
        Status::success()
    }

    /// Runs Filter on one node; the first plugin that does not succeed decides.
    pub fn run_filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        for &i in &self.filter {
            if state.skip_filter & bit(i) != 0 {
                continue;
            }
            let Some(f) = self.plugins[i].as_filter() else {
                continue;
            };
            let s = f.filter(state, pod, node);
            if !s.is_success() {
                return s.with_plugin(self.plugins[i].name());
            }
        }
        Status::success()
    }

    /// Runs Filter with the pods nominated to the node (of priority at least the pod's)
    /// counted on it, then, if that passes, without them (as upstream does: the pod must
    /// fit both with and without the nominated pods).
    pub fn run_filter_with_nominated(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        node: &NodeInfo,
        nominated: &Nominated,
    ) -> Status {
        if nominated.is_empty() {
            return self.run_filter(state, pod, node);
        }
        let noms: Vec<&Arc<PodInfo>> = match nominated.get(node.name()) {
            Some(list) => list
                .iter()
                .filter(|p| p.priority >= pod.priority && p.uid() != pod.uid())
                .collect(),
            None => Vec::new(),
        };
        if noms.is_empty() {
            return self.run_filter(state, pod, node);
        }
        let mut state2 = state.clone();
        let mut node2 = node.clone();
        for p in noms {
            node2.add_pod(p.clone());
            let s = self.run_pre_filter_add_pod(&mut state2, pod, p, &node2);
            if !s.is_success() {
                return s;
            }
        }
        let s = self.run_filter(&state2, pod, &node2);
        if !s.is_success() {
            return s;
        }
        self.run_filter(state, pod, node)
    }

    /// Runs PostFilter until one succeeds.
    pub fn run_post_filter(
        &self,
        ctx: &PostFilterContext<'_>,
        state: &CycleState,
        pod: &PodInfo,
        statuses: &NodeToStatus,
    ) -> (PostFilterResult, Status) {
        let mut reasons = Vec::new();
        let mut rejector = "";
        let mut result = PostFilterResult::default();
        for &i in &self.post_filter {
            let p = &self.plugins[i];
            let Some(pf) = p.as_post_filter() else { continue };
            let (r, s) = pf.post_filter(ctx, state, pod, statuses);
            if s.is_success() {
                return (r, s);
            }
            if s.code() == Code::UnschedulableAndUnresolvable || !s.is_rejected() {
                return (r, s.with_plugin(p.name()));
            }
            if r.nominated_node.is_some() {
                result = r;
            }
            reasons.extend(s.reasons().map(|r| std::borrow::Cow::Owned(r.to_string())));
            if rejector.is_empty() {
                rejector = p.name();
            }
        }
        (
            result,
            Status::with_reasons(Code::Unschedulable, reasons).with_plugin(rejector),
        )
    }

    /// Runs PreScore; Skip turns a plugin's Score off for this pod.
    pub fn run_pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        nodes: &[&NodeInfo],
        snapshot: &Snapshot,
    ) -> Status {
        for &i in &self.pre_score {
            let p = &self.plugins[i];
            let Some(ps) = p.as_pre_score() else { continue };
            let s = ps.pre_score(state, pod, nodes, snapshot);
            if s.is_skip() {
                state.skip_score |= bit(i);
            } else if !s.is_success() {
                return s.with_plugin(p.name());
            }
        }
        Status::success()
    }

    /// Scores `nodes`: each plugin's raw scores are normalised, checked to lie within
    /// 0..=100 and weighted; the sum per node is returned.
    pub fn run_score(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        nodes: &[&NodeInfo],
    ) -> Result<Vec<i64>, Status> {
        let mut totals = vec![0i64; nodes.len()];
        let mut scores = vec![0i64; nodes.len()];
        for &i in &self.score {
            if state.skip_score & bit(i) != 0 {
                continue;
            }
            let p = &self.plugins[i];
            let Some(sp) = p.as_score() else { continue };
            for (j, n) in nodes.iter().enumerate() {
                scores[j] = sp.score(state, pod, n).map_err(|s| s.with_plugin(p.name()))?;
            }
            let s = sp.normalize(state, pod, nodes, &mut scores);
            if !s.is_success() {
                return Err(s.with_plugin(p.name()));
            }
            let w = self.weights[i];
            for (t, s) in totals.iter_mut().zip(&scores) {
                if !(0..=MAX_NODE_SCORE).contains(s) {
                    return Err(Status::error(format!(
                        "plugin {:?} returns an invalid score {s}, it should in the range of [0, {MAX_NODE_SCORE}] after normalizing",
                        p.name()
                    )));
                }
                *t += s * w;
            }
        }
        Ok(totals)
    }

    /// Runs Reserve; on failure the caller runs [`Framework::run_unreserve`].
    pub fn run_reserve(&self, state: &mut CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        for &i in &self.reserve {
            let Some(r) = self.plugins[i].as_reserve() else {
                continue;
            };
            let s = r.reserve(state, pod, node);
            if !s.is_success() {
                return s.with_plugin(self.plugins[i].name());
            }
        }
        Status::success()
    }

    /// Runs Unreserve of every Reserve plugin, in reverse order.
    pub fn run_unreserve(&self, state: &mut CycleState, pod: &PodInfo, node: &str) {
        for &i in self.reserve.iter().rev() {
            if let Some(r) = self.plugins[i].as_reserve() {
                r.unreserve(state, pod, node);
            }
        }
    }

    /// Runs PreBind.
    pub async fn run_pre_bind(&self, state: &CycleState, pod: &PodInfo, node: &str) -> Status {
        for &i in &self.pre_bind {
            let Some(p) = self.plugins[i].as_pre_bind() else {
                continue;
            };
            let s = p.pre_bind(state, pod, node).await;
            if !s.is_success() {
                return s.with_plugin(self.plugins[i].name());
            }
        }
        Status::success()
    }

    /// Runs Bind until a plugin does not Skip.
    pub async fn run_bind(&self, state: &CycleState, pod: &PodInfo, node: &str) -> Status {
        for &i in &self.bind {
            let Some(b) = self.plugins[i].as_bind() else {
                continue;
            };
            let s = b.bind(state, pod, node).await;
            if !s.is_skip() {
                return s.with_plugin(self.plugins[i].name());
            }
        }
        Status::error("no bind plugin bound the pod")
    }

    /// Whether `event` may make the queued pod schedulable: some plugin that rejected it
    /// registered the event and does not rule it out.
    pub fn event_may_help(&self, qp: &QueuedPodInfo, event: &ClusterEvent) -> bool {
        qp.unschedulable_plugins
            .iter()
            .any(|name| match self.plugins.iter().find(|p| p.name() == *name) {
                Some(p) => p.events().contains(&event.kind) && p.hint(&qp.info, event),
                None => true,
            })
    }
}
