//! Which PersistentVolume can serve a claim on a node, as upstream's
//! `FindMatchingVolume`: a volume pre-bound to the claim wins; otherwise the smallest
//! available volume of the claim's class, volume mode and access modes, large enough,
//! selected by the claim's selector, and reachable from the node.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};

use crate::framework::NodeInfo;
use crate::framework::resource::value;
use crate::framework::selector::{NO_LABELS, NodeTerms, Selector};

const CLASS_ANNOTATION: &str = "volume.beta.kubernetes.io/storage-class";

/// The storage class a claim asks for ("" for none).
pub fn claim_class(pvc: &PersistentVolumeClaim) -> &str {
    pvc.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(CLASS_ANNOTATION))
        .map(String::as_str)
        .or(pvc.spec.as_ref().and_then(|s| s.storage_class_name.as_deref()))
        .unwrap_or("")
}

fn pv_class(pv: &PersistentVolume) -> &str {
    pv.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(CLASS_ANNOTATION))
        .map(String::as_str)
        .or(pv.spec.as_ref().and_then(|s| s.storage_class_name.as_deref()))
        .unwrap_or("")
}

/// Whether the volume's node affinity admits the node (no affinity: every node).
pub fn pv_fits_node(pv: &PersistentVolume, node: &NodeInfo) -> bool {
    let terms = pv
        .spec
        .as_ref()
        .and_then(|s| s.node_affinity.as_ref())
        .and_then(|a| a.required.as_ref())
        .map(|r| r.node_selector_terms.as_slice());
    match terms {
        Some(t) => NodeTerms::parse(t).matches(node.labels(), node.name()),
        None => true,
    }
}

/// Whether the volume's claimRef points at this claim.
pub fn bound_to_claim(pv: &PersistentVolume, pvc: &PersistentVolumeClaim) -> bool {
    let Some(r) = pv.spec.as_ref().and_then(|s| s.claim_ref.as_ref()) else {
        return false;
    };
    r.name.as_deref() == pvc.metadata.name.as_deref()
        && r.namespace.as_deref() == pvc.metadata.namespace.as_deref()
        && (r.uid.is_none() || r.uid == pvc.metadata.uid)
}

fn storage(pv: &PersistentVolume) -> i64 {
    pv.spec
        .as_ref()
        .and_then(|s| s.capacity.as_ref())
        .and_then(|c| c.get("storage"))
        .map(value)
        .unwrap_or(0)
}

fn requested_storage(pvc: &PersistentVolumeClaim) -> i64 {
    pvc.spec
        .as_ref()
        .and_then(|s| s.resources.as_ref())
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage"))
        .map(value)
        .unwrap_or(0)
}

/// The claim's requested size (for ordering claims smallest first).
pub fn claim_size(pvc: &PersistentVolumeClaim) -> i64 {
    requested_storage(pvc)
}

fn compatible(pv: &PersistentVolume, pvc: &PersistentVolumeClaim) -> bool {
    let (Some(pvs), Some(cs)) = (pv.spec.as_ref(), pvc.spec.as_ref()) else {
        return false;
    };
    if pv_class(pv) != claim_class(pvc) {
        return false;
    }
    let mode = |m: Option<&String>| m.map(String::as_str).unwrap_or("Filesystem").to_string();
    if mode(pvs.volume_mode.as_ref()) != mode(cs.volume_mode.as_ref()) {
        return false;
    }
    let have = pvs.access_modes.as_deref().unwrap_or(&[]);
    if !cs.access_modes.iter().flatten().all(|m| have.contains(m)) {
        return false;
    }
    if storage(pv) < requested_storage(pvc) {
        return false;
    }
    match &cs.selector {
        Some(sel) => Selector::from_label_selector(Some(sel))
            .matches(pv.metadata.labels.as_ref().unwrap_or(&NO_LABELS)),
        None => true,
    }
}

/// Whether the volume is free to bind: not being deleted, not Released or Failed, and not
/// bound to another claim.
pub fn available(pv: &PersistentVolume, pvc: &PersistentVolumeClaim) -> bool {
    if pv.metadata.deletion_timestamp.is_some() {
        return false;
    }
    if matches!(
        pv.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Released" | "Failed")
    ) {
        return false;
    }
    match pv.spec.as_ref().and_then(|s| s.claim_ref.as_ref()) {
        Some(_) => bound_to_claim(pv, pvc),
        None => true,
    }
}

/// The volume for `pvc` on `node` among `candidates`, skipping names in `taken`.
pub fn find_matching<'a>(
    pvc: &PersistentVolumeClaim,
    candidates: &'a [Arc<PersistentVolume>],
    node: &NodeInfo,
    taken: &[String],
) -> Option<&'a Arc<PersistentVolume>> {
    let mut best: Option<&Arc<PersistentVolume>> = None;
    for pv in candidates {
        let name = pv.metadata.name.as_deref().unwrap_or("");
        if taken.iter().any(|t| t == name) || !available(pv, pvc) || !pv_fits_node(pv, node) {
            continue;
        }
        if bound_to_claim(pv, pvc) {
            return Some(pv);
        }
        if !compatible(pv, pvc) {
            continue;
        }
        if best.is_none_or(|b| storage(pv) < storage(b)) {
            best = Some(pv);
        }
    }
    best
}
