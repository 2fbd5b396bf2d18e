//! Which pods a StatefulSet claims, as upstream's `getPodsForStatefulSet` decides it: the
//! ReplicaSet's ControllerRefManager rules (`crate::replicaset::classify`) where "matches"
//! means both the selector and the set's ordinal naming (`<set>-<ordinal>`, upstream's
//! `isMemberOf`). So an owned pod that was relabelled or is not one of the set's names is
//! released, and only an orphan that has one of the set's names is adopted.

use k8s_openapi::api::core::v1::Pod;
use kube::core::Selector;

use super::pods::ordinal_in;
use crate::replicaset::{Claim, classify};

/// What set `set` (uid `uid`, being deleted or not, selecting with `selector`) does with
/// `pod`.
pub(crate) fn decide(set: &str, uid: &str, deleting: bool, selector: &Selector, pod: &Pod) -> Claim {
    let member = ordinal_in(set, pod).is_some();
    match classify(uid, deleting, Some(selector), &pod.metadata) {
        // Ours and labelled right, but not named as one of ours: it stopped matching.
        Claim::Owned if !member && deleting => Claim::Ignore,
        Claim::Owned if !member => Claim::Release,
        Claim::Adopt if !member => Claim::Ignore,
        c => c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

    fn pod(name: &str, app: &str, owner: Option<&str>) -> Pod {
        let mut p = Pod::default();
        p.metadata.name = Some(name.into());
        p.metadata.labels = Some([("app".to_string(), app.to_string())].into());
        p.metadata.owner_references = owner.map(|uid| {
            vec![OwnerReference {
                uid: uid.into(),
                controller: Some(true),
                ..Default::default()
            }]
        });
        p
    }

    fn web() -> Selector {
        [("app".to_string(), "web".to_string())].into_iter().collect()
    }

    #[test]
    fn owned_pods_that_stop_matching_are_released() {
        let s = web();
        let d = |p: &Pod, deleting| decide("web", "me", deleting, &s, p);
        assert_eq!(d(&pod("web-0", "web", Some("me")), false), Claim::Owned);
        assert_eq!(d(&pod("web-0", "other", Some("me")), false), Claim::Release);
        assert_eq!(d(&pod("db-0", "web", Some("me")), false), Claim::Release);
        assert_eq!(d(&pod("web-x", "web", Some("me")), false), Claim::Release);
        // A set being deleted keeps what it has and lets nothing go.
        assert_eq!(d(&pod("web-0", "web", Some("me")), true), Claim::Owned);
        assert_eq!(d(&pod("web-0", "other", Some("me")), true), Claim::Ignore);
        assert_eq!(d(&pod("db-0", "web", Some("me")), true), Claim::Ignore);
        // Someone else's pods are never touched.
        assert_eq!(d(&pod("web-0", "other", Some("them")), false), Claim::Ignore);
    }

    #[test]
    fn only_orphans_with_one_of_the_set_names_are_adopted() {
        let s = web();
        let d = |p: &Pod| decide("web", "me", false, &s, p);
        assert_eq!(d(&pod("web-3", "web", None)), Claim::Adopt);
        assert_eq!(d(&pod("webby-3", "web", None)), Claim::Ignore);
        assert_eq!(d(&pod("web", "web", None)), Claim::Ignore);
        assert_eq!(d(&pod("web-3", "other", None)), Claim::Ignore);
    }
}
