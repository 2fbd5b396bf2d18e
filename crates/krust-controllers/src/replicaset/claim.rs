//! Ownership by controller ownerReference, as upstream's ControllerRefManager decides it:
//! an owner keeps the objects it controls while its selector matches them, adopts
//! matching orphans and releases its objects that stopped matching. The decision is a
//! pure function; the patches that carry it out are built here too.
//!
//! Used for pods (ReplicaSets, ReplicationControllers) and for ReplicaSets (Deployments).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use kube::{Resource, core::Selector};
use serde_json::{Value, json};

/// What an owner does with one candidate object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Claim {
    /// Already ours and matching: count it.
    Owned,
    /// An orphan that matches: adopt it (patch in our controller reference).
    Adopt,
    /// Ours but no longer matching: release it (patch our reference out).
    Release,
    /// Someone else's, or nothing to do.
    Ignore,
}

/// The controller reference of an object, if any.
pub(crate) fn controller_of(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references
        .iter()
        .flatten()
        .find(|r| r.controller == Some(true))
}

/// The API group of an `apiVersion` (`""` for the core group).
fn group_of(api_version: &str) -> &str {
    match api_version.split_once('/') {
        Some((g, _)) => g,
        None => "",
    }
}

/// Whether an owner reference points at a `K` (by kind and group, any version).
pub(crate) fn ref_is<K: Resource<DynamicType = ()>>(r: &OwnerReference) -> bool {
    r.kind == K::kind(&()) && group_of(&r.api_version) == K::group(&())
}

/// The queue key (`namespace/name`) of the controller of kind `K` that owns the object,
/// which lives in the same namespace as its owner.
pub(crate) fn controller_key<K: Resource<DynamicType = ()>>(meta: &ObjectMeta) -> Option<String> {
    let r = controller_of(meta).filter(|r| ref_is::<K>(r))?;
    Some(format!(
        "{}/{}",
        meta.namespace.as_deref().unwrap_or_default(),
        r.name
    ))
}

/// The owners of kind `K` to reconcile when an object (`meta`, in its namespace) changes:
/// its controller if that is a `K`, nothing if another kind controls it, else (an orphan)
/// every `K` of the namespace that `may_adopt` accepts and whose selector
/// (`selector_of`, never an empty one) matches it.
pub(crate) fn owners_to_wake<K>(
    owners: &kube::runtime::reflector::Store<K>,
    meta: &ObjectMeta,
    selector_of: impl Fn(&K) -> Option<&LabelSelector>,
    may_adopt: impl Fn(&K) -> bool,
) -> Vec<kube::runtime::reflector::ObjectRef<K>>
where
    K: Resource<DynamicType = ()> + Clone + 'static,
{
    use kube::core::SelectorExt;
    use kube::runtime::reflector::ObjectRef;
    let ns = meta.namespace.clone().unwrap_or_default();
    if let Some(owner) = controller_of(meta) {
        if ref_is::<K>(owner) {
            return vec![ObjectRef::new(&owner.name).within(&ns)];
        }
        return Vec::new();
    }
    let empty = BTreeMap::new();
    let labels = meta.labels.as_ref().unwrap_or(&empty);
    owners
        .state()
        .iter()
        .filter(|o| o.meta().namespace.as_deref() == Some(ns.as_str()))
        .filter(|o| may_adopt(o))
        .filter(|o| {
            selector_of(o)
                .and_then(|s| Selector::try_from(s.clone()).ok())
                .is_some_and(|s| !s.selects_all() && s.matches(labels))
        })
        .map(|o| ObjectRef::from_obj(o.as_ref()))
        .collect()
}

/// The controller reference `owner` puts on what it creates or adopts.
pub(crate) fn controller_ref<K: Resource<DynamicType = ()>>(owner: &K) -> Option<OwnerReference> {
    let meta = owner.meta();
    Some(OwnerReference {
        api_version: K::api_version(&()).into_owned(),
        kind: K::kind(&()).into_owned(),
        name: meta.name.clone()?,
        uid: meta.uid.clone()?,
        controller: Some(true),
        block_owner_deletion: Some(true),
    })
}

/// Decides what the owner (`owner_uid`, being deleted or not) does with an object.
pub(crate) fn classify(
    owner_uid: &str,
    owner_deleting: bool,
    selector: Option<&Selector>,
    meta: &ObjectMeta,
) -> Claim {
    let empty = BTreeMap::new();
    let labels = meta.labels.as_ref().unwrap_or(&empty);
    let matches = selector.is_some_and(|s| super::workload::matches(s, labels));
    match controller_of(meta) {
        Some(r) if r.uid != owner_uid => Claim::Ignore,
        // Keeping what we own takes no action, so it is allowed while being deleted.
        Some(_) if matches => Claim::Owned,
        Some(_) if owner_deleting => Claim::Ignore,
        Some(_) => Claim::Release,
        None if owner_deleting || !matches || meta.deletion_timestamp.is_some() => Claim::Ignore,
        None => Claim::Adopt,
    }
}

/// Strategic merge patch adding `owner` as controller of the object `uid`; the uid makes
/// the patch fail on a recreated object of the same name.
pub(crate) fn adopt_patch(owner: &OwnerReference, uid: &str) -> Value {
    json!({"metadata": {"ownerReferences": [owner], "uid": uid}})
}

/// Strategic merge patch removing the reference to `owner_uid` from the object `uid`.
pub(crate) fn release_patch(owner_uid: &str, uid: &str) -> Value {
    json!({"metadata": {"ownerReferences": [{"$patch": "delete", "uid": owner_uid}], "uid": uid}})
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::{api::apps::v1::ReplicaSet, jiff::Timestamp};

    fn meta(labels: &[(&str, &str)], controller: Option<&str>) -> ObjectMeta {
        ObjectMeta {
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            owner_references: controller.map(|uid| {
                vec![OwnerReference {
                    uid: uid.into(),
                    controller: Some(true),
                    ..Default::default()
                }]
            }),
            ..Default::default()
        }
    }

    fn sel() -> Selector {
        [("app".to_string(), "web".to_string())].into_iter().collect()
    }

    #[test]
    fn decisions() {
        let s = sel();
        let web = [("app", "web")];
        let db = [("app", "db")];
        assert_eq!(
            classify("me", false, Some(&s), &meta(&web, Some("me"))),
            Claim::Owned
        );
        assert_eq!(
            classify("me", true, Some(&s), &meta(&web, Some("me"))),
            Claim::Owned
        );
        assert_eq!(
            classify("me", false, Some(&s), &meta(&db, Some("me"))),
            Claim::Release
        );
        assert_eq!(
            classify("me", true, Some(&s), &meta(&db, Some("me"))),
            Claim::Ignore
        );
        assert_eq!(
            classify("me", false, Some(&s), &meta(&web, Some("other"))),
            Claim::Ignore
        );
        assert_eq!(classify("me", false, Some(&s), &meta(&web, None)), Claim::Adopt);
        assert_eq!(classify("me", true, Some(&s), &meta(&web, None)), Claim::Ignore);
        assert_eq!(classify("me", false, Some(&s), &meta(&db, None)), Claim::Ignore);
        assert_eq!(classify("me", false, None, &meta(&web, None)), Claim::Ignore);
        let mut dying = meta(&web, None);
        dying.deletion_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
        assert_eq!(classify("me", false, Some(&s), &dying), Claim::Ignore);
    }

    #[test]
    fn references() {
        let mut rs = ReplicaSet::default();
        rs.metadata.name = Some("web".into());
        rs.metadata.uid = Some("u1".into());
        let r = controller_ref(&rs).unwrap();
        assert_eq!(
            (r.api_version.as_str(), r.kind.as_str()),
            ("apps/v1", "ReplicaSet")
        );
        assert_eq!((r.controller, r.block_owner_deletion), (Some(true), Some(true)));
        assert!(ref_is::<ReplicaSet>(&r));
        assert!(!ref_is::<k8s_openapi::api::core::v1::ReplicationController>(&r));
        let p = release_patch("u1", "p1");
        assert_eq!(p["metadata"]["ownerReferences"][0]["$patch"], "delete");
        assert_eq!(adopt_patch(&r, "p1")["metadata"]["uid"], "p1");
    }
}
