//! Taints and tolerations, as upstream's `v1helper.TolerationsTolerateTaint` and
//! `FindMatchingUntoleratedTaint` define them.

use k8s_openapi::api::core::v1::{Taint, Toleration};

/// The taint the node lifecycle places on cordoned nodes; a pod tolerating it may land on
/// an unschedulable node.
pub const TAINT_NODE_UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";
/// Effect that blocks new pods.
pub const NO_SCHEDULE: &str = "NoSchedule";
/// Effect that blocks new pods and evicts running ones.
pub const NO_EXECUTE: &str = "NoExecute";
/// Effect that only discourages new pods.
pub const PREFER_NO_SCHEDULE: &str = "PreferNoSchedule";

/// Whether `t` tolerates `taint`: an empty effect or key in the toleration is a wildcard,
/// `Exists` ignores the value, `Equal` (the default) compares it.
pub fn tolerates(t: &Toleration, taint: &Taint) -> bool {
    let effect = t.effect.as_deref().unwrap_or("");
    if !effect.is_empty() && effect != taint.effect {
        return false;
    }
    let key = t.key.as_deref().unwrap_or("");
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match t.operator.as_deref().unwrap_or("Equal") {
        "Exists" => true,
        "Equal" | "" => t.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or(""),
        _ => false,
    }
}

/// Whether any of `tolerations` tolerates `taint`.
pub fn tolerated(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations.iter().any(|t| tolerates(t, taint))
}

/// The first taint with a NoSchedule or NoExecute effect that no toleration tolerates.
pub fn first_untolerated_hard_taint<'a>(
    taints: &'a [Taint],
    tolerations: &[Toleration],
) -> Option<&'a Taint> {
    taints
        .iter()
        .filter(|t| t.effect == NO_SCHEDULE || t.effect == NO_EXECUTE)
        .find(|t| !tolerated(tolerations, t))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taint(key: &str, value: &str, effect: &str) -> Taint {
        Taint {
            key: key.into(),
            value: Some(value.into()),
            effect: effect.into(),
            time_added: None,
        }
    }

    fn tol(key: &str, op: &str, value: &str, effect: &str) -> Toleration {
        Toleration {
            key: (!key.is_empty()).then(|| key.into()),
            operator: (!op.is_empty()).then(|| op.into()),
            value: (!value.is_empty()).then(|| value.into()),
            effect: (!effect.is_empty()).then(|| effect.into()),
            toleration_seconds: None,
        }
    }

    #[test]
    fn matching() {
        let t = taint("dedicated", "gpu", NO_SCHEDULE);
        assert!(tolerates(&tol("dedicated", "Equal", "gpu", NO_SCHEDULE), &t));
        assert!(tolerates(&tol("dedicated", "", "gpu", ""), &t));
        assert!(!tolerates(&tol("dedicated", "Equal", "cpu", NO_SCHEDULE), &t));
        assert!(tolerates(&tol("dedicated", "Exists", "", ""), &t));
        assert!(tolerates(&tol("", "Exists", "", ""), &t));
        assert!(!tolerates(&tol("dedicated", "Exists", "", NO_EXECUTE), &t));
    }

    #[test]
    fn untolerated_ignores_prefer_no_schedule() {
        let taints = [taint("a", "", PREFER_NO_SCHEDULE), taint("b", "x", NO_EXECUTE)];
        assert_eq!(
            first_untolerated_hard_taint(&taints, &[]).map(|t| t.key.as_str()),
            Some("b")
        );
        assert!(first_untolerated_hard_taint(&taints, &[tol("b", "Exists", "", "")]).is_none());
    }
}
