//! The in-tree plugins, one module each, and the registry that builds a profile's
//! framework from plugin names.

pub mod balanced_allocation;
pub mod default_binder;
pub mod default_preemption;
mod helpers;
pub mod inter_pod_affinity;
pub mod node_affinity;
pub mod node_name;
pub mod node_ports;
pub mod node_resources_fit;
pub mod node_unschedulable;
pub mod pod_topology_spread;
pub mod taint_toleration;
#[cfg(test)]
pub(crate) mod testing;
pub mod volume_binding;

use std::sync::Arc;

use crate::api::ClusterApi;
use crate::framework::profile::{PluginArgs, Profile};
use crate::framework::{Framework, Plugin};

/// What plugins may use besides their arguments.
#[derive(Clone)]
pub struct Handle {
    /// The API, for plugins that bind.
    pub api: Arc<dyn ClusterApi>,
}

/// Builds a plugin from its arguments.
pub type Factory = fn(&PluginArgs, &Handle) -> Arc<dyn Plugin>;

/// Every in-tree plugin by name.
pub fn registry() -> Vec<(&'static str, Factory)> {
    vec![
        (node_unschedulable::NAME, |_, _| {
            Arc::new(node_unschedulable::NodeUnschedulable)
        }),
        (node_name::NAME, |_, _| Arc::new(node_name::NodeName)),
        (taint_toleration::NAME, |_, _| {
            Arc::new(taint_toleration::TaintToleration)
        }),
        (node_affinity::NAME, |_, _| Arc::new(node_affinity::NodeAffinity)),
        (node_ports::NAME, |_, _| Arc::new(node_ports::NodePorts)),
        (node_resources_fit::NAME, |a, _| {
            Arc::new(node_resources_fit::NodeResourcesFit::new(&a.node_resources_fit))
        }),
        (balanced_allocation::NAME, |a, _| {
            Arc::new(balanced_allocation::BalancedAllocation::new(
                &a.node_resources_balanced_allocation,
            ))
        }),
        (volume_binding::NAME, |_, h| {
            Arc::new(volume_binding::VolumeBinding::new(h.api.clone()))
        }),
        (pod_topology_spread::NAME, |a, _| {
            Arc::new(pod_topology_spread::PodTopologySpread::new(
                &a.pod_topology_spread,
            ))
        }),
        (inter_pod_affinity::NAME, |a, _| {
            Arc::new(inter_pod_affinity::InterPodAffinity::new(&a.inter_pod_affinity))
        }),
        (default_preemption::NAME, |_, _| {
            Arc::new(default_preemption::DefaultPreemption)
        }),
        (default_binder::NAME, |_, h| {
            Arc::new(default_binder::DefaultBinder::new(h.api.clone()))
        }),
    ]
}

/// Builds the framework of `profile`; an unknown plugin name is an error.
pub fn build_framework(profile: &Profile, handle: &Handle) -> Result<Framework, String> {
    let reg = registry();
    let mut plugins = Vec::new();
    for spec in &profile.plugins {
        let Some((_, factory)) = reg.iter().find(|(n, _)| *n == spec.name) else {
            return Err(format!("unknown plugin {:?} in the scheduler profile", spec.name));
        };
        plugins.push((factory(&profile.plugin_config, handle), spec.weight.unwrap_or(1)));
    }
    if plugins.len() > 64 {
        return Err("a profile may enable at most 64 plugins".into());
    }
    Ok(Framework::new(plugins, profile.percentage_of_nodes_to_score))
}
