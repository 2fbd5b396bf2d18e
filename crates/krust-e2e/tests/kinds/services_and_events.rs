//! Services, Endpoints and Events in both groups.

use super::*;

#[test]
fn services_and_endpoints() {
    let c = Cluster::start_with(API_ONLY);
    let header = ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"];
    let wide = [
        "NAME",
        "TYPE",
        "CLUSTER-IP",
        "EXTERNAL-IP",
        "PORT(S)",
        "AGE",
        "SELECTOR",
    ];
    let svc = manifest!("service.yaml");
    apply(&c, svc, &["service/my-service created"]);
    expect_table(
        &c,
        &["svc", "my-service", "-o", "wide"],
        &wide,
        "my-service",
        &[
            ("TYPE", "ClusterIP"),
            ("EXTERNAL-IP", "<none>"),
            ("PORT(S)", "80/TCP"),
            ("SELECTOR", "app.kubernetes.io/name=MyApp"),
        ],
    );
    expect(
        &c.get_json(&["service", "my-service"]),
        &[
            ("/spec/type", json!("ClusterIP")),
            ("/spec/sessionAffinity", json!("None")),
            ("/spec/internalTrafficPolicy", json!("Cluster")),
            ("/spec/ports/0/protocol", json!("TCP")),
            ("/spec/ports/0/targetPort", json!(9376)),
            ("/spec/externalTrafficPolicy", Value::Null),
            ("/status/loadBalancer", json!({})),
        ],
    );
    // A second port needs names on both.
    let changed = svc.replace(
        "  - protocol: TCP\n    port: 80\n    targetPort: 9376\n",
        "  - name: http\n    protocol: TCP\n    port: 80\n    targetPort: 9376\n  - name: https\n    port: 443\n    targetPort: 9377\n",
    );
    apply(&c, &changed, &["service/my-service configured"]);
    expect_table(
        &c,
        &["service", "my-service"],
        &header,
        "my-service",
        &[("PORT(S)", "80/TCP,443/TCP")],
    );
    expect(
        &c.get_json(&["service", "my-service"]),
        &[
            ("/spec/ports/0/name", json!("http")),
            ("/spec/ports/1/protocol", json!("TCP")),
        ],
    );
    let err = rejected(
        &c,
        "apply",
        &changed.replace("  - name: https\n    port: 443\n", "  - port: 443\n"),
    );
    contains_all(
        &err,
        &[
            "The Service \"my-service\" is invalid",
            "spec.ports[1].name: Required value",
        ],
    );
    delete(&c, &changed, &["service \"my-service\" deleted"]);
    gone(&c, &["svc", "my-service"]);

    // The other types.
    let kinds = manifest!("service-kinds.yaml");
    apply(
        &c,
        kinds,
        &[
            "service/web-nodeport created",
            "service/web-lb created",
            "service/my-database created",
            "service/nginx-headless created",
        ],
    );
    expect_table(
        &c,
        &["svc", "web-nodeport"],
        &header,
        "web-nodeport",
        &[("TYPE", "NodePort"), ("PORT(S)", "80:30007/TCP")],
    );
    expect_table(
        &c,
        &["svc", "web-lb"],
        &header,
        "web-lb",
        &[("TYPE", "LoadBalancer"), ("EXTERNAL-IP", "<pending>")],
    );
    expect_table(
        &c,
        &["svc", "my-database"],
        &header,
        "my-database",
        &[
            ("TYPE", "ExternalName"),
            ("CLUSTER-IP", "<none>"),
            ("EXTERNAL-IP", "my.database.example.com"),
            ("PORT(S)", "<none>"),
        ],
    );
    expect_table(
        &c,
        &["svc", "nginx-headless"],
        &header,
        "nginx-headless",
        &[
            ("TYPE", "ClusterIP"),
            ("CLUSTER-IP", "None"),
            ("PORT(S)", "80/TCP"),
        ],
    );
    expect(
        &c.get_json(&["svc", "web-nodeport"]),
        &[
            ("/spec/externalTrafficPolicy", json!("Cluster")),
            ("/spec/ports/0/nodePort", json!(30007)),
        ],
    );
    expect(
        &c.get_json(&["svc", "web-lb"]),
        &[
            ("/spec/allocateLoadBalancerNodePorts", json!(true)),
            ("/spec/externalTrafficPolicy", json!("Cluster")),
        ],
    );
    expect(
        &c.get_json(&["svc", "my-database"]),
        &[
            ("/spec/type", json!("ExternalName")),
            ("/spec/sessionAffinity", json!("None")),
            ("/spec/clusterIP", Value::Null),
            ("/spec/internalTrafficPolicy", Value::Null),
        ],
    );
    expect(
        &c.get_json(&["svc", "nginx-headless"]),
        &[
            ("/spec/clusterIP", json!("None")),
            ("/spec/clusterIPs", json!(["None"])),
        ],
    );
    delete(
        &c,
        kinds,
        &[
            "service \"web-nodeport\" deleted",
            "service \"web-lb\" deleted",
            "service \"my-database\" deleted",
            "service \"nginx-headless\" deleted",
        ],
    );

    // Endpoints written by hand, for a service without a selector.
    let ep = manifest!("endpoints.yaml");
    apply(&c, ep, &["endpoints/my-external-service created"]);
    expect_table(
        &c,
        &["ep", "my-external-service"],
        &["NAME", "ENDPOINTS", "AGE"],
        "my-external-service",
        &[("ENDPOINTS", "192.0.2.42:9376,192.0.2.43:9376")],
    );
    expect(
        &c.get_json(&["endpoints", "my-external-service"]),
        &[("/subsets/0/ports/0/protocol", json!("TCP"))],
    );
    let changed = ep.replace(
        "  - port: 9376\n",
        "  - port: 9376\n    name: http\n  - port: 9377\n    name: metrics\n",
    );
    apply(&c, &changed, &["endpoints/my-external-service configured"]);
    expect_table(
        &c,
        &["endpoints", "my-external-service"],
        &["NAME", "ENDPOINTS", "AGE"],
        "my-external-service",
        &[(
            "ENDPOINTS",
            "192.0.2.42:9376,192.0.2.43:9376,192.0.2.42:9377 + 1 more...",
        )],
    );
    delete(&c, &changed, &["endpoints \"my-external-service\" deleted"]);
    gone(&c, &["endpoints", "my-external-service"]);
}

#[test]
fn service_ips_and_node_ports_are_allocated() {
    let c = Cluster::start_with(API_ONLY);
    apply(&c, manifest!("service.yaml"), &["service/my-service created"]);
    apply(&c, manifest!("service-kinds.yaml"), &["service/web-lb created"]);
    let s = c.get_json(&["svc", "my-service"]);
    let ip = s["spec"]["clusterIP"].as_str().unwrap_or_default().to_string();
    assert!(ip.starts_with("10.43."), "no cluster IP from 10.43.0.0/16: {s}");
    expect(
        &s,
        &[
            ("/spec/clusterIPs", json!([ip])),
            ("/spec/ipFamilies", json!(["IPv4"])),
            ("/spec/ipFamilyPolicy", json!("SingleStack")),
        ],
    );
    expect_table(
        &c,
        &["svc", "my-service"],
        &["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"],
        "my-service",
        &[("CLUSTER-IP", &ip)],
    );
    // A headless Service gets IP families too.
    expect(
        &c.get_json(&["svc", "nginx-headless"]),
        &[
            ("/spec/ipFamilies", json!(["IPv4"])),
            ("/spec/ipFamilyPolicy", json!("SingleStack")),
        ],
    );
    let lb = c.get_json(&["svc", "web-lb"]);
    for i in 0..2 {
        let port = lb["spec"]["ports"][i]["nodePort"].as_u64().unwrap_or(0);
        assert!((30000..=32767).contains(&port), "no node port allocated: {lb}");
    }
    // The API server's own Service.
    let k = c.get_json(&["svc", "kubernetes", "-n", "default"]);
    expect(
        &k,
        &[
            ("/spec/clusterIP", json!("10.43.0.1")),
            ("/spec/ports/0/name", json!("https")),
            ("/spec/ports/0/port", json!(443)),
        ],
    );
}

#[test]
fn events_in_both_groups() {
    let c = Cluster::start_with(API_ONLY);
    let header = ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"];
    let wide = [
        "LAST SEEN",
        "TYPE",
        "REASON",
        "OBJECT",
        "SUBOBJECT",
        "SOURCE",
        "MESSAGE",
        "FIRST SEEN",
        "COUNT",
        "NAME",
    ];
    let core = manifest!("event.yaml");
    apply(&c, core, &["event/nginx.17a9b3c4d5e6f708 created"]);
    let new = manifest!("event-v1.yaml");
    apply(&c, new, &["event.events.k8s.io/web.17a9b3c4d5e6f709 created"]);
    // Both show in either group's list, with upstream's event columns.
    for resource in ["events", "events.v1.events.k8s.io"] {
        let out = c.ok(&["get", resource]);
        let t = Table::parse_all(&out).remove(0);
        assert_eq!(t.header, header, "{out}");
        let row = t.row_by("REASON", "Pulled");
        expect_row(
            &t,
            &row,
            &[
                ("TYPE", "Normal"),
                ("OBJECT", "pod/nginx"),
                ("MESSAGE", "Successfully pulled image \"nginx:1.14.2\" in 2.1s"),
            ],
        );
        let row = t.row_by("REASON", "ScalingReplicaSet");
        expect_row(
            &t,
            &row,
            &[
                ("OBJECT", "deployment/web"),
                ("MESSAGE", "Scaled up replica set web-5d4f9 to 3"),
            ],
        );
        let out = c.ok(&["get", resource, "-o", "wide"]);
        let t = Table::parse_all(&out).remove(0);
        assert_eq!(t.header, wide, "{out}");
        let row = t.row_by("NAME", "nginx.17a9b3c4d5e6f708");
        expect_row(
            &t,
            &row,
            &[
                ("SUBOBJECT", "spec.containers{nginx}"),
                ("SOURCE", "kubelet, worker-1"),
                ("COUNT", "1"),
            ],
        );
        let row = t.row_by("NAME", "web.17a9b3c4d5e6f709");
        expect_row(
            &t,
            &row,
            &[
                ("SOURCE", "example.com/rollout-checker, rollout-checker-5d4f9"),
                ("COUNT", "1"),
            ],
        );
    }
    // Each event read through the other group.
    let as_new = c.get_json(&["events.v1.events.k8s.io", "nginx.17a9b3c4d5e6f708"]);
    expect(
        &as_new,
        &[
            ("/apiVersion", json!("events.k8s.io/v1")),
            (
                "/note",
                json!("Successfully pulled image \"nginx:1.14.2\" in 2.1s"),
            ),
            ("/regarding/kind", json!("Pod")),
            ("/regarding/fieldPath", json!("spec.containers{nginx}")),
            ("/deprecatedCount", json!(1)),
            (
                "/deprecatedSource",
                json!({"component": "kubelet", "host": "worker-1"}),
            ),
            ("/deprecatedFirstTimestamp", json!("2025-01-01T10:00:00Z")),
            ("/message", Value::Null),
        ],
    );
    let as_core = c.get_json(&["events", "web.17a9b3c4d5e6f709"]);
    expect(
        &as_core,
        &[
            ("/apiVersion", json!("v1")),
            ("/message", json!("Scaled up replica set web-5d4f9 to 3")),
            ("/involvedObject/kind", json!("Deployment")),
            ("/reportingComponent", json!("example.com/rollout-checker")),
            ("/reportingInstance", json!("rollout-checker-5d4f9")),
            ("/action", json!("Scaling")),
            ("/note", Value::Null),
        ],
    );
    // The event recurs.
    let changed = core.replace("count: 1", "count: 2").replace(
        "lastTimestamp: \"2025-01-01T10:00:00Z\"",
        "lastTimestamp: \"2025-01-01T10:05:00Z\"",
    );
    apply(&c, &changed, &["event/nginx.17a9b3c4d5e6f708 configured"]);
    expect(
        &c.get_json(&["events", "nginx.17a9b3c4d5e6f708"]),
        &[
            ("/count", json!(2)),
            ("/lastTimestamp", json!("2025-01-01T10:05:00Z")),
            ("/firstTimestamp", json!("2025-01-01T10:00:00Z")),
        ],
    );
    let changed_new = new.replace("to 3", "to 4");
    apply(
        &c,
        &changed_new,
        &["event.events.k8s.io/web.17a9b3c4d5e6f709 configured"],
    );
    expect(
        &c.get_json(&["events.v1.events.k8s.io", "web.17a9b3c4d5e6f709"]),
        &[("/note", json!("Scaled up replica set web-5d4f9 to 4"))],
    );
    // events.k8s.io requires the fields its reporters fill in.
    let err = rejected(
        &c,
        "create",
        &new.replace("web.17a9b3c4d5e6f709", "incomplete")
            .replace("action: Scaling\n", ""),
    );
    contains_all(
        &err,
        &["The Event \"incomplete\" is invalid: action: Required value"],
    );
    delete(&c, &changed, &["event \"nginx.17a9b3c4d5e6f708\" deleted"]);
    delete(
        &c,
        &changed_new,
        &["event.events.k8s.io \"web.17a9b3c4d5e6f709\" deleted"],
    );
    gone(&c, &["events", "nginx.17a9b3c4d5e6f708"]);
    gone(&c, &["events.v1.events.k8s.io", "web.17a9b3c4d5e6f709"]);
}

#[test]
fn events_k8s_io_validation_speaks_its_own_fields() {
    let c = Cluster::start_with(API_ONLY);
    let new = manifest!("event-v1.yaml");
    let err = rejected(
        &c,
        "create",
        &new.replace("reportingController: example.com/rollout-checker\n", ""),
    );
    contains_all(&err, &["reportingController: Required value"]);
    assert!(!err.contains("reportingComponent"), "{err}");
    // events.k8s.io/v1 creates must leave the deprecated fields unset.
    let err = rejected(&c, "create", &(new.to_string() + "deprecatedCount: 3\n"));
    contains_all(&err, &["count: Invalid value: \"\": needs to be unset"]);
}
