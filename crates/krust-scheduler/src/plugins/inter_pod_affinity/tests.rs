use k8s_openapi::api::core::v1::{
    Affinity, PodAffinity, PodAffinityTerm, PodAntiAffinity, WeightedPodAffinityTerm,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use super::*;
use crate::cache::Snapshot;
use crate::framework::profile::InterPodAffinityArgs;
use crate::framework::{Code, Status};
use crate::plugins::testing::{filter_all, node, pod, score_all};

const HOST: &str = "kubernetes.io/hostname";
const ZONE: &str = "topology.kubernetes.io/zone";

fn term(k: &str, v: &str, key: &str) -> PodAffinityTerm {
    PodAffinityTerm {
        label_selector: Some(LabelSelector {
            match_labels: Some([(k.to_string(), v.to_string())].into()),
            ..Default::default()
        }),
        topology_key: key.into(),
        ..Default::default()
    }
}

fn affinity(t: PodAffinityTerm) -> Affinity {
    Affinity {
        pod_affinity: Some(PodAffinity {
            required_during_scheduling_ignored_during_execution: Some(vec![t]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn anti(t: PodAffinityTerm) -> Affinity {
    Affinity {
        pod_anti_affinity: Some(PodAntiAffinity {
            required_during_scheduling_ignored_during_execution: Some(vec![t]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn plugin() -> InterPodAffinity {
    InterPodAffinity::new(&InterPodAffinityArgs::default())
}

fn snap() -> Snapshot {
    Snapshot::from_nodes(vec![
        node("a1")
            .label(ZONE, "a")
            .with_pods(vec![pod("db").label("app", "db")]),
        node("a2").label(ZONE, "a").info(),
        node("b1").label(ZONE, "b").info(),
    ])
}

#[test]
fn required_affinity_by_zone() {
    let p = pod("p").affinity(affinity(term("app", "db", ZONE))).info();
    let s = filter_all(Some(&plugin()), &plugin(), &p, &snap());
    assert!(s[0].is_success() && s[1].is_success());
    assert_eq!(s[2].code(), Code::UnschedulableAndUnresolvable);
    assert_eq!(s[2].message(), ERR_REASON_AFFINITY);
}

#[test]
fn the_first_pod_of_a_self_affine_group_may_go_anywhere() {
    let p = pod("p")
        .label("app", "cache")
        .affinity(affinity(term("app", "cache", ZONE)))
        .info();
    assert!(
        filter_all(Some(&plugin()), &plugin(), &p, &snap())
            .iter()
            .all(Status::is_success)
    );
}

#[test]
fn required_anti_affinity_by_host() {
    let p = pod("p").affinity(anti(term("app", "db", HOST))).info();
    let s = filter_all(Some(&plugin()), &plugin(), &p, &snap());
    assert_eq!(s[0].code(), Code::Unschedulable);
    assert_eq!(s[0].message(), ERR_REASON_ANTI_AFFINITY);
    assert!(s[1].is_success() && s[2].is_success());
}

#[test]
fn existing_pods_anti_affinity_rejects_the_incoming_pod() {
    let snap = Snapshot::from_nodes(vec![
        node("a1")
            .label(ZONE, "a")
            .with_pods(vec![pod("loner").affinity(anti(term("app", "web", ZONE)))]),
        node("a2").label(ZONE, "a").info(),
        node("b1").label(ZONE, "b").info(),
    ]);
    let p = pod("p").label("app", "web").info();
    let s = filter_all(Some(&plugin()), &plugin(), &p, &snap);
    assert_eq!(s[0].message(), ERR_REASON_EXISTING_ANTI_AFFINITY);
    assert_eq!(s[1].message(), ERR_REASON_EXISTING_ANTI_AFFINITY);
    assert!(s[2].is_success());
}

#[test]
fn namespaces_and_namespace_selectors() {
    let snap = Snapshot::from_nodes(vec![
        node("a1").with_pods(vec![pod("db").ns("prod").label("app", "db")]),
        node("b1").info(),
    ])
    .with_namespaces(
        [(
            "prod".to_string(),
            [("env".to_string(), "prod".to_string())].into(),
        )]
        .into(),
    );
    // Same-namespace default: the db in "prod" does not count for a pod in "default".
    let p = pod("p").affinity(affinity(term("app", "db", HOST))).info();
    let s = filter_all(Some(&plugin()), &plugin(), &p, &snap);
    assert!(s.iter().all(|s| s.code() == Code::UnschedulableAndUnresolvable));
    let mut t = term("app", "db", HOST);
    t.namespaces = Some(vec!["prod".into()]);
    let p = pod("p").affinity(affinity(t)).info();
    assert!(filter_all(Some(&plugin()), &plugin(), &p, &snap)[0].is_success());
    let mut t = term("app", "db", HOST);
    t.namespace_selector = Some(LabelSelector {
        match_labels: Some([("env".into(), "prod".into())].into()),
        ..Default::default()
    });
    let p = pod("p").affinity(affinity(t)).info();
    let s = filter_all(Some(&plugin()), &plugin(), &p, &snap);
    assert!(s[0].is_success() && !s[1].is_success());
}

#[test]
fn preferred_terms_score() {
    let p = pod("p")
        .affinity(Affinity {
            pod_affinity: Some(PodAffinity {
                preferred_during_scheduling_ignored_during_execution: Some(vec![WeightedPodAffinityTerm {
                    weight: 10,
                    pod_affinity_term: term("app", "db", ZONE),
                }]),
                ..Default::default()
            }),
            pod_anti_affinity: Some(PodAntiAffinity {
                preferred_during_scheduling_ignored_during_execution: Some(vec![WeightedPodAffinityTerm {
                    weight: 5,
                    pod_affinity_term: term("app", "db", HOST),
                }]),
                ..Default::default()
            }),
            ..Default::default()
        })
        .info();
    let s = score_all(&plugin(), &p, &snap());
    // a1: +10 (zone) −5 (host) = 5; a2: +10; b1: 0 → normalised 50, 100, 0.
    assert_eq!(s, vec![50, 100, 0]);
}

#[test]
fn existing_required_affinity_attracts_matching_pods() {
    let snap = Snapshot::from_nodes(vec![
        node("a1").with_pods(vec![pod("fan").affinity(affinity(term("app", "web", HOST)))]),
        node("b1").info(),
    ]);
    let s = score_all(&plugin(), &pod("p").label("app", "web").info(), &snap);
    assert_eq!(s, vec![100, 0]);
}
