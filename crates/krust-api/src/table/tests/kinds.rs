//! Rows of networking, policy, RBAC, storage, scheduling, coordination and autoscaling
//! kinds.

use serde_json::{Value, json};

use super::{ago, row};

fn meta(name: &str) -> Value {
    json!({"name": name, "namespace": "default", "creationTimestamp": ago(120)})
}

#[test]
fn networking() {
    let ing = json!({"metadata": meta("web"),
        "spec": {"ingressClassName": "nginx", "rules": [{"host": "a.example.com"}, {"http": {}}, {"host": "b.example.com"}],
                 "tls": [{"hosts": ["a.example.com"]}]},
        "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.7"}]}}});
    assert_eq!(
        row("networking.k8s.io", "Ingress", &ing),
        json!([
            "web",
            "nginx",
            "a.example.com,b.example.com",
            "203.0.113.7",
            "80, 443",
            "2m"
        ])
    );
    let many = json!({"metadata": meta("m"), "spec": {"rules": [{"host": "a"}, {"host": "b"}, {"host": "c"}, {"host": "d"}, {"host": "e"}]}});
    assert_eq!(
        row("networking.k8s.io", "Ingress", &many).as_array().unwrap()[1..5],
        [
            json!("<none>"),
            json!("a,b,c + 2 more..."),
            json!(""),
            json!("80")
        ]
    );
    let any = json!({"metadata": meta("any"), "spec": {"defaultBackend": {}}});
    assert_eq!(row("networking.k8s.io", "Ingress", &any)[2], json!("*"));
    let class = json!({"metadata": {"name": "nginx"}, "spec": {"controller": "k8s.io/ingress-nginx",
        "parameters": {"apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "external-lb"}}});
    assert_eq!(
        row("networking.k8s.io", "IngressClass", &class),
        json!([
            "nginx",
            "k8s.io/ingress-nginx",
            "IngressParameters.k8s.example.com/external-lb",
            "<unknown>"
        ])
    );
    let plain = json!({"metadata": {"name": "c"}, "spec": {"controller": "x"}});
    assert_eq!(
        row("networking.k8s.io", "IngressClass", &plain)[2],
        json!("<none>")
    );
    let np = json!({"metadata": meta("deny"), "spec": {"podSelector": {}}});
    assert_eq!(
        row("networking.k8s.io", "NetworkPolicy", &np),
        json!(["deny", "<none>", "2m"])
    );
    let np = json!({"metadata": meta("web"), "spec": {"podSelector": {"matchLabels": {"app": "web"}}}});
    assert_eq!(
        row("networking.k8s.io", "NetworkPolicy", &np)[1],
        json!("app=web")
    );
}

#[test]
fn autoscalers() {
    let hpa = json!({"metadata": meta("web"),
    "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
             "minReplicas": 1, "maxReplicas": 10,
             "metrics": [
                {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}},
                {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "100Mi"}}},
                {"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "1k"}}}
             ]},
    "status": {"currentReplicas": 2, "currentMetrics": [
        {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 23, "averageValue": "115m"}}}
    ]}});
    assert_eq!(
        row("autoscaling", "HorizontalPodAutoscaler", &hpa),
        json!([
            "web",
            "Deployment/web",
            "cpu: 23%/50%, memory: <unknown>/100Mi + 1 more...",
            "1",
            10,
            2,
            "2m"
        ])
    );
    let v1 = json!({"apiVersion": "autoscaling/v1", "metadata": meta("web"),
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 3, "targetCPUUtilizationPercentage": 80},
        "status": {"currentReplicas": 1}});
    assert_eq!(
        row("autoscaling", "HorizontalPodAutoscaler", &v1),
        json!([
            "web",
            "Deployment/web",
            "cpu: <unknown>/80%",
            "<unset>",
            3,
            1,
            "2m"
        ])
    );
    let bare = json!({"metadata": meta("b"), "spec": {"scaleTargetRef": {"kind": "StatefulSet", "name": "db"}, "metrics": []}});
    assert_eq!(
        row("autoscaling", "HorizontalPodAutoscaler", &bare)[2],
        json!("<none>")
    );
    let ext = json!({"metadata": meta("e"), "spec": {"metrics": [
        {"type": "External", "external": {"metric": {"name": "q"}, "target": {"type": "Value", "value": "30"}}},
        {"type": "Object", "object": {"metric": {"name": "rps"}, "target": {"type": "AverageValue", "averageValue": "2"}}}
    ]}, "status": {"currentMetrics": [{"type": "External", "external": {"current": {"value": "12"}}}]}});
    assert_eq!(
        row("autoscaling", "HorizontalPodAutoscaler", &ext)[2],
        json!("12/30, <unknown>/2 (avg)")
    );
    let scale = json!({"metadata": meta("web"), "spec": {"replicas": 3}, "status": {"replicas": 2, "selector": "app=web"}});
    assert_eq!(row("autoscaling", "Scale", &scale), json!(["web", 3, 2, "2m"]));
}

#[test]
fn policy_rbac_storage_scheduling_coordination() {
    let pdb = json!({"metadata": meta("web"), "spec": {"minAvailable": "50%"}, "status": {"disruptionsAllowed": 1}});
    assert_eq!(
        row("policy", "PodDisruptionBudget", &pdb),
        json!(["web", "50%", "N/A", 1, "2m"])
    );
    let pdb = json!({"metadata": meta("db"), "spec": {"maxUnavailable": 1}});
    assert_eq!(
        row("policy", "PodDisruptionBudget", &pdb).as_array().unwrap()[1..4],
        [json!("N/A"), json!("1"), json!(0)]
    );

    let rb = json!({"metadata": meta("read"), "roleRef": {"kind": "ClusterRole", "name": "view"},
        "subjects": [{"kind": "User", "name": "alice"}, {"kind": "Group", "name": "devs"},
                     {"kind": "ServiceAccount", "name": "ci", "namespace": "tools"}, {"kind": "User", "name": "bob"}]});
    assert_eq!(
        row("rbac.authorization.k8s.io", "RoleBinding", &rb),
        json!(["read", "ClusterRole/view", "2m", "alice, bob", "devs", "tools/ci"])
    );
    let crb =
        json!({"metadata": {"name": "admin"}, "roleRef": {"kind": "ClusterRole", "name": "cluster-admin"}});
    assert_eq!(
        row("rbac.authorization.k8s.io", "ClusterRoleBinding", &crb),
        json!(["admin", "ClusterRole/cluster-admin", "<unknown>", "", "", ""])
    );

    let sc = json!({"metadata": {"name": "standard", "creationTimestamp": ago(60),
                                 "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
                    "provisioner": "rancher.io/local-path", "volumeBindingMode": "WaitForFirstConsumer"});
    assert_eq!(
        row("storage.k8s.io", "StorageClass", &sc),
        json!([
            "standard (default)",
            "rancher.io/local-path",
            "Delete",
            "WaitForFirstConsumer",
            false,
            "60s"
        ])
    );
    let pc = json!({"metadata": {"name": "system-cluster-critical"}, "value": 2_000_000_000, "globalDefault": false,
                    "preemptionPolicy": "PreemptLowerPriority"});
    assert_eq!(
        row("scheduling.k8s.io", "PriorityClass", &pc),
        json!([
            "system-cluster-critical",
            2_000_000_000,
            false,
            "<unknown>",
            "PreemptLowerPriority"
        ])
    );
    let lease = json!({"metadata": meta("kube-scheduler"), "spec": {"holderIdentity": "n1_abc"}});
    assert_eq!(
        row("coordination.k8s.io", "Lease", &lease),
        json!(["kube-scheduler", "n1_abc", "2m"])
    );
    let free = json!({"metadata": meta("l"), "spec": {}});
    assert_eq!(row("coordination.k8s.io", "Lease", &free)[1], json!(""));
}
