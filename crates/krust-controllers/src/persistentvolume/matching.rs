//! Which volume a claim may bind to: upstream's `FindMatchingVolume` and
//! `checkVolumeSatisfyClaim`, as pure functions over the cached objects.
//!
//! A volume pre-bound to the claim (`spec.claimRef` naming it) wins whatever its class or
//! labels, as upstream lets an administrator hand a volume to a claim. Otherwise the
//! volume must be Available and unclaimed, of the claim's class, offer every access mode
//! the claim asks for, hold at least the requested storage, have the claim's volume mode
//! and labels the claim's selector matches; the smallest such volume wins, so a large
//! volume is not wasted on a small claim.

use std::cmp::Ordering;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use krust_api::quantity::Quantity;
use kube::core::{Selector, SelectorExt};

/// The deprecated annotation that named a class before `storageClassName`; upstream still
/// reads it first.
pub(crate) const BETA_CLASS_ANNOTATION: &str = "volume.beta.kubernetes.io/storage-class";

/// The class a claim asks for (`""`: none).
pub(crate) fn claim_class(claim: &PersistentVolumeClaim) -> &str {
    if let Some(c) = claim
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(BETA_CLASS_ANNOTATION))
    {
        return c;
    }
    claim
        .spec
        .as_ref()
        .and_then(|s| s.storage_class_name.as_deref())
        .unwrap_or("")
}

/// The class a volume belongs to (`""`: none).
pub(crate) fn volume_class(pv: &PersistentVolume) -> &str {
    if let Some(c) = pv
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(BETA_CLASS_ANNOTATION))
    {
        return c;
    }
    pv.spec
        .as_ref()
        .and_then(|s| s.storage_class_name.as_deref())
        .unwrap_or("")
}

/// The storage a claim requests (zero when missing or unreadable; validation rejects both).
pub(crate) fn requested(claim: &PersistentVolumeClaim) -> Quantity {
    claim
        .spec
        .as_ref()
        .and_then(|s| s.resources.as_ref())
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage"))
        .and_then(|q| Quantity::parse(&q.0).ok())
        .unwrap_or_else(|| Quantity::from_int(0))
}

/// The storage a volume offers (zero when missing or unreadable).
pub(crate) fn capacity(pv: &PersistentVolume) -> Quantity {
    pv.spec
        .as_ref()
        .and_then(|s| s.capacity.as_ref())
        .and_then(|c| c.get("storage"))
        .and_then(|q| Quantity::parse(&q.0).ok())
        .unwrap_or_else(|| Quantity::from_int(0))
}

fn claim_modes(claim: &PersistentVolumeClaim) -> &[String] {
    claim
        .spec
        .as_ref()
        .and_then(|s| s.access_modes.as_deref())
        .unwrap_or_default()
}

fn volume_modes(pv: &PersistentVolume) -> &[String] {
    pv.spec
        .as_ref()
        .and_then(|s| s.access_modes.as_deref())
        .unwrap_or_default()
}

fn claim_volume_mode(claim: &PersistentVolumeClaim) -> &str {
    claim
        .spec
        .as_ref()
        .and_then(|s| s.volume_mode.as_deref())
        .unwrap_or("Filesystem")
}

fn volume_volume_mode(pv: &PersistentVolume) -> &str {
    pv.spec
        .as_ref()
        .and_then(|s| s.volume_mode.as_deref())
        .unwrap_or("Filesystem")
}

/// Whether the volume's `claimRef` names this claim (by namespace and name, and by uid
/// when the reference has one).
pub(crate) fn bound_to_claim(pv: &PersistentVolume, claim: &PersistentVolumeClaim) -> bool {
    let Some(r) = pv.spec.as_ref().and_then(|s| s.claim_ref.as_ref()) else {
        return false;
    };
    r.name == claim.metadata.name
        && r.namespace == claim.metadata.namespace
        && match r.uid.as_deref() {
            None | Some("") => true,
            Some(uid) => claim.metadata.uid.as_deref() == Some(uid),
        }
}

fn phase(pv: &PersistentVolume) -> &str {
    pv.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("")
}

fn selector_matches(claim: &PersistentVolumeClaim, pv: &PersistentVolume) -> bool {
    let Some(sel) = claim.spec.as_ref().and_then(|s| s.selector.clone()) else {
        return true;
    };
    let Ok(sel) = Selector::try_from(sel) else {
        return false;
    };
    sel.matches(pv.metadata.labels.as_ref().unwrap_or(&Default::default()))
}

/// Why a volume cannot serve a claim that names it in `spec.volumeName` (upstream's
/// `checkVolumeSatisfyClaim`), or `Ok`.
pub(crate) fn satisfies(pv: &PersistentVolume, claim: &PersistentVolumeClaim) -> Result<(), String> {
    if capacity(pv) < requested(claim) {
        return Err("requested PV is too small".into());
    }
    if volume_class(pv) != claim_class(claim) {
        return Err("storageClassName does not match".into());
    }
    if volume_volume_mode(pv) != claim_volume_mode(claim) {
        return Err("incompatible volumeMode".into());
    }
    if !claim_modes(claim).iter().all(|m| volume_modes(pv).contains(m)) {
        return Err("incompatible accessMode".into());
    }
    Ok(())
}

/// The volume a claim without `spec.volumeName` should bind to, if any. With
/// `delay_binding` (a WaitForFirstConsumer class and no node chosen yet) only a volume
/// pre-bound to the claim qualifies: choosing any other is the scheduler's job.
pub(crate) fn best_match<'a>(
    claim: &PersistentVolumeClaim,
    volumes: &'a [Arc<PersistentVolume>],
    delay_binding: bool,
) -> Option<&'a Arc<PersistentVolume>> {
    let wanted = requested(claim);
    let mut best: Option<(&Arc<PersistentVolume>, Quantity)> = None;
    for pv in volumes {
        let size = capacity(pv);
        if size < wanted
            || volume_volume_mode(pv) != claim_volume_mode(claim)
            || pv.metadata.deletion_timestamp.is_some()
        {
            continue;
        }
        if bound_to_claim(pv, claim) {
            return Some(pv);
        }
        if delay_binding
            || pv.spec.as_ref().is_some_and(|s| s.claim_ref.is_some())
            || phase(pv) != "Available"
            || volume_class(pv) != claim_class(claim)
            || !claim_modes(claim).iter().all(|m| volume_modes(pv).contains(m))
            || !selector_matches(claim, pv)
        {
            continue;
        }
        let better = match &best {
            None => true,
            Some((b, bsize)) => match size.cmp(bsize) {
                Ordering::Less => true,
                Ordering::Greater => false,
                // Of equal size, the one offering fewer access modes (upstream searches
                // the narrowest mode sets first), then by name for a stable answer.
                Ordering::Equal => {
                    (volume_modes(pv).len(), &pv.metadata.name) < (volume_modes(b).len(), &b.metadata.name)
                }
            },
        };
        if better {
            best = Some((pv, size));
        }
    }
    best.map(|(pv, _)| pv)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{
        ObjectReference, PersistentVolumeClaimSpec, PersistentVolumeSpec, PersistentVolumeStatus,
        VolumeResourceRequirements,
    };
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity as Q;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
    use std::collections::BTreeMap;

    pub(crate) fn claim(
        name: &str,
        class: Option<&str>,
        size: &str,
        modes: &[&str],
    ) -> PersistentVolumeClaim {
        let mut c = PersistentVolumeClaim::default();
        c.metadata.name = Some(name.into());
        c.metadata.namespace = Some("ns".into());
        c.metadata.uid = Some(format!("uid-{name}"));
        c.spec = Some(PersistentVolumeClaimSpec {
            storage_class_name: class.map(str::to_string),
            access_modes: Some(modes.iter().map(|m| m.to_string()).collect()),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([("storage".into(), Q(size.into()))])),
                ..Default::default()
            }),
            ..Default::default()
        });
        c
    }

    pub(crate) fn volume(name: &str, class: &str, size: &str, modes: &[&str]) -> PersistentVolume {
        let mut v = PersistentVolume::default();
        v.metadata.name = Some(name.into());
        v.spec = Some(PersistentVolumeSpec {
            storage_class_name: (!class.is_empty()).then(|| class.to_string()),
            access_modes: Some(modes.iter().map(|m| m.to_string()).collect()),
            capacity: Some(BTreeMap::from([("storage".into(), Q(size.into()))])),
            ..Default::default()
        });
        v.status = Some(PersistentVolumeStatus {
            phase: Some("Available".into()),
            ..Default::default()
        });
        v
    }

    fn names(pvs: Option<&Arc<PersistentVolume>>) -> Option<&str> {
        pvs.and_then(|p| p.metadata.name.as_deref())
    }

    #[test]
    fn the_smallest_fitting_volume_wins() {
        let vols: Vec<_> = [
            volume("big", "manual", "10Gi", &["ReadWriteOnce"]),
            volume("small", "manual", "1Gi", &["ReadWriteOnce"]),
            volume("tiny", "manual", "100Mi", &["ReadWriteOnce"]),
            volume("mid", "manual", "2Gi", &["ReadWriteOnce"]),
        ]
        .into_iter()
        .map(Arc::new)
        .collect();
        let c = claim("c", Some("manual"), "500Mi", &["ReadWriteOnce"]);
        assert_eq!(names(best_match(&c, &vols, false)), Some("small"));
        let huge = claim("c", Some("manual"), "20Gi", &["ReadWriteOnce"]);
        assert_eq!(names(best_match(&huge, &vols, false)), None);
    }

    #[test]
    fn class_modes_mode_selector_and_phase_must_match() {
        let c = claim("c", Some(""), "1Gi", &["ReadWriteOnce", "ReadOnlyMany"]);
        let other_class = Arc::new(volume("a", "fast", "1Gi", &["ReadWriteOnce", "ReadOnlyMany"]));
        let too_few_modes = Arc::new(volume("b", "", "1Gi", &["ReadWriteOnce"]));
        let mut block = volume("c", "", "1Gi", &["ReadWriteOnce", "ReadOnlyMany"]);
        if let Some(s) = block.spec.as_mut() {
            s.volume_mode = Some("Block".into());
        }
        let mut released = volume("d", "", "1Gi", &["ReadWriteOnce", "ReadOnlyMany"]);
        released.status = Some(PersistentVolumeStatus {
            phase: Some("Released".into()),
            ..Default::default()
        });
        let vols = vec![other_class, too_few_modes, Arc::new(block), Arc::new(released)];
        assert_eq!(names(best_match(&c, &vols, false)), None);
        let good = Arc::new(volume(
            "e",
            "",
            "1Gi",
            &["ReadOnlyMany", "ReadWriteOnce", "ReadWriteMany"],
        ));
        let mut with = vols.clone();
        with.push(good);
        assert_eq!(names(best_match(&c, &with, false)), Some("e"));

        let mut sel = claim("s", Some(""), "1Gi", &["ReadWriteOnce"]);
        if let Some(s) = sel.spec.as_mut() {
            s.selector = Some(LabelSelector {
                match_labels: Some(BTreeMap::from([("tier".into(), "db".into())])),
                ..Default::default()
            });
        }
        let plain = Arc::new(volume("plain", "", "1Gi", &["ReadWriteOnce"]));
        let mut labelled = volume("labelled", "", "5Gi", &["ReadWriteOnce"]);
        labelled.metadata.labels = Some(BTreeMap::from([("tier".into(), "db".into())]));
        let vols = vec![plain, Arc::new(labelled)];
        assert_eq!(names(best_match(&sel, &vols, false)), Some("labelled"));
    }

    #[test]
    fn a_pre_bound_volume_wins_and_claimed_volumes_are_skipped() {
        let c = claim("c", Some("manual"), "1Gi", &["ReadWriteOnce"]);
        let mut mine = volume("mine", "other-class", "8Gi", &["ReadWriteOnce"]);
        if let Some(s) = mine.spec.as_mut() {
            s.claim_ref = Some(ObjectReference {
                namespace: Some("ns".into()),
                name: Some("c".into()),
                ..Default::default()
            });
        }
        let mut theirs = volume("theirs", "manual", "1Gi", &["ReadWriteOnce"]);
        if let Some(s) = theirs.spec.as_mut() {
            s.claim_ref = Some(ObjectReference {
                namespace: Some("ns".into()),
                name: Some("d".into()),
                ..Default::default()
            });
        }
        let free = volume("free", "manual", "1Gi", &["ReadWriteOnce"]);
        let vols: Vec<_> = [theirs, free, mine].into_iter().map(Arc::new).collect();
        assert_eq!(names(best_match(&c, &vols, false)), Some("mine"));
        // Waiting for a consumer: only the pre-bound volume.
        assert_eq!(names(best_match(&c, &vols, true)), Some("mine"));
        assert_eq!(names(best_match(&c, &vols[..2], true)), None);
        assert_eq!(names(best_match(&c, &vols[..2], false)), Some("free"));
    }

    #[test]
    fn classes_read_the_beta_annotation_first() {
        let mut c = claim("c", Some("a"), "1Gi", &["ReadWriteOnce"]);
        assert_eq!(claim_class(&c), "a");
        c.metadata.annotations = Some(BTreeMap::from([(BETA_CLASS_ANNOTATION.into(), "b".into())]));
        assert_eq!(claim_class(&c), "b");
        assert_eq!(claim_class(&claim("c", None, "1Gi", &[])), "");
        assert_eq!(volume_class(&volume("v", "", "1Gi", &[])), "");
    }

    #[test]
    fn a_named_volume_must_satisfy_the_claim() {
        let c = claim("c", Some("manual"), "1Gi", &["ReadWriteOnce"]);
        assert!(satisfies(&volume("v", "manual", "1Gi", &["ReadWriteOnce"]), &c).is_ok());
        assert!(satisfies(&volume("v", "manual", "1000Mi", &["ReadWriteOnce"]), &c).is_err());
        assert!(satisfies(&volume("v", "", "1Gi", &["ReadWriteOnce"]), &c).is_err());
        assert!(satisfies(&volume("v", "manual", "1Gi", &["ReadOnlyMany"]), &c).is_err());
    }
}
