//! Which pods to delete first when there are too many, in upstream's ActivePods order:
//! unassigned before assigned; Pending before Unknown before Running; not ready before
//! ready; lower `controller.kubernetes.io/pod-deletion-cost` first; pods doubled up on a
//! node with more of their siblings first; the most recently ready first (compared in
//! logarithmic buckets, so pods of about the same age are not told apart by seconds);
//! more container restarts first; the newest first.

use std::cmp::Ordering;
use std::collections::HashMap;

use k8s_openapi::{api::core::v1::Pod, jiff::Timestamp};

use super::pods::{is_active, is_ready, ready_since};

/// The pod annotation that orders deletion (lower goes first).
pub(crate) const DELETION_COST: &str = "controller.kubernetes.io/pod-deletion-cost";

fn node(p: &Pod) -> &str {
    p.spec.as_ref().and_then(|s| s.node_name.as_deref()).unwrap_or("")
}

fn phase_ordinal(p: &Pod) -> u8 {
    match p.status.as_ref().and_then(|s| s.phase.as_deref()) {
        Some("Unknown") => 1,
        Some("Running") => 2,
        _ => 0,
    }
}

fn deletion_cost(p: &Pod) -> i32 {
    p.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(DELETION_COST))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The highest restart count of regular containers and of restartable init containers
/// (sidecars), compared in that order.
fn restarts(p: &Pod) -> (i32, i32) {
    let Some(st) = p.status.as_ref() else {
        return (0, 0);
    };
    let regular = st
        .container_statuses
        .iter()
        .flatten()
        .map(|c| c.restart_count)
        .max()
        .unwrap_or(0);
    let sidecars: Vec<&str> = p
        .spec
        .iter()
        .flat_map(|s| s.init_containers.iter().flatten())
        .filter(|c| c.restart_policy.as_deref() == Some("Always"))
        .map(|c| c.name.as_str())
        .collect();
    let sidecar = st
        .init_container_statuses
        .iter()
        .flatten()
        .filter(|c| sidecars.contains(&c.name.as_str()))
        .map(|c| c.restart_count)
        .max()
        .unwrap_or(0);
    (regular, sidecar)
}

fn log2_bucket(t: Timestamp, now: Timestamp) -> i64 {
    let d = now.duration_since(t).as_nanos();
    if d > 0 {
        // Bucket index only; precision loss in the conversion is irrelevant.
        #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
        let b = (d as f64).log2() as i64;
        b
    } else {
        -1
    }
}

/// Orders two timestamps newest first by logarithmic bucket, missing ones before all.
/// Equal buckets are equal here: the caller breaks ties by uid at the very end, so that
/// the whole order stays total (a tie-break inside would not be transitive).
fn newer_first(a: Option<Timestamp>, b: Option<Timestamp>, now: Timestamp) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(a), Some(b)) => log2_bucket(a, now).cmp(&log2_bucket(b, now)),
    }
}

fn uid(p: &Pod) -> &str {
    p.metadata.uid.as_deref().unwrap_or("")
}

/// Compares two candidate pods with their sibling ranks; `Less` is deleted first.
fn compare(a: (&Pod, usize), b: (&Pod, usize), now: Timestamp) -> Ordering {
    let (pa, ra) = a;
    let (pb, rb) = b;
    let (na, nb) = (node(pa), node(pb));
    if na != nb && (na.is_empty() || nb.is_empty()) {
        return if na.is_empty() {
            Ordering::Less
        } else {
            Ordering::Greater
        };
    }
    let (ra_ready, rb_ready) = (is_ready(pa), is_ready(pb));
    phase_ordinal(pa)
        .cmp(&phase_ordinal(pb))
        .then(ra_ready.cmp(&rb_ready))
        .then(deletion_cost(pa).cmp(&deletion_cost(pb)))
        .then(rb.cmp(&ra))
        .then_with(|| {
            if ra_ready && rb_ready {
                newer_first(ready_since(pa), ready_since(pb), now)
            } else {
                Ordering::Equal
            }
        })
        .then_with(|| restarts(pb).cmp(&restarts(pa)))
        .then_with(|| {
            let ca = pa.metadata.creation_timestamp.as_ref().map(|t| t.0);
            let cb = pb.metadata.creation_timestamp.as_ref().map(|t| t.0);
            newer_first(ca, cb, now)
        })
        .then_with(|| uid(pa).cmp(uid(pb)))
}

/// The `diff` pods of `candidates` to delete. `related` are the active and inactive pods
/// of the owner and its siblings (ReplicaSets of the same Deployment): a candidate's rank
/// is how many active related pods share its node.
pub(crate) fn pods_to_delete<'a>(
    mut candidates: Vec<&'a Pod>,
    related: &[&Pod],
    diff: usize,
    now: Timestamp,
) -> Vec<&'a Pod> {
    if diff < candidates.len() {
        let mut on_node: HashMap<&str, usize> = HashMap::new();
        for p in related.iter().filter(|p| is_active(p)) {
            *on_node.entry(node(p)).or_default() += 1;
        }
        let rank = |p: &Pod| on_node.get(node(p)).copied().unwrap_or(0);
        candidates.sort_by(|a, b| compare((a, rank(a)), (b, rank(b)), now));
    }
    candidates.truncate(diff);
    candidates
}

#[cfg(test)]
mod tests {
    use super::super::pods::tests::pod;
    use super::*;
    use k8s_openapi::api::core::v1::{ContainerStatus, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn names(v: &[&Pod]) -> Vec<String> {
        v.iter().map(|p| p.metadata.name.clone().unwrap()).collect()
    }

    fn now() -> Timestamp {
        Timestamp::from_second(1_000_000).unwrap()
    }

    #[test]
    fn state_order() {
        let ready = pod("ready", "n1", "Running", Some(10));
        let not_ready = pod("not-ready", "n1", "Running", None);
        let pending = pod("pending", "n1", "Pending", None);
        let unknown = pod("unknown", "n1", "Unknown", None);
        let unassigned = pod("unassigned", "", "Pending", None);
        let all = vec![&ready, &not_ready, &pending, &unknown, &unassigned];
        let picked = pods_to_delete(all, &[], 4, now());
        assert_eq!(names(&picked), ["unassigned", "pending", "unknown", "not-ready"]);
    }

    #[test]
    fn doubled_up_then_newest_ready() {
        // Ready times far apart fall into different log buckets.
        let old = pod("old", "n1", "Running", Some(1));
        let young = pod("young", "n2", "Running", Some(999_990));
        let crowded = pod("crowded", "n3", "Running", Some(1));
        let sib1 = pod("sib1", "n3", "Running", Some(1));
        let sib2 = pod("sib2", "n3", "Running", Some(1));
        let related = [&old, &young, &crowded, &sib1, &sib2];
        let picked = pods_to_delete(vec![&old, &young, &crowded], &related, 2, now());
        assert_eq!(names(&picked), ["crowded", "young"]);
    }

    #[test]
    fn cost_and_restarts() {
        let mut cheap = pod("cheap", "n1", "Running", Some(1));
        cheap.metadata.annotations = Some([(DELETION_COST.to_string(), "-5".to_string())].into());
        let mut crashy = pod("crashy", "n1", "Running", Some(1));
        crashy.status = Some(PodStatus {
            container_statuses: Some(vec![ContainerStatus {
                restart_count: 7,
                ..Default::default()
            }]),
            ..crashy.status.clone().unwrap()
        });
        let plain = pod("plain", "n1", "Running", Some(1));
        let picked = pods_to_delete(vec![&plain, &crashy, &cheap], &[], 2, now());
        assert_eq!(names(&picked), ["cheap", "crashy"]);
    }

    #[test]
    fn newest_created_first_when_otherwise_equal() {
        let mut a = pod("a", "n1", "Pending", None);
        a.metadata.creation_timestamp = Some(Time(Timestamp::from_second(10).unwrap()));
        let mut b = pod("b", "n1", "Pending", None);
        b.metadata.creation_timestamp = Some(Time(Timestamp::from_second(999_000).unwrap()));
        let picked = pods_to_delete(vec![&a, &b], &[], 1, now());
        assert_eq!(names(&picked), ["b"]);
    }

    #[test]
    fn the_order_is_total_with_equal_times_and_buckets() {
        // Many pods whose ready and creation times collide or share buckets, with uids
        // in an order unrelated to those times: sorting must not panic, and the
        // comparison must be transitive and antisymmetric.
        let mut pods = Vec::new();
        for i in 0..40u32 {
            let ready = [Some(1), Some(1), Some(3), None][(i % 4) as usize];
            let mut p = pod(&format!("p{i}"), &format!("n{}", i % 3), "Running", ready);
            p.metadata.uid = Some(format!("{:02}", (i * 7) % 40));
            p.metadata.creation_timestamp =
                Some(Time(Timestamp::from_second(i64::from(10 + i % 2)).unwrap()));
            pods.push(p);
        }
        let refs: Vec<&Pod> = pods.iter().collect();
        let picked = pods_to_delete(refs.clone(), &refs, 20, now());
        assert_eq!(picked.len(), 20);
        let rank = |p: &Pod| refs.iter().filter(|q| node(q) == node(p)).count();
        let cmp = |a: &Pod, b: &Pod| compare((a, rank(a)), (b, rank(b)), now());
        for a in &refs {
            for b in &refs {
                assert_eq!(cmp(a, b), cmp(b, a).reverse());
                for c in &refs {
                    if cmp(a, b) != Ordering::Greater && cmp(b, c) != Ordering::Greater {
                        assert_ne!(cmp(a, c), Ordering::Greater, "not transitive");
                    }
                }
            }
        }
    }

    #[test]
    fn all_taken_when_diff_covers_everything() {
        let a = pod("a", "n1", "Running", Some(1));
        assert_eq!(pods_to_delete(vec![&a], &[], 5, now()).len(), 1);
    }
}
