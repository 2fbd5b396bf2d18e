//! PodTopologySpread: keeps matching pods spread over topology domains (zones, nodes, …).
//! `DoNotSchedule` constraints filter: placing the pod in a domain may not push that
//! domain's count of matching pods more than `maxSkew` above the least-loaded eligible
//! domain (taking `minDomains` into account). `ScheduleAnyway` constraints, and the
//! cluster-level defaults for pods without constraints, score: fewer matching pods in a
//! node's domains scores higher.
//!
//! Eligible domains come from nodes that have every constraint's topology key and pass the
//! node inclusion policies (`nodeAffinityPolicy`, Honor by default; `nodeTaintsPolicy`,
//! Ignore by default).

mod filtering;
mod scoring;
#[cfg(test)]
mod tests;

use crate::framework::pod_info::PodInfo;
use crate::framework::profile::{DefaultConstraint, DefaultingType, PodTopologySpreadArgs};
use crate::framework::selector::{Labels, RequiredNodeAffinity, Requirement, Selector};
use crate::framework::taints::first_untolerated_hard_taint;
use crate::framework::{
    ClusterEvent, EventKind, FilterPlugin, NodeInfo, Plugin, PreFilterPlugin, PreScorePlugin, ScorePlugin,
};

/// Registered name.
pub const NAME: &str = "PodTopologySpread";
/// Filter reason when the skew would be exceeded.
pub const ERR_REASON_CONSTRAINTS_NOT_MATCH: &str = "node(s) didn't match pod topology spread constraints";
/// Filter reason when the node lacks a topology key.
pub const ERR_REASON_NODE_LABEL_NOT_MATCH: &str =
    "node(s) didn't match pod topology spread constraints (missing required label)";

const HOSTNAME: &str = "kubernetes.io/hostname";
/// Labels that differ between sibling pods of one controller; the default selector leaves
/// them out.
const PER_POD_LABELS: [&str; 5] = [
    "statefulset.kubernetes.io/pod-name",
    "apps.kubernetes.io/pod-index",
    "controller-revision-hash",
    "batch.kubernetes.io/job-completion-index",
    "pod-template-generation",
];

/// A constraint with its selector compiled.
#[derive(Debug, Clone)]
pub(crate) struct Constraint {
    pub max_skew: i32,
    pub topology_key: String,
    pub selector: Selector,
    pub min_domains: i32,
    pub honor_node_affinity: bool,
    pub honor_node_taints: bool,
}

impl Constraint {
    /// Whether `node` counts for this constraint under its node inclusion policies.
    fn includes_node(&self, pod: &PodInfo, node: &NodeInfo, required: &RequiredNodeAffinity) -> bool {
        let Some(n) = &node.node else { return false };
        if self.honor_node_affinity && !required.matches(n.labels(), &n.name) {
            return false;
        }
        if self.honor_node_taints && first_untolerated_hard_taint(n.taints(), pod.tolerations()).is_some() {
            return false;
        }
        true
    }
}

/// Whether the node has every constraint's topology key.
fn has_all_keys(labels: &Labels, constraints: &[Constraint]) -> bool {
    constraints.iter().all(|c| labels.contains_key(&c.topology_key))
}

/// Pods on `node` in namespace `ns`, not terminating, selected by `selector` (an empty
/// selector counts none, as upstream's).
fn count_matching(node: &NodeInfo, selector: &Selector, ns: &str) -> i64 {
    if selector.is_empty() {
        return 0;
    }
    node.pods
        .iter()
        .filter(|p| !p.is_terminating() && p.namespace() == ns && selector.matches(p.labels()))
        .count() as i64
}

/// The plugin.
#[derive(Debug)]
pub struct PodTopologySpread {
    defaults: Vec<DefaultConstraint>,
    system_defaulted: bool,
}

impl PodTopologySpread {
    /// From the plugin's arguments.
    pub fn new(args: &PodTopologySpreadArgs) -> Self {
        Self {
            defaults: args.effective_defaults(),
            system_defaulted: args.defaulting_type == DefaultingType::System,
        }
    }

    /// The pod's constraints with `action`, or the cluster defaults when it has none.
    pub(crate) fn constraints(&self, pod: &PodInfo, action: &str) -> Vec<Constraint> {
        let own = pod.spec().topology_spread_constraints.as_deref().unwrap_or(&[]);
        if !own.is_empty() {
            return own
                .iter()
                .filter(|c| c.when_unsatisfiable == action)
                .map(|c| {
                    let mut selector = Selector::from_label_selector(c.label_selector.as_ref());
                    for k in c.match_label_keys.iter().flatten() {
                        if let Some(v) = pod.labels().get(k) {
                            selector.push(Requirement::equals(k, v));
                        }
                    }
                    Constraint {
                        max_skew: c.max_skew,
                        topology_key: c.topology_key.clone(),
                        selector,
                        min_domains: c.min_domains.unwrap_or(1),
                        honor_node_affinity: c.node_affinity_policy.as_deref() != Some("Ignore"),
                        honor_node_taints: c.node_taints_policy.as_deref() == Some("Honor"),
                    }
                })
                .collect();
        }
        let Some(selector) = default_selector(pod) else {
            return Vec::new();
        };
        self.defaults
            .iter()
            .filter(|c| c.when_unsatisfiable == action)
            .map(|c| Constraint {
                max_skew: c.max_skew,
                topology_key: c.topology_key.clone(),
                selector: selector.clone(),
                min_domains: 1,
                honor_node_affinity: true,
                honor_node_taints: false,
            })
            .collect()
    }
}

/// The selector default constraints use: upstream takes the selectors of the Services,
/// ReplicaSets, ReplicationControllers and StatefulSets that own or select the pod; krust
/// does not watch those, so for a pod controlled by such an owner it selects the siblings
/// by the pod's own labels, minus the labels that differ per pod. Pods without such an
/// owner get no default constraints (as upstream, when nothing selects them).
fn default_selector(pod: &PodInfo) -> Option<Selector> {
    let owned = pod.pod.metadata.owner_references.iter().flatten().any(|o| {
        o.controller == Some(true)
            && matches!(
                o.kind.as_str(),
                "ReplicaSet" | "ReplicationController" | "StatefulSet"
            )
    });
    if !owned {
        return None;
    }
    let labels: Labels = pod
        .labels()
        .iter()
        .filter(|(k, _)| !PER_POD_LABELS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if labels.is_empty() {
        return None;
    }
    Some(Selector::from_set(&labels))
}

impl Plugin for PodTopologySpread {
    fn name(&self) -> &'static str {
        NAME
    }
    fn as_pre_filter(&self) -> Option<&dyn PreFilterPlugin> {
        Some(self)
    }
    fn as_filter(&self) -> Option<&dyn FilterPlugin> {
        Some(self)
    }
    fn as_pre_score(&self) -> Option<&dyn PreScorePlugin> {
        Some(self)
    }
    fn as_score(&self) -> Option<&dyn ScorePlugin> {
        Some(self)
    }
    fn events(&self) -> &'static [EventKind] {
        &[
            EventKind::AssignedPodAdd,
            EventKind::AssignedPodUpdate,
            EventKind::AssignedPodDelete,
            EventKind::NodeAdd,
            EventKind::NodeUpdate,
        ]
    }
    fn hint(&self, pod: &PodInfo, event: &ClusterEvent) -> bool {
        match &event.pod {
            Some(other) => {
                other.namespace() == pod.namespace()
                    && self
                        .constraints(pod, "DoNotSchedule")
                        .iter()
                        .any(|c| c.selector.matches(other.labels()))
            }
            None => true,
        }
    }
}

/// Whether a topology key is the hostname label (counted per node, not per domain map).
fn is_hostname(key: &str) -> bool {
    key == HOSTNAME
}
