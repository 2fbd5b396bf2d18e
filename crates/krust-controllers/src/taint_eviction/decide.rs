//! Whether and when a pod must leave a node because of the node's `NoExecute` taints, as
//! upstream's taint eviction controller decides: a taint no toleration of the pod matches
//! evicts it at once; when every taint is tolerated, the pod may stay for the shortest
//! `tolerationSeconds` among the tolerations used (a toleration without seconds tolerates
//! for ever; zero or less means at once), counted from when the controller first saw the
//! pod under the taints.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Taint, Toleration};
use tokio::time::Instant;

/// The effect this controller acts on.
pub const NO_EXECUTE: &str = "NoExecute";

/// What the taints mean for a pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// No `NoExecute` taint on the node.
    Untainted,
    /// Every taint is tolerated without a time limit.
    ToleratedForever,
    /// Every taint is tolerated, for this long.
    ToleratedFor(Duration),
    /// Some taint is not tolerated: evict now.
    Evict,
}

/// Whether toleration `t` matches `taint` (upstream's `ToleratesTaint`): an empty effect
/// or key is a wildcard (an empty key needs `Exists`), `Exists` ignores the value, `Equal`
/// (the default) compares it.
pub fn tolerates(t: &Toleration, taint: &Taint) -> bool {
    let effect = t.effect.as_deref().unwrap_or_default();
    if !effect.is_empty() && effect != taint.effect {
        return false;
    }
    let key = t.key.as_deref().unwrap_or_default();
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match t.operator.as_deref().unwrap_or_default() {
        "Exists" => true,
        "" | "Equal" => t.value.as_deref().unwrap_or_default() == taint.value.as_deref().unwrap_or_default(),
        _ => false,
    }
}

/// The verdict for a pod with `tolerations` on a node with `taints` (all effects; only
/// `NoExecute` ones count). Each taint uses the first toleration that matches it.
pub fn verdict(tolerations: &[Toleration], taints: &[Taint]) -> Verdict {
    let mut any = false;
    let mut shortest: Option<i64> = None;
    for taint in taints.iter().filter(|t| t.effect == NO_EXECUTE) {
        any = true;
        let Some(used) = tolerations.iter().find(|t| tolerates(t, taint)) else {
            return Verdict::Evict;
        };
        if let Some(secs) = used.toleration_seconds {
            shortest = Some(shortest.map_or(secs, |s| s.min(secs)));
        }
    }
    match (any, shortest) {
        (false, _) => Verdict::Untainted,
        (true, None) => Verdict::ToleratedForever,
        (true, Some(s)) if s <= 0 => Verdict::Evict,
        (true, Some(s)) => Verdict::ToleratedFor(Duration::from_secs(s.unsigned_abs())),
    }
}

/// When a pod under `verdict` since `since` must be evicted (`None`: it may stay).
pub fn deadline(verdict: Verdict, since: Instant) -> Option<Instant> {
    match verdict {
        Verdict::Untainted | Verdict::ToleratedForever => None,
        Verdict::Evict => Some(since),
        Verdict::ToleratedFor(d) => Some(since + d),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taint(key: &str, value: &str, effect: &str) -> Taint {
        Taint {
            key: key.into(),
            value: (!value.is_empty()).then(|| value.into()),
            effect: effect.into(),
            time_added: None,
        }
    }

    fn tol(key: &str, op: &str, value: &str, effect: &str, secs: Option<i64>) -> Toleration {
        Toleration {
            key: (!key.is_empty()).then(|| key.into()),
            operator: (!op.is_empty()).then(|| op.into()),
            value: (!value.is_empty()).then(|| value.into()),
            effect: (!effect.is_empty()).then(|| effect.into()),
            toleration_seconds: secs,
        }
    }

    const UNREACHABLE: &str = "node.kubernetes.io/unreachable";

    #[test]
    fn matching() {
        let t = taint("k", "v", NO_EXECUTE);
        assert!(tolerates(&tol("k", "Equal", "v", NO_EXECUTE, None), &t));
        assert!(tolerates(&tol("k", "", "v", "", None), &t));
        assert!(!tolerates(&tol("k", "Equal", "w", NO_EXECUTE, None), &t));
        assert!(!tolerates(&tol("k", "Exists", "", "NoSchedule", None), &t));
        assert!(
            tolerates(&tol("", "Exists", "", "", None), &t),
            "tolerates everything"
        );
        assert!(!tolerates(&tol("other", "Exists", "", "", None), &t));
    }

    #[test]
    fn verdicts() {
        let unreachable = [taint(UNREACHABLE, "", NO_EXECUTE)];
        assert_eq!(verdict(&[], &[]), Verdict::Untainted);
        assert_eq!(verdict(&[], &[taint("k", "", "NoSchedule")]), Verdict::Untainted);
        assert_eq!(verdict(&[], &unreachable), Verdict::Evict);
        assert_eq!(
            verdict(&[tol(UNREACHABLE, "Exists", "", NO_EXECUTE, None)], &unreachable),
            Verdict::ToleratedForever
        );
        assert_eq!(
            verdict(
                &[tol(UNREACHABLE, "Exists", "", NO_EXECUTE, Some(300))],
                &unreachable
            ),
            Verdict::ToleratedFor(Duration::from_secs(300))
        );
        assert_eq!(
            verdict(
                &[tol(UNREACHABLE, "Exists", "", NO_EXECUTE, Some(0))],
                &unreachable
            ),
            Verdict::Evict
        );
    }

    #[test]
    fn the_shortest_toleration_of_all_taints_counts() {
        let taints = [
            taint(UNREACHABLE, "", NO_EXECUTE),
            taint("node.kubernetes.io/not-ready", "", NO_EXECUTE),
        ];
        let tolerations = [
            tol(UNREACHABLE, "Exists", "", NO_EXECUTE, Some(300)),
            tol("node.kubernetes.io/not-ready", "Exists", "", NO_EXECUTE, Some(5)),
        ];
        assert_eq!(
            verdict(&tolerations, &taints),
            Verdict::ToleratedFor(Duration::from_secs(5))
        );
        // One taint not tolerated at all: evicted at once whatever the others allow.
        assert_eq!(verdict(&tolerations[..1], &taints), Verdict::Evict);
        // Each taint uses its first matching toleration (here: the unlimited one).
        let first_wins = [
            tol("", "Exists", "", "", None),
            tol(UNREACHABLE, "Exists", "", NO_EXECUTE, Some(5)),
        ];
        assert_eq!(verdict(&first_wins, &taints[..1]), Verdict::ToleratedForever);
    }

    #[test]
    fn deadlines_count_from_first_sight() {
        let t0 = Instant::now();
        assert_eq!(deadline(Verdict::Untainted, t0), None);
        assert_eq!(deadline(Verdict::ToleratedForever, t0), None);
        assert_eq!(deadline(Verdict::Evict, t0), Some(t0));
        assert_eq!(
            deadline(Verdict::ToleratedFor(Duration::from_secs(5)), t0),
            Some(t0 + Duration::from_secs(5))
        );
    }
}
