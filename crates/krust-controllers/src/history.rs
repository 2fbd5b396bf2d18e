//! ControllerRevisions, as upstream's `pkg/controller/history`: the snapshots of a pod
//! template that StatefulSets and DaemonSets keep so `kubectl rollout history|undo` can
//! show and restore earlier templates.
//!
//! A revision's `data` is the strategic merge patch that puts its template back
//! (`{"spec":{"template":{...,"$patch":"replace"}}}`), which is what kubectl applies on
//! undo. Everything here is pure except [`Revisions`], which writes through the API.

use std::collections::{BTreeMap, HashSet};

use k8s_openapi::{
    api::{apps::v1::ControllerRevision, core::v1::PodTemplateSpec},
    apimachinery::pkg::{apis::meta::v1::ObjectMeta, apis::meta::v1::OwnerReference, runtime::RawExtension},
};
use kube::{
    Api,
    api::{DeleteParams, Patch, PatchParams, PostParams},
};
use serde_json::{Value, json};

/// The label carrying a revision's hash on the revision itself.
pub(crate) const HASH_LABEL: &str = "controller.kubernetes.io/hash";
/// The label on pods (and DaemonSet revisions) naming the revision a pod was made from.
pub(crate) const POD_REVISION_LABEL: &str = "controller-revision-hash";

/// The alphabet of generated names (upstream's `rand.SafeEncodeString`: no vowels).
const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// Longest name prefix in front of a revision hash (upstream keeps names under 253).
const MAX_PREFIX: usize = 223;

/// FNV-1a over `bytes`, then the collision count when there is one, in the safe alphabet.
pub(crate) fn hash(bytes: &[u8], collision_count: Option<i32>) -> String {
    let mut h: u32 = 0x811c_9dc5;
    let mut feed = |bs: &[u8]| {
        for b in bs {
            h ^= u32::from(*b);
            h = h.wrapping_mul(0x0100_0193);
        }
    };
    feed(bytes);
    if let Some(c) = collision_count {
        feed(c.to_string().as_bytes());
    }
    h.to_string()
        .bytes()
        .map(|b| char::from(ALPHANUMS[usize::from(b) % ALPHANUMS.len()]))
        .collect()
}

/// The hash of a pod template (DaemonSets name revisions and label pods with it).
pub(crate) fn template_hash(t: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    hash(&serde_json::to_vec(t).unwrap_or_default(), collision_count)
}

/// `<parent>-<hash>`, the parent name cut short enough for a valid name.
pub(crate) fn revision_name(parent: &str, hash: &str) -> String {
    let prefix: String = parent.chars().take(MAX_PREFIX).collect();
    format!("{prefix}-{hash}")
}

/// The data of a revision of `template`: the patch kubectl applies to restore it.
pub(crate) fn template_patch(template: &PodTemplateSpec) -> Value {
    let mut t = serde_json::to_value(template).unwrap_or(Value::Null);
    if let Some(o) = t.as_object_mut() {
        o.insert("$patch".into(), json!("replace"));
    }
    json!({"spec": {"template": t}})
}

/// The template a revision restores, if its data is one.
pub(crate) fn template_of(rev: &ControllerRevision) -> Option<PodTemplateSpec> {
    let mut t = rev.data.as_ref()?.0.pointer("/spec/template")?.clone();
    if let Some(o) = t.as_object_mut() {
        o.remove("$patch");
    }
    serde_json::from_value(t).ok()
}

/// Whether a revision restores exactly `data` (compared as JSON values, not bytes, so
/// key order does not matter).
pub(crate) fn has_data(rev: &ControllerRevision, data: &Value) -> bool {
    rev.data.as_ref().is_some_and(|d| &d.0 == data)
}

/// The revision number after the highest of `revisions` (1 for none).
pub(crate) fn next_revision(revisions: &[&ControllerRevision]) -> i64 {
    revisions.iter().map(|r| r.revision).max().unwrap_or(0) + 1
}

/// Sorts by revision number, then name (upstream's `SortControllerRevisions`).
pub(crate) fn sort(revisions: &mut [&ControllerRevision]) {
    revisions.sort_by(|a, b| {
        a.revision
            .cmp(&b.revision)
            .then_with(|| a.metadata.name.cmp(&b.metadata.name))
    });
}

/// The revisions to delete so that at most `limit` revisions no pod uses (and that are
/// not in `keep`) remain: the oldest of them first.
pub(crate) fn to_prune<'a>(
    revisions: &[&'a ControllerRevision],
    keep: &HashSet<String>,
    limit: i32,
) -> Vec<&'a ControllerRevision> {
    let mut old: Vec<&ControllerRevision> = revisions
        .iter()
        .copied()
        .filter(|r| !r.metadata.name.as_ref().is_some_and(|n| keep.contains(n)))
        .collect();
    sort(&mut old);
    let excess = old
        .len()
        .saturating_sub(usize::try_from(limit.max(0)).unwrap_or(0));
    old.truncate(excess);
    old
}

/// A new revision of `parent` (namespace `ns`, owner reference `owner`) holding `data`,
/// labelled with the template's labels and the hash.
pub(crate) fn new_revision(
    parent: &str,
    ns: &str,
    owner: OwnerReference,
    template_labels: &BTreeMap<String, String>,
    data: Value,
    revision: i64,
    hash: &str,
) -> ControllerRevision {
    let mut labels = template_labels.clone();
    labels.insert(HASH_LABEL.into(), hash.into());
    ControllerRevision {
        metadata: ObjectMeta {
            name: Some(revision_name(parent, hash)),
            namespace: Some(ns.into()),
            labels: Some(labels),
            owner_references: Some(vec![owner]),
            ..Default::default()
        },
        data: Some(RawExtension(data)),
        revision,
    }
}

/// What to do about the revision of the current template.
#[derive(Debug, PartialEq)]
pub(crate) enum Choice<'a> {
    /// The newest revision already holds it.
    Existing(&'a ControllerRevision),
    /// An older revision holds it (a rollback): it gets this new, highest number.
    Renumber(&'a ControllerRevision, i64),
    /// No revision holds it: create one with this number.
    Create(i64),
}

/// Chooses the revision for `data` among an owner's `revisions` (upstream's
/// `getStatefulSetRevisions` and the DaemonSet's `constructHistory`); also returns the
/// other revisions holding the same data (duplicates, the newest is kept).
pub(crate) fn choose<'a>(
    revisions: &[&'a ControllerRevision],
    data: &Value,
) -> (Choice<'a>, Vec<&'a ControllerRevision>) {
    let mut sorted = revisions.to_vec();
    sort(&mut sorted);
    let mut equal: Vec<&ControllerRevision> = sorted.iter().copied().filter(|r| has_data(r, data)).collect();
    let Some(newest_equal) = equal.pop() else {
        return (Choice::Create(next_revision(revisions)), Vec::new());
    };
    let newest = sorted.last().map_or(0, |r| r.revision);
    if newest_equal.revision == newest {
        (Choice::Existing(newest_equal), equal)
    } else {
        (Choice::Renumber(newest_equal, next_revision(revisions)), equal)
    }
}

/// Writes revisions of one namespace.
pub(crate) struct Revisions {
    api: Api<ControllerRevision>,
}

/// What creating a revision came to.
pub(crate) enum Created {
    /// Created (or found with the same data under the name).
    Ok(Box<ControllerRevision>),
    /// The name is taken by a revision with other data: raise the collision count.
    Collision,
}

impl Revisions {
    /// Revisions in `ns`.
    pub(crate) fn new(client: kube::Client, ns: &str) -> Self {
        Self {
            api: Api::namespaced(client, ns),
        }
    }

    /// Creates `rev`; a namesake with the same data counts as created.
    pub(crate) async fn create(&self, rev: &ControllerRevision) -> Result<Created, kube::Error> {
        match self.api.create(&PostParams::default(), rev).await {
            Ok(r) => Ok(Created::Ok(Box::new(r))),
            Err(e) if crate::apierror::is_already_exists(&e) => {
                let name = rev.metadata.name.clone().unwrap_or_default();
                let existing = self.api.get(&name).await?;
                let same = rev.data.as_ref().is_some_and(|d| has_data(&existing, &d.0));
                Ok(if same {
                    Created::Ok(Box::new(existing))
                } else {
                    Created::Collision
                })
            }
            Err(e) => Err(e),
        }
    }

    /// Gives revision `name` a new number (an older template made current again).
    pub(crate) async fn renumber(
        &self,
        name: &str,
        revision: i64,
    ) -> Result<ControllerRevision, kube::Error> {
        let patch = json!({"revision": revision});
        self.api
            .patch(name, &PatchParams::default(), &Patch::Merge(patch))
            .await
    }

    /// Deletes revision `name` (gone already is fine).
    pub(crate) async fn delete(&self, name: &str) -> Result<(), kube::Error> {
        match self.api.delete(name, &DeleteParams::default()).await {
            Ok(_) => Ok(()),
            Err(e) if crate::apierror::is_not_found(&e) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Container, PodSpec};

    fn template(image: &str) -> PodTemplateSpec {
        PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some([("app".to_string(), "web".to_string())].into()),
                ..Default::default()
            }),
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "c".into(),
                    image: Some(image.into()),
                    ..Default::default()
                }],
                ..Default::default()
            }),
        }
    }

    fn rev(name: &str, n: i64, image: &str) -> ControllerRevision {
        let mut r = new_revision(
            "web",
            "ns",
            OwnerReference::default(),
            &BTreeMap::new(),
            template_patch(&template(image)),
            n,
            "h",
        );
        r.metadata.name = Some(name.into());
        r
    }

    #[test]
    fn hashes_are_stable_distinct_and_safe() {
        let a = hash(b"abc", None);
        assert_eq!(a, hash(b"abc", None));
        assert_ne!(a, hash(b"abd", None));
        assert_ne!(a, hash(b"abc", Some(1)));
        assert!(a.bytes().all(|b| ALPHANUMS.contains(&b)));
        assert_ne!(
            template_hash(&template("a"), None),
            template_hash(&template("b"), None)
        );
        assert_eq!(revision_name("web", "x"), "web-x");
        assert_eq!(revision_name(&"n".repeat(300), "x").len(), MAX_PREFIX + 2);
    }

    #[test]
    fn data_round_trips_to_the_template() {
        let t = template("nginx:1");
        let data = template_patch(&t);
        assert_eq!(data["spec"]["template"]["$patch"], "replace");
        let r = rev("web-1", 1, "nginx:1");
        assert_eq!(template_of(&r), Some(t));
        assert!(has_data(&r, &data));
        assert!(!has_data(&r, &template_patch(&template("nginx:2"))));
        let new = new_revision(
            "web",
            "ns",
            OwnerReference::default(),
            &BTreeMap::new(),
            data,
            3,
            "abc",
        );
        assert_eq!(new.metadata.name.as_deref(), Some("web-abc"));
        assert_eq!(new.metadata.labels.unwrap()[HASH_LABEL], "abc");
    }

    #[test]
    fn choosing_the_revision_of_the_template() {
        let (a, b) = (rev("a", 1, "1"), rev("b", 2, "2"));
        let data = |i: &str| template_patch(&template(i));
        assert_eq!(choose(&[&a, &b], &data("2")).0, Choice::Existing(&b));
        assert_eq!(choose(&[&a, &b], &data("1")).0, Choice::Renumber(&a, 3));
        assert_eq!(choose(&[&a, &b], &data("3")).0, Choice::Create(3));
        let dup = rev("c", 3, "1");
        let (c, dups) = choose(&[&a, &b, &dup], &data("1"));
        assert_eq!((c, dups), (Choice::Existing(&dup), vec![&a]));
    }

    #[test]
    fn numbering_and_pruning() {
        let (a, b, c, d) = (
            rev("a", 1, "1"),
            rev("b", 2, "2"),
            rev("c", 3, "3"),
            rev("d", 4, "4"),
        );
        let all = [&c, &a, &d, &b];
        assert_eq!(next_revision(&all), 5);
        assert_eq!(next_revision(&[]), 1);
        let keep: HashSet<String> = ["d".to_string(), "a".to_string()].into();
        let names = |v: Vec<&ControllerRevision>| -> Vec<String> {
            v.iter()
                .map(|r| r.metadata.name.clone().unwrap_or_default())
                .collect()
        };
        assert_eq!(names(to_prune(&all, &keep, 1)), ["b"]);
        assert_eq!(names(to_prune(&all, &keep, 0)), ["b", "c"]);
        assert!(to_prune(&all, &keep, 5).is_empty());
    }
}
