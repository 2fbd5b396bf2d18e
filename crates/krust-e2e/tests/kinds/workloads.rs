//! Deployments, ReplicaSets, ReplicationControllers, StatefulSets, DaemonSets, ControllerRevisions, Jobs and CronJobs.

use super::*;

/// Upstream's defaults of a pod template's spec and its first container.
fn template_defaults(prefix: &str, pull: &str) -> Vec<(String, Value)> {
    let spec = format!("{prefix}/spec");
    let ctr = format!("{spec}/containers/0");
    vec![
        (format!("{prefix}/metadata/creationTimestamp"), Value::Null),
        (format!("{spec}/restartPolicy"), json!("Always")),
        (format!("{spec}/dnsPolicy"), json!("ClusterFirst")),
        (format!("{spec}/schedulerName"), json!("default-scheduler")),
        (format!("{spec}/securityContext"), json!({})),
        (format!("{ctr}/imagePullPolicy"), json!(pull)),
        (
            format!("{ctr}/terminationMessagePath"),
            json!("/dev/termination-log"),
        ),
        (format!("{ctr}/terminationMessagePolicy"), json!("File")),
        (format!("{ctr}/resources"), json!({})),
    ]
}

fn expect_owned(obj: &Value, checks: &[(String, Value)]) {
    let borrowed: Vec<(&str, Value)> = checks.iter().map(|(p, v)| (p.as_str(), v.clone())).collect();
    expect(obj, &borrowed);
}

#[test]
fn deployments_replica_sets_and_replication_controllers() {
    let c = Cluster::start_with(API_ONLY);

    let deploy = manifest!("deployment.yaml");
    apply(&c, deploy, &["deployment.apps/nginx-deployment created"]);
    expect_table(
        &c,
        &["deploy", "nginx-deployment"],
        &["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
        "nginx-deployment",
        &[("READY", "0/3"), ("UP-TO-DATE", "0"), ("AVAILABLE", "0")],
    );
    expect_table(
        &c,
        &["deployment", "nginx-deployment", "-o", "wide"],
        &[
            "NAME",
            "READY",
            "UP-TO-DATE",
            "AVAILABLE",
            "AGE",
            "CONTAINERS",
            "IMAGES",
            "SELECTOR",
        ],
        "nginx-deployment",
        &[
            ("CONTAINERS", "nginx"),
            ("IMAGES", "nginx:1.14.2"),
            ("SELECTOR", "app=nginx"),
        ],
    );
    let d = c.get_json(&["deployment", "nginx-deployment"]);
    expect(
        &d,
        &[
            ("/metadata/generation", json!(1)),
            ("/spec/strategy/type", json!("RollingUpdate")),
            ("/spec/strategy/rollingUpdate/maxSurge", json!("25%")),
            ("/spec/strategy/rollingUpdate/maxUnavailable", json!("25%")),
            ("/spec/revisionHistoryLimit", json!(10)),
            ("/spec/progressDeadlineSeconds", json!(600)),
            ("/spec/template/spec/terminationGracePeriodSeconds", json!(30)),
            ("/spec/template/spec/containers/0/ports/0/protocol", json!("TCP")),
            ("/status", json!({})),
        ],
    );
    expect_owned(&d, &template_defaults("/spec/template", "IfNotPresent"));
    let yaml = c.ok(&["get", "deploy", "nginx-deployment", "-o", "yaml"]);
    contains_all(
        &yaml,
        &["apiVersion: apps/v1", "kind: Deployment", "maxSurge: 25%"],
    );
    let changed = deploy
        .replace("nginx:1.14.2", "nginx:1.16.1")
        .replace("replicas: 3", "replicas: 5");
    apply(&c, &changed, &["deployment.apps/nginx-deployment configured"]);
    expect_table(
        &c,
        &["deploy", "nginx-deployment"],
        &["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
        "nginx-deployment",
        &[("READY", "0/5")],
    );
    expect(
        &c.get_json(&["deploy", "nginx-deployment"]),
        &[
            ("/metadata/generation", json!(2)),
            ("/spec/template/spec/containers/0/image", json!("nginx:1.16.1")),
        ],
    );
    let err = rejected(
        &c,
        "apply",
        &changed.replace("      app: nginx\n  template", "      app: web\n  template"),
    );
    contains_all(
        &err,
        &["The Deployment \"nginx-deployment\" is invalid", "spec.selector"],
    );
    delete(&c, &changed, &["deployment.apps \"nginx-deployment\" deleted"]);
    gone(&c, &["deploy", "nginx-deployment"]);

    let rs = manifest!("replicaset.yaml");
    apply(&c, rs, &["replicaset.apps/frontend created"]);
    let rs_wide = [
        "NAME",
        "DESIRED",
        "CURRENT",
        "READY",
        "AGE",
        "CONTAINERS",
        "IMAGES",
        "SELECTOR",
    ];
    expect_table(
        &c,
        &["rs", "frontend"],
        &["NAME", "DESIRED", "CURRENT", "READY", "AGE"],
        "frontend",
        &[("DESIRED", "3"), ("CURRENT", "0"), ("READY", "0")],
    );
    expect_table(
        &c,
        &["replicaset", "frontend", "-o", "wide"],
        &rs_wide,
        "frontend",
        &[
            ("CONTAINERS", "php-redis"),
            (
                "IMAGES",
                "us-docker.pkg.dev/google-samples/containers/gke/gb-frontend:v5",
            ),
            ("SELECTOR", "tier=frontend"),
        ],
    );
    let got = c.get_json(&["rs", "frontend"]);
    expect(
        &got,
        &[
            ("/metadata/generation", json!(1)),
            ("/status", json!({"replicas": 0})),
        ],
    );
    expect_owned(&got, &template_defaults("/spec/template", "IfNotPresent"));
    let changed = rs.replace("replicas: 3", "replicas: 5").replace(":v5", ":v6");
    apply(&c, &changed, &["replicaset.apps/frontend configured"]);
    expect_table(
        &c,
        &["rs", "frontend", "-o", "wide"],
        &rs_wide,
        "frontend",
        &[
            ("DESIRED", "5"),
            (
                "IMAGES",
                "us-docker.pkg.dev/google-samples/containers/gke/gb-frontend:v6",
            ),
        ],
    );
    delete(&c, &changed, &["replicaset.apps \"frontend\" deleted"]);
    gone(&c, &["rs", "frontend"]);

    let rc = manifest!("replicationcontroller.yaml");
    apply(&c, rc, &["replicationcontroller/nginx created"]);
    expect_table(
        &c,
        &["rc", "nginx", "-o", "wide"],
        &rs_wide,
        "nginx",
        &[
            ("DESIRED", "3"),
            ("CURRENT", "0"),
            ("READY", "0"),
            ("CONTAINERS", "nginx"),
            ("IMAGES", "nginx"),
            ("SELECTOR", "app=nginx"),
        ],
    );
    // An image without a tag means `latest`, which is always pulled.
    let got = c.get_json(&["replicationcontroller", "nginx"]);
    expect(
        &got,
        &[
            ("/metadata/generation", json!(1)),
            ("/status", json!({"replicas": 0})),
        ],
    );
    expect_owned(&got, &template_defaults("/spec/template", "Always"));
    let changed = rc
        .replace("replicas: 3", "replicas: 2")
        .replace("image: nginx\n", "image: nginx:1.27\n");
    apply(&c, &changed, &["replicationcontroller/nginx configured"]);
    expect(
        &c.get_json(&["rc", "nginx"]),
        &[
            ("/metadata/generation", json!(2)),
            ("/spec/replicas", json!(2)),
            ("/spec/template/spec/containers/0/image", json!("nginx:1.27")),
            // Defaults fill only what is unset: the policy chosen for `nginx` stays.
            (
                "/spec/template/spec/containers/0/imagePullPolicy",
                json!("Always"),
            ),
        ],
    );
    delete(&c, &changed, &["replicationcontroller \"nginx\" deleted"]);
    gone(&c, &["rc", "nginx"]);
}

#[test]
fn stateful_sets_daemon_sets_and_controller_revisions() {
    let c = Cluster::start_with(API_ONLY);

    let sts = manifest!("statefulset.yaml");
    apply(&c, sts, &["statefulset.apps/web created"]);
    expect_table(
        &c,
        &["sts", "web", "-o", "wide"],
        &["NAME", "READY", "AGE", "CONTAINERS", "IMAGES"],
        "web",
        &[
            ("READY", "0/3"),
            ("CONTAINERS", "nginx"),
            ("IMAGES", "registry.k8s.io/nginx-slim:0.24"),
        ],
    );
    expect_table(&c, &["statefulset", "web"], &["NAME", "READY", "AGE"], "web", &[]);
    let got = c.get_json(&["statefulset", "web"]);
    expect(
        &got,
        &[
            ("/metadata/generation", json!(1)),
            ("/spec/podManagementPolicy", json!("OrderedReady")),
            (
                "/spec/updateStrategy",
                json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}),
            ),
            ("/spec/revisionHistoryLimit", json!(10)),
            (
                "/spec/persistentVolumeClaimRetentionPolicy",
                json!({"whenDeleted": "Retain", "whenScaled": "Retain"}),
            ),
            (
                "/spec/volumeClaimTemplates/0/spec/volumeMode",
                json!("Filesystem"),
            ),
            ("/spec/volumeClaimTemplates/0/status/phase", json!("Pending")),
            ("/spec/template/spec/terminationGracePeriodSeconds", json!(10)),
        ],
    );
    expect_owned(&got, &template_defaults("/spec/template", "IfNotPresent"));
    let changed = sts
        .replace("replicas: 3", "replicas: 5")
        .replace("nginx-slim:0.24", "nginx-slim:0.27");
    apply(&c, &changed, &["statefulset.apps/web configured"]);
    expect_table(
        &c,
        &["sts", "web", "-o", "wide"],
        &["NAME", "READY", "AGE", "CONTAINERS", "IMAGES"],
        "web",
        &[("READY", "0/5"), ("IMAGES", "registry.k8s.io/nginx-slim:0.27")],
    );
    expect(
        &c.get_json(&["sts", "web"]),
        &[("/metadata/generation", json!(2))],
    );
    // Only some fields of a StatefulSet's spec may change.
    let err = rejected(
        &c,
        "apply",
        &changed.replace("serviceName: nginx", "serviceName: other"),
    );
    contains_all(
        &err,
        &[
            "The StatefulSet \"web\" is invalid",
            "spec: Forbidden: updates to statefulset spec for fields other than",
        ],
    );
    delete(&c, &changed, &["statefulset.apps \"web\" deleted"]);
    gone(&c, &["sts", "web"]);

    let ds = manifest!("daemonset.yaml");
    apply(&c, ds, &["daemonset.apps/fluentd-elasticsearch created"]);
    let ds_header = [
        "NAME",
        "DESIRED",
        "CURRENT",
        "READY",
        "UP-TO-DATE",
        "AVAILABLE",
        "NODE SELECTOR",
        "AGE",
    ];
    expect_table(
        &c,
        &["ds", "-n", "kube-system", "fluentd-elasticsearch"],
        &ds_header,
        "fluentd-elasticsearch",
        &[
            ("DESIRED", "0"),
            ("CURRENT", "0"),
            ("READY", "0"),
            ("UP-TO-DATE", "0"),
            ("AVAILABLE", "0"),
            ("NODE SELECTOR", "kubernetes.io/os=linux"),
        ],
    );
    let mut wide = ds_header.to_vec();
    wide.extend(["CONTAINERS", "IMAGES", "SELECTOR"]);
    expect_table(
        &c,
        &["daemonset", "-n", "kube-system", "-o", "wide"],
        &wide,
        "fluentd-elasticsearch",
        &[
            ("CONTAINERS", "fluentd-elasticsearch"),
            ("IMAGES", "quay.io/fluentd_elasticsearch/fluentd:v2.5.2"),
            ("SELECTOR", "name=fluentd-elasticsearch"),
        ],
    );
    let got = c.get_json(&["ds", "-n", "kube-system", "fluentd-elasticsearch"]);
    expect(
        &got,
        &[
            ("/metadata/generation", json!(1)),
            (
                "/metadata/annotations/deprecated.daemonset.template.generation",
                json!("1"),
            ),
            (
                "/spec/updateStrategy",
                json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}),
            ),
            ("/spec/revisionHistoryLimit", json!(10)),
            ("/spec/template/spec/volumes/0/hostPath/type", json!("")),
            (
                "/status",
                json!({"currentNumberScheduled": 0, "desiredNumberScheduled": 0,
                    "numberMisscheduled": 0, "numberReady": 0}),
            ),
        ],
    );
    let changed = ds.replace("fluentd:v2.5.2", "fluentd:v2.6.0");
    apply(&c, &changed, &["daemonset.apps/fluentd-elasticsearch configured"]);
    expect(
        &c.get_json(&["ds", "-n", "kube-system", "fluentd-elasticsearch"]),
        &[
            ("/metadata/generation", json!(2)),
            (
                "/metadata/annotations/deprecated.daemonset.template.generation",
                json!("2"),
            ),
        ],
    );
    let err = rejected(
        &c,
        "apply",
        &changed.replace(
            "      terminationGracePeriodSeconds: 30\n",
            "      restartPolicy: Never\n",
        ),
    );
    contains_all(
        &err,
        &["spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\""],
    );
    delete(
        &c,
        &changed,
        &["daemonset.apps \"fluentd-elasticsearch\" deleted"],
    );
    gone(&c, &["ds", "-n", "kube-system", "fluentd-elasticsearch"]);

    let rev = manifest!("controllerrevision.yaml");
    apply(&c, rev, &["controllerrevision.apps/web-5d4f9b7c8d created"]);
    expect_table(
        &c,
        &["controllerrevision", "web-5d4f9b7c8d"],
        &["NAME", "CONTROLLER", "REVISION", "AGE"],
        "web-5d4f9b7c8d",
        &[("CONTROLLER", "statefulset.apps/web"), ("REVISION", "1")],
    );
    expect(
        &c.get_json(&["controllerrevisions", "web-5d4f9b7c8d"]),
        &[
            ("/revision", json!(1)),
            (
                "/data/spec/template/spec/containers/0/image",
                json!("registry.k8s.io/nginx-slim:0.24"),
            ),
            ("/data/spec/template/$patch", json!("replace")),
        ],
    );
    let changed = rev.replace("revision: 1", "revision: 3");
    apply(
        &c,
        &changed,
        &["controllerrevision.apps/web-5d4f9b7c8d configured"],
    );
    expect_table(
        &c,
        &["controllerrevision", "web-5d4f9b7c8d"],
        &["NAME", "CONTROLLER", "REVISION", "AGE"],
        "web-5d4f9b7c8d",
        &[("REVISION", "3")],
    );
    // A revision's data never changes. (`kubectl apply` cannot compute a strategic merge
    // patch inside a RawExtension from OpenAPI v3, so the change is a `kubectl replace`.)
    let current = c.ok(&["get", "controllerrevision", "web-5d4f9b7c8d", "-o", "json"]);
    let err = rejected(
        &c,
        "replace",
        &current.replace("nginx-slim:0.24", "nginx-slim:0.27"),
    );
    contains_all(
        &err,
        &[
            "The ControllerRevision \"web-5d4f9b7c8d\" is invalid",
            "data",
            "field is immutable",
        ],
    );
    delete(
        &c,
        &changed,
        &["controllerrevision.apps \"web-5d4f9b7c8d\" deleted"],
    );
    gone(&c, &["controllerrevision", "web-5d4f9b7c8d"]);
}

#[test]
fn jobs_and_cron_jobs() {
    let c = Cluster::start_with(API_ONLY);

    let job = manifest!("job.yaml");
    apply(&c, job, &["job.batch/pi created"]);
    let got = c.get_json(&["job", "pi"]);
    let uid = got["metadata"]["uid"].as_str().unwrap().to_string();
    expect_table(
        &c,
        &["job", "pi"],
        &["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"],
        "pi",
        &[("STATUS", "Running"), ("COMPLETIONS", "0/1"), ("DURATION", "")],
    );
    expect_table(
        &c,
        &["jobs", "pi", "-o", "wide"],
        &[
            "NAME",
            "STATUS",
            "COMPLETIONS",
            "DURATION",
            "AGE",
            "CONTAINERS",
            "IMAGES",
            "SELECTOR",
        ],
        "pi",
        &[
            ("CONTAINERS", "pi"),
            ("IMAGES", "perl:5.34.0"),
            ("SELECTOR", &format!("batch.kubernetes.io/controller-uid={uid}")),
        ],
    );
    let job_labels = json!({
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": "pi",
        "controller-uid": uid,
        "job-name": "pi",
    });
    expect(
        &got,
        &[
            ("/metadata/generation", json!(1)),
            ("/metadata/labels", job_labels.clone()),
            ("/spec/completions", json!(1)),
            ("/spec/parallelism", json!(1)),
            ("/spec/backoffLimit", json!(4)),
            ("/spec/completionMode", json!("NonIndexed")),
            ("/spec/suspend", json!(false)),
            ("/spec/podReplacementPolicy", json!("TerminatingOrFailed")),
            (
                "/spec/selector",
                json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}),
            ),
            ("/spec/manualSelector", Value::Null),
            ("/spec/template/metadata/labels", job_labels),
            ("/spec/template/spec/restartPolicy", json!("Never")),
            ("/status", json!({})),
        ],
    );
    let changed = job.replace("backoffLimit: 4", "backoffLimit: 6\n  activeDeadlineSeconds: 600");
    apply(&c, &changed, &["job.batch/pi configured"]);
    expect(
        &c.get_json(&["job", "pi"]),
        &[
            ("/metadata/generation", json!(2)),
            ("/spec/backoffLimit", json!(6)),
            ("/spec/activeDeadlineSeconds", json!(600)),
        ],
    );
    let err = rejected(&c, "apply", &changed.replace("perl:5.34.0", "perl:5.36"));
    contains_all(
        &err,
        &["The Job \"pi\" is invalid", "spec.template", "field is immutable"],
    );
    delete(&c, &changed, &["job.batch \"pi\" deleted"]);
    gone(&c, &["job", "pi"]);

    let cj = manifest!("cronjob.yaml");
    apply(&c, cj, &["cronjob.batch/hello created"]);
    let header = [
        "NAME",
        "SCHEDULE",
        "TIMEZONE",
        "SUSPEND",
        "ACTIVE",
        "LAST SCHEDULE",
        "AGE",
    ];
    expect_table(
        &c,
        &["cj", "hello"],
        &header,
        "hello",
        &[
            ("SCHEDULE", "* * * * *"),
            ("TIMEZONE", "<none>"),
            ("SUSPEND", "False"),
            ("ACTIVE", "0"),
            ("LAST SCHEDULE", "<none>"),
        ],
    );
    let mut wide = header.to_vec();
    wide.extend(["CONTAINERS", "IMAGES", "SELECTOR"]);
    expect_table(
        &c,
        &["cronjob", "hello", "-o", "wide"],
        &wide,
        "hello",
        &[
            ("CONTAINERS", "hello"),
            ("IMAGES", "busybox:1.28"),
            ("SELECTOR", "<none>"),
        ],
    );
    let got = c.get_json(&["cronjob", "hello"]);
    expect(
        &got,
        &[
            ("/metadata/generation", json!(1)),
            ("/spec/concurrencyPolicy", json!("Allow")),
            ("/spec/suspend", json!(false)),
            ("/spec/successfulJobsHistoryLimit", json!(3)),
            ("/spec/failedJobsHistoryLimit", json!(1)),
            // A job template's spec gets the pod defaults, not a Job's.
            ("/spec/jobTemplate/spec/completions", Value::Null),
            (
                "/spec/jobTemplate/spec/template/spec/restartPolicy",
                json!("OnFailure"),
            ),
            ("/status", json!({})),
        ],
    );
    let changed = cj.replace(
        "schedule: \"* * * * *\"",
        "schedule: \"*/5 * * * *\"\n  timeZone: Etc/UTC\n  suspend: true",
    );
    apply(&c, &changed, &["cronjob.batch/hello configured"]);
    expect_table(
        &c,
        &["cj", "hello"],
        &header,
        "hello",
        &[
            ("SCHEDULE", "*/5 * * * *"),
            ("TIMEZONE", "Etc/UTC"),
            ("SUSPEND", "True"),
        ],
    );
    let err = rejected(&c, "apply", &changed.replace("*/5 * * * *", "every minute"));
    contains_all(
        &err,
        &[
            "The CronJob \"hello\" is invalid",
            "spec.schedule: Invalid value: \"every minute\"",
        ],
    );
    let err = rejected(&c, "apply", &changed.replace("Etc/UTC", "Mars/Olympus_Mons"));
    contains_all(&err, &["spec.timeZone: Invalid value: \"Mars/Olympus_Mons\""]);
    delete(&c, &changed, &["cronjob.batch \"hello\" deleted"]);
    gone(&c, &["cj", "hello"]);
}
