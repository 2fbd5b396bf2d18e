//! `persistentVolumeClaimRetentionPolicy`, as upstream carries it out: the controller
//! never deletes a claim itself; it gives the claim owner references so the garbage
//! collector deletes it with the set (`whenDeleted: Delete`) or with its pod once the pod
//! is scaled away (`whenScaled: Delete`), and removes those references for `Retain`.

use k8s_openapi::{api::apps::v1::StatefulSet, apimachinery::pkg::apis::meta::v1::OwnerReference};

/// The two halves of the policy: whether to delete claims with the set and on scale-down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Policy {
    /// `whenDeleted: Delete`.
    pub delete_with_set: bool,
    /// `whenScaled: Delete`.
    pub delete_when_scaled: bool,
}

impl Policy {
    /// The set's policy (both `Retain` by default).
    pub(crate) fn of(set: &StatefulSet) -> Self {
        let p = set
            .spec
            .as_ref()
            .and_then(|s| s.persistent_volume_claim_retention_policy.as_ref());
        let delete = |v: Option<&String>| v.is_some_and(|v| v == "Delete");
        Self {
            delete_with_set: delete(p.and_then(|p| p.when_deleted.as_ref())),
            delete_when_scaled: delete(p.and_then(|p| p.when_scaled.as_ref())),
        }
    }
}

/// The owner references a claim should have: its current ones with references to the set
/// (`set`) and to its pod (`pod`) added or removed as the policy says for a pod that is
/// (`scaled_down`) or is not being scaled away. `None` when nothing changes.
pub(crate) fn desired_owners(
    current: &[OwnerReference],
    policy: Policy,
    set: &OwnerReference,
    pod: Option<&OwnerReference>,
    scaled_down: bool,
) -> Option<Vec<OwnerReference>> {
    let (want_set, want_pod) = match (policy.delete_with_set, policy.delete_when_scaled) {
        (false, false) => (false, false),
        (true, false) => (true, false),
        (false, true) => (false, scaled_down),
        (true, true) => (!scaled_down, scaled_down),
    };
    let mut out: Vec<OwnerReference> = current.to_vec();
    let mut changed = false;
    let mut apply = |r: &OwnerReference, want: bool| {
        let has = out.iter().any(|o| o.uid == r.uid);
        if want && !has {
            out.push(r.clone());
            changed = true;
        } else if !want && has {
            out.retain(|o| o.uid != r.uid);
            changed = true;
        }
    };
    apply(set, want_set);
    if let Some(p) = pod {
        apply(p, want_pod);
    }
    changed.then_some(out)
}

/// A plain (non-controller) owner reference to an object, as upstream puts on claims.
pub(crate) fn owner(api_version: &str, kind: &str, name: &str, uid: &str) -> OwnerReference {
    OwnerReference {
        api_version: api_version.into(),
        kind: kind.into(),
        name: name.into(),
        uid: uid.into(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(delete_with_set: bool, delete_when_scaled: bool) -> Policy {
        Policy {
            delete_with_set,
            delete_when_scaled,
        }
    }

    fn uids(v: Option<Vec<OwnerReference>>) -> Option<Vec<String>> {
        v.map(|v| v.into_iter().map(|o| o.uid).collect())
    }

    #[test]
    fn owners_follow_the_policy() {
        let set = owner("apps/v1", "StatefulSet", "web", "s");
        let pod = owner("v1", "Pod", "web-1", "p");
        // Retain/Retain: nothing added, stale references removed.
        assert_eq!(
            desired_owners(&[], policy(false, false), &set, Some(&pod), false),
            None
        );
        assert_eq!(
            uids(desired_owners(
                &[set.clone(), pod.clone()],
                policy(false, false),
                &set,
                Some(&pod),
                true
            )),
            Some(vec![])
        );
        // whenDeleted Delete: the set owns the claim.
        assert_eq!(
            uids(desired_owners(&[], policy(true, false), &set, Some(&pod), true)),
            Some(vec!["s".into()])
        );
        // whenScaled Delete: the pod owns it only once scaled away.
        assert_eq!(
            desired_owners(&[], policy(false, true), &set, Some(&pod), false),
            None
        );
        assert_eq!(
            uids(desired_owners(&[], policy(false, true), &set, Some(&pod), true)),
            Some(vec!["p".into()])
        );
        // Both: the set while in range, the pod once scaled away.
        assert_eq!(
            uids(desired_owners(&[], policy(true, true), &set, Some(&pod), false)),
            Some(vec!["s".into()])
        );
        assert_eq!(
            uids(desired_owners(
                std::slice::from_ref(&set),
                policy(true, true),
                &set,
                Some(&pod),
                true
            )),
            Some(vec!["p".into()])
        );
        // Other owners are kept.
        let other = owner("v1", "ConfigMap", "x", "o");
        assert_eq!(
            uids(desired_owners(&[other], policy(true, false), &set, None, false)),
            Some(vec!["o".into(), "s".into()])
        );
    }
}
