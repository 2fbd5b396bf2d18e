use std::time::{Duration, Instant};

use super::*;
use crate::plugins::testing::{node, pod};

fn cache_with_nodes(names: &[&str]) -> Cache {
    let mut c = Cache::new(Duration::from_secs(30));
    for n in names {
        c.upsert_node(node(n).0);
    }
    c
}

#[test]
fn assume_then_confirm() {
    let mut c = cache_with_nodes(&["a"]);
    let p = pod("p").req("cpu", "1").node("a").arc();
    c.assume_pod(p.clone());
    assert!(c.is_assumed(p.uid()));
    let mut snap = Snapshot::default();
    c.update_snapshot(&mut snap);
    assert_eq!(snap.get("a").map(|n| n.requested.milli_cpu), Some(1000));
    // The informer reports the bound pod: confirmed, counted once.
    c.upsert_pod(p.clone());
    assert!(!c.is_assumed(p.uid()));
    c.update_snapshot(&mut snap);
    assert_eq!(snap.get("a").map(|n| n.pods.len()), Some(1));
}

#[test]
fn forget_releases_resources() {
    let mut c = cache_with_nodes(&["a"]);
    let p = pod("p").req("cpu", "1").node("a").arc();
    c.assume_pod(p.clone());
    assert!(c.forget_pod(p.uid()).is_some());
    let mut snap = Snapshot::default();
    c.update_snapshot(&mut snap);
    assert_eq!(snap.get("a").map(|n| n.requested.milli_cpu), Some(0));
    // Forgetting a confirmed pod does nothing.
    c.upsert_pod(p.clone());
    assert!(c.forget_pod(p.uid()).is_none());
}

#[test]
fn assumed_pods_expire_after_binding() {
    let mut c = cache_with_nodes(&["a"]);
    let p = pod("p").node("a").arc();
    c.assume_pod(p.clone());
    let now = Instant::now();
    // Not expired while the binding is in flight.
    assert!(c.cleanup_expired(now + Duration::from_secs(3600)).is_empty());
    c.finish_binding(p.uid(), now);
    assert!(c.cleanup_expired(now + Duration::from_secs(29)).is_empty());
    let expired = c.cleanup_expired(now + Duration::from_secs(31));
    assert_eq!(expired.len(), 1);
    assert!(!c.contains_pod(p.uid()));
}

#[test]
fn snapshot_copies_only_changed_nodes() {
    let mut c = cache_with_nodes(&["a", "b"]);
    let mut snap = Snapshot::default();
    c.update_snapshot(&mut snap);
    let b_before = snap.get("b").cloned();
    c.upsert_pod(pod("p").node("a").arc());
    c.update_snapshot(&mut snap);
    // b is shared unchanged; a was replaced.
    assert!(Arc::ptr_eq(&b_before.unwrap_or_default(), snap.get("b").unwrap()));
    assert_eq!(snap.get("a").map(|n| n.pods.len()), Some(1));
    // A new node rebuilds the list.
    c.upsert_node(node("c").0);
    c.update_snapshot(&mut snap);
    assert_eq!(snap.num_nodes(), 3);
    // Removing a node with pods keeps it out of the snapshot but keeps the pods counted.
    c.remove_node("a");
    c.update_snapshot(&mut snap);
    assert_eq!(snap.num_nodes(), 2);
    assert_eq!(c.pod_count(), 1);
}

#[test]
fn affinity_lists_follow_pods() {
    use k8s_openapi::api::core::v1::{Affinity, PodAffinityTerm, PodAntiAffinity};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
    let mut c = cache_with_nodes(&["a", "b"]);
    let mut snap = Snapshot::default();
    c.update_snapshot(&mut snap);
    assert_eq!(snap.have_pods_with_required_anti_affinity().count(), 0);
    let anti = Affinity {
        pod_anti_affinity: Some(PodAntiAffinity {
            required_during_scheduling_ignored_during_execution: Some(vec![PodAffinityTerm {
                label_selector: Some(LabelSelector::default()),
                topology_key: "kubernetes.io/hostname".into(),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    };
    let p = pod("p").affinity(anti).node("b").arc();
    c.upsert_pod(p.clone());
    c.update_snapshot(&mut snap);
    assert_eq!(
        snap.have_pods_with_required_anti_affinity()
            .map(|n| n.name().to_string())
            .collect::<Vec<_>>(),
        vec!["b"]
    );
    c.remove_pod(p.uid());
    c.update_snapshot(&mut snap);
    assert_eq!(snap.have_pods_with_affinity().count(), 0);
}

#[test]
fn nodes_interleave_zones() {
    let mut c = Cache::new(Duration::from_secs(30));
    for (n, z) in [("a1", "a"), ("a2", "a"), ("b1", "b"), ("b2", "b")] {
        c.upsert_node(node(n).label("topology.kubernetes.io/zone", z).0);
    }
    let mut snap = Snapshot::default();
    c.update_snapshot(&mut snap);
    let names: Vec<&str> = snap.nodes().iter().map(|n| n.name()).collect();
    assert_eq!(names, vec!["a1", "b1", "a2", "b2"]);
}
