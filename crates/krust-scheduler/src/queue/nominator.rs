//! Pods nominated to a node by preemption (or by an earlier scheduler, through
//! `status.nominatedNodeName`). Filters count them on their node for pods of lower or
//! equal priority, so the space preemption freed is not taken by someone else.

use std::collections::HashMap;
use std::sync::Arc;

use crate::framework::interface::Nominated;
use crate::framework::pod_info::PodInfo;

/// Nominations by node, shared copy-on-write with scheduling cycles.
#[derive(Debug, Default)]
pub struct Nominator {
    by_node: Arc<Nominated>,
    node_of: HashMap<String, String>,
}

impl Nominator {
    /// Nominates `pod` to `node` (replacing an earlier nomination); an empty node clears it.
    pub fn set(&mut self, pod: Arc<PodInfo>, node: &str) {
        self.remove(&pod.key);
        if node.is_empty() {
            return;
        }
        self.node_of.insert(pod.key.clone(), node.to_string());
        Arc::make_mut(&mut self.by_node)
            .entry(node.to_string())
            .or_default()
            .push(pod);
    }

    /// Replaces the pod object of an existing nomination.
    pub fn refresh(&mut self, pod: &Arc<PodInfo>) {
        let Some(node) = self.node_of.get(&pod.key).cloned() else {
            return;
        };
        if let Some(list) = Arc::make_mut(&mut self.by_node).get_mut(&node) {
            for p in list.iter_mut().filter(|p| p.key == pod.key) {
                *p = pod.clone();
            }
        }
    }

    /// Removes the nomination of the pod with `key`.
    pub fn remove(&mut self, key: &str) {
        let Some(node) = self.node_of.remove(key) else {
            return;
        };
        let map = Arc::make_mut(&mut self.by_node);
        if let Some(list) = map.get_mut(&node) {
            list.retain(|p| p.key != key);
            if list.is_empty() {
                map.remove(&node);
            }
        }
    }

    /// The node `key` is nominated to.
    pub fn node_of(&self, key: &str) -> Option<&str> {
        self.node_of.get(key).map(String::as_str)
    }

    /// A shared copy of all nominations for one cycle.
    pub fn snapshot(&self) -> Arc<Nominated> {
        self.by_node.clone()
    }
}
