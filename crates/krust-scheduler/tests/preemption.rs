//! Preemption end to end: a high-priority pod evicts a lower-priority one.

mod common;

use common::Env;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn high_priority_pod_preempts_lower_ones() {
    let env = Env::start().await;
    env.apply(
        "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {name: low}\nvalue: 10\n---\n\
         apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {name: high}\nvalue: 1000\n---\n\
         apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {name: polite}\nvalue: 1000\npreemptionPolicy: Never\n",
    );
    env.node("only", "2", "8Gi", &[], json!([])).await;
    env.pod("low-1", "1", json!({"priorityClassName": "low"})).await;
    env.pod("low-2", "1", json!({"priorityClassName": "low"})).await;
    assert_eq!(env.bound("low-1").await, "only");
    assert_eq!(env.bound("low-2").await, "only");

    // preemptionPolicy: Never waits instead.
    env.pod("polite", "1500m", json!({"priorityClassName": "polite"}))
        .await;
    let msg = env.unschedulable("polite").await;
    assert_eq!(
        msg,
        "0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never."
    );

    env.pod("high", "1", json!({"priorityClassName": "high"})).await;
    // The victims get a DisruptionTarget condition and are deleted (gracefully: the API
    // server marks them terminating); the preemptor is nominated to the node.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let high = env.pod_json("high").await;
        let l1 = env.pod_json("low-1").await;
        let l2 = env.pod_json("low-2").await;
        let terminating = |p: &serde_json::Value| p["metadata"]["deletionTimestamp"].is_string();
        if high["status"]["nominatedNodeName"] == "only" && (terminating(&l1) || terminating(&l2)) {
            let victim = if terminating(&l1) { l1 } else { l2 };
            let conds = victim["status"]["conditions"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            assert!(
                conds
                    .iter()
                    .any(|c| c["type"] == "DisruptionTarget" && c["reason"] == "PreemptionByScheduler"),
                "{victim}"
            );
            // One victim is enough for one CPU.
            assert!(
                !(terminating(&env.pod_json("low-1").await) && terminating(&env.pod_json("low-2").await))
            );
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no preemption: {high}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    env.describe_shows("high", "FailedScheduling").await;
    // The kubelet would finish the victim; without one, the test does.
    for v in ["low-1", "low-2"] {
        if env.pod_json(v).await["metadata"]["deletionTimestamp"].is_string() {
            env.force_delete(v).await;
        }
    }
    assert_eq!(env.bound("high").await, "only");
}
