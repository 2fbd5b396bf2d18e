//! Revision bookkeeping in annotations, as upstream keeps it and kubectl reads it:
//!
//! - `deployment.kubernetes.io/revision` on each ReplicaSet orders the rollouts; the new
//!   ReplicaSet always gets the highest (an old one reused on rollback moves up, and its
//!   former numbers go to `revision-history`). The Deployment carries the current one.
//! - `desired-replicas` / `max-replicas` record the Deployment size (and size plus surge)
//!   a ReplicaSet was last scaled for: a differing value marks a scaling event, and the
//!   ratio drives proportional scaling.
//! - The Deployment's other annotations are copied onto its new ReplicaSet.

use k8s_openapi::{
    api::apps::v1::{Deployment, ReplicaSet},
    apimachinery::pkg::apis::meta::v1::ObjectMeta,
};

use super::arith::max_surge;
use super::rsutil::desired;

/// The rollout sequence number.
pub(crate) const REVISION: &str = "deployment.kubernetes.io/revision";
/// Earlier revisions a reused ReplicaSet served.
pub(crate) const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
/// The Deployment size the ReplicaSet was scaled for.
pub(crate) const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
/// That size plus maxSurge.
pub(crate) const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
/// Longest `revision-history` kept (oldest entries are dropped first).
pub(crate) const REVISION_HISTORY_LIMIT_CHARS: usize = 2000;

/// Annotations never copied between a Deployment and its ReplicaSets.
const SKIPPED: [&str; 6] = [
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    REVISION_HISTORY,
    DESIRED_REPLICAS,
    MAX_REPLICAS,
    "deprecated.deployment.rollback.to",
];

fn annotation<'a>(meta: &'a ObjectMeta, key: &str) -> Option<&'a str> {
    meta.annotations.as_ref()?.get(key).map(String::as_str)
}

/// The revision of an object: 0 when unannotated, `None` when unparsable.
pub(crate) fn revision(meta: &ObjectMeta) -> Option<i64> {
    match annotation(meta, REVISION) {
        None => Some(0),
        Some(v) => v.parse().ok(),
    }
}

/// The highest revision among `rses` (unparsable ones skipped).
pub(crate) fn max_revision(rses: &[&ReplicaSet]) -> i64 {
    rses.iter()
        .filter_map(|rs| revision(&rs.metadata))
        .max()
        .unwrap_or(0)
        .max(0)
}

/// The `desired-replicas` annotation, if present and valid.
pub(crate) fn desired_replicas_annotation(rs: &ReplicaSet) -> Option<i32> {
    annotation(&rs.metadata, DESIRED_REPLICAS)?.parse().ok()
}

/// The `max-replicas` annotation, if present and valid.
pub(crate) fn max_replicas_annotation(rs: &ReplicaSet) -> Option<i32> {
    annotation(&rs.metadata, MAX_REPLICAS)?.parse().ok()
}

/// Sets the replicas annotations; returns whether anything changed.
pub(crate) fn set_replicas_annotations(rs: &mut ReplicaSet, desired: i32, max: i32) -> bool {
    let a = rs.metadata.annotations.get_or_insert_with(Default::default);
    let mut changed = false;
    for (k, v) in [(DESIRED_REPLICAS, desired), (MAX_REPLICAS, max)] {
        let v = v.to_string();
        if a.get(k) != Some(&v) {
            a.insert(k.into(), v);
            changed = true;
        }
    }
    changed
}

/// Whether the replicas annotations differ from these values.
pub(crate) fn replicas_annotations_need_update(rs: &ReplicaSet, desired: i32, max: i32) -> bool {
    annotation(&rs.metadata, DESIRED_REPLICAS) != Some(desired.to_string().as_str())
        || annotation(&rs.metadata, MAX_REPLICAS) != Some(max.to_string().as_str())
}

/// Copies the Deployment's annotations (except the skipped ones) onto the ReplicaSet;
/// returns whether anything changed.
fn copy_deployment_annotations(d: &Deployment, rs: &mut ReplicaSet) -> bool {
    let a = rs.metadata.annotations.get_or_insert_with(Default::default);
    let mut changed = false;
    for (k, v) in d.metadata.annotations.iter().flatten() {
        if SKIPPED.contains(&k.as_str()) || a.get(k) == Some(v) {
            continue;
        }
        a.insert(k.clone(), v.clone());
        changed = true;
    }
    changed
}

/// Brings the new ReplicaSet's annotations up to date for `new_revision`: copies the
/// Deployment's annotations, raises the revision if it is lower (recording the former one
/// in the history), and on a ReplicaSet about to be created sets the replicas
/// annotations. Returns whether anything changed.
pub(crate) fn set_new_rs_annotations(
    d: &Deployment,
    rs: &mut ReplicaSet,
    new_revision: i64,
    exists: bool,
) -> bool {
    let mut changed = copy_deployment_annotations(d, rs);
    let a = rs.metadata.annotations.get_or_insert_with(Default::default);
    let old = a.get(REVISION).cloned();
    let old_n = match old.as_deref() {
        None => 0,
        Some(v) => match v.parse::<i64>() {
            Ok(n) => n,
            Err(_) => return false,
        },
    };
    if old_n < new_revision {
        a.insert(REVISION.into(), new_revision.to_string());
        changed = true;
        if let Some(old) = old {
            let history = a.get(REVISION_HISTORY).cloned().unwrap_or_default();
            if history.is_empty() {
                a.insert(REVISION_HISTORY.into(), old);
            } else {
                let mut entries: Vec<&str> = history.split(',').collect();
                let mut total = history.len() + old.len() + 1;
                let mut start = 0;
                while total > REVISION_HISTORY_LIMIT_CHARS && start < entries.len() {
                    total -= entries[start].len() + 1;
                    start += 1;
                }
                if total <= REVISION_HISTORY_LIMIT_CHARS {
                    entries.drain(..start);
                    entries.push(&old);
                    a.insert(REVISION_HISTORY.into(), entries.join(","));
                }
            }
        }
    }
    if !exists && set_replicas_annotations(rs, desired(d), desired(d) + max_surge(d)) {
        changed = true;
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::super::rsutil::tests::rs;
    use super::*;

    fn with(rs: &mut ReplicaSet, k: &str, v: &str) {
        rs.metadata
            .annotations
            .get_or_insert_with(Default::default)
            .insert(k.into(), v.into());
    }

    fn get(rs: &ReplicaSet, k: &str) -> Option<String> {
        rs.metadata.annotations.as_ref()?.get(k).cloned()
    }

    #[test]
    fn revisions() {
        let mut a = rs("a", 1, 1, 1);
        let mut b = rs("b", 1, 1, 1);
        let c = rs("c", 1, 1, 1);
        with(&mut a, REVISION, "3");
        with(&mut b, REVISION, "junk");
        assert_eq!(revision(&c.metadata), Some(0));
        assert_eq!(revision(&b.metadata), None);
        assert_eq!(max_revision(&[&a, &b, &c]), 3);
        assert_eq!(max_revision(&[]), 0);
    }

    #[test]
    fn new_replica_set_annotations() {
        let mut d = Deployment::default();
        d.metadata.annotations = Some(
            [
                ("team".to_string(), "a".to_string()),
                (REVISION.to_string(), "9".to_string()),
                (
                    "kubectl.kubernetes.io/last-applied-configuration".to_string(),
                    "{}".to_string(),
                ),
            ]
            .into(),
        );
        let mut new = rs("new", 1, 0, 0);
        assert!(set_new_rs_annotations(&d, &mut new, 1, false));
        assert_eq!(get(&new, "team").as_deref(), Some("a"));
        assert_eq!(get(&new, REVISION).as_deref(), Some("1"));
        assert_eq!(get(&new, DESIRED_REPLICAS).as_deref(), Some("1"));
        assert_eq!(
            get(&new, "kubectl.kubernetes.io/last-applied-configuration"),
            None
        );
        // Nothing more to do at the same revision.
        assert!(!set_new_rs_annotations(&d, &mut new, 1, true));
        // Rolled back to: the revision moves up and the old one goes to the history.
        assert!(set_new_rs_annotations(&d, &mut new, 4, true));
        assert_eq!(get(&new, REVISION).as_deref(), Some("4"));
        assert_eq!(get(&new, REVISION_HISTORY).as_deref(), Some("1"));
        assert!(set_new_rs_annotations(&d, &mut new, 6, true));
        assert_eq!(get(&new, REVISION_HISTORY).as_deref(), Some("1,4"));
        // A lower revision never moves it down.
        assert!(!set_new_rs_annotations(&d, &mut new, 2, true));
    }

    #[test]
    fn history_is_bounded() {
        let d = Deployment::default();
        let mut r = rs("r", 1, 1, 1);
        let long: Vec<String> = (0..600).map(|i| i.to_string()).collect();
        with(&mut r, REVISION_HISTORY, &long.join(","));
        with(&mut r, REVISION, "700");
        assert!(set_new_rs_annotations(&d, &mut r, 701, true));
        let h = get(&r, REVISION_HISTORY).unwrap();
        assert!(h.len() <= REVISION_HISTORY_LIMIT_CHARS);
        assert!(h.ends_with(",700"));
        assert!(!h.starts_with("0,"));
    }

    #[test]
    fn replicas_annotations() {
        let mut r = rs("r", 1, 1, 1);
        assert!(replicas_annotations_need_update(&r, 3, 4));
        assert!(set_replicas_annotations(&mut r, 3, 4));
        assert!(!replicas_annotations_need_update(&r, 3, 4));
        assert_eq!(
            (desired_replicas_annotation(&r), max_replicas_annotation(&r)),
            (Some(3), Some(4))
        );
        assert!(!set_replicas_annotations(&mut r, 3, 4));
    }
}
