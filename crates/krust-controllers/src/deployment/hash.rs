//! The pod-template hash that names a Deployment's ReplicaSets (`<deploy>-<hash>`) and
//! keeps their pods apart (`pod-template-hash` label in selector, template and pods).
//!
//! As upstream: FNV-1a (32 bit) over a deterministic rendering of the template, then the
//! collision count (so a name taken by an unrelated ReplicaSet can be stepped past), and
//! the decimal digits mapped onto the alphabet of generated names (no vowels, so no
//! words). The rendering is the template's JSON with struct fields in declaration order
//! and maps sorted, which is stable for a given template.

use k8s_openapi::{api::core::v1::PodTemplateSpec, apimachinery::pkg::apis::meta::v1::LabelSelector};
use serde_json::Value;

/// The label carrying the hash.
pub(crate) const HASH_LABEL: &str = "pod-template-hash";

/// The alphabet of generated names (upstream's `rand.SafeEncodeString`).
const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

fn fnv1a32(h: &mut u32, bytes: &[u8]) {
    for b in bytes {
        *h ^= u32::from(*b);
        *h = h.wrapping_mul(0x0100_0193);
    }
}

/// Maps every byte of `s` onto the safe alphabet.
pub(crate) fn safe_encode(s: &str) -> String {
    s.bytes()
        .map(|b| char::from(ALPHANUMS[usize::from(b) % ALPHANUMS.len()]))
        .collect()
}

/// The hash of a template, with the collision count mixed in when there is one.
pub(crate) fn compute_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    let mut h: u32 = 0x811c_9dc5;
    // Serializing a typed template cannot fail; an empty rendering would still hash.
    fnv1a32(&mut h, &serde_json::to_vec(template).unwrap_or_default());
    if let Some(c) = collision_count {
        let mut bytes = [0u8; 8];
        bytes[..4].copy_from_slice(&c.to_le_bytes());
        fnv1a32(&mut h, &bytes);
    }
    safe_encode(&h.to_string())
}

/// The template as JSON without the hash label (and without what becomes empty then).
fn without_hash(t: &PodTemplateSpec) -> Value {
    let mut v = serde_json::to_value(t).unwrap_or(Value::Null);
    let Some(o) = v.as_object_mut() else { return v };
    if let Some(meta) = o.get_mut("metadata").and_then(Value::as_object_mut)
        && let Some(labels) = meta.get_mut("labels").and_then(Value::as_object_mut)
    {
        labels.remove(HASH_LABEL);
        if labels.is_empty() {
            meta.remove("labels");
        }
    }
    if o.get("metadata")
        .and_then(Value::as_object)
        .is_some_and(serde_json::Map::is_empty)
    {
        o.remove("metadata");
    }
    v
}

/// Whether two templates are the same apart from the hash label: how a Deployment finds
/// the ReplicaSet of its current template (and reuses an old one on rollback).
pub(crate) fn equal_ignore_hash(a: &PodTemplateSpec, b: &PodTemplateSpec) -> bool {
    without_hash(a) == without_hash(b)
}

/// A copy of the template with the hash label added.
pub(crate) fn template_with_hash(t: &PodTemplateSpec, hash: &str) -> PodTemplateSpec {
    let mut t = t.clone();
    t.metadata
        .get_or_insert_with(Default::default)
        .labels
        .get_or_insert_with(Default::default)
        .insert(HASH_LABEL.into(), hash.into());
    t
}

/// A copy of the selector that also requires the hash label.
pub(crate) fn selector_with_hash(s: &LabelSelector, hash: &str) -> LabelSelector {
    let mut s = s.clone();
    s.match_labels
        .get_or_insert_with(Default::default)
        .insert(HASH_LABEL.into(), hash.into());
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::{
        api::core::v1::{Container, PodSpec},
        apimachinery::pkg::apis::meta::v1::ObjectMeta,
    };

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

    #[test]
    fn fnv_matches_reference_values() {
        let mut h = 0x811c_9dc5;
        fnv1a32(&mut h, b"");
        assert_eq!(h, 0x811c_9dc5);
        fnv1a32(&mut h, b"a");
        assert_eq!(h, 0xe40c_292c);
        let mut h = 0x811c_9dc5;
        fnv1a32(&mut h, b"foobar");
        assert_eq!(h, 0xbf9c_f968);
    }

    #[test]
    fn encoding_uses_the_safe_alphabet() {
        assert_eq!(safe_encode("0123456789"), "456789bcdf");
    }

    #[test]
    fn stable_distinct_and_collision_aware() {
        let a = compute_hash(&template("nginx:1"), None);
        assert_eq!(a, compute_hash(&template("nginx:1"), None));
        assert_ne!(a, compute_hash(&template("nginx:2"), None));
        assert_ne!(a, compute_hash(&template("nginx:1"), Some(1)));
        assert_ne!(
            compute_hash(&template("nginx:1"), Some(1)),
            compute_hash(&template("nginx:1"), Some(2))
        );
        assert!(a.chars().all(|c| ALPHANUMS.contains(&(c as u8))));
    }

    #[test]
    fn equality_ignores_only_the_hash_label() {
        let t = template("nginx:1");
        let hashed = template_with_hash(&t, "abc");
        assert!(equal_ignore_hash(&t, &hashed));
        assert!(!equal_ignore_hash(&t, &template("nginx:2")));
        let bare = PodTemplateSpec::default();
        let only_hash = template_with_hash(&bare, "x");
        assert!(equal_ignore_hash(&bare, &only_hash));
    }

    #[test]
    fn selector_gets_the_hash() {
        let s = selector_with_hash(&LabelSelector::default(), "h");
        assert_eq!(s.match_labels.unwrap()[HASH_LABEL], "h");
    }
}
