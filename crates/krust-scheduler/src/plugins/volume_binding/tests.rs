use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{
    NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, ObjectReference, PersistentVolume,
    PersistentVolumeClaim, PersistentVolumeClaimSpec, PersistentVolumeClaimVolumeSource,
    PersistentVolumeSpec, Volume, VolumeNodeAffinity, VolumeResourceRequirements,
};
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::*;
use crate::api::fake::{Call, FakeApi};
use crate::cache::{Snapshot, VolumeState};
use crate::framework::Code;
use crate::plugins::testing::{PodBuilder, node, pod};

fn local_pv(name: &str, host: &str, size: &str) -> Arc<PersistentVolume> {
    Arc::new(PersistentVolume {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        spec: Some(PersistentVolumeSpec {
            storage_class_name: Some("local".into()),
            capacity: Some(BTreeMap::from([("storage".to_string(), Quantity(size.into()))])),
            access_modes: Some(vec!["ReadWriteOnce".into()]),
            node_affinity: Some(VolumeNodeAffinity {
                required: Some(NodeSelector {
                    node_selector_terms: vec![NodeSelectorTerm {
                        match_expressions: Some(vec![NodeSelectorRequirement {
                            key: "kubernetes.io/hostname".into(),
                            operator: "In".into(),
                            values: Some(vec![host.into()]),
                        }]),
                        match_fields: None,
                    }],
                }),
            }),
            ..Default::default()
        }),
        status: None,
    })
}

fn claim(name: &str, class: &str, size: &str, volume: Option<&str>) -> Arc<PersistentVolumeClaim> {
    Arc::new(PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("default".into()),
            uid: Some(format!("uid-{name}")),
            ..Default::default()
        },
        spec: Some(PersistentVolumeClaimSpec {
            storage_class_name: Some(class.into()),
            access_modes: Some(vec!["ReadWriteOnce".into()]),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([("storage".to_string(), Quantity(size.into()))])),
                ..Default::default()
            }),
            volume_name: volume.map(String::from),
            ..Default::default()
        }),
        status: None,
    })
}

fn class(name: &str, mode: &str) -> Arc<StorageClass> {
    Arc::new(StorageClass {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        provisioner: "kubernetes.io/no-provisioner".into(),
        volume_binding_mode: Some(mode.into()),
        ..Default::default()
    })
}

fn with_claim(p: PodBuilder, claim: &str) -> PodBuilder {
    p.with_spec(|s| {
        s.volumes = Some(vec![Volume {
            name: "data".into(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: claim.into(),
                read_only: None,
            }),
            ..Default::default()
        }])
    })
}

fn snapshot(pvs: Vec<Arc<PersistentVolume>>, pvcs: Vec<Arc<PersistentVolumeClaim>>) -> Snapshot {
    let mut v = VolumeState::default();
    for pv in pvs {
        v.pvs.insert(pv.metadata.name.clone().unwrap_or_default(), pv);
    }
    for c in pvcs {
        v.pvcs.insert(
            format!("default/{}", c.metadata.name.clone().unwrap_or_default()),
            c,
        );
    }
    v.classes
        .insert("local".into(), class("local", "WaitForFirstConsumer"));
    v.classes.insert("fast".into(), class("fast", "Immediate"));
    let mut dynamic = (*class("dynamic", "WaitForFirstConsumer")).clone();
    dynamic.provisioner = "rancher.io/local-path".into();
    v.classes.insert("dynamic".into(), Arc::new(dynamic));
    Snapshot::from_nodes(vec![node("n1").info(), node("n2").info()]).with_volumes(v)
}

fn run(plugin: &VolumeBinding, p: &crate::framework::PodInfo, snap: &Snapshot) -> (CycleState, Vec<Status>) {
    let mut state = CycleState::default();
    let s = plugin.pre_filter(&mut state, p, snap);
    if !s.is_success() {
        return (state, vec![s]);
    }
    let statuses = snap.nodes().iter().map(|n| plugin.filter(&state, p, n)).collect();
    (state, statuses)
}

#[test]
fn wait_for_first_consumer_picks_nodes_with_a_volume_and_binds_it() {
    let api = FakeApi::default();
    let plugin = VolumeBinding::new(Arc::new(api.clone()));
    let snap = snapshot(
        vec![local_pv("pv-n2", "n2", "10Gi")],
        vec![claim("data", "local", "5Gi", None)],
    );
    let p = with_claim(pod("p"), "data").info();
    let (mut state, s) = run(&plugin, &p, &snap);
    assert_eq!(s[0].code(), Code::UnschedulableAndUnresolvable);
    assert_eq!(s[0].message(), ERR_REASON_BIND_CONFLICT);
    assert!(s[1].is_success());
    let n2 = snap.get("n2").unwrap().clone();
    assert!(plugin.reserve(&mut state, &p, &n2).is_success());
    // A second pod wanting a volume cannot take the assumed one.
    let other = with_claim(pod("q"), "data2").info();
    let snap2 = snapshot(
        vec![local_pv("pv-n2", "n2", "10Gi")],
        vec![claim("data2", "local", "5Gi", None)],
    );
    let (_, s2) = run(&plugin, &other, &snap2);
    assert!(!s2[1].is_success());
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    assert!(rt.block_on(plugin.pre_bind(&state, &p, "n2")).is_success());
    assert_eq!(
        api.calls(),
        vec![Call::BindVolume {
            pv: "pv-n2".into(),
            pvc: "data".into()
        }]
    );
    plugin.unreserve(&mut state, &p, "n2");
    assert!(run(&plugin, &other, &snap2).1[1].is_success());
}

#[test]
fn bound_claims_follow_their_volume() {
    let plugin = VolumeBinding::new(Arc::new(FakeApi::default()));
    let mut pv = (*local_pv("pv-n1", "n1", "10Gi")).clone();
    pv.spec.get_or_insert_with(Default::default).claim_ref = Some(ObjectReference {
        name: Some("data".into()),
        namespace: Some("default".into()),
        ..Default::default()
    });
    let snap = snapshot(
        vec![Arc::new(pv)],
        vec![claim("data", "local", "5Gi", Some("pv-n1"))],
    );
    let (_, s) = run(&plugin, &with_claim(pod("p"), "data").info(), &snap);
    assert!(s[0].is_success());
    assert_eq!(s[1].message(), ERR_REASON_NODE_CONFLICT);
    let missing = snapshot(vec![], vec![claim("data", "local", "5Gi", Some("gone"))]);
    let (_, s) = run(&plugin, &with_claim(pod("p"), "data").info(), &missing);
    assert_eq!(s[0].message(), ERR_REASON_PV_NOT_EXIST);
}

#[test]
fn prefilter_rejections() {
    let plugin = VolumeBinding::new(Arc::new(FakeApi::default()));
    let snap = snapshot(vec![], vec![claim("fast", "fast", "1Gi", None)]);
    let (_, s) = run(&plugin, &with_claim(pod("p"), "fast").info(), &snap);
    assert_eq!(s[0].message(), ERR_UNBOUND_IMMEDIATE);
    let (_, s) = run(&plugin, &with_claim(pod("p"), "nope").info(), &snap);
    assert_eq!(s[0].message(), "persistentvolumeclaim \"nope\" not found");
    let mut state = CycleState::default();
    assert!(
        plugin
            .pre_filter(&mut state, &pod("plain").info(), &snap)
            .is_skip()
    );
}

#[test]
fn smallest_fitting_volume_wins() {
    let plugin = VolumeBinding::new(Arc::new(FakeApi::default()));
    let snap = snapshot(
        vec![
            local_pv("big", "n1", "100Gi"),
            local_pv("small", "n1", "10Gi"),
            local_pv("tiny", "n1", "1Gi"),
        ],
        vec![claim("data", "local", "5Gi", None)],
    );
    let p = with_claim(pod("p"), "data").info();
    let (mut state, _) = run(&plugin, &p, &snap);
    let n1 = snap.get("n1").unwrap().clone();
    assert!(plugin.reserve(&mut state, &p, &n1).is_success());
    let chosen = state
        .read::<ReserveState>()
        .map(|r| r.bindings[0].0.as_ref().and_then(|pv| pv.metadata.name.clone()));
    assert_eq!(chosen, Some(Some("small".to_string())));
}

#[test]
fn claims_of_a_provisioning_class_are_provisioned_for_the_chosen_node() {
    let api = FakeApi::default();
    let plugin = VolumeBinding::new(Arc::new(api.clone()));
    // No volume at all: every node is feasible, the claim is provisioned on the chosen one.
    let snap = snapshot(vec![], vec![claim("data", "dynamic", "5Gi", None)]);
    let p = with_claim(pod("p"), "data").info();
    let (mut state, s) = run(&plugin, &p, &snap);
    assert!(s.iter().all(Status::is_success), "{s:?}");
    let n1 = snap.get("n1").unwrap().clone();
    assert!(plugin.reserve(&mut state, &p, &n1).is_success());
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    assert!(rt.block_on(plugin.pre_bind(&state, &p, "n1")).is_success());
    assert_eq!(
        api.calls(),
        vec![Call::ProvisionVolume {
            pvc: "data".into(),
            node: "n1".into()
        }]
    );
    // A class without a provisioner still needs an existing volume.
    let snap = snapshot(vec![], vec![claim("data", "local", "5Gi", None)]);
    let (_, s) = run(&plugin, &p, &snap);
    assert!(s.iter().all(|s| s.message() == ERR_REASON_BIND_CONFLICT), "{s:?}");
}
