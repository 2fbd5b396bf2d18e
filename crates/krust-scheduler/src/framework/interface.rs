//! The extension points a plugin may implement, as upstream's framework defines them. A
//! plugin implements [`Plugin`] and returns itself from the `as_*` accessors of the points
//! it takes part in. Everything up to Reserve is a pure function of the pod, the snapshot
//! and the cycle state; PreBind and Bind talk to the API and are asynchronous.

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::future::BoxFuture;

use super::cycle_state::CycleState;
use super::diagnosis::NodeToStatus;
use super::events::{ClusterEvent, EventKind};
use super::node_info::NodeInfo;
use super::pod_info::PodInfo;
use super::runtime::Framework;
use super::status::Status;
use crate::cache::Snapshot;

/// The highest score a plugin gives a node.
pub const MAX_NODE_SCORE: i64 = 100;

/// Pods nominated to run on a node (after preemption), by node name.
pub type Nominated = HashMap<String, Vec<Arc<PodInfo>>>;

/// A scheduler plugin.
pub trait Plugin: Send + Sync {
    /// The plugin's registered name.
    fn name(&self) -> &'static str;
    /// PreFilter, if implemented.
    fn as_pre_filter(&self) -> Option<&dyn PreFilterPlugin> {
        None
    }
    /// Filter, if implemented.
    fn as_filter(&self) -> Option<&dyn FilterPlugin> {
        None
    }
    /// PostFilter, if implemented.
    fn as_post_filter(&self) -> Option<&dyn PostFilterPlugin> {
        None
    }
    /// PreScore, if implemented.
    fn as_pre_score(&self) -> Option<&dyn PreScorePlugin> {
        None
    }
    /// Score, if implemented.
    fn as_score(&self) -> Option<&dyn ScorePlugin> {
        None
    }
    /// Reserve, if implemented.
    fn as_reserve(&self) -> Option<&dyn ReservePlugin> {
        None
    }
    /// PreBind, if implemented.
    fn as_pre_bind(&self) -> Option<&dyn PreBindPlugin> {
        None
    }
    /// Bind, if implemented.
    fn as_bind(&self) -> Option<&dyn BindPlugin> {
        None
    }
    /// Cluster events after which a pod this plugin rejected may fit.
    fn events(&self) -> &'static [EventKind] {
        &[]
    }
    /// Whether `event` may make `pod` (rejected by this plugin) schedulable; the default
    /// says yes for every registered event.
    fn hint(&self, _pod: &PodInfo, _event: &ClusterEvent) -> bool {
        true
    }
}

/// Checks or pre-computes something once per pod, before the nodes are filtered.
pub trait PreFilterPlugin: Send + Sync {
    /// Runs once per cycle; Skip means the plugin's Filter is not needed for this pod.
    fn pre_filter(&self, state: &mut CycleState, pod: &PodInfo, snapshot: &Snapshot) -> Status;
    /// Updates the pre-computed state as if `added` were placed on `node` (preemption and
    /// nominated pods use this).
    fn add_pod(&self, _state: &mut CycleState, _pod: &PodInfo, _added: &PodInfo, _node: &NodeInfo) -> Status {
        Status::success()
    }
    /// Updates the pre-computed state as if `removed` left `node`.
    fn remove_pod(
        &self,
        _state: &mut CycleState,
        _pod: &PodInfo,
        _removed: &PodInfo,
        _node: &NodeInfo,
    ) -> Status {
        Status::success()
    }
}

/// Decides whether the pod may run on one node.
pub trait FilterPlugin: Send + Sync {
    /// Success, or a rejection with reasons.
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status;
}

/// What PostFilter (preemption) decided; the scheduler carries out the API side.
#[derive(Debug, Clone, Default)]
pub struct PostFilterResult {
    /// The node the pod is nominated to (`Some("")` clears a nomination).
    pub nominated_node: Option<String>,
    /// Pods to evict from that node.
    pub victims: Vec<Arc<PodInfo>>,
    /// Lower-priority pods nominated to that node whose nomination must be cleared.
    pub clear_nominations: Vec<Arc<PodInfo>>,
}

/// Runs when no node fits, e.g. preemption.
pub trait PostFilterPlugin: Send + Sync {
    /// Success with a nomination, or a status explaining why nothing helps.
    fn post_filter(
        &self,
        ctx: &PostFilterContext<'_>,
        state: &CycleState,
        pod: &PodInfo,
        statuses: &NodeToStatus,
    ) -> (PostFilterResult, Status);
}

/// What a PostFilter plugin can see: the snapshot, the framework (to re-run filters on a
/// simulated node) and the nominated pods.
pub struct PostFilterContext<'a> {
    /// The cycle's snapshot.
    pub snapshot: &'a Snapshot,
    /// The running framework.
    pub framework: &'a Framework,
    /// Nominated pods by node.
    pub nominated: &'a Nominated,
}

/// Pre-computes scoring state for the feasible nodes.
pub trait PreScorePlugin: Send + Sync {
    /// Skip means the plugin's Score is not run for this pod.
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        nodes: &[&NodeInfo],
        snapshot: &Snapshot,
    ) -> Status;
}

/// Ranks feasible nodes.
pub trait ScorePlugin: Send + Sync {
    /// The raw score of one node.
    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status>;
    /// Rescales raw scores to 0..=MAX_NODE_SCORE (default: keep them).
    fn normalize(
        &self,
        _state: &CycleState,
        _pod: &PodInfo,
        _nodes: &[&NodeInfo],
        _scores: &mut [i64],
    ) -> Status {
        Status::success()
    }
}

/// Reserves cluster resources for the pod on the chosen node before binding.
pub trait ReservePlugin: Send + Sync {
    /// Reserve on the chosen node; a failure un-reserves every plugin and fails the cycle.
    fn reserve(&self, state: &mut CycleState, pod: &PodInfo, node: &NodeInfo) -> Status;
    /// Undo Reserve.
    fn unreserve(&self, state: &mut CycleState, pod: &PodInfo, node: &str);
}

/// Prepares binding through the API (e.g. binds volumes).
pub trait PreBindPlugin: Send + Sync {
    /// Runs in the binding cycle.
    fn pre_bind<'a>(
        &'a self,
        state: &'a CycleState,
        pod: &'a PodInfo,
        node: &'a str,
    ) -> BoxFuture<'a, Status>;
}

/// Binds the pod to the node through the API.
pub trait BindPlugin: Send + Sync {
    /// Skip passes on to the next Bind plugin.
    fn bind<'a>(&'a self, state: &'a CycleState, pod: &'a PodInfo, node: &'a str) -> BoxFuture<'a, Status>;
}
