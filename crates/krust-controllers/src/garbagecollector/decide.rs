//! The collector's decisions, as pure functions of what it knows, following upstream's
//! rules:
//!
//! - an object all of whose owners are gone is deleted (with the propagation its own
//!   finalizers ask for, else Background);
//! - an object with at least one present owner stays; references to absent owners, and to
//!   owners waiting for their dependents, are removed from it;
//! - an object whose only present owners wait for their dependents (Foreground) is deleted
//!   in the foreground itself if it has dependents, so the wait propagates down; if one of
//!   its dependents also waits (a cycle), it first stops blocking its owners;
//! - an owner waiting for its dependents loses the `foregroundDeletion` finalizer once no
//!   dependent with `blockOwnerDeletion` remains.
//!
//! A namespaced owner must live in its dependent's namespace; a reference to one elsewhere
//! counts as a reference to an absent owner. A cluster-scoped object cannot be owned by a
//! namespaced kind at all: such an object is left alone.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

use super::graph::{Node, OwnerRef, Uid};

/// What an owner reference turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerState {
    /// The owner exists and is not waiting for its dependents.
    Solid,
    /// The owner does not exist (absent, another uid, or in another namespace).
    Dangling,
    /// The owner exists, is being deleted, and waits for its dependents (Foreground).
    Waiting,
}

/// What the graph can say about one owner reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// Settled by the graph.
    Known(OwnerState),
    /// A namespaced owner in another namespace than its dependent: dangling, and worth an
    /// event on the dependent.
    InvalidNamespace,
    /// The graph does not know: ask the API server.
    Ask,
}

/// Looks a reference up in the graph (`owner` = the node with the reference's uid).
pub fn lookup(owner: Option<&Node>, r: &OwnerRef, dependent_namespace: Option<&str>) -> Lookup {
    let Some(owner) = owner else {
        return Lookup::Ask;
    };
    if !owner.matches(r) {
        // The uid is someone else's: the coordinates decide, so ask by them.
        return Lookup::Ask;
    }
    if owner.served.namespaced && owner.namespace.as_deref() != dependent_namespace {
        return Lookup::InvalidNamespace;
    }
    Lookup::Known(live_state(true, owner.being_deleted, owner.foreground))
}

/// The state of an owner read from the API server by its reference's coordinates
/// (`uid_matches` false when the object found has another uid or none was found).
pub fn live_state(uid_matches: bool, being_deleted: bool, foreground: bool) -> OwnerState {
    match (uid_matches, being_deleted && foreground) {
        (false, _) => OwnerState::Dangling,
        (true, true) => OwnerState::Waiting,
        (true, false) => OwnerState::Solid,
    }
}

/// Propagation of a delete the collector sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    /// Dependents are collected afterwards.
    Background,
    /// The object waits for its blocking dependents.
    Foreground,
    /// Dependents are released.
    Orphan,
}

/// What to do with a dependent (an object with ownerReferences, not being deleted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Leave it.
    Keep,
    /// It keeps a present owner; drop these references (dangling or waiting owners).
    RemoveRefs(Vec<Uid>),
    /// Delete it in the foreground (its owners wait for it, and it has dependents),
    /// after making its references non-blocking when `unblock_first` (a cycle).
    DeleteForeground {
        /// Set `blockOwnerDeletion: false` on its references first.
        unblock_first: bool,
    },
    /// Delete it.
    Delete(Propagation),
}

/// Facts about the dependent itself that the plan needs.
#[derive(Debug, Clone, Copy, Default)]
pub struct DependentFacts {
    /// It has dependents of its own.
    pub has_dependents: bool,
    /// One of its dependents is itself waiting for its dependents.
    pub dependent_waits: bool,
    /// It carries the `orphan` finalizer.
    pub orphan: bool,
    /// It carries the `foregroundDeletion` finalizer.
    pub foreground: bool,
}

/// Decides about a dependent from the state of each of its owner references.
pub fn plan_dependent(refs: &[(Uid, OwnerState)], facts: DependentFacts) -> Plan {
    if refs.is_empty() {
        return Plan::Keep;
    }
    let of = |s: OwnerState| {
        refs.iter()
            .filter(move |(_, st)| *st == s)
            .map(|(u, _)| u.clone())
    };
    let solid = of(OwnerState::Solid).count();
    let waiting: Vec<Uid> = of(OwnerState::Waiting).collect();
    if solid > 0 {
        let drop: Vec<Uid> = of(OwnerState::Dangling).chain(waiting).collect();
        return if drop.is_empty() {
            Plan::Keep
        } else {
            Plan::RemoveRefs(drop)
        };
    }
    if !waiting.is_empty() && facts.has_dependents {
        return Plan::DeleteForeground {
            unblock_first: facts.dependent_waits,
        };
    }
    Plan::Delete(if facts.orphan {
        Propagation::Orphan
    } else if facts.foreground {
        Propagation::Foreground
    } else {
        Propagation::Background
    })
}

/// What to do with an owner waiting for its dependents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForegroundPlan {
    /// No blocking dependent is left: remove `foregroundDeletion`.
    RemoveFinalizer,
    /// Blocking dependents remain; look at these (the ones not yet being deleted).
    Wait(Vec<Uid>),
}

/// Decides about an owner waiting for its dependents, from its observed dependents.
pub fn plan_foreground(owner: &str, dependents: &[&Node]) -> ForegroundPlan {
    let blocking: Vec<&&Node> = dependents.iter().filter(|d| d.blocks(owner)).collect();
    if blocking.is_empty() {
        return ForegroundPlan::RemoveFinalizer;
    }
    let mut todo: Vec<Uid> = blocking
        .iter()
        .filter(|d| !d.being_deleted)
        .map(|d| d.uid.clone())
        .collect();
    todo.sort();
    ForegroundPlan::Wait(todo)
}

/// The references left after removing those to `uids`.
pub fn without_refs(refs: &[OwnerReference], uids: &[Uid]) -> Vec<OwnerReference> {
    refs.iter().filter(|r| !uids.contains(&r.uid)).cloned().collect()
}

/// The references with `blockOwnerDeletion` turned off (for breaking cycles).
pub fn unblocked(refs: &[OwnerReference]) -> Vec<OwnerReference> {
    refs.iter()
        .cloned()
        .map(|mut r| {
            if r.block_owner_deletion == Some(true) {
                r.block_owner_deletion = Some(false);
            }
            r
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::graph::tests::cm;
    use super::*;
    use OwnerState::*;

    fn refs(states: &[(&str, OwnerState)]) -> Vec<(Uid, OwnerState)> {
        states.iter().map(|(u, s)| (u.to_string(), *s)).collect()
    }

    #[test]
    fn all_owners_gone_means_background_delete() {
        let p = plan_dependent(
            &refs(&[("a", Dangling), ("b", Dangling)]),
            DependentFacts::default(),
        );
        assert_eq!(p, Plan::Delete(Propagation::Background));
    }

    #[test]
    fn a_present_owner_keeps_the_dependent_and_loses_the_dangling_refs() {
        let p = plan_dependent(&refs(&[("a", Solid)]), DependentFacts::default());
        assert_eq!(p, Plan::Keep);
        let p = plan_dependent(
            &refs(&[("a", Solid), ("b", Dangling), ("c", Waiting)]),
            DependentFacts::default(),
        );
        assert_eq!(p, Plan::RemoveRefs(vec!["b".into(), "c".into()]));
    }

    #[test]
    fn waiting_owners_propagate_foreground_to_dependents_with_dependents() {
        let facts = DependentFacts {
            has_dependents: true,
            ..Default::default()
        };
        let p = plan_dependent(&refs(&[("a", Waiting)]), facts);
        assert_eq!(p, Plan::DeleteForeground { unblock_first: false });
        let cycle = DependentFacts {
            dependent_waits: true,
            ..facts
        };
        assert_eq!(
            plan_dependent(&refs(&[("a", Waiting)]), cycle),
            Plan::DeleteForeground { unblock_first: true }
        );
        // Without dependents of its own, a plain delete does.
        let p = plan_dependent(&refs(&[("a", Waiting)]), DependentFacts::default());
        assert_eq!(p, Plan::Delete(Propagation::Background));
    }

    #[test]
    fn the_dependents_own_finalizers_choose_the_propagation() {
        let orphan = DependentFacts {
            orphan: true,
            ..Default::default()
        };
        assert_eq!(
            plan_dependent(&refs(&[("a", Dangling)]), orphan),
            Plan::Delete(Propagation::Orphan)
        );
        let fg = DependentFacts {
            foreground: true,
            ..Default::default()
        };
        assert_eq!(
            plan_dependent(&refs(&[("a", Dangling)]), fg),
            Plan::Delete(Propagation::Foreground)
        );
    }

    #[test]
    fn no_refs_no_action() {
        assert_eq!(plan_dependent(&[], DependentFacts::default()), Plan::Keep);
    }

    #[test]
    fn foreground_owner_waits_only_for_blocking_dependents() {
        let a = cm("a", &[("p", true)]);
        let b = cm("b", &[("p", false)]);
        let mut c = cm("c", &[("p", true)]);
        c.being_deleted = true;
        assert_eq!(plan_foreground("p", &[&b]), ForegroundPlan::RemoveFinalizer);
        assert_eq!(plan_foreground("p", &[]), ForegroundPlan::RemoveFinalizer);
        assert_eq!(
            plan_foreground("p", &[&a, &b, &c]),
            ForegroundPlan::Wait(vec!["a".into()])
        );
        assert_eq!(plan_foreground("p", &[&c]), ForegroundPlan::Wait(vec![]));
    }

    #[test]
    fn lookups() {
        let owner = cm("p", &[]);
        let r = cm("x", &[("p", false)]).owners[0].clone();
        assert_eq!(lookup(None, &r, Some("default")), Lookup::Ask);
        assert_eq!(lookup(Some(&owner), &r, Some("default")), Lookup::Known(Solid));
        assert_eq!(lookup(Some(&owner), &r, Some("other")), Lookup::InvalidNamespace);
        let mut waiting = owner.clone();
        waiting.being_deleted = true;
        waiting.foreground = true;
        assert_eq!(
            lookup(Some(&waiting), &r, Some("default")),
            Lookup::Known(Waiting)
        );
        let mut renamed = r.clone();
        renamed.name = "q".into();
        assert_eq!(lookup(Some(&owner), &renamed, Some("default")), Lookup::Ask);
        // A cluster-scoped owner may own objects in any namespace.
        let mut cluster = cm("p", &[]);
        cluster.namespace = None;
        cluster.served = super::super::graph::tests::served("ConfigMap", false);
        assert_eq!(lookup(Some(&cluster), &r, Some("other")), Lookup::Known(Solid));
    }

    #[test]
    fn reference_edits() {
        let r = |uid: &str, block: Option<bool>| OwnerReference {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            name: uid.into(),
            uid: uid.into(),
            block_owner_deletion: block,
            controller: None,
        };
        let all = vec![r("a", Some(true)), r("b", None)];
        assert_eq!(without_refs(&all, &["a".into()]), vec![r("b", None)]);
        assert_eq!(unblocked(&all), vec![r("a", Some(false)), r("b", None)]);
    }
}
