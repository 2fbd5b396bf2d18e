//! The ownerReferences graph: a small record of every object (metadata only), and for
//! every owner uid the objects that name it. Applying a change returns the uids the
//! collector should look at again; deciding what to do with them is `decide`'s job.
//!
//! Owners are indexed by uid whether or not they have been seen: a dependent may be
//! observed before its owner, or its owner may never exist. That replaces upstream's
//! "virtual" nodes: a dependent whose owner is not (yet) known is simply looked at, and
//! the owner verified against the API server then.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::discovery::Served;

/// An object's uid.
pub type Uid = String;

/// Finalizer that makes an owner wait for its blocking dependents (Foreground).
pub const FOREGROUND: &str = "foregroundDeletion";
/// Finalizer that makes the collector orphan an owner's dependents first (Orphan).
pub const ORPHAN: &str = "orphan";

/// One ownerReference, as much of it as the collector needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerRef {
    /// `apiVersion` of the owner.
    pub api_version: String,
    /// Kind of the owner.
    pub kind: String,
    /// Name of the owner.
    pub name: String,
    /// Uid of the owner: the owner's identity.
    pub uid: Uid,
    /// `blockOwnerDeletion`: a Foreground deletion of the owner waits for this object.
    pub block: bool,
}

impl OwnerRef {
    /// The API group named by `apiVersion`.
    pub fn group(&self) -> &str {
        self.api_version.rsplit_once('/').map_or("", |(g, _)| g)
    }
}

/// What the collector knows about one object.
#[derive(Debug, Clone)]
pub struct Node {
    /// The resource type (from the watch that saw it).
    pub served: Arc<Served>,
    /// Namespace (`None` for cluster-scoped objects).
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
    /// Uid.
    pub uid: Uid,
    /// The resourceVersion last seen: deletes decided on what the graph knows carry it as
    /// a precondition, so they fail if the object changed meanwhile.
    pub resource_version: Option<String>,
    /// Its ownerReferences.
    pub owners: Vec<OwnerRef>,
    /// Has a deletionTimestamp.
    pub being_deleted: bool,
    /// Has the `foregroundDeletion` finalizer.
    pub foreground: bool,
    /// Has the `orphan` finalizer.
    pub orphan: bool,
}

impl Node {
    /// Being deleted in the foreground: waits for its blocking dependents.
    pub fn deleting_dependents(&self) -> bool {
        self.being_deleted && self.foreground
    }

    /// Being deleted with Orphan propagation: its dependents are to be released.
    pub fn orphaning(&self) -> bool {
        self.being_deleted && self.orphan
    }

    /// Whether `r` points at this object by kind, group and name (the version may
    /// differ: an owner is one object whatever version it is read in).
    pub fn matches(&self, r: &OwnerRef) -> bool {
        r.kind == self.served.resource.kind && r.group() == self.served.resource.group && r.name == self.name
    }

    /// Whether this node's reference to `owner` blocks the owner's Foreground deletion.
    pub fn blocks(&self, owner: &str) -> bool {
        self.owners.iter().any(|o| o.uid == owner && o.block)
    }
}

/// The graph.
#[derive(Debug, Default)]
pub struct Graph {
    nodes: HashMap<Uid, Node>,
    /// Owner uid → uids of the objects naming it.
    dependents: HashMap<Uid, HashSet<Uid>>,
}

impl Graph {
    /// The node of `uid`, if observed.
    pub fn get(&self, uid: &str) -> Option<&Node> {
        self.nodes.get(uid)
    }

    /// Number of observed objects.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// The observed objects naming `owner` in their ownerReferences.
    pub fn dependents(&self, owner: &str) -> Vec<&Node> {
        self.dependents
            .get(owner)
            .map(|d| d.iter().filter_map(|u| self.nodes.get(u)).collect())
            .unwrap_or_default()
    }

    /// Uids of the observed objects of one resource type.
    pub fn uids_of(&self, served: &Served) -> Vec<Uid> {
        self.nodes
            .values()
            .filter(|n| n.served.resource == served.resource)
            .map(|n| n.uid.clone())
            .collect()
    }

    /// Whether a dependent should be checked now: one of its owners is not known to be
    /// a valid, present owner, or is waiting for its dependents.
    fn needs_check(&self, n: &Node) -> bool {
        n.owners.iter().any(|o| match self.nodes.get(&o.uid) {
            None => true,
            Some(owner) => {
                !owner.matches(o)
                    || owner.deleting_dependents()
                    || (owner.served.namespaced && owner.namespace != n.namespace)
            }
        })
    }

    /// Records an added or changed object; returns the uids to look at.
    pub fn apply(&mut self, node: Node) -> Vec<Uid> {
        let uid = node.uid.clone();
        let old = self.nodes.remove(&uid);
        let mut out = Vec::new();
        let old_owners = old.as_ref().map(|o| o.owners.as_slice()).unwrap_or_default();
        for o in old_owners {
            if !node.owners.iter().any(|n| n.uid == o.uid) {
                self.unlink(&o.uid, &uid);
            }
            // A blocking reference went away or stopped blocking: the owner may be done.
            let still_blocks = node.owners.iter().any(|n| n.uid == o.uid && n.block);
            if o.block && !still_blocks {
                out.push(o.uid.clone());
            }
        }
        for o in &node.owners {
            self.dependents
                .entry(o.uid.clone())
                .or_default()
                .insert(uid.clone());
        }
        let owners_changed = old.as_ref().is_none_or(|o| o.owners != node.owners);
        if owners_changed && !node.owners.is_empty() && self.needs_check(&node) {
            out.push(uid.clone());
        }
        if node.orphaning() || node.deleting_dependents() {
            out.push(uid.clone());
        }
        let starts_deleting_dependents =
            node.deleting_dependents() && !old.as_ref().is_some_and(Node::deleting_dependents);
        if starts_deleting_dependents {
            // Every dependent goes, blocking or not; the owner only waits for the blocking.
            out.extend(self.dependents.get(&uid).into_iter().flatten().cloned());
        }
        if old.is_none() {
            // Dependents seen before this owner that name it wrongly (other namespace,
            // other kind or name) are treated as having a missing owner.
            for d in self.dependents(&uid) {
                let wrong = d.owners.iter().any(|o| {
                    o.uid == uid
                        && (!node.matches(o) || (node.served.namespaced && node.namespace != d.namespace))
                });
                if wrong {
                    out.push(d.uid.clone());
                }
            }
        }
        self.nodes.insert(uid, node);
        out.sort();
        out.dedup();
        out
    }

    /// Records a deleted object; returns the uids to look at: its dependents (their
    /// owner is gone) and its owners that wait for their dependents.
    pub fn remove(&mut self, uid: &str) -> Vec<Uid> {
        let Some(node) = self.nodes.remove(uid) else {
            return Vec::new();
        };
        let mut out: Vec<Uid> = self.dependents.get(uid).into_iter().flatten().cloned().collect();
        for o in &node.owners {
            self.unlink(&o.uid, uid);
            if self.nodes.get(&o.uid).is_some_and(Node::deleting_dependents) {
                out.push(o.uid.clone());
            }
        }
        out.sort();
        out.dedup();
        out
    }

    fn unlink(&mut self, owner: &str, dependent: &str) {
        if let Some(set) = self.dependents.get_mut(owner) {
            set.remove(dependent);
            if set.is_empty() {
                self.dependents.remove(owner);
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use kube::discovery::ApiResource;

    pub fn served(kind: &str, namespaced: bool) -> Arc<Served> {
        Arc::new(Served {
            resource: ApiResource {
                group: String::new(),
                version: "v1".into(),
                api_version: "v1".into(),
                kind: kind.into(),
                plural: format!("{}s", kind.to_lowercase()),
            },
            namespaced,
            verbs: vec!["list".into(), "watch".into(), "delete".into()],
        })
    }

    pub fn cm(name: &str, owners: &[(&str, bool)]) -> Node {
        Node {
            served: served("ConfigMap", true),
            namespace: Some("default".into()),
            name: name.into(),
            uid: name.into(),
            resource_version: None,
            owners: owners
                .iter()
                .map(|(o, block)| OwnerRef {
                    api_version: "v1".into(),
                    kind: "ConfigMap".into(),
                    name: (*o).into(),
                    uid: (*o).into(),
                    block: *block,
                })
                .collect(),
            being_deleted: false,
            foreground: false,
            orphan: false,
        }
    }

    #[test]
    fn a_dependent_of_an_unseen_owner_is_checked() {
        let mut g = Graph::default();
        assert_eq!(g.apply(cm("child", &[("parent", false)])), vec!["child"]);
        // Seen again unchanged: nothing new to do.
        assert!(g.apply(cm("child", &[("parent", false)])).is_empty());
        // Once the owner is known and valid, a new dependent needs no check.
        assert!(g.apply(cm("parent", &[])).is_empty());
        assert!(g.apply(cm("child2", &[("parent", false)])).is_empty());
        assert_eq!(g.dependents("parent").len(), 2);
    }

    #[test]
    fn deleting_an_owner_points_at_its_dependents() {
        let mut g = Graph::default();
        g.apply(cm("parent", &[]));
        g.apply(cm("a", &[("parent", true)]));
        g.apply(cm("b", &[("parent", false)]));
        assert_eq!(g.remove("parent"), vec!["a", "b"]);
        assert!(g.remove("parent").is_empty());
        assert_eq!(g.len(), 2);
    }

    #[test]
    fn foreground_owner_is_told_when_a_blocking_dependent_goes() {
        let mut g = Graph::default();
        g.apply(cm("parent", &[]));
        g.apply(cm("a", &[("parent", true)]));
        let mut p = cm("parent", &[]);
        p.being_deleted = true;
        p.foreground = true;
        assert_eq!(g.apply(p), vec!["a", "parent"]);
        assert_eq!(g.remove("a"), vec!["parent"]);
    }

    #[test]
    fn unblocking_a_reference_points_at_the_owner() {
        let mut g = Graph::default();
        g.apply(cm("parent", &[]));
        g.apply(cm("a", &[("parent", true)]));
        assert_eq!(g.apply(cm("a", &[("parent", false)])), vec!["parent"]);
        assert_eq!(g.apply(cm("a", &[])), Vec::<Uid>::new());
        assert!(g.dependents("parent").is_empty());
    }

    #[test]
    fn an_owner_in_another_namespace_is_suspect() {
        let mut g = Graph::default();
        let mut owner = cm("parent", &[]);
        owner.namespace = Some("other".into());
        g.apply(owner);
        assert_eq!(g.apply(cm("child", &[("parent", false)])), vec!["child"]);
        // Seen in the other order, the owner's arrival points at the dependent.
        let mut g = Graph::default();
        g.apply(cm("child", &[("parent", false)]));
        let mut owner = cm("parent", &[]);
        owner.namespace = Some("other".into());
        assert_eq!(g.apply(owner), vec!["child"]);
    }

    #[test]
    fn orphaning_owner_is_looked_at() {
        let mut g = Graph::default();
        let mut p = cm("parent", &[]);
        p.being_deleted = true;
        p.orphan = true;
        assert_eq!(g.apply(p), vec!["parent"]);
    }
}
