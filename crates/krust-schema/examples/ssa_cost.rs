//! Measures what recording field ownership costs per write, on the pod the API benchmark
//! creates (after the server's defaults), without the HTTP and store around it:
//! `cargo run --release -p krust-schema --example ssa_cost [iterations]`.
#![allow(clippy::unwrap_used)]

use std::time::Instant;

use krust_api::apply::{CreationMemo, ResetFields, UpdateContext, record_update};
use krust_api::schema::Schemas;
use serde_json::{Value, json};

fn pod(i: usize) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": format!("bench-{i}"), "namespace": "bench",
            "uid": "0b7c6a7e-1f0e-4c43-9d2b-3c1f4a6f0e11", "resourceVersion": "12",
            "creationTimestamp": "2026-11-22T05:00:00Z",
            "labels": {"app": "bench", "tier": "web"}},
        "spec": {"containers": [{"name": "main", "image": "registry.example/app:1.0",
            "ports": [{"containerPort": 8080, "protocol": "TCP"}],
            "env": [{"name": "MODE", "value": "bench"}],
            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
            "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent"}],
            "restartPolicy": "Always", "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst", "securityContext": {}, "schedulerName": "default-scheduler",
            "enableServiceLinks": true, "preemptionPolicy": "PreemptLowerPriority", "priority": 0,
            "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                "effect": "NoExecute", "tolerationSeconds": 300}]},
        "status": {"phase": "Pending", "qosClass": "Burstable"}
    })
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    let schemas = Schemas::new(krust_schema::built_in().0);
    let ctx = UpdateContext {
        manager: "krust-bench",
        api_version: "v1",
        subresource: None,
        now: "2026-11-22T05:00:00Z",
        schema: schemas.named("io.k8s.api.core.v1.Pod"),
        reset: ResetFields::for_write(None, true),
        creations: None,
    };
    let memo = CreationMemo::new();
    let memoised = UpdateContext {
        creations: Some((&memo, "io.k8s.api.core.v1.Pod")),
        ..ctx
    };
    // `ssa_cost N status` measures status updates only (for profiling).
    let only_status = std::env::args().nth(2).as_deref() == Some("status");
    let (full_us, memo_us) = if only_status {
        (0.0, 0.0)
    } else {
        (time(n, &ctx), time(n, &memoised))
    };
    let status = UpdateContext {
        manager: "krust-kubelet",
        subresource: Some("status"),
        reset: ResetFields::for_write(Some("status"), true),
        ..ctx
    };
    let status_us = time_status(n, &ctx, &status);
    println!(
        "{{\"iterations\":{n},\"create_record_us\":{full_us:.2},\"create_record_memoised_us\":{memo_us:.2},\"status_update_record_us\":{status_us:.2}}}"
    );
}

/// Microseconds per recorded status update of a created pod (a kubelet's report).
fn time_status(n: usize, create: &UpdateContext<'_>, ctx: &UpdateContext<'_>) -> f64 {
    let pairs: Vec<(Value, Value)> = (0..n)
        .map(|i| {
            let mut old = pod(i);
            record_update(None, &mut old, create);
            let mut new = old.clone();
            new["status"] = json!({"phase": "Running", "qosClass": "Burstable",
                "podIP": "10.42.0.7", "podIPs": [{"ip": "10.42.0.7"}], "hostIP": "192.168.1.2",
                "startTime": "2026-11-22T05:00:01Z",
                "conditions": [
                    {"type": "Ready", "status": "True", "lastTransitionTime": "2026-11-22T05:00:02Z"},
                    {"type": "PodScheduled", "status": "True", "lastTransitionTime": "2026-11-22T05:00:00Z"}],
                "containerStatuses": [{"name": "main", "ready": true, "restartCount": 0,
                    "image": "registry.example/app:1.0", "imageID": "sha256:abc",
                    "containerID": "containerd://123", "started": true,
                    "state": {"running": {"startedAt": "2026-11-22T05:00:01Z"}}}]});
            (old, new)
        })
        .collect();
    let start = Instant::now();
    for (old, mut new) in pairs {
        record_update(Some(&old), &mut new, ctx);
        assert!(new["metadata"]["managedFields"].is_array());
    }
    start.elapsed().as_secs_f64() * 1e6 / n as f64
}

/// Microseconds per recorded creation.
fn time(n: usize, ctx: &UpdateContext<'_>) -> f64 {
    let objects: Vec<Value> = (0..n).map(pod).collect();
    let start = Instant::now();
    for mut obj in objects {
        record_update(None, &mut obj, ctx);
        assert!(obj["metadata"]["managedFields"].is_array());
    }
    start.elapsed().as_secs_f64() * 1e6 / n as f64
}
