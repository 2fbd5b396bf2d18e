//! Defaulted objects compared with what `kubectl get -o json` shows on a v1.33 cluster.

use serde_json::{Value, json};

use super::*;

fn create(group: &str, kind: &str, mut obj: Value) -> Value {
    apply(group, kind, &mut obj);
    prepare_create(group, kind, &mut obj);
    obj
}

/// What `kubectl create deployment web --image=nginx --dry-run=client -o json` sends.
fn kubectl_deployment() -> Value {
    json!({
        "kind": "Deployment", "apiVersion": "apps/v1",
        "metadata": {"name": "web", "creationTimestamp": null, "labels": {"app": "web"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"creationTimestamp": null, "labels": {"app": "web"}},
                "spec": {"containers": [{"name": "nginx", "image": "nginx", "resources": {}}]}
            },
            "strategy": {}
        },
        "status": {}
    })
}

#[test]
fn deployment_like_upstream() {
    let got = create("apps", "Deployment", kubectl_deployment());
    let want = json!({
        "kind": "Deployment", "apiVersion": "apps/v1",
        "metadata": {"name": "web", "creationTimestamp": null, "labels": {"app": "web"}, "generation": 1},
        "spec": {
            "progressDeadlineSeconds": 600,
            "replicas": 1,
            "revisionHistoryLimit": 10,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}, "type": "RollingUpdate"},
            "template": {
                "metadata": {"creationTimestamp": null, "labels": {"app": "web"}},
                "spec": {
                    "containers": [{
                        "image": "nginx", "imagePullPolicy": "Always", "name": "nginx", "resources": {},
                        "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"
                    }],
                    "dnsPolicy": "ClusterFirst", "restartPolicy": "Always", "schedulerName": "default-scheduler",
                    "securityContext": {}, "terminationGracePeriodSeconds": 30
                }
            }
        },
        "status": {}
    });
    assert_eq!(got, want);
    // Defaulting is idempotent.
    let mut again = got.clone();
    apply("apps", "Deployment", &mut again);
    assert_eq!(again, got);
}

#[test]
fn pod_like_upstream() {
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p", "namespace": "default", "labels": {"run": "p"}},
        "spec": {"containers": [{"name": "p", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}]}
    });
    let got = create("", "Pod", pod);
    let want = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p", "namespace": "default", "labels": {"run": "p"}, "generation": 1},
        "spec": {
            "containers": [{
                "image": "nginx:1.27", "imagePullPolicy": "IfNotPresent", "name": "p",
                "ports": [{"containerPort": 80, "protocol": "TCP"}],
                "resources": {},
                "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"
            }],
            "dnsPolicy": "ClusterFirst", "enableServiceLinks": true,
            "preemptionPolicy": "PreemptLowerPriority", "priority": 0,
            "restartPolicy": "Always", "schedulerName": "default-scheduler", "securityContext": {},
            "terminationGracePeriodSeconds": 30
        },
        "status": {"phase": "Pending", "qosClass": "BestEffort"}
    });
    assert_eq!(got, want);
}

#[test]
fn pod_requests_from_limits_and_qos() {
    let pod = json!({"spec": {"containers": [
        {"name": "a", "image": "x", "resources": {"limits": {"cpu": "0.5", "memory": "128Mi"}}},
    ]}});
    let got = create("", "Pod", pod);
    assert_eq!(
        got["spec"]["containers"][0]["resources"],
        json!({"limits": {"cpu": "500m", "memory": "128Mi"}, "requests": {"cpu": "500m", "memory": "128Mi"}})
    );
    assert_eq!(got["status"]["qosClass"], "Guaranteed");
    let burst = json!({"spec": {"containers": [
        {"name": "a", "image": "x", "resources": {"requests": {"cpu": "100m"}}},
    ]}});
    assert_eq!(create("", "Pod", burst)["status"]["qosClass"], "Burstable");
}

#[test]
fn probes_env_and_volumes() {
    let mut pod = json!({"spec": {
        "containers": [{
            "name": "a", "image": "x",
            "livenessProbe": {"httpGet": {"port": 80}},
            "env": [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]
        }],
        "volumes": [{"name": "a"}, {"name": "b", "secret": {"secretName": "s"}},
                    {"name": "c", "configMap": {"name": "c"}}, {"name": "d", "hostPath": {"path": "/x"}}]
    }});
    apply("", "Pod", &mut pod);
    let c = &pod["spec"]["containers"][0];
    assert_eq!(
        c["livenessProbe"],
        json!({"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"}, "timeoutSeconds": 1,
               "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3})
    );
    assert_eq!(c["env"][0]["valueFrom"]["fieldRef"]["apiVersion"], "v1");
    let v = &pod["spec"]["volumes"];
    assert_eq!(v[0], json!({"name": "a", "emptyDir": {}}));
    assert_eq!(v[1]["secret"]["defaultMode"], 420);
    assert_eq!(v[2]["configMap"]["defaultMode"], 420);
    assert_eq!(v[3]["hostPath"]["type"], "");

    let mut pod = json!({"spec": {"containers": [{"name": "a", "image": "x"}], "volumes": [
        {"name": "info", "downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}},
        {"name": "all", "projected": {"sources": [{"downwardAPI": {"items": [
            {"path": "cpu", "resourceFieldRef": {"containerName": "a", "resource": "limits.cpu", "divisor": "0.001"}}]}}]}}]}});
    apply("", "Pod", &mut pod);
    let v = &pod["spec"]["volumes"];
    assert_eq!(v[0]["downwardAPI"]["items"][0]["fieldRef"]["apiVersion"], "v1");
    assert_eq!(v[0]["downwardAPI"]["defaultMode"], 420);
    assert_eq!(
        v[1]["projected"]["sources"][0]["downwardAPI"]["items"][0]["resourceFieldRef"]["divisor"],
        "1m"
    );
}

#[test]
fn job_generated_selector() {
    let job = json!({
        "kind": "Job", "apiVersion": "batch/v1",
        "metadata": {"name": "j", "uid": "u-1"},
        "spec": {"template": {"metadata": {"creationTimestamp": null},
            "spec": {"containers": [{"name": "j", "image": "busybox", "resources": {}}], "restartPolicy": "Never"}}}
    });
    let got = create("batch", "Job", job);
    let labels = json!({"batch.kubernetes.io/controller-uid": "u-1", "batch.kubernetes.io/job-name": "j",
                        "controller-uid": "u-1", "job-name": "j"});
    assert_eq!(got["spec"]["template"]["metadata"]["labels"], labels);
    assert_eq!(got["metadata"]["labels"], labels);
    assert_eq!(
        got["spec"]["selector"],
        json!({"matchLabels": {"batch.kubernetes.io/controller-uid": "u-1"}})
    );
    for (k, v) in [
        ("backoffLimit", json!(6)),
        ("completions", json!(1)),
        ("parallelism", json!(1)),
        ("completionMode", json!("NonIndexed")),
        ("suspend", json!(false)),
        ("podReplacementPolicy", json!("TerminatingOrFailed")),
    ] {
        assert_eq!(got["spec"][k], v, "{k}");
    }
    assert_eq!(got["metadata"]["generation"], 1);
}

#[test]
fn cron_job_template_gets_only_pod_defaults() {
    let cj = json!({"spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {"spec": {
        "containers": [{"name": "c", "image": "busybox"}], "restartPolicy": "OnFailure"}}}}}});
    let got = create("batch", "CronJob", cj);
    assert_eq!(got["spec"]["concurrencyPolicy"], "Allow");
    assert_eq!(got["spec"]["successfulJobsHistoryLimit"], 3);
    assert_eq!(got["spec"]["failedJobsHistoryLimit"], 1);
    assert!(got["spec"]["jobTemplate"]["spec"].get("backoffLimit").is_none());
    assert_eq!(
        got["spec"]["jobTemplate"]["spec"]["template"]["spec"]["dnsPolicy"],
        "ClusterFirst"
    );
}

#[test]
fn workload_defaults() {
    let sts = create(
        "apps",
        "StatefulSet",
        json!({"spec": {"template": {"spec": {"containers": []}},
        "volumeClaimTemplates": [{"metadata": {"name": "www"}, "spec": {"accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "1Gi"}}}}]}}),
    );
    let s = &sts["spec"];
    assert_eq!(s["podManagementPolicy"], "OrderedReady");
    assert_eq!(
        s["updateStrategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
    );
    assert_eq!(
        s["persistentVolumeClaimRetentionPolicy"],
        json!({"whenDeleted": "Retain", "whenScaled": "Retain"})
    );
    let claim = &s["volumeClaimTemplates"][0];
    assert_eq!(claim["apiVersion"], "v1");
    assert_eq!(claim["spec"]["volumeMode"], "Filesystem");
    assert_eq!(claim["status"], json!({"phase": "Pending"}));
    assert_eq!(sts["status"], json!({"availableReplicas": 0, "replicas": 0}));

    let ds = create(
        "apps",
        "DaemonSet",
        json!({"metadata": {"name": "d"}, "spec": {}}),
    );
    assert_eq!(
        ds["spec"]["updateStrategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}})
    );
    assert_eq!(ds["metadata"]["annotations"][DAEMONSET_TEMPLATE_GENERATION], "1");

    let rc = create(
        "",
        "ReplicationController",
        json!({"spec": {"template": {"metadata": {"labels": {"a": "b"}}}}}),
    );
    assert_eq!(rc["spec"]["selector"], json!({"a": "b"}));
    assert_eq!(rc["metadata"]["labels"], json!({"a": "b"}));
    assert_eq!(rc["spec"]["replicas"], 1);
}

#[test]
fn service_defaults() {
    let svc = create(
        "",
        "Service",
        json!({"metadata": {"name": "s"}, "spec": {
        "selector": {"app": "web"}, "ports": [{"port": 80}, {"port": 443, "targetPort": "https"}]}}),
    );
    let s = &svc["spec"];
    assert_eq!(s["type"], "ClusterIP");
    assert_eq!(s["sessionAffinity"], "None");
    assert_eq!(s["internalTrafficPolicy"], "Cluster");
    assert_eq!(
        s["ports"][0],
        json!({"port": 80, "protocol": "TCP", "targetPort": 80})
    );
    assert_eq!(s["ports"][1]["targetPort"], "https");
    assert!(s.get("externalTrafficPolicy").is_none());
    assert_eq!(svc["status"], json!({"loadBalancer": {}}));

    let lb = create(
        "",
        "Service",
        json!({"spec": {"type": "LoadBalancer", "clusterIP": "10.0.0.5",
        "sessionAffinity": "ClientIP", "ports": [{"port": 80}]}}),
    );
    assert_eq!(lb["spec"]["externalTrafficPolicy"], "Cluster");
    assert_eq!(lb["spec"]["allocateLoadBalancerNodePorts"], true);
    assert_eq!(lb["spec"]["clusterIPs"], json!(["10.0.0.5"]));
    assert_eq!(
        lb["spec"]["sessionAffinityConfig"],
        json!({"clientIP": {"timeoutSeconds": 10800}})
    );
}

#[test]
fn service_update_keeps_allocations() {
    let old = json!({"spec": {"type": "NodePort", "clusterIP": "10.0.0.1", "clusterIPs": ["10.0.0.1"],
        "ports": [{"port": 80, "protocol": "TCP", "nodePort": 30080}]}});
    let mut new = json!({"spec": {"type": "NodePort", "ports": [{"port": 80}]}});
    apply("", "Service", &mut new);
    prepare_update("", "Service", &mut new, &old);
    assert_eq!(new["spec"]["clusterIP"], "10.0.0.1");
    assert_eq!(new["spec"]["ports"][0]["nodePort"], 30080);
}

#[test]
fn namespace_and_secret() {
    let ns = create("", "Namespace", json!({"metadata": {"name": "dev"}}));
    assert_eq!(
        ns["metadata"]["labels"],
        json!({"kubernetes.io/metadata.name": "dev"})
    );
    assert_eq!(ns["spec"], json!({"finalizers": ["kubernetes"]}));
    assert_eq!(ns["status"], json!({"phase": "Active"}));

    let s = create(
        "",
        "Secret",
        json!({"data": {"a": "eA=="}, "stringData": {"a": "hello", "b": "x"}}),
    );
    assert_eq!(
        s,
        json!({"type": "Opaque", "data": {"a": "aGVsbG8=", "b": "eA=="}})
    );
}

#[test]
fn storage_and_limits() {
    let pvc = create(
        "",
        "PersistentVolumeClaim",
        json!({"spec": {"accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": "1.5Gi"}}}}),
    );
    assert_eq!(pvc["spec"]["volumeMode"], "Filesystem");
    assert_eq!(pvc["spec"]["resources"]["requests"]["storage"], "1536Mi");
    assert_eq!(pvc["status"], json!({"phase": "Pending"}));
    let pv = create(
        "",
        "PersistentVolume",
        json!({"metadata": {"creationTimestamp": "2025-01-01T00:00:00Z"},
        "spec": {"capacity": {"storage": "1Gi"}, "hostPath": {"path": "/d"}}}),
    );
    assert_eq!(pv["spec"]["persistentVolumeReclaimPolicy"], "Retain");
    assert_eq!(pv["status"]["lastPhaseTransitionTime"], "2025-01-01T00:00:00Z");
    let lr = create(
        "",
        "LimitRange",
        json!({"spec": {"limits": [{"type": "Container",
        "max": {"cpu": "2"}, "min": {"memory": "64Mi"}}]}}),
    );
    assert_eq!(lr["spec"]["limits"][0]["default"], json!({"cpu": "2"}));
    assert_eq!(
        lr["spec"]["limits"][0]["defaultRequest"],
        json!({"cpu": "2", "memory": "64Mi"})
    );
    let sc = create("storage.k8s.io", "StorageClass", json!({"provisioner": "x"}));
    assert_eq!(sc["reclaimPolicy"], "Delete");
    assert_eq!(sc["volumeBindingMode"], "Immediate");
}

#[test]
fn other_groups() {
    let np = create(
        "networking.k8s.io",
        "NetworkPolicy",
        json!({"spec": {"podSelector": {},
        "egress": [{"ports": [{"port": 53}]}]}}),
    );
    assert_eq!(np["spec"]["policyTypes"], json!(["Ingress", "Egress"]));
    assert_eq!(np["spec"]["egress"][0]["ports"][0]["protocol"], "TCP");
    let rb = create(
        "rbac.authorization.k8s.io",
        "RoleBinding",
        json!({
        "roleRef": {"kind": "Role", "name": "r"},
        "subjects": [{"kind": "User", "name": "u"}, {"kind": "ServiceAccount", "name": "s"}]}),
    );
    assert_eq!(rb["roleRef"]["apiGroup"], "rbac.authorization.k8s.io");
    assert_eq!(rb["subjects"][0]["apiGroup"], "rbac.authorization.k8s.io");
    // Upstream's default for a ServiceAccount is "", which it omits on output.
    assert!(rb["subjects"][1].get("apiGroup").is_none(), "{rb}");
    let hpa = create(
        "autoscaling",
        "HorizontalPodAutoscaler",
        json!({"apiVersion": "autoscaling/v2",
        "spec": {"maxReplicas": 3, "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}}}),
    );
    assert_eq!(hpa["spec"]["minReplicas"], 1);
    assert_eq!(
        hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
        80
    );
    assert_eq!(
        hpa["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"],
        60
    );
    assert_eq!(hpa["spec"]["behavior"]["scaleUp"]["selectPolicy"], "Max");
    assert_eq!(
        hpa["spec"]["behavior"]["scaleUp"]["stabilizationWindowSeconds"],
        0
    );
    // Scale-down rules get policies and selectPolicy, but no stabilization window.
    let hpa = create(
        "autoscaling",
        "HorizontalPodAutoscaler",
        json!({"apiVersion": "autoscaling/v2",
        "spec": {"maxReplicas": 3, "behavior": {"scaleUp": {"selectPolicy": "Min"}}}}),
    );
    let down = &hpa["spec"]["behavior"]["scaleDown"];
    assert_eq!(
        *down,
        json!({"selectPolicy": "Max", "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]})
    );
    assert_eq!(hpa["spec"]["behavior"]["scaleUp"]["selectPolicy"], "Min");
    let pc = create("scheduling.k8s.io", "PriorityClass", json!({"value": 5}));
    assert_eq!(pc["preemptionPolicy"], "PreemptLowerPriority");
    let es = create(
        "discovery.k8s.io",
        "EndpointSlice",
        json!({"ports": [{"port": 80}]}),
    );
    assert_eq!(es["ports"][0], json!({"name": "", "port": 80, "protocol": "TCP"}));
    let crd = create(
        "apiextensions.k8s.io",
        "CustomResourceDefinition",
        json!({"spec": {
        "names": {"kind": "Widget", "plural": "widgets"},
        "versions": [{"name": "v1", "served": true, "storage": true}]}}),
    );
    assert_eq!(crd["spec"]["names"]["singular"], "widget");
    assert_eq!(crd["spec"]["names"]["listKind"], "WidgetList");
    assert_eq!(crd["spec"]["conversion"], json!({"strategy": "None"}));
    assert_eq!(crd["status"]["storedVersions"], json!(["v1"]));
}

#[test]
fn pods_track_their_generation() {
    let old = create(
        "",
        "Pod",
        json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}),
    );
    assert_eq!(old["metadata"]["generation"], 1);
    let mut relabeled = old.clone();
    relabeled["metadata"]["labels"] = json!({"a": "b"});
    prepare_update("", "Pod", &mut relabeled, &old);
    assert_eq!(relabeled["metadata"]["generation"], 1);
    let mut new_image = old.clone();
    new_image["spec"]["containers"][0]["image"] = json!("nginx:1.28");
    prepare_update("", "Pod", &mut new_image, &old);
    assert_eq!(new_image["metadata"]["generation"], 2);
}

#[test]
fn generation_bumps_on_spec_change() {
    let old = create("apps", "Deployment", kubectl_deployment());
    let mut same = old.clone();
    prepare_update("apps", "Deployment", &mut same, &old);
    assert_eq!(same["metadata"]["generation"], 1);
    let mut changed = old.clone();
    changed["spec"]["replicas"] = json!(3);
    prepare_update("apps", "Deployment", &mut changed, &old);
    assert_eq!(changed["metadata"]["generation"], 2);
}

#[test]
fn tolerates_odd_shapes() {
    for (g, k) in [
        ("", "Pod"),
        ("apps", "Deployment"),
        ("batch", "Job"),
        ("", "Service"),
        ("", "Namespace"),
    ] {
        for mut v in [
            json!(null),
            json!({}),
            json!({"spec": null}),
            json!({"spec": {"template": 3}}),
        ] {
            apply(g, k, &mut v);
            prepare_create(g, k, &mut v);
        }
    }
}
