//! Cluster events that may make a pod that failed scheduling schedulable: the queue moves
//! an unschedulable pod back only when a plugin that rejected it registered the event kind
//! and its hint does not rule the event out.

use std::sync::Arc;

use super::node_info::NodeObj;
use super::pod_info::PodInfo;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// A node was added.
    NodeAdd,
    /// A node's allocatable, labels, taints, unschedulable flag or conditions changed.
    NodeUpdate,
    /// A pod bound to a node was added (or newly assumed).
    AssignedPodAdd,
    /// A pod bound to a node changed labels or resources.
    AssignedPodUpdate,
    /// A pod bound to a node was deleted or finished, freeing its resources.
    AssignedPodDelete,
    /// A PersistentVolume was added or changed.
    PvChange,
    /// A PersistentVolumeClaim was added or changed.
    PvcChange,
    /// A StorageClass was added or changed.
    StorageClassChange,
    /// A namespace was added or relabelled.
    NamespaceChange,
    /// The periodic flush of pods unschedulable for too long; moves every pod.
    Flush,
}

/// An event with the objects it concerns.
#[derive(Debug, Clone)]
pub struct ClusterEvent {
    /// The kind.
    pub kind: EventKind,
    /// The node before an update.
    pub old_node: Option<Arc<NodeObj>>,
    /// The node after an add or update.
    pub node: Option<Arc<NodeObj>>,
    /// The pod of a pod event.
    pub pod: Option<Arc<PodInfo>>,
}

impl ClusterEvent {
    /// An event without objects.
    pub fn simple(kind: EventKind) -> Self {
        Self {
            kind,
            old_node: None,
            node: None,
            pod: None,
        }
    }

    /// A node event.
    pub fn node(kind: EventKind, old: Option<Arc<NodeObj>>, new: Arc<NodeObj>) -> Self {
        Self {
            kind,
            old_node: old,
            node: Some(new),
            pod: None,
        }
    }

    /// A pod event.
    pub fn pod(kind: EventKind, pod: Arc<PodInfo>) -> Self {
        Self {
            kind,
            old_node: None,
            node: None,
            pod: Some(pod),
        }
    }
}
