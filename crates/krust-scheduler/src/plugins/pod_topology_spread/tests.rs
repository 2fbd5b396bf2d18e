use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

use super::*;
use crate::cache::Snapshot;
use crate::framework::profile::PodTopologySpreadArgs;
use crate::framework::{Code, Status};
use crate::plugins::testing::{PodBuilder, filter_all, node, pod, score_all};

const ZONE: &str = "topology.kubernetes.io/zone";

fn web(name: &str) -> PodBuilder {
    pod(name).label("app", "web")
}

fn spread() -> PodTopologySpread {
    PodTopologySpread::new(&PodTopologySpreadArgs::default())
}

/// Zone a: 2 web pods; zone b: 0; zone c: 1.
fn zones() -> Snapshot {
    Snapshot::from_nodes(vec![
        node("a1").label(ZONE, "a").with_pods(vec![web("w1"), web("w2")]),
        node("b1").label(ZONE, "b").info(),
        node("c1").label(ZONE, "c").with_pods(vec![web("w3")]),
        node("nozone").info(),
    ])
}

#[test]
fn max_skew_filters_crowded_domains() {
    let p = web("p").spread(ZONE, 1, "DoNotSchedule", "app", "web").info();
    let s = filter_all(Some(&spread()), &spread(), &p, &zones());
    // min is 0 (zone b): a would reach 3 − 0 > 1, c reaches 2 − 0 > 1.
    assert_eq!(s[0].code(), Code::Unschedulable);
    assert_eq!(s[0].message(), ERR_REASON_CONSTRAINTS_NOT_MATCH);
    assert!(s[1].is_success());
    assert_eq!(s[2].code(), Code::Unschedulable);
    assert_eq!(s[3].code(), Code::UnschedulableAndUnresolvable);
    assert_eq!(s[3].message(), ERR_REASON_NODE_LABEL_NOT_MATCH);
    let loose = web("p").spread(ZONE, 2, "DoNotSchedule", "app", "web").info();
    let s = filter_all(Some(&spread()), &spread(), &loose, &zones());
    assert_eq!(
        s.iter().take(3).map(Status::is_success).collect::<Vec<_>>(),
        vec![false, true, true]
    );
}

#[test]
fn min_domains_treats_the_minimum_as_zero() {
    // Two zones with 1 pod each; minDomains 3 → global minimum 0, so maxSkew 1 rejects both.
    let snap = Snapshot::from_nodes(vec![
        node("a1").label(ZONE, "a").with_pods(vec![web("w1")]),
        node("b1").label(ZONE, "b").with_pods(vec![web("w2")]),
    ]);
    let p = web("p")
        .spread(ZONE, 1, "DoNotSchedule", "app", "web")
        .with_spec(|s| {
            if let Some(c) = s.topology_spread_constraints.as_mut() {
                c[0].min_domains = Some(3);
            }
        })
        .info();
    assert!(
        filter_all(Some(&spread()), &spread(), &p, &snap)
            .iter()
            .all(|s| !s.is_success())
    );
}

#[test]
fn node_affinity_policy_limits_domains() {
    // Zone b is excluded by the pod's node selector, so the minimum comes from a and c.
    let p = web("p").spread(ZONE, 1, "DoNotSchedule", "app", "web").info();
    let mut p2 = p.pod.clone();
    p2.spec.get_or_insert_with(Default::default).node_selector =
        Some([(ZONE.to_string(), "c".to_string())].into());
    let p2 = crate::framework::PodInfo::new(p2);
    let s = filter_all(Some(&spread()), &spread(), &p2, &zones());
    // Only zone c counts: min 1, c reaches 2 − 1 = 1 ≤ 1.
    assert!(s[2].is_success());
    // Ignoring node affinity brings zone b (0) back: c would be 2 − 0 > 1.
    let ignore = p2.pod.clone();
    let mut ignore = ignore;
    if let Some(c) = ignore
        .spec
        .as_mut()
        .and_then(|s| s.topology_spread_constraints.as_mut())
    {
        c[0].node_affinity_policy = Some("Ignore".into());
    }
    let ignore = crate::framework::PodInfo::new(ignore);
    assert!(!filter_all(Some(&spread()), &spread(), &ignore, &zones())[2].is_success());
}

#[test]
fn match_label_keys_narrow_the_selector() {
    let snap = Snapshot::from_nodes(vec![
        node("a1")
            .label(ZONE, "a")
            .with_pods(vec![web("w1").label("rev", "1"), web("w2").label("rev", "1")]),
        node("b1").label(ZONE, "b").info(),
    ]);
    let p = web("p")
        .label("rev", "2")
        .spread(ZONE, 1, "DoNotSchedule", "app", "web")
        .with_spec(|s| {
            if let Some(c) = s.topology_spread_constraints.as_mut() {
                c[0].match_label_keys = Some(vec!["rev".into()]);
            }
        })
        .info();
    // Pods of revision 1 do not count for revision 2.
    assert!(
        filter_all(Some(&spread()), &spread(), &p, &snap)
            .iter()
            .all(Status::is_success)
    );
}

#[test]
fn schedule_anyway_scores_emptier_domains_higher() {
    let p = web("p").spread(ZONE, 1, "ScheduleAnyway", "app", "web").info();
    let s = score_all(&spread(), &p, &zones());
    // b (0 pods) best, c (1) next, a (2) worst; the node without a zone is ignored.
    assert!(s[1] > s[2] && s[2] > s[0], "{s:?}");
    assert_eq!(s[1], 100);
    assert_eq!(s[3], 0);
}

#[test]
fn system_defaults_apply_to_controlled_pods() {
    let owned = |name: &str| {
        let mut b = web(name);
        b.0.metadata.owner_references = Some(vec![OwnerReference {
            api_version: "apps/v1".into(),
            kind: "ReplicaSet".into(),
            name: "web-abc".into(),
            uid: "rs-uid".into(),
            controller: Some(true),
            ..Default::default()
        }]);
        b
    };
    let snap = Snapshot::from_nodes(vec![
        node("a1")
            .label(ZONE, "a")
            .with_pods(vec![owned("w1"), owned("w2")]),
        node("b1").label(ZONE, "b").info(),
    ]);
    let s = score_all(&spread(), &owned("p").info(), &snap);
    assert!(s[1] > s[0], "{s:?}");
    // Without an owner there is no default selector, so nothing is scored.
    assert_eq!(score_all(&spread(), &web("q").info(), &snap), vec![0, 0]);
}
