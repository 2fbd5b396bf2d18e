//! Old ReplicaSets beyond `revisionHistoryLimit` are deleted, lowest revision first, but
//! only those with no pods, no replicas wanted and their latest spec observed (so a
//! ReplicaSet still shrinking is never cut off). They are what `rollout undo` goes back
//! to, so only the surplus goes.

use std::cmp::Ordering;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};

use super::annotations::revision;
use super::rsutil::{actual, by_creation, size};

fn by_revision(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    let ra = revision(&a.metadata).unwrap_or(0);
    let rb = revision(&b.metadata).unwrap_or(0);
    ra.cmp(&rb).then_with(|| by_creation(a, b))
}

/// The old ReplicaSets to delete now.
pub(crate) fn history_to_delete<'a>(d: &Deployment, old: &[&'a ReplicaSet]) -> Vec<&'a ReplicaSet> {
    let Some(limit) = d.spec.as_ref().and_then(|s| s.revision_history_limit) else {
        return Vec::new();
    };
    let mut alive: Vec<&ReplicaSet> = old
        .iter()
        .copied()
        .filter(|rs| rs.metadata.deletion_timestamp.is_none())
        .collect();
    let surplus =
        usize::try_from(i64::try_from(alive.len()).unwrap_or(i64::MAX) - i64::from(limit)).unwrap_or(0);
    if surplus == 0 {
        return Vec::new();
    }
    alive.sort_by(|a, b| by_revision(a, b));
    alive
        .into_iter()
        .take(surplus)
        .filter(|rs| {
            let observed = rs
                .status
                .as_ref()
                .and_then(|s| s.observed_generation)
                .unwrap_or(0);
            actual(rs) == 0 && size(rs) == 0 && rs.metadata.generation.unwrap_or(0) <= observed
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::annotations::REVISION;
    use super::super::rsutil::tests::rs;
    use super::*;
    use k8s_openapi::api::apps::v1::DeploymentSpec;

    fn old(name: &str, rev: &str, replicas: i32) -> ReplicaSet {
        let mut r = rs(name, 1, replicas, replicas);
        r.metadata.annotations = Some([(REVISION.to_string(), rev.to_string())].into());
        r
    }

    fn limit(n: i32) -> Deployment {
        Deployment {
            spec: Some(DeploymentSpec {
                revision_history_limit: Some(n),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn keeps_the_newest_and_busy_ones() {
        let (a, b, c, busy) = (
            old("a", "1", 0),
            old("b", "3", 0),
            old("c", "4", 0),
            old("busy", "2", 1),
        );
        let gone = history_to_delete(&limit(2), &[&c, &b, &busy, &a]);
        let names: Vec<_> = gone.iter().map(|r| r.metadata.name.clone().unwrap()).collect();
        // Two over the limit: revisions 1 and 2, but 2 still has a pod.
        assert_eq!(names, ["a"]);
        assert!(history_to_delete(&limit(4), &[&a, &b, &c, &busy]).is_empty());
        assert!(history_to_delete(&Deployment::default(), &[&a]).is_empty());
        assert_eq!(history_to_delete(&limit(0), &[&a, &b]).len(), 2);
    }
}
