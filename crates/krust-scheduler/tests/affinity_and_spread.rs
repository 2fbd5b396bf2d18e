//! Inter-pod (anti-)affinity and topology spread end to end.

mod common;

use std::collections::BTreeMap;

use common::Env;
use serde_json::json;

const ZONE: &str = "topology.kubernetes.io/zone";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_affinity_and_anti_affinity() {
    let env = Env::start().await;
    for (n, z) in [("a1", "a"), ("a2", "a"), ("b1", "b")] {
        env.node(n, "4", "16Gi", &[(ZONE, z)], json!([])).await;
    }
    env.pod(
        "db",
        "100m",
        json!({"labels": {"app": "db"}, "nodeSelector": {"kubernetes.io/hostname": "a2"}}),
    )
    .await;
    assert_eq!(env.bound("db").await, "a2");

    // Required affinity to the db's host.
    let with_db = json!({"affinity": {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "kubernetes.io/hostname"}]}}});
    env.pod("cache", "100m", with_db).await;
    assert_eq!(env.bound("cache").await, "a2");

    // Required anti-affinity between replicas by hostname: one per node, the fourth waits.
    let spread = |name: &str| {
        json!({"labels": {"app": "web"}, "affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "kubernetes.io/hostname"}]}},
            "x": name})
    };
    let mut hosts = Vec::new();
    for i in 0..3 {
        let name = format!("web-{i}");
        let mut extra = spread(&name);
        extra.as_object_mut().map(|o| o.remove("x"));
        env.pod(&name, "100m", extra).await;
        hosts.push(env.bound(&name).await);
    }
    hosts.sort();
    assert_eq!(hosts, vec!["a1", "a2", "b1"]);
    let mut extra = spread("web-3");
    extra.as_object_mut().map(|o| o.remove("x"));
    env.pod("web-3", "100m", extra).await;
    let msg = env.unschedulable("web-3").await;
    assert!(
        msg.starts_with("0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules."),
        "{msg}"
    );

    // An existing pod's anti-affinity keeps matching pods out of its zone.
    let loner = json!({"nodeSelector": {"kubernetes.io/hostname": "b1"},
        "affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "noisy"}}, "topologyKey": ZONE}]}}});
    env.pod("loner", "100m", loner).await;
    assert_eq!(env.bound("loner").await, "b1");
    env.pod("noisy", "100m", json!({"labels": {"app": "noisy"}}))
        .await;
    let n = env.bound("noisy").await;
    assert!(n == "a1" || n == "a2", "{n}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topology_spread_by_zone() {
    let env = Env::start().await;
    for (n, z) in [("a1", "a"), ("a2", "a"), ("a3", "a"), ("b1", "b")] {
        env.node(n, "8", "32Gi", &[(ZONE, z)], json!([])).await;
    }
    let constraint = json!({"labels": {"app": "spread"}, "topologySpreadConstraints": [
        {"maxSkew": 1, "topologyKey": ZONE, "whenUnsatisfiable": "DoNotSchedule",
         "labelSelector": {"matchLabels": {"app": "spread"}}}]});
    let mut per_zone: BTreeMap<String, usize> = BTreeMap::new();
    for i in 0..6 {
        let name = format!("s-{i}");
        env.pod(&name, "100m", constraint.clone()).await;
        let node = env.bound(&name).await;
        *per_zone.entry(node[..1].to_string()).or_default() += 1;
    }
    // Zone a has three nodes, b one, yet the pods split evenly by zone.
    assert_eq!(
        per_zone,
        BTreeMap::from([("a".to_string(), 3), ("b".to_string(), 3)])
    );

    // A node without the zone label cannot take such a pod.
    let only_nozone = json!({"labels": {"app": "spread"}, "nodeSelector": {"kubernetes.io/hostname": "nozone"},
        "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": ZONE, "whenUnsatisfiable": "DoNotSchedule",
         "labelSelector": {"matchLabels": {"app": "spread"}}}]});
    env.node("nozone", "8", "32Gi", &[], json!([])).await;
    env.pod("lost", "100m", only_nozone).await;
    let msg = env.unschedulable("lost").await;
    assert!(
        msg.contains("1 node(s) didn't match pod topology spread constraints (missing required label)"),
        "{msg}"
    );
}
