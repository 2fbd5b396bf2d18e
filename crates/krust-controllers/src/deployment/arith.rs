//! Rolling-update arithmetic: maxSurge and maxUnavailable resolved against the desired
//! replicas (percentages round surge up and unavailability down, and both resolving to
//! zero makes unavailability 1, as upstream), and how far the new ReplicaSet may grow.

use k8s_openapi::{
    api::apps::v1::{Deployment, ReplicaSet},
    apimachinery::pkg::util::intstr::IntOrString,
};

use super::rsutil::{desired, size, sum_size};

/// The default of both maxSurge and maxUnavailable.
const DEFAULT_FENCEPOST: &str = "25%";

/// An absolute value, or a percentage of `total` rounded up or down. `None` for a string
/// that is not a percentage.
pub(crate) fn scaled_value(v: &IntOrString, total: i32, round_up: bool) -> Option<i32> {
    match v {
        IntOrString::Int(n) => Some(*n),
        IntOrString::String(s) => {
            let pct: i64 = s.strip_suffix('%')?.parse().ok()?;
            let product = pct * i64::from(total);
            let v = if round_up {
                product.div_euclid(100) + i64::from(product.rem_euclid(100) != 0)
            } else {
                product.div_euclid(100)
            };
            i32::try_from(v).ok()
        }
    }
}

/// Whether the Deployment uses the RollingUpdate strategy (the default).
pub(crate) fn is_rolling_update(d: &Deployment) -> bool {
    let t = d
        .spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.type_.as_deref());
    matches!(t, None | Some("RollingUpdate"))
}

/// Whether the Deployment uses the Recreate strategy.
pub(crate) fn is_recreate(d: &Deployment) -> bool {
    let t = d
        .spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.type_.as_deref());
    t == Some("Recreate")
}

fn fenceposts(d: &Deployment) -> (IntOrString, IntOrString) {
    let ru = d
        .spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.rolling_update.as_ref());
    let default = || IntOrString::String(DEFAULT_FENCEPOST.into());
    (
        ru.and_then(|r| r.max_surge.clone()).unwrap_or_else(default),
        ru.and_then(|r| r.max_unavailable.clone()).unwrap_or_else(default),
    )
}

/// (surge, unavailable) for `desired` replicas. Invalid values count as 0.
pub(crate) fn resolve_fenceposts(surge: &IntOrString, unavailable: &IntOrString, desired: i32) -> (i32, i32) {
    let s = scaled_value(surge, desired, true).unwrap_or(0);
    let u = scaled_value(unavailable, desired, false).unwrap_or(0);
    if s == 0 && u == 0 { (0, 1) } else { (s, u) }
}

/// How many pods above the desired count a rollout may run (0 unless RollingUpdate).
pub(crate) fn max_surge(d: &Deployment) -> i32 {
    if !is_rolling_update(d) {
        return 0;
    }
    let (s, u) = fenceposts(d);
    resolve_fenceposts(&s, &u, desired(d)).0
}

/// How many desired pods may be unavailable during a rollout (0 unless RollingUpdate,
/// never more than the desired count).
pub(crate) fn max_unavailable(d: &Deployment) -> i32 {
    if !is_rolling_update(d) || desired(d) == 0 {
        return 0;
    }
    let (s, u) = fenceposts(d);
    resolve_fenceposts(&s, &u, desired(d)).1.min(desired(d))
}

/// The size the new ReplicaSet may grow to now: under RollingUpdate as far as the surge
/// allows over all ReplicaSets' sizes, never beyond the desired count; under Recreate the
/// desired count.
pub(crate) fn new_rs_new_replicas(d: &Deployment, all: &[&ReplicaSet], new_rs: &ReplicaSet) -> i32 {
    let want = desired(d);
    if !is_rolling_update(d) {
        return want;
    }
    let (surge, _) = fenceposts(d);
    let surge = scaled_value(&surge, want, true).unwrap_or(0);
    let current = sum_size(all);
    let max_total = want + surge;
    if current >= max_total {
        return size(new_rs);
    }
    let up = (max_total - current).min(want - size(new_rs));
    size(new_rs) + up
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::rsutil::tests::rs;
    use super::*;
    use k8s_openapi::api::apps::v1::{DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment};

    fn pct(s: &str) -> IntOrString {
        IntOrString::String(s.into())
    }

    pub(crate) fn deploy(replicas: i32, surge: IntOrString, unavailable: IntOrString) -> Deployment {
        Deployment {
            spec: Some(DeploymentSpec {
                replicas: Some(replicas),
                strategy: Some(DeploymentStrategy {
                    type_: Some("RollingUpdate".into()),
                    rolling_update: Some(RollingUpdateDeployment {
                        max_surge: Some(surge),
                        max_unavailable: Some(unavailable),
                    }),
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn percentages_round_as_upstream() {
        assert_eq!(scaled_value(&pct("25%"), 10, true), Some(3));
        assert_eq!(scaled_value(&pct("25%"), 10, false), Some(2));
        assert_eq!(scaled_value(&pct("50%"), 4, true), Some(2));
        assert_eq!(scaled_value(&pct("0%"), 4, true), Some(0));
        assert_eq!(scaled_value(&IntOrString::Int(3), 100, false), Some(3));
        assert_eq!(scaled_value(&pct("25"), 10, true), None);
        assert_eq!(scaled_value(&pct("x%"), 10, true), None);
    }

    #[test]
    fn fenceposts_never_both_zero() {
        assert_eq!(resolve_fenceposts(&pct("25%"), &pct("25%"), 3), (1, 0));
        assert_eq!(resolve_fenceposts(&IntOrString::Int(0), &pct("25%"), 3), (0, 1));
        assert_eq!(
            resolve_fenceposts(&IntOrString::Int(0), &IntOrString::Int(0), 3),
            (0, 1)
        );
        assert_eq!(resolve_fenceposts(&pct("25%"), &pct("25%"), 10), (3, 2));
    }

    #[test]
    fn surge_and_unavailable_of_deployments() {
        let d = deploy(10, pct("25%"), pct("25%"));
        assert_eq!((max_surge(&d), max_unavailable(&d)), (3, 2));
        let d = deploy(2, IntOrString::Int(0), IntOrString::Int(5));
        assert_eq!(max_unavailable(&d), 2);
        let mut r = deploy(3, pct("25%"), pct("25%"));
        r.spec.as_mut().unwrap().strategy = Some(DeploymentStrategy {
            type_: Some("Recreate".into()),
            rolling_update: None,
        });
        assert_eq!((max_surge(&r), max_unavailable(&r)), (0, 0));
        assert!(is_recreate(&r) && !is_rolling_update(&r));
    }

    #[test]
    fn new_replica_set_grows_within_surge() {
        let d = deploy(10, pct("25%"), pct("25%"));
        let old = rs("old", 1, 10, 10);
        let new = rs("new", 2, 0, 0);
        assert_eq!(new_rs_new_replicas(&d, &[&old, &new], &new), 3);
        let new3 = rs("new", 2, 3, 0);
        assert_eq!(new_rs_new_replicas(&d, &[&old, &new3], &new3), 3);
        let old8 = rs("old", 1, 8, 8);
        assert_eq!(new_rs_new_replicas(&d, &[&old8, &new3], &new3), 5);
        let old0 = rs("old", 1, 0, 0);
        assert_eq!(new_rs_new_replicas(&d, &[&old0, &new3], &new3), 10);
    }
}
