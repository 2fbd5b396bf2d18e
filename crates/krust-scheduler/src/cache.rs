//! The scheduler cache: every node with the pods bound (or assumed) to it. Pods are
//! "assumed" onto their node as soon as a cycle picks it, before the API confirms the
//! binding, so the next cycle already counts them; a failed binding forgets the pod, and an
//! assumed pod the informer never confirms expires after a TTL.
//!
//! Every change bumps a generation and is logged per node, so [`Cache::update_snapshot`]
//! copies only the nodes that changed since the snapshot's generation.

mod snapshot;
mod volumes;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use snapshot::{PdbInfo, Snapshot};
pub use volumes::VolumeState;

use crate::framework::node_info::{NodeInfo, NodeObj};
use crate::framework::pod_info::{NamespaceLabels, PodInfo};
use crate::framework::selector::Labels;

#[derive(Debug, Clone)]
struct PodState {
    info: Arc<PodInfo>,
    node: String,
    assumed: bool,
    /// When an assumed pod expires (set once its binding finished).
    deadline: Option<Instant>,
}

/// The cache.
#[derive(Debug)]
pub struct Cache {
    nodes: HashMap<String, Arc<NodeInfo>>,
    pods: HashMap<String, PodState>,
    generation: u64,
    /// generation → node changed at that generation (each node appears once, at its latest).
    changes: BTreeMap<u64, String>,
    /// Bumped when the set of nodes (or their zones) changes: the snapshot rebuilds its list.
    list_generation: u64,
    namespaces: Arc<NamespaceLabels>,
    volumes: Arc<VolumeState>,
    pdbs: HashMap<String, PdbInfo>,
    pdb_list: Arc<Vec<PdbInfo>>,
    assumed_ttl: Duration,
}

const ZONE_LABELS: [&str; 4] = [
    "topology.kubernetes.io/region",
    "topology.kubernetes.io/zone",
    "failure-domain.beta.kubernetes.io/region",
    "failure-domain.beta.kubernetes.io/zone",
];

fn zone_key(labels: &Labels) -> String {
    ZONE_LABELS
        .iter()
        .map(|k| labels.get(*k).map(String::as_str).unwrap_or(""))
        .collect::<Vec<_>>()
        .join(":")
}

impl Cache {
    /// An empty cache whose assumed pods expire `assumed_ttl` after their binding finished.
    pub fn new(assumed_ttl: Duration) -> Self {
        Self {
            nodes: HashMap::new(),
            pods: HashMap::new(),
            generation: 0,
            changes: BTreeMap::new(),
            list_generation: 1,
            namespaces: Arc::default(),
            volumes: Arc::default(),
            pdbs: HashMap::new(),
            pdb_list: Arc::default(),
            assumed_ttl,
        }
    }

    /// The node info of `name` for writing: copies it if a snapshot shares it, and logs the
    /// change under a new generation.
    fn touch(&mut self, name: &str) -> &mut NodeInfo {
        self.generation += 1;
        let generation = self.generation;
        let entry = self.nodes.entry(name.to_string()).or_default();
        let info = Arc::make_mut(entry);
        if info.generation != 0 {
            self.changes.remove(&info.generation);
        }
        info.generation = generation;
        self.changes.insert(generation, name.to_string());
        info
    }

    /// Adds or updates a node; returns the previous and the new node object.
    pub fn upsert_node(
        &mut self,
        node: k8s_openapi::api::core::v1::Node,
    ) -> (Option<Arc<NodeObj>>, Arc<NodeObj>) {
        let obj = Arc::new(NodeObj::new(node));
        let name = obj.name.clone();
        let info = self.touch(&name);
        let old = info.node.replace(obj.clone());
        let relist = match &old {
            None => true,
            Some(o) => zone_key(o.labels()) != zone_key(obj.labels()),
        };
        if relist {
            self.list_generation += 1;
        }
        (old, obj)
    }

    /// Removes a node. Pods still bound to it stay accounted (as upstream's "ghost" node)
    /// until they are deleted.
    pub fn remove_node(&mut self, name: &str) -> Option<Arc<NodeObj>> {
        let has_pods = self.nodes.get(name).is_some_and(|n| !n.pods.is_empty());
        let old = if has_pods {
            self.touch(name).node.take()
        } else {
            let info = self.nodes.remove(name)?;
            self.changes.remove(&info.generation);
            info.node.clone()
        };
        self.list_generation += 1;
        old
    }

    fn place(&mut self, info: Arc<PodInfo>, node: &str, assumed: bool) {
        let uid = info.uid().to_string();
        self.touch(node).add_pod(info.clone());
        self.pods.insert(
            uid,
            PodState {
                info,
                node: node.to_string(),
                assumed,
                deadline: None,
            },
        );
    }

    fn unplace(&mut self, uid: &str) -> Option<PodState> {
        let state = self.pods.remove(uid)?;
        let node = state.node.clone();
        let info = self.touch(&node);
        info.remove_pod(uid);
        if info.node.is_none() && info.pods.is_empty() {
            let generation = info.generation;
            self.nodes.remove(&node);
            self.changes.remove(&generation);
            self.list_generation += 1;
        }
        Some(state)
    }

    /// Adds or updates a pod bound to a node (from the informer). An assumed pod is
    /// confirmed. Returns the pod it replaced, if any.
    pub fn upsert_pod(&mut self, info: Arc<PodInfo>) -> Option<Arc<PodInfo>> {
        let uid = info.uid().to_string();
        let node = info.node_name().to_string();
        let old = self.unplace(&uid).map(|s| s.info);
        self.place(info, &node, false);
        old
    }

    /// Removes a pod (deleted or finished); returns it.
    pub fn remove_pod(&mut self, uid: &str) -> Option<Arc<PodInfo>> {
        self.unplace(uid).map(|s| s.info)
    }

    /// Counts `info` (whose `spec.nodeName` is set to the chosen node) on its node before
    /// the API confirms the binding.
    pub fn assume_pod(&mut self, info: Arc<PodInfo>) {
        let node = info.node_name().to_string();
        if let Some(old) = self.pods.get(info.uid())
            && !old.assumed
        {
            return;
        }
        self.unplace(info.uid());
        self.place(info, &node, true);
    }

    /// The binding of an assumed pod finished: start its expiry clock.
    pub fn finish_binding(&mut self, uid: &str, now: Instant) {
        let ttl = self.assumed_ttl;
        if let Some(s) = self.pods.get_mut(uid)
            && s.assumed
        {
            s.deadline = Some(now + ttl);
        }
    }

    /// Drops an assumed pod whose binding failed.
    pub fn forget_pod(&mut self, uid: &str) -> Option<Arc<PodInfo>> {
        if self.pods.get(uid).is_some_and(|s| s.assumed) {
            self.unplace(uid).map(|s| s.info)
        } else {
            None
        }
    }

    /// Whether the pod is assumed (not yet confirmed by the informer).
    pub fn is_assumed(&self, uid: &str) -> bool {
        self.pods.get(uid).is_some_and(|s| s.assumed)
    }

    /// Whether the cache holds the pod (bound or assumed).
    pub fn contains_pod(&self, uid: &str) -> bool {
        self.pods.contains_key(uid)
    }

    /// Removes assumed pods whose binding finished more than the TTL ago without the
    /// informer confirming them; returns them.
    pub fn cleanup_expired(&mut self, now: Instant) -> Vec<Arc<PodInfo>> {
        let expired: Vec<String> = self
            .pods
            .iter()
            .filter(|(_, s)| s.assumed && s.deadline.is_some_and(|d| d <= now))
            .map(|(uid, _)| uid.clone())
            .collect();
        expired
            .iter()
            .filter_map(|uid| self.unplace(uid).map(|s| s.info))
            .collect()
    }

    /// Number of pods (bound and assumed).
    pub fn pod_count(&self) -> usize {
        self.pods.len()
    }

    /// Number of nodes with a node object.
    pub fn node_count(&self) -> usize {
        self.nodes.values().filter(|n| n.node.is_some()).count()
    }

    /// Sets a namespace's labels; returns whether they changed.
    pub fn upsert_namespace(&mut self, name: &str, labels: Labels) -> bool {
        if self.namespaces.get(name) == Some(&labels) {
            return false;
        }
        Arc::make_mut(&mut self.namespaces).insert(name.to_string(), labels);
        true
    }

    /// Forgets a namespace.
    pub fn remove_namespace(&mut self, name: &str) {
        Arc::make_mut(&mut self.namespaces).remove(name);
    }

    /// The volume objects, for changing.
    pub fn volumes_mut(&mut self) -> &mut VolumeState {
        Arc::make_mut(&mut self.volumes)
    }

    /// Adds or replaces a disruption budget (keyed `namespace/name`).
    pub fn upsert_pdb(&mut self, key: &str, pdb: PdbInfo) {
        self.pdbs.insert(key.to_string(), pdb);
        self.pdb_list = Arc::new(self.pdbs.values().cloned().collect());
    }

    /// Removes a disruption budget.
    pub fn remove_pdb(&mut self, key: &str) {
        if self.pdbs.remove(key).is_some() {
            self.pdb_list = Arc::new(self.pdbs.values().cloned().collect());
        }
    }

    /// Brings `snap` up to date, copying only nodes changed since its generation.
    pub fn update_snapshot(&self, snap: &mut Snapshot) {
        let mut rebuild = snap.list_generation != self.list_generation;
        let mut affinity_changed = false;
        if !rebuild {
            for (_, name) in self.changes.range(snap.generation + 1..) {
                let Some(info) = self.nodes.get(name) else {
                    rebuild = true;
                    break;
                };
                match snap.index.get(name) {
                    Some(&i) if info.node.is_some() => {
                        let old = &snap.nodes[i];
                        if old.pods_with_affinity.is_empty() != info.pods_with_affinity.is_empty()
                            || old.pods_with_required_anti_affinity.is_empty()
                                != info.pods_with_required_anti_affinity.is_empty()
                        {
                            affinity_changed = true;
                        }
                        snap.nodes[i] = info.clone();
                    }
                    Some(_) => {
                        rebuild = true;
                        break;
                    }
                    None if info.node.is_some() => {
                        rebuild = true;
                        break;
                    }
                    None => {}
                }
            }
        }
        if rebuild {
            snap.nodes = self.ordered_nodes();
            snap.reindex();
        } else if affinity_changed {
            snap.reindex_affinity();
        }
        snap.namespaces = self.namespaces.clone();
        snap.volumes = self.volumes.clone();
        snap.pdbs = self.pdb_list.clone();
        snap.generation = self.generation;
        snap.list_generation = self.list_generation;
    }

    /// Nodes interleaved across zones (as upstream's node tree), so that stopping after the
    /// first feasible nodes still looks at every zone; by name within a zone.
    fn ordered_nodes(&self) -> Vec<Arc<NodeInfo>> {
        let mut zones: BTreeMap<String, Vec<&Arc<NodeInfo>>> = BTreeMap::new();
        for info in self.nodes.values() {
            if let Some(n) = &info.node {
                zones.entry(zone_key(n.labels())).or_default().push(info);
            }
        }
        let mut lists: Vec<Vec<&Arc<NodeInfo>>> = zones.into_values().collect();
        for l in &mut lists {
            l.sort_by(|a, b| a.name().cmp(b.name()));
        }
        let total = lists.iter().map(Vec::len).sum();
        let mut out = Vec::with_capacity(total);
        let mut i = 0;
        while out.len() < total {
            for l in &lists {
                if let Some(n) = l.get(i) {
                    out.push((*n).clone());
                }
            }
            i += 1;
        }
        out
    }
}

#[cfg(test)]
mod tests;
