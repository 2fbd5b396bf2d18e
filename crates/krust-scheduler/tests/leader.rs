//! Leader election: the scheduler schedules while it holds Lease kube-system/kube-scheduler.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
use krust_e2e::Cluster;
use krust_scheduler::{Scheduler, SchedulerConfig};
use kube::api::{Api, PostParams};
use serde_json::json;
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedules_while_holding_the_lease() {
    let cluster = tokio::task::spawn_blocking(|| {
        Cluster::start_with(&["--disable-scheduler", "--disable-controller-manager"])
    })
    .await
    .unwrap();
    let client =
        krust_runtime::client_from_kubeconfig(&std::fs::read_to_string(cluster.kubeconfig()).unwrap())
            .await
            .unwrap();
    let shutdown = CancellationToken::new();
    let config = SchedulerConfig {
        identity: "test-sched".into(),
        ..Default::default()
    };
    let scheduler = Scheduler::new(config, client.clone());
    let token = shutdown.clone();
    let run = tokio::spawn(async move { scheduler.run(token).await });

    let node: Node = serde_json::from_value(json!({"apiVersion": "v1", "kind": "Node",
        "metadata": {"name": "n", "labels": {"kubernetes.io/hostname": "n"}},
        "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"}}}))
    .unwrap();
    Api::<Node>::all(client.clone())
        .create(&PostParams::default(), &node)
        .await
        .unwrap();
    let pod: Pod = serde_json::from_value(
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "pause"}]}}),
    )
    .unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.create(&PostParams::default(), &pod).await.unwrap();

    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let bound = pods.get("p").await.unwrap().spec.and_then(|s| s.node_name);
        if bound.as_deref() == Some("n") {
            break;
        }
        assert!(Instant::now() < deadline, "pod not bound");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let lease = Api::<Lease>::namespaced(client.clone(), "kube-system")
        .get("kube-scheduler")
        .await
        .unwrap();
    let holder = lease.spec.and_then(|s| s.holder_identity).unwrap_or_default();
    assert!(holder.starts_with("test-sched_"), "{holder}");

    shutdown.cancel();
    run.await.unwrap().unwrap();
    // Giving up the lease on shutdown lets another instance take over at once.
    let lease = Api::<Lease>::namespaced(client, "kube-system")
        .get("kube-scheduler")
        .await
        .unwrap();
    assert!(lease.spec.and_then(|s| s.holder_identity).is_none());
}
