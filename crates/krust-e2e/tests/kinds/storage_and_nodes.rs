//! Quotas, limit ranges, claims, namespaces, nodes and persistent volumes.

use super::*;

#[test]
fn quotas_limit_ranges_and_claims() {
    let c = Cluster::start_with(API_ONLY);

    let quota = manifest!("resourcequota.yaml");
    apply(&c, quota, &["resourcequota/compute-resources created"]);
    // Usage is filled in by the quota controller; until then the columns are empty.
    expect_table(
        &c,
        &["quota", "compute-resources"],
        &["NAME", "REQUEST", "LIMIT", "AGE"],
        "compute-resources",
        &[("REQUEST", ""), ("LIMIT", "")],
    );
    expect(
        &c.get_json(&["resourcequota", "compute-resources"]),
        &[
            ("/spec/hard/requests.cpu", json!("500m")),
            ("/spec/hard/requests.nvidia.com~1gpu", json!("4")),
            ("/spec/hard/pods", json!("10")),
            ("/status", json!({})),
        ],
    );
    let changed = quota
        .replace("pods: \"10\"", "pods: \"20\"")
        .replace("    requests.nvidia.com/gpu: 4\n", "");
    apply(&c, &changed, &["resourcequota/compute-resources configured"]);
    expect(
        &c.get_json(&["quota", "compute-resources"]),
        &[
            ("/spec/hard/pods", json!("20")),
            ("/spec/hard/requests.nvidia.com~1gpu", Value::Null),
        ],
    );
    delete(&c, &changed, &["resourcequota \"compute-resources\" deleted"]);
    gone(&c, &["quota", "compute-resources"]);

    let limits = manifest!("limitrange.yaml");
    apply(&c, limits, &["limitrange/cpu-resource-constraint created"]);
    let t = expect_table(
        &c,
        &["limits", "cpu-resource-constraint"],
        &["NAME", "CREATED AT"],
        "cpu-resource-constraint",
        &[],
    );
    let lr = c.get_json(&["limitrange", "cpu-resource-constraint"]);
    assert_eq!(
        t.rows[0][1],
        lr["metadata"]["creationTimestamp"].as_str().unwrap()
    );
    // A container's default limit falls back to max, its default request to the limit.
    expect(
        &lr,
        &[
            ("/spec/limits/0/default", json!({"cpu": "500m", "memory": "1Gi"})),
            (
                "/spec/limits/0/defaultRequest",
                json!({"cpu": "500m", "memory": "1Gi"}),
            ),
            ("/spec/limits/1/default", Value::Null),
            ("/spec/limits/1/defaultRequest", Value::Null),
        ],
    );
    let changed = limits.replace("cpu: \"1\"", "cpu: \"2\"");
    apply(&c, &changed, &["limitrange/cpu-resource-constraint configured"]);
    expect(
        &c.get_json(&["limits", "cpu-resource-constraint"]),
        &[
            ("/spec/limits/0/max/cpu", json!("2")),
            ("/spec/limits/0/default/cpu", json!("500m")),
        ],
    );
    delete(&c, &changed, &["limitrange \"cpu-resource-constraint\" deleted"]);
    gone(&c, &["limits", "cpu-resource-constraint"]);

    let pvc = manifest!("persistentvolumeclaim.yaml");
    apply(&c, pvc, &["persistentvolumeclaim/task-pv-claim created"]);
    expect_table(
        &c,
        &["pvc", "task-pv-claim", "-o", "wide"],
        &[
            "NAME",
            "STATUS",
            "VOLUME",
            "CAPACITY",
            "ACCESS MODES",
            "STORAGECLASS",
            "VOLUMEATTRIBUTESCLASS",
            "AGE",
            "VOLUMEMODE",
        ],
        "task-pv-claim",
        &[
            ("STATUS", "Pending"),
            ("VOLUME", ""),
            ("CAPACITY", ""),
            ("ACCESS MODES", ""),
            ("STORAGECLASS", "manual"),
            ("VOLUMEATTRIBUTESCLASS", "<unset>"),
            ("VOLUMEMODE", "Filesystem"),
        ],
    );
    expect(
        &c.get_json(&["persistentvolumeclaim", "task-pv-claim"]),
        &[
            ("/spec/volumeMode", json!("Filesystem")),
            ("/spec/resources/requests/storage", json!("3Gi")),
            ("/status/phase", json!("Pending")),
        ],
    );
    // Labels may change; the spec of an unbound claim may not.
    let changed = pvc.replace(
        "  name: task-pv-claim\n",
        "  name: task-pv-claim\n  labels:\n    app: demo\n",
    );
    apply(&c, &changed, &["persistentvolumeclaim/task-pv-claim configured"]);
    expect(
        &c.get_json(&["pvc", "task-pv-claim"]),
        &[("/metadata/labels/app", json!("demo"))],
    );
    let err = rejected(&c, "apply", &changed.replace("storage: 3Gi", "storage: 5Gi"));
    contains_all(
        &err,
        &[
            "The PersistentVolumeClaim \"task-pv-claim\" is invalid",
            "spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims",
        ],
    );
    delete(&c, &changed, &["persistentvolumeclaim \"task-pv-claim\" deleted"]);
    gone(&c, &["pvc", "task-pv-claim"]);
}

// ---------------------------------------------------------------------------------------
// core/v1, cluster-scoped
// ---------------------------------------------------------------------------------------

#[test]
fn namespaces_nodes_and_persistent_volumes() {
    // Deleting the namespace needs the namespace controller to empty and finalize it.
    let c = Cluster::start_with(&["--disable-scheduler", "--controllers=namespace-controller"]);

    let ns = manifest!("namespace.yaml");
    apply(&c, ns, &["namespace/team-a created"]);
    expect_table(
        &c,
        &["ns", "team-a"],
        &["NAME", "STATUS", "AGE"],
        "team-a",
        &[("STATUS", "Active")],
    );
    expect(
        &c.get_json(&["namespace", "team-a"]),
        &[
            ("/metadata/labels/kubernetes.io~1metadata.name", json!("team-a")),
            ("/metadata/labels/team", json!("a")),
            ("/spec/finalizers", json!(["kubernetes"])),
            ("/status/phase", json!("Active")),
        ],
    );
    let changed = ns.replace("    team: a\n", "    team: b\n    tier: dev\n");
    apply(&c, &changed, &["namespace/team-a configured"]);
    expect(
        &c.get_json(&["ns", "team-a"]),
        &[
            ("/metadata/labels/team", json!("b")),
            ("/metadata/labels/tier", json!("dev")),
            ("/metadata/labels/kubernetes.io~1metadata.name", json!("team-a")),
        ],
    );
    delete(&c, &changed, &["namespace \"team-a\" deleted"]);
    gone(&c, &["ns", "team-a"]);

    // A node as a kubelet registers it.
    let node = manifest!("node.yaml");
    apply(&c, node, &["node/worker-1 created"]);
    expect_table(
        &c,
        &["node", "worker-1"],
        &["NAME", "STATUS", "ROLES", "AGE", "VERSION"],
        "worker-1",
        &[("STATUS", "Ready"), ("ROLES", "worker"), ("VERSION", "v1.33.1")],
    );
    expect_table(
        &c,
        &["nodes", "-o", "wide"],
        &[
            "NAME",
            "STATUS",
            "ROLES",
            "AGE",
            "VERSION",
            "INTERNAL-IP",
            "EXTERNAL-IP",
            "OS-IMAGE",
            "KERNEL-VERSION",
            "CONTAINER-RUNTIME",
        ],
        "worker-1",
        &[
            ("INTERNAL-IP", "192.168.1.11"),
            ("EXTERNAL-IP", "<none>"),
            ("OS-IMAGE", "Debian GNU/Linux 12 (bookworm)"),
            ("KERNEL-VERSION", "6.1.0-28-amd64"),
            ("CONTAINER-RUNTIME", "containerd://1.7.24"),
        ],
    );
    // Allocatable defaults to capacity.
    expect(
        &c.get_json(&["no", "worker-1"]),
        &[
            (
                "/status/allocatable",
                json!({"cpu": "4", "ephemeral-storage": "40956Mi", "memory": "8Gi", "pods": "110"}),
            ),
            ("/spec/podCIDRs", json!(["10.42.1.0/24"])),
        ],
    );
    let changed = node
        .replace(
            "    node-role.kubernetes.io/worker: \"\"\n",
            "    node-role.kubernetes.io/worker: \"\"\n    node-role.kubernetes.io/gpu: \"\"\n",
        )
        .replace(
            "  - 10.42.1.0/24\n",
            "  - 10.42.1.0/24\n  taints:\n  - key: dedicated\n    value: gpu\n    effect: NoSchedule\n",
        );
    apply(&c, &changed, &["node/worker-1 configured"]);
    expect_table(
        &c,
        &["node", "worker-1"],
        &["NAME", "STATUS", "ROLES", "AGE", "VERSION"],
        "worker-1",
        &[("ROLES", "gpu,worker")],
    );
    expect(
        &c.get_json(&["node", "worker-1"]),
        &[(
            "/spec/taints",
            json!([{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]),
        )],
    );
    let err = rejected(
        &c,
        "apply",
        &changed.replace("effect: NoSchedule", "effect: Sometimes"),
    );
    contains_all(&err, &["taints[0].effect: Unsupported value: \"Sometimes\""]);
    delete(&c, &changed, &["node \"worker-1\" deleted"]);
    gone(&c, &["node", "worker-1"]);

    let pv = manifest!("persistentvolume.yaml");
    apply(&c, pv, &["persistentvolume/task-pv-volume created"]);
    let pv_header = [
        "NAME",
        "CAPACITY",
        "ACCESS MODES",
        "RECLAIM POLICY",
        "STATUS",
        "CLAIM",
        "STORAGECLASS",
        "VOLUMEATTRIBUTESCLASS",
        "REASON",
        "AGE",
    ];
    expect_table(
        &c,
        &["pv", "task-pv-volume"],
        &pv_header,
        "task-pv-volume",
        &[
            ("CAPACITY", "10Gi"),
            ("ACCESS MODES", "RWO"),
            ("RECLAIM POLICY", "Retain"),
            ("STATUS", "Pending"),
            ("CLAIM", ""),
            ("STORAGECLASS", "manual"),
            ("VOLUMEATTRIBUTESCLASS", "<unset>"),
            ("REASON", ""),
        ],
    );
    let mut wide = pv_header.to_vec();
    wide.push("VOLUMEMODE");
    expect_table(
        &c,
        &["pv", "task-pv-volume", "-o", "wide"],
        &wide,
        "task-pv-volume",
        &[("VOLUMEMODE", "Filesystem")],
    );
    let got = c.get_json(&["persistentvolume", "task-pv-volume"]);
    expect(
        &got,
        &[
            ("/spec/persistentVolumeReclaimPolicy", json!("Retain")),
            ("/spec/volumeMode", json!("Filesystem")),
            ("/spec/hostPath/type", json!("")),
            ("/status/phase", json!("Pending")),
        ],
    );
    assert!(got["status"]["lastPhaseTransitionTime"].is_string(), "{got}");
    // Grow the volume and reserve it for a claim.
    let changed = pv.replace("storage: 10Gi", "storage: 20Gi").replace(
        "  hostPath:\n",
        "  claimRef:\n    namespace: default\n    name: task-pv-claim\n  hostPath:\n",
    );
    apply(&c, &changed, &["persistentvolume/task-pv-volume configured"]);
    expect_table(
        &c,
        &["pv", "task-pv-volume"],
        &pv_header,
        "task-pv-volume",
        &[("CAPACITY", "20Gi"), ("CLAIM", "default/task-pv-claim")],
    );
    delete(&c, &changed, &["persistentvolume \"task-pv-volume\" deleted"]);
    gone(&c, &["pv", "task-pv-volume"]);
}
