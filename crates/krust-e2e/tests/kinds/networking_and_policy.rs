//! Ingresses, NetworkPolicies, EndpointSlices, PodDisruptionBudgets and HorizontalPodAutoscalers.

use super::*;

#[test]
fn ingresses_network_policies_and_endpoint_slices() {
    let c = Cluster::start_with(API_ONLY);

    let class = manifest!("ingressclass.yaml");
    apply(
        &c,
        class,
        &["ingressclass.networking.k8s.io/nginx-example created"],
    );
    let class_header = ["NAME", "CONTROLLER", "PARAMETERS", "AGE"];
    expect_table(
        &c,
        &["ingressclass", "nginx-example"],
        &class_header,
        "nginx-example",
        &[("CONTROLLER", "k8s.io/ingress-nginx"), ("PARAMETERS", "<none>")],
    );
    let changed_class = class.to_string()
        + "  parameters:\n    apiGroup: k8s.example.com\n    kind: IngressParameters\n    name: external-lb\n";
    apply(
        &c,
        &changed_class,
        &["ingressclass.networking.k8s.io/nginx-example configured"],
    );
    expect_table(
        &c,
        &["ingressclasses", "nginx-example"],
        &class_header,
        "nginx-example",
        &[("PARAMETERS", "IngressParameters.k8s.example.com/external-lb")],
    );
    expect(
        &c.get_json(&["ingressclass", "nginx-example"]),
        &[("/spec/parameters/scope", json!("Cluster"))],
    );

    let ing = manifest!("ingress.yaml");
    apply(&c, ing, &["ingress.networking.k8s.io/minimal-ingress created"]);
    let header = ["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"];
    expect_table(
        &c,
        &["ing", "minimal-ingress"],
        &header,
        "minimal-ingress",
        &[
            ("CLASS", "nginx-example"),
            ("HOSTS", "*"),
            ("ADDRESS", ""),
            ("PORTS", "80"),
        ],
    );
    expect(
        &c.get_json(&["ingress", "minimal-ingress"]),
        &[
            ("/metadata/generation", json!(1)),
            ("/spec/rules/0/http/paths/0/pathType", json!("Prefix")),
            ("/status", json!({"loadBalancer": {}})),
        ],
    );
    // A host with TLS and a second path.
    let changed = ing
        .replace("  - http:\n", "  - host: foo.bar.com\n    http:\n")
        .replace(
            "      - path: /testpath\n",
            "      - path: /api\n        pathType: Exact\n        backend:\n          service:\n            name: api\n            port:\n              name: http\n      - path: /testpath\n",
        )
        + "  tls:\n  - hosts:\n    - foo.bar.com\n    secretName: foo-tls\n";
    apply(
        &c,
        &changed,
        &["ingress.networking.k8s.io/minimal-ingress configured"],
    );
    expect_table(
        &c,
        &["ingresses", "minimal-ingress"],
        &header,
        "minimal-ingress",
        &[("HOSTS", "foo.bar.com"), ("PORTS", "80, 443")],
    );
    expect(
        &c.get_json(&["ing", "minimal-ingress"]),
        &[
            ("/metadata/generation", json!(2)),
            (
                "/spec/rules/0/http/paths/0/backend/service/port/name",
                json!("http"),
            ),
            ("/spec/rules/0/http/paths/1/path", json!("/testpath")),
        ],
    );
    let err = rejected(&c, "apply", &changed.replace("        pathType: Exact\n", ""));
    contains_all(
        &err,
        &["spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified"],
    );
    delete(
        &c,
        &changed,
        &["ingress.networking.k8s.io \"minimal-ingress\" deleted"],
    );
    gone(&c, &["ing", "minimal-ingress"]);
    delete(
        &c,
        &changed_class,
        &["ingressclass.networking.k8s.io \"nginx-example\" deleted"],
    );
    gone(&c, &["ingressclass", "nginx-example"]);

    let np = manifest!("networkpolicy.yaml");
    apply(
        &c,
        np,
        &["networkpolicy.networking.k8s.io/test-network-policy created"],
    );
    let header = ["NAME", "POD-SELECTOR", "AGE"];
    expect_table(
        &c,
        &["netpol", "test-network-policy"],
        &header,
        "test-network-policy",
        &[("POD-SELECTOR", "role=db")],
    );
    expect(
        &c.get_json(&["networkpolicy", "test-network-policy"]),
        &[
            ("/metadata/generation", json!(1)),
            ("/spec/policyTypes", json!(["Ingress", "Egress"])),
            (
                "/spec/ingress/0/ports/0",
                json!({"protocol": "TCP", "port": 6379}),
            ),
        ],
    );
    // Ingress rules only, no policy types and a port without protocol: upstream derives
    // the types and defaults the protocol.
    let changed = np
        .replace("role: db", "role: cache")
        .replace("  policyTypes:\n  - Ingress\n  - Egress\n", "")
        .replace("    - protocol: TCP\n      port: 6379\n", "    - port: 6380\n");
    let changed = changed[..changed.find("  egress:").unwrap()].to_string();
    apply(
        &c,
        &changed,
        &["networkpolicy.networking.k8s.io/test-network-policy configured"],
    );
    expect_table(
        &c,
        &["networkpolicies", "test-network-policy"],
        &header,
        "test-network-policy",
        &[("POD-SELECTOR", "role=cache")],
    );
    expect(
        &c.get_json(&["netpol", "test-network-policy"]),
        &[
            ("/metadata/generation", json!(2)),
            ("/spec/policyTypes", json!(["Ingress"])),
            ("/spec/egress", Value::Null),
            (
                "/spec/ingress/0/ports/0",
                json!({"protocol": "TCP", "port": 6380}),
            ),
        ],
    );
    let err = rejected(&c, "apply", &changed.replace("172.17.0.0/16", "172.17.0.0/33"));
    contains_all(
        &err,
        &["spec.ingress[0].from[0].ipBlock.cidr: Invalid value: \"172.17.0.0/33\""],
    );
    delete(
        &c,
        &changed,
        &["networkpolicy.networking.k8s.io \"test-network-policy\" deleted"],
    );
    gone(&c, &["netpol", "test-network-policy"]);

    let slice = manifest!("endpointslice.yaml");
    apply(&c, slice, &["endpointslice.discovery.k8s.io/example-abc created"]);
    let header = ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"];
    expect_table(
        &c,
        &["endpointslice", "example-abc"],
        &header,
        "example-abc",
        &[
            ("ADDRESSTYPE", "IPv4"),
            ("PORTS", "80"),
            ("ENDPOINTS", "10.1.2.3"),
        ],
    );
    let changed = slice
        .replace("  - \"10.1.2.3\"\n", "  - \"10.1.2.3\"\n  - \"10.1.2.4\"\n")
        .replace("  port: 80\n", "  port: 80\n- name: metrics\n  port: 9090\n");
    apply(
        &c,
        &changed,
        &["endpointslice.discovery.k8s.io/example-abc configured"],
    );
    expect_table(
        &c,
        &["endpointslices", "example-abc"],
        &header,
        "example-abc",
        &[("PORTS", "80,9090"), ("ENDPOINTS", "10.1.2.3,10.1.2.4")],
    );
    expect(
        &c.get_json(&["endpointslice", "example-abc"]),
        &[(
            "/ports/1",
            json!({"name": "metrics", "port": 9090, "protocol": "TCP"}),
        )],
    );
    let err = rejected(
        &c,
        "apply",
        &changed.replace("addressType: IPv4", "addressType: IPv5"),
    );
    contains_all(&err, &["addressType"]);
    delete(
        &c,
        &changed,
        &["endpointslice.discovery.k8s.io \"example-abc\" deleted"],
    );
    gone(&c, &["endpointslice", "example-abc"]);
}

#[test]
fn disruption_budgets_and_autoscalers() {
    let c = Cluster::start_with(API_ONLY);

    let pdb = manifest!("poddisruptionbudget.yaml");
    apply(&c, pdb, &["poddisruptionbudget.policy/zk-pdb created"]);
    let header = [
        "NAME",
        "MIN AVAILABLE",
        "MAX UNAVAILABLE",
        "ALLOWED DISRUPTIONS",
        "AGE",
    ];
    expect_table(
        &c,
        &["pdb", "zk-pdb"],
        &header,
        "zk-pdb",
        &[
            ("MIN AVAILABLE", "2"),
            ("MAX UNAVAILABLE", "N/A"),
            ("ALLOWED DISRUPTIONS", "0"),
        ],
    );
    expect(
        &c.get_json(&["poddisruptionbudget", "zk-pdb"]),
        &[
            ("/metadata/generation", json!(1)),
            (
                "/status",
                json!({"currentHealthy": 0, "desiredHealthy": 0, "disruptionsAllowed": 0, "expectedPods": 0}),
            ),
        ],
    );
    let changed = pdb.replace("minAvailable: 2", "maxUnavailable: 1");
    apply(&c, &changed, &["poddisruptionbudget.policy/zk-pdb configured"]);
    expect_table(
        &c,
        &["pdb", "zk-pdb"],
        &header,
        "zk-pdb",
        &[("MIN AVAILABLE", "N/A"), ("MAX UNAVAILABLE", "1")],
    );
    expect(
        &c.get_json(&["pdb", "zk-pdb"]),
        &[
            ("/metadata/generation", json!(2)),
            ("/spec/minAvailable", Value::Null),
            ("/spec/maxUnavailable", json!(1)),
        ],
    );
    let err = rejected(
        &c,
        "apply",
        &changed.replace("maxUnavailable: 1", "maxUnavailable: 1\n  minAvailable: 1"),
    );
    contains_all(&err, &["minAvailable and maxUnavailable cannot be both set"]);
    delete(&c, &changed, &["poddisruptionbudget.policy \"zk-pdb\" deleted"]);
    gone(&c, &["pdb", "zk-pdb"]);

    // HorizontalPodAutoscaler: one object, served as autoscaling/v2 and v1.
    let header = [
        "NAME",
        "REFERENCE",
        "TARGETS",
        "MINPODS",
        "MAXPODS",
        "REPLICAS",
        "AGE",
    ];
    let hpa = manifest!("hpa.yaml");
    apply(
        &c,
        hpa,
        &["horizontalpodautoscaler.autoscaling/php-apache created"],
    );
    expect_table(
        &c,
        &["hpa", "php-apache"],
        &header,
        "php-apache",
        &[
            ("REFERENCE", "Deployment/php-apache"),
            ("TARGETS", "cpu: <unknown>/50%"),
            ("MINPODS", "1"),
            ("MAXPODS", "10"),
            ("REPLICAS", "0"),
        ],
    );
    expect(
        &c.get_json(&["horizontalpodautoscalers.v2.autoscaling", "php-apache"]),
        &[
            ("/apiVersion", json!("autoscaling/v2")),
            ("/spec/minReplicas", json!(1)),
            ("/spec/behavior", Value::Null),
            ("/spec/targetCPUUtilizationPercentage", Value::Null),
        ],
    );
    expect(
        &c.get_json(&["horizontalpodautoscalers.v1.autoscaling", "php-apache"]),
        &[
            ("/apiVersion", json!("autoscaling/v1")),
            ("/spec/targetCPUUtilizationPercentage", json!(50)),
            ("/spec/metrics", Value::Null),
            ("/spec/scaleTargetRef/name", json!("php-apache")),
        ],
    );
    // A behavior gets every unset rule filled in, but no scale-down window.
    let changed = hpa.replace("maxReplicas: 10", "maxReplicas: 20")
        + "  behavior:\n    scaleUp:\n      stabilizationWindowSeconds: 60\n";
    apply(
        &c,
        &changed,
        &["horizontalpodautoscaler.autoscaling/php-apache configured"],
    );
    expect_table(
        &c,
        &["horizontalpodautoscaler", "php-apache"],
        &header,
        "php-apache",
        &[("MAXPODS", "20")],
    );
    expect(
        &c.get_json(&["hpa", "php-apache"]),
        &[(
            "/spec/behavior",
            json!({
                "scaleUp": {"stabilizationWindowSeconds": 60, "selectPolicy": "Max", "policies": [
                    {"type": "Pods", "value": 4, "periodSeconds": 15},
                    {"type": "Percent", "value": 100, "periodSeconds": 15}]},
                "scaleDown": {"selectPolicy": "Max", "policies": [
                    {"type": "Percent", "value": 100, "periodSeconds": 15}]},
            }),
        )],
    );
    let err = rejected(&c, "apply", &changed.replace("minReplicas: 1", "minReplicas: 30"));
    contains_all(
        &err,
        &["spec.maxReplicas: Invalid value: 20: must be greater than or equal to `minReplicas`"],
    );
    delete(
        &c,
        &changed,
        &["horizontalpodautoscaler.autoscaling \"php-apache\" deleted"],
    );
    gone(&c, &["hpa", "php-apache"]);

    // Written as autoscaling/v1, read as v2.
    let v1 = manifest!("hpa-v1.yaml");
    apply(
        &c,
        v1,
        &["horizontalpodautoscaler.autoscaling/frontend-scaler created"],
    );
    expect_table(
        &c,
        &["hpa", "frontend-scaler"],
        &header,
        "frontend-scaler",
        &[
            ("REFERENCE", "ReplicaSet/frontend"),
            ("TARGETS", "cpu: <unknown>/80%"),
            ("MINPODS", "3"),
        ],
    );
    expect(
        &c.get_json(&["horizontalpodautoscalers.v2.autoscaling", "frontend-scaler"]),
        &[(
            "/spec/metrics",
            json!([{"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 80}}}]),
        )],
    );
    let changed = v1.replace(
        "targetCPUUtilizationPercentage: 80",
        "targetCPUUtilizationPercentage: 60",
    );
    apply(
        &c,
        &changed,
        &["horizontalpodautoscaler.autoscaling/frontend-scaler configured"],
    );
    expect(
        &c.get_json(&["horizontalpodautoscalers.v1.autoscaling", "frontend-scaler"]),
        &[("/spec/targetCPUUtilizationPercentage", json!(60))],
    );
    expect(
        &c.get_json(&["horizontalpodautoscalers.v2.autoscaling", "frontend-scaler"]),
        &[("/spec/metrics/0/resource/target/averageUtilization", json!(60))],
    );
    delete(
        &c,
        &changed,
        &["horizontalpodautoscaler.autoscaling \"frontend-scaler\" deleted"],
    );
    gone(&c, &["hpa", "frontend-scaler"]);
}
