//! Scaling a Deployment (a change of `spec.replicas`, or any sync while paused).
//!
//! With one active ReplicaSet (or none) that one takes the new size. With a saturated new
//! ReplicaSet the old ones go to zero. In the middle of a rolling update the change is
//! shared out in proportion to each active ReplicaSet's size (measured against the
//! `max-replicas` it was last scaled for), the largest getting any rounding leftover, so
//! a rollout in flight keeps its balance instead of the newest ReplicaSet taking it all.

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};

use super::annotations::{desired_replicas_annotation, max_replicas_annotation};
use super::arith::{is_rolling_update, max_surge};
use super::rsutil::{active, available, by_creation, by_size_newer, by_size_older, desired, size, sum_size};

/// One ReplicaSet to scale.
#[derive(Debug, PartialEq)]
pub(crate) struct Resize<'a> {
    /// The ReplicaSet.
    pub rs: &'a ReplicaSet,
    /// Its new size.
    pub to: i32,
    /// `Some(op)` when the ReplicaSet is written even at the same size (to refresh its
    /// replicas annotations), with the word ("up"/"down"/"") for the Event; `None` when
    /// it is only written if the size changes.
    pub touch: Option<&'static str>,
}

/// The only active ReplicaSet, the newest when none is active, or `None` when several are.
pub(crate) fn find_active_or_latest<'a>(
    new_rs: Option<&'a ReplicaSet>,
    old: &[&'a ReplicaSet],
) -> Option<&'a ReplicaSet> {
    if new_rs.is_none() && old.is_empty() {
        return None;
    }
    let mut old = old.to_vec();
    old.sort_by(|a, b| by_creation(b, a));
    let mut all = old.clone();
    all.extend(new_rs);
    let live = active(&all);
    match live.len() {
        0 => new_rs.or_else(|| old.first().copied()),
        1 => Some(live[0]),
        _ => None,
    }
}

/// Whether the new ReplicaSet has the whole Deployment: scaled for it and all available.
pub(crate) fn is_saturated(d: &Deployment, rs: Option<&ReplicaSet>) -> bool {
    let Some(rs) = rs else { return false };
    let Some(want) = desired_replicas_annotation(rs) else {
        return false;
    };
    size(rs) == desired(d) && want == desired(d) && available(rs) == desired(d)
}

/// The change this ReplicaSet gets: its size scaled by the Deployment's new total over
/// the total it was scaled for, minus its size.
fn fraction(rs: &ReplicaSet, d: &Deployment) -> i32 {
    if desired(d) == 0 {
        return -size(rs);
    }
    let total = desired(d) + max_surge(d);
    let scaled_for = max_replicas_annotation(rs)
        .unwrap_or_else(|| d.status.as_ref().and_then(|s| s.replicas).unwrap_or(0));
    if scaled_for == 0 {
        return 0;
    }
    let exact = f64::from(size(rs)) * f64::from(total) / f64::from(scaled_for);
    // Rounded half away from zero, as upstream; sizes are far inside i32.
    #[allow(clippy::cast_possible_truncation)]
    let rounded = exact.round() as i32;
    rounded - size(rs)
}

/// This ReplicaSet's share of `to_add`, given `added` already handed out.
fn proportion(rs: &ReplicaSet, d: &Deployment, to_add: i32, added: i32) -> i32 {
    if size(rs) == 0 || to_add == 0 || to_add == added {
        return 0;
    }
    let f = fraction(rs, d);
    let allowed = to_add - added;
    if to_add > 0 {
        f.min(allowed)
    } else {
        f.max(allowed)
    }
}

/// What to scale for a scaling event (or a sync while paused).
pub(crate) fn plan<'a>(
    d: &Deployment,
    new_rs: Option<&'a ReplicaSet>,
    old: &[&'a ReplicaSet],
) -> Vec<Resize<'a>> {
    if let Some(rs) = find_active_or_latest(new_rs, old) {
        if size(rs) == desired(d) {
            return Vec::new();
        }
        return vec![Resize {
            rs,
            to: desired(d),
            touch: None,
        }];
    }
    if is_saturated(d, new_rs) {
        return active(old)
            .into_iter()
            .map(|rs| Resize {
                rs,
                to: 0,
                touch: None,
            })
            .collect();
    }
    if !is_rolling_update(d) {
        return Vec::new();
    }
    let mut all = old.to_vec();
    all.extend(new_rs);
    let mut all = active(&all);
    let allowed = if desired(d) > 0 {
        desired(d) + max_surge(d)
    } else {
        0
    };
    let to_add = allowed - sum_size(&all);
    let op = match to_add {
        n if n > 0 => {
            all.sort_by(|a, b| by_size_newer(a, b));
            "up"
        }
        n if n < 0 => {
            all.sort_by(|a, b| by_size_older(a, b));
            "down"
        }
        _ => "",
    };
    let mut added = 0;
    let mut sizes: Vec<i32> = all
        .iter()
        .map(|rs| {
            if to_add == 0 {
                return size(rs);
            }
            let p = proportion(rs, d, to_add, added);
            added += p;
            size(rs) + p
        })
        .collect();
    if to_add != 0
        && let Some(first) = sizes.first_mut()
    {
        *first = (*first + to_add - added).max(0);
    }
    all.into_iter()
        .zip(sizes)
        .map(|(rs, to)| Resize {
            rs,
            to,
            touch: Some(op),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::annotations::set_replicas_annotations;
    use super::super::arith::tests::deploy;
    use super::super::rsutil::tests::rs;
    use super::*;
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

    fn sizes(p: &[Resize<'_>]) -> Vec<(String, i32)> {
        p.iter()
            .map(|r| (r.rs.metadata.name.clone().unwrap(), r.to))
            .collect()
    }

    #[test]
    fn single_active_takes_it_all() {
        let d = deploy(5, IntOrString::Int(1), IntOrString::Int(0));
        let new = rs("new", 2, 3, 3);
        let old = rs("old", 1, 0, 0);
        assert_eq!(sizes(&plan(&d, Some(&new), &[&old])), [("new".to_string(), 5)]);
        let new5 = rs("new", 2, 5, 5);
        assert!(plan(&d, Some(&new5), &[&old]).is_empty());
        // No new ReplicaSet and nothing active: the newest old one is scaled.
        let older = rs("older", 0, 0, 0);
        assert_eq!(sizes(&plan(&d, None, &[&older, &old])), [("old".to_string(), 5)]);
    }

    #[test]
    fn saturated_new_replica_set_zeroes_the_old() {
        let d = deploy(3, IntOrString::Int(1), IntOrString::Int(0));
        let mut new = rs("new", 2, 3, 3);
        set_replicas_annotations(&mut new, 3, 4);
        let old = rs("old", 1, 1, 1);
        assert_eq!(sizes(&plan(&d, Some(&new), &[&old])), [("old".to_string(), 0)]);
    }

    #[test]
    fn proportional_scale_up_mid_rollout() {
        // 10 replicas, surge 3: old 8 + new 5 = 13 at max. Scaled to 20 (surge 5): 25 total.
        let d = deploy(
            20,
            IntOrString::String("25%".into()),
            IntOrString::String("25%".into()),
        );
        let mut old = rs("old", 1, 8, 8);
        let mut new = rs("new", 2, 5, 0);
        set_replicas_annotations(&mut old, 10, 13);
        set_replicas_annotations(&mut new, 10, 13);
        let p = plan(&d, Some(&new), &[&old]);
        let total: i32 = p.iter().map(|r| r.to).sum();
        assert_eq!(total, 25);
        assert_eq!(sizes(&p), [("old".to_string(), 15), ("new".to_string(), 10)]);
        assert!(p.iter().all(|r| r.touch == Some("up")));
    }

    #[test]
    fn proportional_scale_down_mid_rollout() {
        let d = deploy(5, IntOrString::Int(1), IntOrString::Int(0));
        let mut old = rs("old", 1, 6, 6);
        let mut new = rs("new", 2, 5, 2);
        set_replicas_annotations(&mut old, 10, 11);
        set_replicas_annotations(&mut new, 10, 11);
        let p = plan(&d, Some(&new), &[&old]);
        let total: i32 = p.iter().map(|r| r.to).sum();
        assert_eq!(total, 6);
        assert_eq!(sizes(&p), [("old".to_string(), 3), ("new".to_string(), 3)]);
        assert!(p.iter().all(|r| r.touch == Some("down")));
    }

    #[test]
    fn scale_to_zero_mid_rollout() {
        let d = deploy(0, IntOrString::Int(1), IntOrString::Int(0));
        let old = rs("old", 1, 2, 2);
        let new = rs("new", 2, 2, 0);
        let p = plan(&d, Some(&new), &[&old]);
        assert!(p.iter().all(|r| r.to == 0));
    }
}
