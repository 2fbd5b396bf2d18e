//! A StatefulSet pod's stable identity, as upstream's `stateful_set_utils.go`: the name
//! `<set>-<ordinal>`, hostname and subdomain, the pod-name and pod-index labels, and one
//! PersistentVolumeClaim per claim template named `<claim>-<set>-<ordinal>` mounted in
//! place of the template's volume of the same name.

use std::collections::BTreeMap;

use k8s_openapi::{
    api::{
        apps::v1::StatefulSet,
        core::v1::{PersistentVolumeClaim, PersistentVolumeClaimVolumeSource, Pod, PodTemplateSpec, Volume},
    },
    apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference},
};

use crate::history::POD_REVISION_LABEL;

/// The label naming a StatefulSet pod (so a Service can select one pod).
pub(crate) const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";
/// The label carrying a pod's ordinal.
pub(crate) const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";

/// `<set>-<ordinal>`.
pub(crate) fn pod_name(set: &str, ordinal: i32) -> String {
    format!("{set}-{ordinal}")
}

/// `<claim>-<set>-<ordinal>`.
pub(crate) fn claim_name(claim: &str, set: &str, ordinal: i32) -> String {
    format!("{claim}-{set}-{ordinal}")
}

/// The first ordinal of a set (`spec.ordinals.start`, else 0).
pub(crate) fn start_ordinal(set: &StatefulSet) -> i32 {
    set.spec
        .as_ref()
        .and_then(|s| s.ordinals.as_ref())
        .and_then(|o| o.start)
        .unwrap_or(0)
}

/// `spec.replicas` (default 1).
pub(crate) fn replicas(set: &StatefulSet) -> i32 {
    set.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

/// Whether `ordinal` is one the set should have.
pub(crate) fn in_range(set: &StatefulSet, ordinal: i32) -> bool {
    let start = start_ordinal(set);
    ordinal >= start && ordinal < start.saturating_add(replicas(set))
}

fn claim_templates(set: &StatefulSet) -> &[PersistentVolumeClaim] {
    set.spec
        .as_ref()
        .and_then(|s| s.volume_claim_templates.as_deref())
        .unwrap_or_default()
}

/// The claims the pod of `ordinal` uses: template name → claim object (without owner
/// references; see `retention`), labelled with the set's selector labels as upstream.
pub(crate) fn claims(set: &StatefulSet, ordinal: i32) -> Vec<(String, PersistentVolumeClaim)> {
    let name = set.metadata.name.as_deref().unwrap_or_default();
    let selector_labels = set
        .spec
        .as_ref()
        .and_then(|s| s.selector.match_labels.clone())
        .unwrap_or_default();
    claim_templates(set)
        .iter()
        .map(|t| {
            let template_name = t.metadata.name.clone().unwrap_or_default();
            let mut labels = t.metadata.labels.clone().unwrap_or_default();
            labels.extend(selector_labels.clone());
            let claim = PersistentVolumeClaim {
                metadata: ObjectMeta {
                    name: Some(claim_name(&template_name, name, ordinal)),
                    namespace: set.metadata.namespace.clone(),
                    labels: Some(labels),
                    annotations: t.metadata.annotations.clone(),
                    ..Default::default()
                },
                spec: t.spec.clone(),
                status: None,
            };
            (template_name, claim)
        })
        .collect()
}

/// The labels that make a pod's identity: the template's, plus pod name, index and
/// revision.
fn identity_labels(pod_name: &str, ordinal: i32) -> BTreeMap<String, String> {
    [
        (POD_NAME_LABEL.to_string(), pod_name.to_string()),
        (POD_INDEX_LABEL.to_string(), ordinal.to_string()),
    ]
    .into()
}

/// The pod of `ordinal` built from `template` (the template of `revision`), owned by
/// `owner`.
pub(crate) fn new_pod(
    set: &StatefulSet,
    template: &PodTemplateSpec,
    revision: &str,
    ordinal: i32,
    owner: Option<OwnerReference>,
) -> Pod {
    let set_name = set.metadata.name.as_deref().unwrap_or_default();
    let name = pod_name(set_name, ordinal);
    let meta = template.metadata.clone().unwrap_or_default();
    let mut labels = meta.labels.unwrap_or_default();
    labels.extend(identity_labels(&name, ordinal));
    labels.insert(POD_REVISION_LABEL.into(), revision.into());
    let mut spec = template.spec.clone().unwrap_or_default();
    spec.hostname = Some(name.clone());
    spec.subdomain = set
        .spec
        .as_ref()
        .and_then(|s| s.service_name.clone())
        .filter(|s| !s.is_empty());
    let mut volumes: Vec<Volume> = spec.volumes.take().unwrap_or_default();
    for (template_name, claim) in claims(set, ordinal) {
        volumes.retain(|v| v.name != template_name);
        volumes.push(Volume {
            name: template_name,
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: claim.metadata.name.unwrap_or_default(),
                read_only: None,
            }),
            ..Default::default()
        });
    }
    spec.volumes = (!volumes.is_empty()).then_some(volumes);
    Pod {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: set.metadata.namespace.clone(),
            labels: Some(labels),
            annotations: meta.annotations,
            finalizers: meta.finalizers,
            owner_references: owner.map(|o| vec![o]),
            ..Default::default()
        },
        spec: Some(spec),
        status: None,
    }
}

/// The identity labels an existing pod of `ordinal` lacks (upstream's `identityMatches`
/// fixed by `updateIdentity`); empty when it has them.
pub(crate) fn missing_identity(pod: &Pod, ordinal: i32) -> BTreeMap<String, String> {
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    let have = pod.metadata.labels.clone().unwrap_or_default();
    identity_labels(name, ordinal)
        .into_iter()
        .filter(|(k, v)| have.get(k) != Some(v))
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use k8s_openapi::api::{
        apps::v1::{StatefulSetOrdinals, StatefulSetSpec},
        core::v1::{Container, PersistentVolumeClaimSpec, PodSpec},
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

    /// A set `web` in `ns` with a claim template `data` and `replicas` replicas.
    pub(crate) fn set(replicas: i32) -> StatefulSet {
        let mut s = StatefulSet::default();
        s.metadata.name = Some("web".into());
        s.metadata.namespace = Some("ns".into());
        s.metadata.uid = Some("set-uid".into());
        s.spec = Some(StatefulSetSpec {
            replicas: Some(replicas),
            service_name: Some("nginx".into()),
            selector: LabelSelector {
                match_labels: Some([("app".to_string(), "web".to_string())].into()),
                ..Default::default()
            },
            template: template("nginx:1"),
            volume_claim_templates: Some(vec![PersistentVolumeClaim {
                metadata: ObjectMeta {
                    name: Some("data".into()),
                    ..Default::default()
                },
                spec: Some(PersistentVolumeClaimSpec::default()),
                status: None,
            }]),
            ..Default::default()
        });
        s
    }

    pub(crate) fn template(image: &str) -> PodTemplateSpec {
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
                volumes: Some(vec![Volume {
                    name: "data".into(),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn pods_get_stable_identity_and_claims() {
        let s = set(3);
        let p = new_pod(&s, &template("nginx:1"), "web-abc", 2, None);
        assert_eq!(p.metadata.name.as_deref(), Some("web-2"));
        let labels = p.metadata.labels.clone().unwrap_or_default();
        assert_eq!(labels[POD_NAME_LABEL], "web-2");
        assert_eq!(labels[POD_INDEX_LABEL], "2");
        assert_eq!(labels[POD_REVISION_LABEL], "web-abc");
        assert_eq!(labels["app"], "web");
        let spec = p.spec.clone().unwrap_or_default();
        assert_eq!(spec.hostname.as_deref(), Some("web-2"));
        assert_eq!(spec.subdomain.as_deref(), Some("nginx"));
        let vols = spec.volumes.unwrap_or_default();
        assert_eq!(vols.len(), 1, "the template's volume is replaced by the claim");
        assert_eq!(
            vols[0]
                .persistent_volume_claim
                .as_ref()
                .map(|c| c.claim_name.as_str()),
            Some("data-web-2")
        );
        let cs = claims(&s, 2);
        assert_eq!(cs[0].1.metadata.name.as_deref(), Some("data-web-2"));
        assert_eq!(cs[0].1.metadata.labels.clone().unwrap_or_default()["app"], "web");
        assert!(missing_identity(&p, 2).is_empty());
        let mut bare = p.clone();
        bare.metadata.labels = None;
        assert_eq!(missing_identity(&bare, 2).len(), 2);
    }

    #[test]
    fn ordinal_range_honours_the_start() {
        let mut s = set(2);
        assert!(in_range(&s, 0) && in_range(&s, 1) && !in_range(&s, 2));
        if let Some(spec) = s.spec.as_mut() {
            spec.ordinals = Some(StatefulSetOrdinals { start: Some(5) });
        }
        assert_eq!(start_ordinal(&s), 5);
        assert!(!in_range(&s, 0) && in_range(&s, 5) && in_range(&s, 6) && !in_range(&s, 7));
    }
}
