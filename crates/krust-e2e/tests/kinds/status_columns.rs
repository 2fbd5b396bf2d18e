//! Status written by controllers, get all, short names and explain.

use super::*;

/// `kubectl patch ARGS --subresource=status --type=merge -p PATCH`.
fn patch_status(c: &Cluster, args: &[&str], patch: &str) {
    let mut a = vec!["patch"];
    a.extend_from_slice(args);
    a.extend_from_slice(&["--subresource=status", "--type=merge", "-p", patch]);
    c.ok(&a);
}

#[test]
fn status_written_by_controllers_shows_in_the_columns() {
    let c = Cluster::start_with(API_ONLY);
    for m in [
        manifest!("deployment.yaml"),
        manifest!("statefulset.yaml"),
        manifest!("replicaset.yaml"),
        manifest!("job.yaml"),
        manifest!("cronjob.yaml"),
        manifest!("service-kinds.yaml"),
        manifest!("ingress.yaml"),
        manifest!("pod.yaml"),
        manifest!("poddisruptionbudget.yaml"),
        manifest!("hpa.yaml"),
        manifest!("persistentvolume.yaml"),
        manifest!("persistentvolumeclaim.yaml"),
        manifest!("node.yaml"),
    ] {
        c.ok_stdin(&["apply", "-f", "-"], m);
    }

    patch_status(
        &c,
        &["deployment", "nginx-deployment"],
        r#"{"status":{"observedGeneration":1,"replicas":3,"updatedReplicas":3,"readyReplicas":2,"availableReplicas":2,"unavailableReplicas":1}}"#,
    );
    expect_table(
        &c,
        &["deploy", "nginx-deployment"],
        &["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
        "nginx-deployment",
        &[("READY", "2/3"), ("UP-TO-DATE", "3"), ("AVAILABLE", "2")],
    );
    // A later apply of the manifest leaves the status alone.
    c.ok_stdin(
        &["apply", "-f", "-"],
        &manifest!("deployment.yaml").replace("nginx:1.14.2", "nginx:1.16.1"),
    );
    expect(
        &c.get_json(&["deploy", "nginx-deployment"]),
        &[
            ("/status/readyReplicas", json!(2)),
            ("/metadata/generation", json!(2)),
        ],
    );

    patch_status(
        &c,
        &["statefulset", "web"],
        r#"{"status":{"replicas":3,"readyReplicas":1,"currentReplicas":3,"updatedReplicas":3,"availableReplicas":1}}"#,
    );
    expect_table(
        &c,
        &["sts", "web"],
        &["NAME", "READY", "AGE"],
        "web",
        &[("READY", "1/3")],
    );

    patch_status(
        &c,
        &["replicaset", "frontend"],
        r#"{"status":{"replicas":3,"readyReplicas":3,"availableReplicas":3,"fullyLabeledReplicas":3}}"#,
    );
    expect_table(
        &c,
        &["rs", "frontend"],
        &["NAME", "DESIRED", "CURRENT", "READY", "AGE"],
        "frontend",
        &[("CURRENT", "3"), ("READY", "3")],
    );

    patch_status(
        &c,
        &["job", "pi"],
        r#"{"status":{"startTime":"2025-01-01T10:00:00Z","completionTime":"2025-01-01T10:00:35Z","succeeded":1,
            "conditions":[
              {"type":"SuccessCriteriaMet","status":"True","lastProbeTime":"2025-01-01T10:00:35Z","lastTransitionTime":"2025-01-01T10:00:35Z"},
              {"type":"Complete","status":"True","lastProbeTime":"2025-01-01T10:00:35Z","lastTransitionTime":"2025-01-01T10:00:35Z"}]}}"#,
    );
    expect_table(
        &c,
        &["job", "pi"],
        &["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"],
        "pi",
        &[
            ("STATUS", "Complete"),
            ("COMPLETIONS", "1/1"),
            ("DURATION", "35s"),
        ],
    );

    patch_status(
        &c,
        &["cronjob", "hello"],
        r#"{"status":{"active":[{"apiVersion":"batch/v1","kind":"Job","name":"hello-29000000","namespace":"default"}],"lastScheduleTime":"2025-01-01T10:00:00Z"}}"#,
    );
    let t = expect_table(
        &c,
        &["cj", "hello"],
        &[
            "NAME",
            "SCHEDULE",
            "TIMEZONE",
            "SUSPEND",
            "ACTIVE",
            "LAST SCHEDULE",
            "AGE",
        ],
        "hello",
        &[("ACTIVE", "1")],
    );
    assert!(is_age(&t.rows[0][5]), "{t:#?}");

    patch_status(
        &c,
        &["service", "web-lb"],
        r#"{"status":{"loadBalancer":{"ingress":[{"ip":"203.0.113.10","ipMode":"VIP"}]}}}"#,
    );
    expect_table(
        &c,
        &["svc", "web-lb"],
        &["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"],
        "web-lb",
        &[("EXTERNAL-IP", "203.0.113.10")],
    );
    patch_status(
        &c,
        &["ingress", "minimal-ingress"],
        r#"{"status":{"loadBalancer":{"ingress":[{"ip":"203.0.113.20"}]}}}"#,
    );
    expect_table(
        &c,
        &["ing", "minimal-ingress"],
        &["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"],
        "minimal-ingress",
        &[("ADDRESS", "203.0.113.20")],
    );

    patch_status(
        &c,
        &["pod", "nginx"],
        r#"{"status":{"phase":"Running","podIP":"10.42.1.7","podIPs":[{"ip":"10.42.1.7"}],"hostIP":"192.168.1.11",
            "startTime":"2025-01-01T10:00:00Z","conditions":[{"type":"Ready","status":"True"}],
            "containerStatuses":[{"name":"nginx","ready":true,"started":true,"restartCount":2,"image":"nginx:1.14.2","imageID":"",
              "state":{"running":{"startedAt":"2025-01-01T10:00:00Z"}}}]}}"#,
    );
    expect_table(
        &c,
        &["pod", "nginx", "-o", "wide"],
        &[
            "NAME",
            "READY",
            "STATUS",
            "RESTARTS",
            "AGE",
            "IP",
            "NODE",
            "NOMINATED NODE",
            "READINESS GATES",
        ],
        "nginx",
        &[
            ("READY", "1/1"),
            ("STATUS", "Running"),
            ("RESTARTS", "2"),
            ("IP", "10.42.1.7"),
        ],
    );

    patch_status(
        &c,
        &["pdb", "zk-pdb"],
        r#"{"status":{"currentHealthy":3,"desiredHealthy":2,"disruptionsAllowed":1,"expectedPods":3,"observedGeneration":1}}"#,
    );
    expect_table(
        &c,
        &["pdb", "zk-pdb"],
        &[
            "NAME",
            "MIN AVAILABLE",
            "MAX UNAVAILABLE",
            "ALLOWED DISRUPTIONS",
            "AGE",
        ],
        "zk-pdb",
        &[("ALLOWED DISRUPTIONS", "1")],
    );

    patch_status(
        &c,
        &["hpa", "php-apache"],
        r#"{"status":{"currentReplicas":2,"desiredReplicas":2,"currentMetrics":[{"type":"Resource","resource":{"name":"cpu","current":{"averageUtilization":30,"averageValue":"60m"}}}]}}"#,
    );
    expect_table(
        &c,
        &["hpa", "php-apache"],
        &[
            "NAME",
            "REFERENCE",
            "TARGETS",
            "MINPODS",
            "MAXPODS",
            "REPLICAS",
            "AGE",
        ],
        "php-apache",
        &[("TARGETS", "cpu: 30%/50%"), ("REPLICAS", "2")],
    );
    expect(
        &c.get_json(&["horizontalpodautoscalers.v1.autoscaling", "php-apache"]),
        &[("/status/currentCPUUtilizationPercentage", json!(30))],
    );

    // The volume controller binds the claim: once, volumeName may be set on the claim.
    c.ok(&[
        "patch",
        "pvc",
        "task-pv-claim",
        "--type=merge",
        "-p",
        r#"{"spec":{"volumeName":"task-pv-volume"}}"#,
    ]);
    patch_status(
        &c,
        &["pvc", "task-pv-claim"],
        r#"{"status":{"phase":"Bound","accessModes":["ReadWriteOnce"],"capacity":{"storage":"10Gi"}}}"#,
    );
    patch_status(&c, &["pv", "task-pv-volume"], r#"{"status":{"phase":"Bound"}}"#);
    expect_table(
        &c,
        &["pvc", "task-pv-claim"],
        &[
            "NAME",
            "STATUS",
            "VOLUME",
            "CAPACITY",
            "ACCESS MODES",
            "STORAGECLASS",
            "VOLUMEATTRIBUTESCLASS",
            "AGE",
        ],
        "task-pv-claim",
        &[
            ("STATUS", "Bound"),
            ("VOLUME", "task-pv-volume"),
            ("CAPACITY", "10Gi"),
            ("ACCESS MODES", "RWO"),
        ],
    );
    let err = c.fails(&[
        "patch",
        "pvc",
        "task-pv-claim",
        "--type=merge",
        "-p",
        r#"{"spec":{"volumeName":"other-volume"}}"#,
    ]);
    contains_all(&err, &["spec is immutable after creation"]);

    // Cordoned.
    c.ok(&["cordon", "worker-1"]);
    expect_table(
        &c,
        &["node", "worker-1"],
        &["NAME", "STATUS", "ROLES", "AGE", "VERSION"],
        "worker-1",
        &[("STATUS", "Ready,SchedulingDisabled")],
    );
}

// ---------------------------------------------------------------------------------------
// Across kinds
// ---------------------------------------------------------------------------------------

#[test]
fn get_all_short_names_and_explain() {
    let c = Cluster::start_with(API_ONLY);
    for m in [
        manifest!("pod.yaml"),
        manifest!("service.yaml"),
        manifest!("deployment.yaml"),
        manifest!("replicaset.yaml"),
        manifest!("statefulset.yaml"),
        manifest!("replicationcontroller.yaml"),
        manifest!("job.yaml"),
        manifest!("cronjob.yaml"),
        manifest!("hpa.yaml"),
        manifest!("configmap.yaml"),
        manifest!("serviceaccount.yaml"),
        manifest!("endpoints.yaml"),
        manifest!("event.yaml"),
        manifest!("limitrange.yaml"),
        manifest!("resourcequota.yaml"),
        manifest!("persistentvolumeclaim.yaml"),
        manifest!("persistentvolume.yaml"),
        manifest!("namespace.yaml"),
        manifest!("node.yaml"),
        manifest!("ingress.yaml"),
        manifest!("networkpolicy.yaml"),
        manifest!("poddisruptionbudget.yaml"),
        manifest!("priorityclass.yaml"),
        manifest!("storageclass.yaml"),
        manifest!("crd.yaml"),
    ] {
        c.ok_stdin(&["apply", "-f", "-"], m);
    }
    let ds = manifest!("daemonset.yaml").replace("  namespace: kube-system\n", "");
    c.ok_stdin(&["apply", "-f", "-"], &ds);
    // The "all" category: every workload kind, in discovery order, and nothing else.
    let out = c.ok(&["get", "all"]);
    let tables = Table::parse_all(&out);
    let firsts: Vec<&str> = tables.iter().map(|t| t.rows[0][0].as_str()).collect();
    assert_eq!(
        firsts,
        [
            "pod/nginx",
            "replicationcontroller/nginx",
            "service/kubernetes",
            "daemonset.apps/fluentd-elasticsearch",
            "deployment.apps/nginx-deployment",
            "replicaset.apps/frontend",
            "statefulset.apps/web",
            "horizontalpodautoscaler.autoscaling/php-apache",
            "cronjob.batch/hello",
            "job.batch/pi",
        ],
        "{out}"
    );
    assert_eq!(
        tables[4].header,
        ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
        "{out}"
    );
    // Every short name of every kind.
    let out = c.ok(&["get", "deploy,svc,po,cm", "-o", "name"]);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "deployment.apps/nginx-deployment",
            "service/kubernetes",
            "service/my-service",
            "pod/nginx",
            "configmap/game-demo",
        ],
        "{out}"
    );
    let out = c.ok(&["get", "deploy,svc,po,cm"]);
    let headers: Vec<Vec<String>> = Table::parse_all(&out).into_iter().map(|t| t.header).collect();
    assert_eq!(headers.len(), 4, "{out}");
    assert_eq!(
        headers[2],
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
        "{out}"
    );
    assert_eq!(headers[3], ["NAME", "DATA", "AGE"], "{out}");
    for (short, name) in [
        ("cm", "configmap/game-demo"),
        ("ep", "endpoints/my-external-service"),
        ("ev", "event/nginx.17a9b3c4d5e6f708"),
        ("limits", "limitrange/cpu-resource-constraint"),
        ("ns", "namespace/team-a"),
        ("no", "node/worker-1"),
        ("pvc", "persistentvolumeclaim/task-pv-claim"),
        ("pv", "persistentvolume/task-pv-volume"),
        ("po", "pod/nginx"),
        ("rc", "replicationcontroller/nginx"),
        ("quota", "resourcequota/compute-resources"),
        ("sa", "serviceaccount/build-robot"),
        ("svc", "service/my-service"),
        ("ds", "daemonset.apps/fluentd-elasticsearch"),
        ("deploy", "deployment.apps/nginx-deployment"),
        ("rs", "replicaset.apps/frontend"),
        ("sts", "statefulset.apps/web"),
        ("hpa", "horizontalpodautoscaler.autoscaling/php-apache"),
        ("cj", "cronjob.batch/hello"),
        ("ing", "ingress.networking.k8s.io/minimal-ingress"),
        ("netpol", "networkpolicy.networking.k8s.io/test-network-policy"),
        ("pdb", "poddisruptionbudget.policy/zk-pdb"),
        ("sc", "storageclass.storage.k8s.io/shared-path"),
        ("pc", "priorityclass.scheduling.k8s.io/high-priority"),
        (
            "crd",
            "customresourcedefinition.apiextensions.k8s.io/crontabs.stable.example.com",
        ),
        (
            "crds",
            "customresourcedefinition.apiextensions.k8s.io/crontabs.stable.example.com",
        ),
    ] {
        let out = c.ok(&["get", short, "-o", "name"]);
        assert!(out.lines().any(|l| l == name), "kubectl get {short}: {out}");
    }

    // explain reads the OpenAPI v3 documents.
    let out = c.ok(&["explain", "deployment"]);
    contains_all(
        &out,
        &[
            "GROUP:      apps",
            "KIND:       Deployment",
            "VERSION:    v1",
            "Deployment enables declarative updates for Pods and ReplicaSets.",
            "FIELDS:",
            "spec\t<DeploymentSpec>",
            "status\t<DeploymentStatus>",
        ],
    );
    let out = c.ok(&["explain", "deploy.spec"]);
    contains_all(
        &out,
        &[
            "FIELD: spec <DeploymentSpec>",
            "replicas\t<integer>",
            "selector\t<LabelSelector> -required-",
            "template\t<PodTemplateSpec> -required-",
        ],
    );
    let out = c.ok(&["explain", "pods.spec.containers.image"]);
    contains_all(
        &out,
        &[
            "KIND:       Pod",
            "FIELD: image <string>",
            "Container image name.",
        ],
    );
    let out = c.ok(&["explain", "cronjob.spec.concurrencyPolicy"]);
    contains_all(
        &out,
        &["GROUP:      batch", "FIELD: concurrencyPolicy <string>", "Forbid"],
    );
    let out = c.ok(&["explain", "hpa.spec.behavior", "--api-version=autoscaling/v2"]);
    contains_all(
        &out,
        &[
            "VERSION:    v2",
            "scaleDown\t<HPAScalingRules>",
            "scaleUp\t<HPAScalingRules>",
        ],
    );
    let out = c.ok(&["explain", "networkpolicies.spec", "--recursive"]);
    contains_all(
        &out,
        &[
            "GROUP:      networking.k8s.io",
            "ipBlock\t<IPBlock>",
            "cidr\t<string> -required-",
        ],
    );
    let out = c.ok(&["explain", "sts.spec.volumeClaimTemplates"]);
    contains_all(&out, &["FIELD: volumeClaimTemplates <[]PersistentVolumeClaim>"]);
}
