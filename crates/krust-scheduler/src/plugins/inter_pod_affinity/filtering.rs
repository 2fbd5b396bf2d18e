//! PreFilter and Filter of InterPodAffinity: three counts per topology domain, computed
//! once per cycle — existing pods whose anti-affinity matches the incoming pod, pods
//! matching all of the incoming pod's affinity terms, pods matching its anti-affinity terms.

use std::sync::Arc;

use super::{
    ERR_REASON_AFFINITY, ERR_REASON_ANTI_AFFINITY, ERR_REASON_EXISTING_ANTI_AFFINITY, InterPodAffinity,
    TopologyCounts, matches_all,
};
use crate::cache::Snapshot;
use crate::framework::pod_info::NamespaceLabels;
use crate::framework::{CycleState, FilterPlugin, NodeInfo, PodInfo, PreFilterPlugin, Status};

#[derive(Debug, Clone)]
pub(crate) struct PreFilterState {
    existing_anti: TopologyCounts,
    affinity: TopologyCounts,
    anti: TopologyCounts,
    namespaces: Arc<NamespaceLabels>,
}

impl PreFilterState {
    fn update_with_pod(&mut self, updated: &PodInfo, pod: &PodInfo, node: &NodeInfo, delta: i64) {
        let labels = node.labels();
        for t in &updated.required_anti_affinity {
            if t.matches(pod, &self.namespaces) {
                self.existing_anti.add(&t.topology_key, labels, delta);
            }
        }
        if matches_all(&pod.required_affinity, updated, &self.namespaces) {
            for t in &pod.required_affinity {
                self.affinity.add(&t.topology_key, labels, delta);
            }
        }
        for t in &pod.required_anti_affinity {
            if t.matches(updated, &self.namespaces) {
                self.anti.add(&t.topology_key, labels, delta);
            }
        }
    }
}

impl PreFilterPlugin for InterPodAffinity {
    fn pre_filter(&self, state: &mut CycleState, pod: &PodInfo, snap: &Snapshot) -> Status {
        let own = !pod.required_affinity.is_empty() || !pod.required_anti_affinity.is_empty();
        let mut existing = snap.have_pods_with_required_anti_affinity().peekable();
        if !own && existing.peek().is_none() {
            return Status::skip();
        }
        let namespaces = snap.namespace_labels_arc();
        let mut s = PreFilterState {
            existing_anti: TopologyCounts::default(),
            affinity: TopologyCounts::default(),
            anti: TopologyCounts::default(),
            namespaces,
        };
        for node in existing {
            let labels = node.labels();
            for other in &node.pods_with_required_anti_affinity {
                for t in &other.required_anti_affinity {
                    if t.matches(pod, &s.namespaces) {
                        s.existing_anti.add(&t.topology_key, labels, 1);
                    }
                }
            }
        }
        if own {
            for node in snap.nodes() {
                let labels = node.labels();
                for other in &node.pods {
                    if matches_all(&pod.required_affinity, other, &s.namespaces) {
                        for t in &pod.required_affinity {
                            s.affinity.add(&t.topology_key, labels, 1);
                        }
                    }
                    for t in &pod.required_anti_affinity {
                        if t.matches(other, &s.namespaces) {
                            s.anti.add(&t.topology_key, labels, 1);
                        }
                    }
                }
            }
        }
        state.write(s);
        Status::success()
    }

    fn add_pod(&self, state: &mut CycleState, pod: &PodInfo, added: &PodInfo, node: &NodeInfo) -> Status {
        if let Some(s) = state.read_mut::<PreFilterState>() {
            s.update_with_pod(added, pod, node, 1);
        }
        Status::success()
    }

    fn remove_pod(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        removed: &PodInfo,
        node: &NodeInfo,
    ) -> Status {
        if let Some(s) = state.read_mut::<PreFilterState>() {
            s.update_with_pod(removed, pod, node, -1);
        }
        Status::success()
    }
}

fn satisfies_affinity(s: &PreFilterState, pod: &PodInfo, node: &NodeInfo) -> bool {
    let labels = node.labels();
    let mut pods_exist = true;
    for t in &pod.required_affinity {
        match labels.get(&t.topology_key) {
            // Every topology key must exist on the node.
            None => return false,
            Some(v) if s.affinity.get(&t.topology_key, v) <= 0 => pods_exist = false,
            Some(_) => {}
        }
    }
    if pods_exist {
        return true;
    }
    // The first pod of a group with affinity to itself: no pod matches anywhere yet, and the
    // pod matches its own terms.
    s.affinity.is_empty() && matches_all(&pod.required_affinity, pod, &s.namespaces)
}

fn satisfies_anti_affinity(s: &PreFilterState, pod: &PodInfo, node: &NodeInfo) -> bool {
    if s.anti.is_empty() {
        return true;
    }
    let labels = node.labels();
    !pod.required_anti_affinity.iter().any(|t| {
        labels
            .get(&t.topology_key)
            .is_some_and(|v| s.anti.get(&t.topology_key, v) > 0)
    })
}

impl FilterPlugin for InterPodAffinity {
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let Some(s) = state.read::<PreFilterState>() else {
            return Status::success();
        };
        if !satisfies_affinity(s, pod, node) {
            return Status::unresolvable(ERR_REASON_AFFINITY);
        }
        if !satisfies_anti_affinity(s, pod, node) {
            return Status::unschedulable(ERR_REASON_ANTI_AFFINITY);
        }
        if s.existing_anti.any_for_node(node.labels()) {
            return Status::unschedulable(ERR_REASON_EXISTING_ANTI_AFFINITY);
        }
        Status::success()
    }
}
