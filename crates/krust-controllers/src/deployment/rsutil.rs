//! Small readings of Deployments and ReplicaSets the rollout arithmetic is written in:
//! sizes, counts, orderings.

use std::cmp::Ordering;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};

/// `spec.replicas` of a Deployment (1 when unset, as defaulted).
pub(crate) fn desired(d: &Deployment) -> i32 {
    d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

/// `spec.replicas` of a ReplicaSet (1 when unset, as defaulted).
pub(crate) fn size(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

/// `status.replicas`: the pods it has.
pub(crate) fn actual(rs: &ReplicaSet) -> i32 {
    rs.status.as_ref().map_or(0, |s| s.replicas)
}

/// `status.readyReplicas`.
pub(crate) fn ready(rs: &ReplicaSet) -> i32 {
    rs.status.as_ref().and_then(|s| s.ready_replicas).unwrap_or(0)
}

/// `status.availableReplicas`.
pub(crate) fn available(rs: &ReplicaSet) -> i32 {
    rs.status.as_ref().and_then(|s| s.available_replicas).unwrap_or(0)
}

/// Sum of `spec.replicas`.
pub(crate) fn sum_size(rses: &[&ReplicaSet]) -> i32 {
    rses.iter().map(|rs| size(rs)).sum()
}

/// Sum of `status.replicas`.
pub(crate) fn sum_actual(rses: &[&ReplicaSet]) -> i32 {
    rses.iter().map(|rs| actual(rs)).sum()
}

/// Sum of ready pods.
pub(crate) fn sum_ready(rses: &[&ReplicaSet]) -> i32 {
    rses.iter().map(|rs| ready(rs)).sum()
}

/// Sum of available pods.
pub(crate) fn sum_available(rses: &[&ReplicaSet]) -> i32 {
    rses.iter().map(|rs| available(rs)).sum()
}

/// The ReplicaSets that want pods.
pub(crate) fn active<'a>(rses: &[&'a ReplicaSet]) -> Vec<&'a ReplicaSet> {
    rses.iter().copied().filter(|rs| size(rs) > 0).collect()
}

/// Oldest first; equal creation times by name.
pub(crate) fn by_creation(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    let ta = a.metadata.creation_timestamp.as_ref().map(|t| t.0);
    let tb = b.metadata.creation_timestamp.as_ref().map(|t| t.0);
    ta.cmp(&tb).then_with(|| a.metadata.name.cmp(&b.metadata.name))
}

/// Larger first; equal sizes oldest first (where proportional scaling takes replicas away).
pub(crate) fn by_size_older(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    size(b).cmp(&size(a)).then_with(|| by_creation(a, b))
}

/// Larger first; equal sizes newest first (where proportional scaling adds replicas).
pub(crate) fn by_size_newer(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    size(b).cmp(&size(a)).then_with(|| by_creation(b, a))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use k8s_openapi::{
        api::apps::v1::{ReplicaSetSpec, ReplicaSetStatus},
        apimachinery::pkg::apis::meta::v1::Time,
        jiff::Timestamp,
    };

    /// A test ReplicaSet: name, created at (seconds), spec size, available pods.
    pub(crate) fn rs(name: &str, created: i64, replicas: i32, available: i32) -> ReplicaSet {
        let mut rs = ReplicaSet::default();
        rs.metadata.name = Some(name.into());
        rs.metadata.uid = Some(format!("uid-{name}"));
        rs.metadata.creation_timestamp = Some(Time(Timestamp::from_second(created).unwrap()));
        rs.spec = Some(ReplicaSetSpec {
            replicas: Some(replicas),
            ..Default::default()
        });
        rs.status = Some(ReplicaSetStatus {
            replicas,
            ready_replicas: Some(available),
            available_replicas: Some(available),
            ..Default::default()
        });
        rs
    }

    #[test]
    fn orderings() {
        let (a, b, c) = (rs("a", 1, 3, 0), rs("b", 2, 3, 0), rs("c", 3, 5, 0));
        let mut v = vec![&b, &c, &a];
        v.sort_by(|x, y| by_creation(x, y));
        assert_eq!(
            v.iter()
                .map(|r| r.metadata.name.clone().unwrap())
                .collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
        v.sort_by(|x, y| by_size_older(x, y));
        assert_eq!(
            v.iter()
                .map(|r| r.metadata.name.clone().unwrap())
                .collect::<Vec<_>>(),
            ["c", "a", "b"]
        );
        v.sort_by(|x, y| by_size_newer(x, y));
        assert_eq!(
            v.iter()
                .map(|r| r.metadata.name.clone().unwrap())
                .collect::<Vec<_>>(),
            ["c", "b", "a"]
        );
        assert_eq!(sum_size(&v), 11);
        assert_eq!(active(&[&rs("z", 1, 0, 0), &a]).len(), 1);
    }
}
