//! InterPodAffinity: required pod affinity (the pod must land in a topology domain that
//! already runs a matching pod), required anti-affinity (it may not land in a domain with a
//! matching pod), existing pods' anti-affinity against the incoming pod, and preferred
//! terms (and existing pods' terms) as scores. Terms select pods by labels in the listed
//! namespaces or the namespaces matching `namespaceSelector` (default: the pod's own).

mod filtering;
mod scoring;
#[cfg(test)]
mod tests;

use std::collections::HashMap;

use crate::framework::pod_info::{AffinityTerm, NamespaceLabels, PodInfo};
use crate::framework::profile::InterPodAffinityArgs;
use crate::framework::selector::{Labels, Selector};
use crate::framework::{
    ClusterEvent, EventKind, FilterPlugin, Plugin, PreFilterPlugin, PreScorePlugin, ScorePlugin,
};

/// Registered name.
pub const NAME: &str = "InterPodAffinity";
/// Filter reason: existing pods' anti-affinity rejects the pod.
pub const ERR_REASON_EXISTING_ANTI_AFFINITY: &str =
    "node(s) didn't satisfy existing pods anti-affinity rules";
/// Filter reason: the pod's affinity is not satisfied.
pub const ERR_REASON_AFFINITY: &str = "node(s) didn't match pod affinity rules";
/// Filter reason: the pod's anti-affinity is not satisfied.
pub const ERR_REASON_ANTI_AFFINITY: &str = "node(s) didn't match pod anti-affinity rules";

/// Counts per topology key and value.
#[derive(Debug, Clone, Default)]
pub(crate) struct TopologyCounts(HashMap<String, HashMap<String, i64>>);

impl TopologyCounts {
    /// Adds `delta` to the domain of `key` the node with `labels` belongs to (nothing when
    /// the node lacks the key); entries reaching zero are dropped.
    fn add(&mut self, key: &str, labels: &Labels, delta: i64) {
        let Some(value) = labels.get(key) else { return };
        let per_key = self.0.entry(key.to_string()).or_default();
        let n = per_key.entry(value.clone()).or_insert(0);
        *n += delta;
        if *n == 0 {
            per_key.remove(value);
            if per_key.is_empty() {
                self.0.remove(key);
            }
        }
    }

    fn get(&self, key: &str, value: &str) -> i64 {
        self.0.get(key).and_then(|m| m.get(value)).copied().unwrap_or(0)
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether the node with `labels` is in any domain with a positive count.
    fn any_for_node(&self, labels: &Labels) -> bool {
        self.0
            .iter()
            .any(|(k, m)| labels.get(k).is_some_and(|v| m.get(v).is_some_and(|n| *n > 0)))
    }
}

/// Whether `pod` matches every term (false for no terms).
fn matches_all(terms: &[AffinityTerm], pod: &PodInfo, ns: &NamespaceLabels) -> bool {
    !terms.is_empty() && terms.iter().all(|t| t.matches(pod, ns))
}

/// The plugin.
#[derive(Debug)]
pub struct InterPodAffinity {
    hard_pod_affinity_weight: i64,
}

impl InterPodAffinity {
    /// From the plugin's arguments.
    pub fn new(args: &InterPodAffinityArgs) -> Self {
        Self {
            hard_pod_affinity_weight: args.hard_pod_affinity_weight,
        }
    }
}

fn uses_namespace_selector(terms: &[AffinityTerm]) -> bool {
    terms
        .iter()
        .any(|t| !matches!(t.namespace_selector, Selector::Nothing))
}

impl Plugin for InterPodAffinity {
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
            EventKind::NamespaceChange,
        ]
    }
    fn hint(&self, pod: &PodInfo, event: &ClusterEvent) -> bool {
        let Some(other) = &event.pod else { return true };
        if uses_namespace_selector(&pod.required_affinity)
            || uses_namespace_selector(&pod.required_anti_affinity)
            || uses_namespace_selector(&other.required_anti_affinity)
        {
            return true;
        }
        let none = NamespaceLabels::new();
        pod.required_affinity
            .iter()
            .chain(&pod.required_anti_affinity)
            .any(|t| t.matches(other, &none))
            || other.required_anti_affinity.iter().any(|t| t.matches(pod, &none))
    }
}
