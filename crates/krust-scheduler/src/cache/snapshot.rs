//! An immutable view of the cluster for one scheduling cycle. It shares every unchanged
//! `NodeInfo` with the cache (`Arc`), and is brought up to date from the cache's change
//! log by generation, so a cycle at 5,000 nodes copies only what changed since the last.

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::policy::v1::PodDisruptionBudget;

use super::volumes::VolumeState;
use crate::framework::node_info::NodeInfo;
use crate::framework::pod_info::NamespaceLabels;
use crate::framework::selector::{Labels, NO_LABELS, Selector};

/// A PodDisruptionBudget as preemption needs it.
#[derive(Debug, Clone)]
pub struct PdbInfo {
    /// Namespace.
    pub namespace: String,
    /// Pods it covers (an empty selector covers none, as upstream's preemption reads it).
    pub selector: Selector,
    /// `status.disruptionsAllowed`.
    pub disruptions_allowed: i32,
    /// Pods already being disrupted (`status.disruptedPods`), by name.
    pub disrupted_pods: Vec<String>,
}

impl PdbInfo {
    /// From the API object.
    pub fn new(pdb: &PodDisruptionBudget) -> Self {
        let selector = Selector::from_label_selector(pdb.spec.as_ref().and_then(|s| s.selector.as_ref()));
        let status = pdb.status.as_ref();
        Self {
            namespace: pdb.metadata.namespace.clone().unwrap_or_default(),
            selector: if selector.is_empty() {
                Selector::Nothing
            } else {
                selector
            },
            disruptions_allowed: status.map(|s| s.disruptions_allowed).unwrap_or(0),
            disrupted_pods: status
                .and_then(|s| s.disrupted_pods.as_ref())
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default(),
        }
    }
}

/// The cluster as one cycle sees it.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub(super) nodes: Vec<Arc<NodeInfo>>,
    pub(super) index: HashMap<String, usize>,
    pub(super) have_affinity: Vec<usize>,
    pub(super) have_required_anti_affinity: Vec<usize>,
    pub(super) namespaces: Arc<NamespaceLabels>,
    pub(super) volumes: Arc<VolumeState>,
    pub(super) pdbs: Arc<Vec<PdbInfo>>,
    pub(super) generation: u64,
    pub(super) list_generation: u64,
}

impl Snapshot {
    /// A snapshot of hand-built nodes (tests, simulations).
    pub fn from_nodes(nodes: Vec<NodeInfo>) -> Self {
        let mut s = Snapshot {
            nodes: nodes.into_iter().map(Arc::new).collect(),
            ..Default::default()
        };
        s.reindex();
        s
    }

    /// With namespace labels (tests).
    pub fn with_namespaces(mut self, ns: NamespaceLabels) -> Self {
        self.namespaces = Arc::new(ns);
        self
    }

    /// With volume objects (tests).
    pub fn with_volumes(mut self, v: VolumeState) -> Self {
        self.volumes = Arc::new(v);
        self
    }

    /// With disruption budgets (tests).
    pub fn with_pdbs(mut self, p: Vec<PdbInfo>) -> Self {
        self.pdbs = Arc::new(p);
        self
    }

    pub(super) fn reindex(&mut self) {
        self.index = self
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name().to_string(), i))
            .collect();
        self.reindex_affinity();
    }

    pub(super) fn reindex_affinity(&mut self) {
        self.have_affinity.clear();
        self.have_required_anti_affinity.clear();
        for (i, n) in self.nodes.iter().enumerate() {
            if !n.pods_with_affinity.is_empty() {
                self.have_affinity.push(i);
            }
            if !n.pods_with_required_anti_affinity.is_empty() {
                self.have_required_anti_affinity.push(i);
            }
        }
    }

    /// Every node (with a node object), in scheduling order.
    pub fn nodes(&self) -> &[Arc<NodeInfo>] {
        &self.nodes
    }

    /// Number of nodes.
    pub fn num_nodes(&self) -> usize {
        self.nodes.len()
    }

    /// A node by name.
    pub fn get(&self, name: &str) -> Option<&Arc<NodeInfo>> {
        self.index.get(name).map(|&i| &self.nodes[i])
    }

    /// Nodes with at least one pod carrying (anti-)affinity terms.
    pub fn have_pods_with_affinity(&self) -> impl Iterator<Item = &Arc<NodeInfo>> {
        self.have_affinity.iter().map(|&i| &self.nodes[i])
    }

    /// Whether any node has a pod with (anti-)affinity terms.
    pub fn any_pods_with_affinity(&self) -> bool {
        !self.have_affinity.is_empty()
    }

    /// Nodes with at least one pod carrying a required anti-affinity term.
    pub fn have_pods_with_required_anti_affinity(&self) -> impl Iterator<Item = &Arc<NodeInfo>> {
        self.have_required_anti_affinity.iter().map(|&i| &self.nodes[i])
    }

    /// Labels of every namespace.
    pub fn namespace_labels(&self) -> &NamespaceLabels {
        &self.namespaces
    }

    /// Labels of every namespace, shared.
    pub fn namespace_labels_arc(&self) -> Arc<NamespaceLabels> {
        self.namespaces.clone()
    }

    /// Labels of one namespace.
    pub fn labels_of_namespace(&self, ns: &str) -> &Labels {
        self.namespaces.get(ns).unwrap_or(&NO_LABELS)
    }

    /// Volumes, claims and storage classes.
    pub fn volumes(&self) -> &Arc<VolumeState> {
        &self.volumes
    }

    /// Disruption budgets.
    pub fn pdbs(&self) -> &[PdbInfo] {
        &self.pdbs
    }
}
