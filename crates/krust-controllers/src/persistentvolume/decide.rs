//! What one sync of a claim or a volume should do, decided from cached objects alone
//! (upstream's `syncUnboundClaim`, `syncBoundClaim` and `syncVolume`). The sync module
//! carries the decisions out through the API.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::StorageClass;

use super::matching::{best_match, bound_to_claim, claim_class, satisfies};
use super::{ANN_BIND_COMPLETED, ANN_BOUND_BY_CONTROLLER, ANN_SELECTED_NODE, LOCAL_PATH_PROVISIONER};

/// The provisioner name of classes that have none (static local volumes).
const NO_PROVISIONER: &str = "kubernetes.io/no-provisioner";

/// What a claim needs.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ClaimStep {
    /// Bind (or finish binding) the claim and this volume.
    Bind(String),
    /// Record the node a pod using the claim runs on as the claim's selected node, as the
    /// scheduler's volume binder would have.
    SelectNode(String),
    /// Create a local-path volume for the claim, on this node when one is known.
    Provision(Option<String>),
    /// Another provisioner must create the volume: annotate the claim and wait.
    External(String),
    /// Stay Pending, with an event saying why (warning?, reason, message) when there is
    /// something to say.
    Pending(Option<(bool, &'static str, String)>),
    /// The claim lost its volume: phase Lost, with a warning (reason, message).
    Lost(&'static str, &'static str),
}

/// What the decision knows about a claim.
pub(crate) struct ClaimView<'a> {
    pub claim: &'a PersistentVolumeClaim,
    pub volumes: &'a [Arc<PersistentVolume>],
    /// The claim's class, when it names one that exists.
    pub class: Option<&'a StorageClass>,
    /// The node of a running (not finished) pod that uses the claim.
    pub consumer_node: Option<String>,
    /// Pods using the claim that are not scheduled yet.
    pub unscheduled: Vec<String>,
}

fn annotation<'a>(claim: &'a PersistentVolumeClaim, key: &str) -> Option<&'a str> {
    claim
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(key))
        .map(String::as_str)
}

/// Whether the class delays binding until a pod uses the claim.
pub(crate) fn waits_for_consumer(class: Option<&StorageClass>) -> bool {
    class.and_then(|c| c.volume_binding_mode.as_deref()) == Some("WaitForFirstConsumer")
}

/// The node a class without a selected node pins its volumes to: the only
/// `kubernetes.io/hostname` value of its allowed topologies, if it has exactly one.
fn topology_node(class: &StorageClass) -> Option<String> {
    let values: Vec<&String> = class
        .allowed_topologies
        .iter()
        .flatten()
        .flat_map(|t| t.match_label_expressions.iter().flatten())
        .filter(|e| e.key == "kubernetes.io/hostname")
        .flat_map(|e| e.values.iter())
        .collect();
    match values.as_slice() {
        [one] => Some((*one).clone()),
        _ => None,
    }
}

/// The step for a claim.
pub(crate) fn claim_step(v: &ClaimView<'_>) -> ClaimStep {
    let claim = v.claim;
    let volume_name = claim
        .spec
        .as_ref()
        .and_then(|s| s.volume_name.as_deref())
        .unwrap_or("");
    if volume_name.is_empty() {
        return unbound_step(v);
    }
    let completed = annotation(claim, ANN_BIND_COMPLETED).is_some();
    let Some(pv) = v
        .volumes
        .iter()
        .find(|p| p.metadata.name.as_deref() == Some(volume_name))
    else {
        if completed {
            return ClaimStep::Lost(
                "ClaimLost",
                "Bound claim has lost its PersistentVolume. Data on the volume is lost!",
            );
        }
        // Named a volume that does not exist (yet): wait for it.
        return ClaimStep::Pending(None);
    };
    let claim_ref = pv.spec.as_ref().and_then(|s| s.claim_ref.as_ref());
    match claim_ref {
        None => match satisfies(pv, claim) {
            Ok(()) => ClaimStep::Bind(volume_name.to_string()),
            Err(why) => ClaimStep::Pending(Some((
                true,
                "VolumeMismatch",
                format!("Cannot bind to requested volume \"{volume_name}\": {why}"),
            ))),
        },
        Some(_) if bound_to_claim(pv, claim) => ClaimStep::Bind(volume_name.to_string()),
        Some(_) if completed => ClaimStep::Lost(
            "ClaimMisbound",
            "Two claims are bound to the same volume, this one is bound incorrectly",
        ),
        // The named volume belongs to someone else: wait until it is free.
        Some(_) => ClaimStep::Pending(None),
    }
}

fn unbound_step(v: &ClaimView<'_>) -> ClaimStep {
    let claim = v.claim;
    let selected = annotation(claim, ANN_SELECTED_NODE).map(str::to_string);
    let delay = waits_for_consumer(v.class) && selected.is_none();
    if let Some(pv) = best_match(claim, v.volumes, delay) {
        return ClaimStep::Bind(pv.metadata.name.clone().unwrap_or_default());
    }
    if delay {
        if let Some(node) = &v.consumer_node {
            return ClaimStep::SelectNode(node.clone());
        }
        let (reason, message) = match v.unscheduled.as_slice() {
            [] => (
                "WaitForFirstConsumer",
                "waiting for first consumer to be created before binding".to_string(),
            ),
            [one] => (
                "WaitForPodScheduled",
                format!("waiting for pod {one} to be scheduled"),
            ),
            many => (
                "WaitForPodScheduled",
                format!("waiting for pods {} to be scheduled", many.join(",")),
            ),
        };
        return ClaimStep::Pending(Some((false, reason, message)));
    }
    let class_name = claim_class(claim);
    if class_name.is_empty() {
        return ClaimStep::Pending(Some((
            false,
            "FailedBinding",
            "no persistent volumes available for this claim and no storage class is set".into(),
        )));
    }
    let Some(class) = v.class else {
        return ClaimStep::Pending(Some((
            true,
            "ProvisioningFailed",
            format!("storageclass.storage.k8s.io \"{class_name}\" not found"),
        )));
    };
    if claim.metadata.deletion_timestamp.is_some() {
        return ClaimStep::Pending(None);
    }
    match class.provisioner.as_str() {
        LOCAL_PATH_PROVISIONER => ClaimStep::Provision(selected.or_else(|| topology_node(class))),
        NO_PROVISIONER => ClaimStep::Pending(Some((
            true,
            "ProvisioningFailed",
            format!("no volume plugin matched name: {NO_PROVISIONER}"),
        ))),
        other => ClaimStep::External(other.to_string()),
    }
}

/// Whether the controller set the volume's claim reference (rather than a user).
pub(crate) fn bound_by_controller(pv: &PersistentVolume) -> bool {
    pv.metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(ANN_BOUND_BY_CONTROLLER))
}

/// What a volume needs.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum VolumeStep {
    /// Nothing (being deleted, or the claim's sync will finish the binding).
    Nothing,
    /// Make sure the phase is this.
    Phase(&'static str),
    /// Its claim is gone: Released, then reclaimed per its policy.
    Reclaim,
    /// Its claim bound another volume: drop the reference (all of it when the controller
    /// set it, only the uid when a user pre-bound the volume).
    Unbind { keep_ref: bool },
}

/// The step for a volume, given the claim its `claimRef` names (from the cache; `None`
/// when missing or a namesake with another uid).
pub(crate) fn volume_step(pv: &PersistentVolume, claim: Option<&PersistentVolumeClaim>) -> VolumeStep {
    if pv.metadata.deletion_timestamp.is_some() {
        return VolumeStep::Nothing;
    }
    let Some(r) = pv.spec.as_ref().and_then(|s| s.claim_ref.as_ref()) else {
        return VolumeStep::Phase("Available");
    };
    let Some(uid) = r.uid.as_deref().filter(|u| !u.is_empty()) else {
        // Pre-bound by a user to a claim that has not bound it yet.
        return VolumeStep::Phase("Available");
    };
    let Some(claim) = claim.filter(|c| c.metadata.uid.as_deref() == Some(uid)) else {
        return VolumeStep::Reclaim;
    };
    let name = pv.metadata.name.as_deref().unwrap_or("");
    match claim.spec.as_ref().and_then(|s| s.volume_name.as_deref()) {
        None | Some("") => VolumeStep::Nothing,
        Some(v) if v == name => VolumeStep::Phase("Bound"),
        Some(_) => VolumeStep::Unbind {
            keep_ref: !bound_by_controller(pv),
        },
    }
}

/// What reclaiming a released volume means.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Reclaim {
    /// Keep it Released.
    Retain,
    /// Remove its local-path directory and delete it.
    DeleteLocal,
    /// Its external provisioner deletes it.
    External,
    /// Nothing here can do what the policy asks: phase Failed with this warning.
    Fail(&'static str, String),
}

/// How to reclaim a released volume.
pub(crate) fn reclaim(pv: &PersistentVolume) -> Reclaim {
    let policy = pv
        .spec
        .as_ref()
        .and_then(|s| s.persistent_volume_reclaim_policy.as_deref())
        .unwrap_or("Retain");
    let provisioner = pv
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(super::ANN_PROVISIONED_BY))
        .map(String::as_str);
    let name = pv.metadata.name.as_deref().unwrap_or("");
    match (policy, provisioner) {
        ("Delete", Some(LOCAL_PATH_PROVISIONER)) => Reclaim::DeleteLocal,
        ("Delete", Some(_)) => Reclaim::External,
        ("Delete", None) => Reclaim::Fail(
            "VolumeFailedDelete",
            format!(
                "error getting deleter volume plugin for volume \"{name}\": no deletable volume plugin matched"
            ),
        ),
        ("Recycle", _) => Reclaim::Fail(
            "VolumeFailedRecycle",
            format!("No recycler plugin found for the volume \"{name}\"; recycling is deprecated"),
        ),
        _ => Reclaim::Retain,
    }
}

#[cfg(test)]
mod tests {
    use super::super::matching::tests::{claim, volume};
    use super::*;
    use k8s_openapi::api::core::v1::{
        ObjectReference, TopologySelectorLabelRequirement, TopologySelectorTerm,
    };
    use std::collections::BTreeMap;

    fn class(name: &str, provisioner: &str, wait: bool) -> StorageClass {
        StorageClass {
            metadata: kube::api::ObjectMeta {
                name: Some(name.into()),
                ..Default::default()
            },
            provisioner: provisioner.into(),
            volume_binding_mode: Some(if wait { "WaitForFirstConsumer" } else { "Immediate" }.into()),
            ..Default::default()
        }
    }

    fn view<'a>(
        c: &'a PersistentVolumeClaim,
        vols: &'a [Arc<PersistentVolume>],
        class: Option<&'a StorageClass>,
    ) -> ClaimView<'a> {
        ClaimView {
            claim: c,
            volumes: vols,
            class,
            consumer_node: None,
            unscheduled: Vec::new(),
        }
    }

    fn annotate(c: &mut PersistentVolumeClaim, k: &str, v: &str) {
        c.metadata
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(k.into(), v.into());
    }

    fn claimed(mut pv: PersistentVolume, c: &PersistentVolumeClaim) -> PersistentVolume {
        if let Some(s) = pv.spec.as_mut() {
            s.claim_ref = Some(ObjectReference {
                namespace: c.metadata.namespace.clone(),
                name: c.metadata.name.clone(),
                uid: c.metadata.uid.clone(),
                ..Default::default()
            });
        }
        pv
    }

    #[test]
    fn an_unbound_claim_binds_or_provisions_or_waits() {
        let vols = vec![Arc::new(volume("pv", "manual", "1Gi", &["ReadWriteOnce"]))];
        let c = claim("c", Some("manual"), "1Gi", &["ReadWriteOnce"]);
        assert_eq!(claim_step(&view(&c, &vols, None)), ClaimStep::Bind("pv".into()));

        let none = claim("c", Some(""), "1Gi", &["ReadWriteOnce"]);
        assert!(matches!(
            claim_step(&view(&none, &vols, None)),
            ClaimStep::Pending(Some((false, "FailedBinding", _)))
        ));
        let missing = claim("c", Some("gone"), "1Gi", &["ReadWriteOnce"]);
        assert!(matches!(
            claim_step(&view(&missing, &vols, None)),
            ClaimStep::Pending(Some((true, "ProvisioningFailed", m))) if m.contains("\"gone\" not found")
        ));

        let lp = class("local-path", LOCAL_PATH_PROVISIONER, false);
        let c = claim("c", Some("local-path"), "1Gi", &["ReadWriteOnce"]);
        assert_eq!(
            claim_step(&view(&c, &vols, Some(&lp))),
            ClaimStep::Provision(None)
        );
        let ext = class("ebs", "ebs.csi.aws.com", false);
        let c = claim("c", Some("ebs"), "1Gi", &["ReadWriteOnce"]);
        assert_eq!(
            claim_step(&view(&c, &vols, Some(&ext))),
            ClaimStep::External("ebs.csi.aws.com".into())
        );
    }

    #[test]
    fn wait_for_first_consumer() {
        let lp = class("local-path", LOCAL_PATH_PROVISIONER, true);
        let mut c = claim("c", Some("local-path"), "1Gi", &["ReadWriteOnce"]);
        let mut v = view(&c, &[], Some(&lp));
        assert_eq!(
            claim_step(&v),
            ClaimStep::Pending(Some((
                false,
                "WaitForFirstConsumer",
                "waiting for first consumer to be created before binding".into()
            )))
        );
        v.unscheduled = vec!["web-0".into()];
        assert_eq!(
            claim_step(&v),
            ClaimStep::Pending(Some((
                false,
                "WaitForPodScheduled",
                "waiting for pod web-0 to be scheduled".into()
            )))
        );
        v.consumer_node = Some("sim-1".into());
        assert_eq!(claim_step(&v), ClaimStep::SelectNode("sim-1".into()));

        annotate(&mut c, ANN_SELECTED_NODE, "sim-2");
        assert_eq!(
            claim_step(&view(&c, &[], Some(&lp))),
            ClaimStep::Provision(Some("sim-2".into()))
        );
    }

    #[test]
    fn allowed_topologies_pin_immediate_volumes() {
        let mut lp = class("pinned", LOCAL_PATH_PROVISIONER, false);
        lp.allowed_topologies = Some(vec![TopologySelectorTerm {
            match_label_expressions: Some(vec![TopologySelectorLabelRequirement {
                key: "kubernetes.io/hostname".into(),
                values: vec!["n1".into()],
            }]),
        }]);
        let c = claim("c", Some("pinned"), "1Gi", &["ReadWriteOnce"]);
        assert_eq!(
            claim_step(&view(&c, &[], Some(&lp))),
            ClaimStep::Provision(Some("n1".into()))
        );
    }

    #[test]
    fn a_claim_naming_a_volume() {
        let mut c = claim("c", Some("manual"), "1Gi", &["ReadWriteOnce"]);
        if let Some(s) = c.spec.as_mut() {
            s.volume_name = Some("pv".into());
        }
        assert_eq!(claim_step(&view(&c, &[], None)), ClaimStep::Pending(None));
        let free = vec![Arc::new(volume("pv", "manual", "1Gi", &["ReadWriteOnce"]))];
        assert_eq!(claim_step(&view(&c, &free, None)), ClaimStep::Bind("pv".into()));
        let small = vec![Arc::new(volume("pv", "manual", "1Mi", &["ReadWriteOnce"]))];
        assert!(matches!(
            claim_step(&view(&c, &small, None)),
            ClaimStep::Pending(Some((true, "VolumeMismatch", _)))
        ));
        let other = claim("other", Some("manual"), "1Gi", &["ReadWriteOnce"]);
        let taken = vec![Arc::new(claimed(
            volume("pv", "manual", "1Gi", &["ReadWriteOnce"]),
            &other,
        ))];
        assert_eq!(claim_step(&view(&c, &taken, None)), ClaimStep::Pending(None));
        let mine = vec![Arc::new(claimed(
            volume("pv", "manual", "1Gi", &["ReadWriteOnce"]),
            &c,
        ))];
        assert_eq!(claim_step(&view(&c, &mine, None)), ClaimStep::Bind("pv".into()));

        annotate(&mut c, ANN_BIND_COMPLETED, "yes");
        assert_eq!(
            claim_step(&view(&c, &[], None)),
            ClaimStep::Lost(
                "ClaimLost",
                "Bound claim has lost its PersistentVolume. Data on the volume is lost!"
            )
        );
        assert!(matches!(
            claim_step(&view(&c, &taken, None)),
            ClaimStep::Lost("ClaimMisbound", _)
        ));
    }

    #[test]
    fn volume_steps() {
        let c = claim("c", Some("manual"), "1Gi", &["ReadWriteOnce"]);
        let free = volume("pv", "manual", "1Gi", &["ReadWriteOnce"]);
        assert_eq!(volume_step(&free, None), VolumeStep::Phase("Available"));
        let pv = claimed(free.clone(), &c);
        assert_eq!(volume_step(&pv, Some(&c)), VolumeStep::Nothing);
        assert_eq!(volume_step(&pv, None), VolumeStep::Reclaim);
        let mut recreated = c.clone();
        recreated.metadata.uid = Some("new".into());
        assert_eq!(volume_step(&pv, Some(&recreated)), VolumeStep::Reclaim);
        let mut bound = c.clone();
        if let Some(s) = bound.spec.as_mut() {
            s.volume_name = Some("pv".into());
        }
        assert_eq!(volume_step(&pv, Some(&bound)), VolumeStep::Phase("Bound"));
        if let Some(s) = bound.spec.as_mut() {
            s.volume_name = Some("elsewhere".into());
        }
        assert_eq!(
            volume_step(&pv, Some(&bound)),
            VolumeStep::Unbind { keep_ref: true }
        );
        let mut by_controller = pv.clone();
        by_controller.metadata.annotations =
            Some(BTreeMap::from([(ANN_BOUND_BY_CONTROLLER.into(), "yes".into())]));
        assert_eq!(
            volume_step(&by_controller, Some(&bound)),
            VolumeStep::Unbind { keep_ref: false }
        );
    }

    #[test]
    fn reclaim_policies() {
        let mut pv = volume("pv", "local-path", "1Gi", &["ReadWriteOnce"]);
        assert_eq!(reclaim(&pv), Reclaim::Retain);
        if let Some(s) = pv.spec.as_mut() {
            s.persistent_volume_reclaim_policy = Some("Delete".into());
        }
        assert!(matches!(reclaim(&pv), Reclaim::Fail("VolumeFailedDelete", _)));
        pv.metadata.annotations = Some(BTreeMap::from([(
            super::super::ANN_PROVISIONED_BY.into(),
            LOCAL_PATH_PROVISIONER.into(),
        )]));
        assert_eq!(reclaim(&pv), Reclaim::DeleteLocal);
        pv.metadata.annotations = Some(BTreeMap::from([(
            super::super::ANN_PROVISIONED_BY.into(),
            "ebs.csi.aws.com".into(),
        )]));
        assert_eq!(reclaim(&pv), Reclaim::External);
    }
}
