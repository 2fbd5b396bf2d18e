//! Placement rules end to end: the real server, Node objects created through the API, this
//! crate's scheduler in-process, and pods whose placement (or failure message) is checked.

mod common;

use common::Env;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resources_selectors_and_affinity() {
    let env = Env::start().await;
    env.node(
        "small",
        "1",
        "4Gi",
        &[("topology.kubernetes.io/zone", "z1")],
        json!([]),
    )
    .await;
    env.node(
        "big",
        "4",
        "16Gi",
        &[("disk", "ssd"), ("topology.kubernetes.io/zone", "z2")],
        json!([]),
    )
    .await;
    env.node(
        "mid",
        "2",
        "8Gi",
        &[("topology.kubernetes.io/zone", "z3")],
        json!([]),
    )
    .await;

    // Resources: only "big" has 3 CPUs free.
    env.pod("needs-3-cpu", "3", json!({})).await;
    assert_eq!(env.bound("needs-3-cpu").await, "big");

    // nodeSelector.
    env.pod("ssd", "100m", json!({"nodeSelector": {"disk": "ssd"}}))
        .await;
    assert_eq!(env.bound("ssd").await, "big");

    // Required node affinity with an expression, and with a field.
    let zone_z3 = json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [{"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["z3"]}]}]}}}});
    env.pod("in-z3", "100m", zone_z3).await;
    assert_eq!(env.bound("in-z3").await, "mid");
    let by_name = json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["small"]}]}]}}}});
    env.pod("on-small", "100m", by_name).await;
    assert_eq!(env.bound("on-small").await, "small");

    // Preferred node affinity outweighs the (equal) resource scores of two empty-ish nodes.
    let prefer = json!({"affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 100, "preference": {"matchExpressions": [{"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["z1"]}]}}]}}});
    env.pod("prefers-z1", "100m", prefer).await;
    assert_eq!(env.bound("prefers-z1").await, "small");

    // Nothing has 8 CPUs: unschedulable, and preemption cannot help.
    env.pod("too-big", "8", json!({})).await;
    let msg = env.unschedulable("too-big").await;
    assert_eq!(
        msg,
        "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    );
    // A node that can hold it arrives: the pod is retried at once and bound there.
    env.node("huge", "16", "64Gi", &[], json!([])).await;
    assert_eq!(env.bound("too-big").await, "huge");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn taints_tolerations_and_the_failure_message() {
    let env = Env::start().await;
    env.node(
        "gpu",
        "4",
        "16Gi",
        &[("gpu", "true")],
        json!([{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]),
    )
    .await;
    env.node("cordoned", "4", "16Gi", &[], json!([])).await;
    env.cluster.ok(&["cordon", "cordoned"]);
    // Smaller than the pod: preemption could not help there either.
    env.node("tiny", "500m", "1Gi", &[], json!([])).await;

    env.pod("plain", "1", json!({})).await;
    let want = "0/3 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint {dedicated: gpu}, \
                1 node(s) were unschedulable. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.";
    assert_eq!(env.unschedulable("plain").await, want);
    let described = env.describe_shows("plain", "FailedScheduling").await;
    assert!(described.contains("default-scheduler"), "{described}");
    assert!(
        described.contains("node(s) had untolerated taint {dedicated: gpu}"),
        "{described}"
    );

    env.pod(
        "tolerant",
        "1",
        json!({"tolerations": [{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]}),
    )
    .await;
    assert_eq!(env.bound("tolerant").await, "gpu");
    let described = env
        .describe_shows("tolerant", "Successfully assigned default/tolerant to gpu")
        .await;
    assert!(described.contains("Scheduled"), "{described}");

    // Uncordoning helps the waiting pod.
    env.cluster.ok(&["uncordon", "cordoned"]);
    assert_eq!(env.bound("plain").await, "cordoned");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_ports() {
    let env = Env::start().await;
    env.node("n1", "4", "16Gi", &[], json!([])).await;
    env.node("n2", "4", "16Gi", &[], json!([])).await;
    let port = json!({"containerPorts": [{"containerPort": 80, "hostPort": 8080}]});
    env.pod("web-1", "100m", port.clone()).await;
    let first = env.bound("web-1").await;
    env.pod("web-2", "100m", port.clone()).await;
    let second = env.bound("web-2").await;
    assert_ne!(first, second);
    env.pod("web-3", "100m", port).await;
    let msg = env.unschedulable("web-3").await;
    assert!(
        msg.starts_with(
            "0/2 nodes are available: 2 node(s) didn't have free ports for the requested pod ports."
        ),
        "{msg}"
    );
    // Freeing a port lets the third pod in.
    env.force_delete("web-1").await;
    assert_eq!(env.bound("web-3").await, first);
}
