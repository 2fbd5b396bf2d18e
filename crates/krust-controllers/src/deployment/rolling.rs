//! One step of a rolling update, as upstream takes it: first grow the new ReplicaSet as
//! far as maxSurge allows; if it could not grow, shrink the old ones as far as
//! maxUnavailable allows — unhealthy (unavailable) old pods first, since removing them
//! costs no availability, then available ones, oldest ReplicaSet first.

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};

use super::arith::{max_unavailable, new_rs_new_replicas};
use super::rsutil::{available, by_creation, desired, size, sum_size};

/// The size the new ReplicaSet should have now, or `None` if it has it.
pub(crate) fn new_rs_target(d: &Deployment, all: &[&ReplicaSet], new_rs: &ReplicaSet) -> Option<i32> {
    let want = desired(d);
    let to = match size(new_rs) {
        s if s == want => return None,
        s if s > want => want,
        _ => new_rs_new_replicas(d, all, new_rs),
    };
    (to != size(new_rs)).then_some(to)
}

/// The old ReplicaSets to shrink now, with their new sizes (oldest first).
/// `all` holds every ReplicaSet (old and new), `old_active` the old ones with replicas.
pub(crate) fn old_rs_targets<'a>(
    d: &Deployment,
    all: &[&ReplicaSet],
    old_active: &[&'a ReplicaSet],
    new_rs: &ReplicaSet,
) -> Vec<(&'a ReplicaSet, i32)> {
    if sum_size(old_active) == 0 {
        return Vec::new();
    }
    let min_available = desired(d) - max_unavailable(d);
    let new_unavailable = size(new_rs) - available(new_rs);
    let max_scaled_down = sum_size(all) - min_available - new_unavailable;
    if max_scaled_down <= 0 {
        return Vec::new();
    }
    let mut old: Vec<(&'a ReplicaSet, i32)> = old_active.iter().map(|rs| (*rs, size(rs))).collect();
    old.sort_by(|a, b| by_creation(a.0, b.0));

    // Unhealthy replicas first: they are not available, so removing them is free.
    let mut cleaned = 0;
    for (rs, to) in &mut old {
        if cleaned >= max_scaled_down {
            break;
        }
        let unhealthy = (*to - available(rs)).max(0);
        if *to == 0 || unhealthy == 0 {
            continue;
        }
        let n = (max_scaled_down - cleaned).min(unhealthy);
        *to -= n;
        cleaned += n;
    }

    // Then available ones, down to the minimum availability. A ReplicaSet's status may
    // still count pods it was just told to drop (its spec shrank, its controller has not
    // caught up), so no set counts for more available pods than it is sized for.
    let available_now =
        old.iter().map(|(rs, to)| available(rs).min(*to)).sum::<i32>() + available(new_rs).min(size(new_rs));
    if available_now > min_available {
        let budget = available_now - min_available;
        let mut scaled = 0;
        for (_, to) in &mut old {
            if scaled >= budget {
                break;
            }
            if *to == 0 {
                continue;
            }
            let n = (*to).min(budget - scaled);
            *to -= n;
            scaled += n;
        }
    }
    old.into_iter().filter(|(rs, to)| *to != size(rs)).collect()
}

#[cfg(test)]
mod tests {
    use super::super::arith::tests::deploy;
    use super::super::rsutil::tests::rs;
    use super::*;
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

    fn names(v: &[(&ReplicaSet, i32)]) -> Vec<(String, i32)> {
        v.iter()
            .map(|(r, n)| (r.metadata.name.clone().unwrap(), *n))
            .collect()
    }

    #[test]
    fn new_grows_by_surge_then_waits() {
        let d = deploy(3, IntOrString::Int(1), IntOrString::Int(0));
        let old = rs("old", 1, 3, 3);
        let new = rs("new", 2, 0, 0);
        assert_eq!(new_rs_target(&d, &[&old, &new], &new), Some(1));
        let new1 = rs("new", 2, 1, 0);
        assert_eq!(new_rs_target(&d, &[&old, &new1], &new1), None);
        // Nothing may go down until the surge pod is available (maxUnavailable 0).
        assert!(old_rs_targets(&d, &[&old, &new1], &[&old], &new1).is_empty());
        let new1a = rs("new", 2, 1, 1);
        assert_eq!(
            names(&old_rs_targets(&d, &[&old, &new1a], &[&old], &new1a)),
            [("old".to_string(), 2)]
        );
    }

    #[test]
    fn oversized_new_shrinks_to_desired() {
        let d = deploy(3, IntOrString::Int(1), IntOrString::Int(0));
        let new = rs("new", 2, 5, 5);
        assert_eq!(new_rs_target(&d, &[&new], &new), Some(3));
    }

    #[test]
    fn unhealthy_old_pods_go_first() {
        // 4 desired, maxUnavailable 1: old has 4 pods of which 2 are unavailable.
        let d = deploy(4, IntOrString::Int(0), IntOrString::Int(1));
        let old = rs("old", 1, 4, 2);
        let new = rs("new", 2, 0, 0);
        // all = 4, min available 3, new unavailable 0 → may scale down 1 (an unhealthy one).
        assert_eq!(
            names(&old_rs_targets(&d, &[&old, &new], &[&old], &new)),
            [("old".to_string(), 3)]
        );
    }

    #[test]
    fn available_old_pods_keep_minimum_availability() {
        // 10 desired, 25%/25% → surge 3, unavailable 2.
        let pct = || IntOrString::String("25%".into());
        let d = deploy(10, pct(), pct());
        let old = rs("old", 1, 10, 10);
        let new = rs("new", 2, 3, 0);
        // 13 pods, min available 8, new unavailable 3 → max 2 down; all old available.
        assert_eq!(
            names(&old_rs_targets(&d, &[&old, &new], &[&old], &new)),
            [("old".to_string(), 8)]
        );
        let older = rs("older", 0, 2, 2);
        let old8 = rs("old", 1, 6, 6);
        let new5 = rs("new", 2, 5, 5);
        // 13 pods, 13 available, min 8: 5 may go, the oldest set first.
        let t = old_rs_targets(&d, &[&older, &old8, &new5], &[&old8, &older], &new5);
        assert_eq!(names(&t), [("older".to_string(), 0), ("old".to_string(), 3)]);
    }

    #[test]
    fn stale_status_of_a_shrunk_set_does_not_count() {
        // 4 desired, surge 1, unavailable 1. The old set was just shrunk 4 → 3 but its
        // status still reports 4 available; the surge pod of the new set is available.
        let d = deploy(4, IntOrString::Int(1), IntOrString::Int(1));
        let mut old = rs("old", 1, 3, 4);
        old.status.as_mut().unwrap().replicas = 4;
        let new = rs("new", 2, 1, 1);
        // Really 3 + 1 available, minimum 3: only one more may go, not two.
        assert_eq!(
            names(&old_rs_targets(&d, &[&old, &new], &[&old], &new)),
            [("old".to_string(), 2)]
        );
    }
}
