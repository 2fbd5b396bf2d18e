//! Workloads: Deployment, ReplicaSet, StatefulSet, DaemonSet, ReplicationController, Job,
//! CronJob.

use super::*;
use FieldErrorKind::*;

/// `kubectl create deployment web --image=nginx --dry-run=client -o json`.
fn deployment() -> Value {
    json!({"kind": "Deployment", "apiVersion": "apps/v1",
        "metadata": {"name": "web", "creationTimestamp": null, "labels": {"app": "web"}},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"creationTimestamp": null, "labels": {"app": "web"}},
                "spec": {"containers": [{"name": "nginx", "image": "nginx", "resources": {}}]}},
            "strategy": {}},
        "status": {}})
}

#[test]
fn deployment_rules() {
    ok(&create("apps", "Deployment", deployment()));

    let mut d = deployment();
    d["spec"]["template"]["metadata"]["labels"] = json!({"app": "y"});
    let errs = create("apps", "Deployment", d);
    one(
        &errs,
        "spec.template.metadata.labels",
        Invalid,
        "`selector` does not match template `labels`",
    );
    assert_eq!(
        errs[0].to_string(),
        "spec.template.metadata.labels: Invalid value: {\"app\":\"y\"}: `selector` does not match template `labels`"
    );

    let mut d = deployment();
    d["spec"].as_object_mut().unwrap().remove("selector");
    let errs = create("apps", "Deployment", d);
    assert_eq!(errs.len(), 2, "{errs:#?}");
    has(&errs, "spec.selector", Required, "");
    has(
        &errs,
        "spec.template.metadata.labels",
        Invalid,
        "`selector` does not match template `labels`",
    );
    let mut d = deployment();
    d["spec"]["selector"] = json!({});
    one(
        &create("apps", "Deployment", d),
        "spec.selector",
        Invalid,
        "empty selector is invalid for deployment",
    );
    let mut d = deployment();
    d["spec"]["selector"] = json!({"matchExpressions": [{"key": "app", "operator": "In"}]});
    let errs = create("apps", "Deployment", d);
    assert_eq!(errs.len(), 2, "{errs:#?}");
    has(
        &errs,
        "spec.selector.matchExpressions[0].values",
        Required,
        "must be specified when `operator` is 'In' or 'NotIn'",
    );
    has(&errs, "spec.selector", Invalid, "invalid label selector");

    let mut d = deployment();
    d["spec"]["replicas"] = json!(-1);
    one(
        &create("apps", "Deployment", d),
        "spec.replicas",
        Invalid,
        "Invalid value: -1: must be greater than or equal to 0",
    );
    let mut d = deployment();
    d["spec"]["template"]["spec"]["restartPolicy"] = json!("Never");
    one(
        &create("apps", "Deployment", d),
        "spec.template.spec.restartPolicy",
        NotSupported,
        "Unsupported value: \"Never\": supported values: \"Always\"",
    );

    let mut d = deployment();
    d["spec"]["strategy"] = json!({"type": "Blue"});
    one(
        &create("apps", "Deployment", d),
        "spec.strategy",
        NotSupported,
        "supported values: \"Recreate\", \"RollingUpdate\"",
    );
    let mut d = deployment();
    d["spec"]["strategy"] = json!({"rollingUpdate": {"maxUnavailable": 0, "maxSurge": "0%"}});
    one(
        &create("apps", "Deployment", d),
        "spec.strategy.rollingUpdate.maxUnavailable",
        Invalid,
        "may not be 0 when `maxSurge` is 0",
    );
    let mut d = deployment();
    d["spec"]["strategy"] = json!({"rollingUpdate": {"maxUnavailable": "150%", "maxSurge": "abc"}});
    let errs = create("apps", "Deployment", d);
    has(
        &errs,
        "spec.strategy.rollingUpdate.maxUnavailable",
        Invalid,
        "must not be greater than 100%",
    );
    has(
        &errs,
        "spec.strategy.rollingUpdate.maxSurge",
        Invalid,
        "a valid percent string must be a numeric string followed by an ending '%'",
    );
    let mut d = deployment();
    d["spec"]["strategy"] = json!({"type": "Recreate", "rollingUpdate": {}});
    one(
        &create("apps", "Deployment", d),
        "spec.strategy.rollingUpdate",
        Forbidden,
        "may not be specified when strategy `type` is 'Recreate'",
    );
    let mut d = deployment();
    d["spec"]["minReadySeconds"] = json!(700);
    one(
        &create("apps", "Deployment", d),
        "spec.progressDeadlineSeconds",
        Invalid,
        "must be greater than minReadySeconds",
    );

    let mut d = deployment();
    d["spec"]["selector"] = json!({"matchLabels": {"app": "web", "v": "2"}});
    d["spec"]["template"]["metadata"]["labels"] = json!({"app": "web", "v": "2"});
    one(
        &update("apps", "Deployment", deployment(), d),
        "spec.selector",
        Invalid,
        "field is immutable",
    );
    let mut d = deployment();
    d["spec"]["replicas"] = json!(5);
    d["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:1.27");
    ok(&update("apps", "Deployment", deployment(), d));
}

fn stateful_set() -> Value {
    json!({"metadata": {"name": "db"}, "spec": {
        "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
        "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [{"name": "db", "image": "postgres:16",
            "volumeMounts": [{"name": "data", "mountPath": "/var/lib/postgresql"}]}]}},
        "volumeClaimTemplates": [{"metadata": {"name": "data"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}})
}

#[test]
fn stateful_set_rules() {
    ok(&create("apps", "StatefulSet", stateful_set()));
    let mut s = stateful_set();
    s["spec"]["podManagementPolicy"] = json!("Random");
    one(
        &create("apps", "StatefulSet", s),
        "spec.podManagementPolicy",
        Invalid,
        "must be 'OrderedReady' or 'Parallel'",
    );
    let mut s = stateful_set();
    s["spec"]["updateStrategy"] = json!({"type": "OnDelete", "rollingUpdate": {"partition": 1}});
    one(
        &create("apps", "StatefulSet", s),
        "spec.updateStrategy.rollingUpdate",
        Invalid,
        "only allowed for updateStrategy 'RollingUpdate'",
    );
    let mut s = stateful_set();
    s["spec"]["selector"] = json!({});
    one(
        &create("apps", "StatefulSet", s),
        "spec.selector",
        Invalid,
        "empty selector is invalid for statefulset",
    );

    let mut s = stateful_set();
    s["spec"]["serviceName"] = json!("other");
    one(
        &update("apps", "StatefulSet", stateful_set(), s),
        "spec",
        Forbidden,
        "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
    );
    let mut s = stateful_set();
    s["metadata"]["name"] = json!("db.primary");
    one(
        &create("apps", "StatefulSet", s),
        "metadata.name",
        Invalid,
        "must not contain dots",
    );
    let mut s = stateful_set();
    s["spec"]["updateStrategy"] = json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0}});
    one(
        &create("apps", "StatefulSet", s),
        "spec.updateStrategy.rollingUpdate.maxUnavailable",
        Invalid,
        "cannot be 0",
    );
    let mut s = stateful_set();
    s["spec"]["replicas"] = json!(3);
    ok(&update("apps", "StatefulSet", stateful_set(), s));
}

fn daemon_set() -> Value {
    json!({"metadata": {"name": "agent"}, "spec": {"selector": {"matchLabels": {"app": "agent"}},
        "template": {"metadata": {"labels": {"app": "agent"}}, "spec": {"containers": [{"name": "a", "image": "agent:1"}]}}}})
}

#[test]
fn daemon_set_and_replica_set_rules() {
    ok(&create("apps", "DaemonSet", daemon_set()));
    let mut d = daemon_set();
    d["spec"]["updateStrategy"] =
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 1}});
    one(
        &create("apps", "DaemonSet", d),
        "spec.updateStrategy.rollingUpdate.maxSurge",
        Invalid,
        "may not be set when maxUnavailable is non-zero",
    );
    let mut d = daemon_set();
    d["spec"]["updateStrategy"] =
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 0}});
    one(
        &create("apps", "DaemonSet", d),
        "spec.updateStrategy.rollingUpdate.maxUnavailable",
        Required,
        "cannot be 0 when maxSurge is 0",
    );
    let mut d = daemon_set();
    d["spec"]["template"]["spec"]["activeDeadlineSeconds"] = json!(10);
    one(
        &create("apps", "DaemonSet", d),
        "spec.template.spec.activeDeadlineSeconds",
        Forbidden,
        "activeDeadlineSeconds in DaemonSet is not Supported",
    );
    let mut d = daemon_set();
    d["spec"].as_object_mut().unwrap().remove("selector");
    one(
        &create("apps", "DaemonSet", d),
        "spec.template.metadata.labels",
        Invalid,
        "`selector` does not match template `labels`",
    );

    let mut rs = daemon_set();
    ok(&create("apps", "ReplicaSet", rs.clone()));
    rs["spec"]["replicas"] = json!(-2);
    one(
        &create("apps", "ReplicaSet", rs),
        "spec.replicas",
        Invalid,
        "must be greater than or equal to 0",
    );

    let rc = json!({"metadata": {"name": "rc"}, "spec": {"template": {"metadata": {"labels": {"a": "b"}},
        "spec": {"containers": [{"name": "a", "image": "x"}]}}}});
    ok(&create("", "ReplicationController", rc));
    let rc = json!({"metadata": {"name": "rc"}, "spec": {"selector": {"a": "c"}, "template": {"metadata": {"labels": {"a": "b"}},
        "spec": {"containers": [{"name": "a", "image": "x"}]}}}});
    one(
        &create("", "ReplicationController", rc),
        "spec.template.metadata.labels",
        Invalid,
        "`selector` does not match template `labels`",
    );
}

/// `kubectl create job pi --image=perl`, with the uid the server assigns.
fn job() -> Value {
    json!({"kind": "Job", "apiVersion": "batch/v1", "metadata": {"name": "pi", "uid": "0a4b-1"},
        "spec": {"template": {"metadata": {"creationTimestamp": null},
            "spec": {"containers": [{"name": "pi", "image": "perl", "resources": {}}], "restartPolicy": "Never"}}}})
}

#[test]
fn job_rules() {
    ok(&create("batch", "Job", job()));
    let mut j = job();
    j["spec"]["template"]["spec"]
        .as_object_mut()
        .unwrap()
        .remove("restartPolicy");
    let errs = create("batch", "Job", j);
    one(
        &errs,
        "spec.template.spec.restartPolicy",
        Required,
        "valid values: \"OnFailure\", \"Never\"",
    );
    assert_eq!(
        errs[0].to_string(),
        "spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\""
    );
    let mut j = job();
    j["spec"]["template"]["spec"]["restartPolicy"] = json!("Sometimes");
    let errs = create("batch", "Job", j);
    assert_eq!(errs.len(), 2, "{errs:#?}");
    has(
        &errs,
        "spec.template.spec.restartPolicy",
        NotSupported,
        "supported values: \"OnFailure\", \"Never\"",
    );
    let mut j = job();
    j["spec"]["backoffLimitPerIndex"] = json!(1);
    one(
        &create("batch", "Job", j),
        "spec.backoffLimitPerIndex",
        Invalid,
        "requires indexed completion mode",
    );
    let mut j = job();
    j["spec"]["parallelism"] = json!(-1);
    j["spec"]["backoffLimit"] = json!(-1);
    let errs = create("batch", "Job", j);
    has(
        &errs,
        "spec.parallelism",
        Invalid,
        "must be greater than or equal to 0",
    );
    has(
        &errs,
        "spec.backoffLimit",
        Invalid,
        "must be greater than or equal to 0",
    );
    let mut j = job();
    j["spec"]["template"]["metadata"]["labels"] = json!({"job-name": "other"});
    one(
        &create("batch", "Job", j),
        "spec.template.metadata.labels[job-name]",
        Invalid,
        "must be 'pi'",
    );
    let mut j = job();
    j["spec"]["selector"] = json!({"matchLabels": {"app": "pi"}});
    j["spec"]["template"]["metadata"]["labels"] = json!({"app": "pi"});
    one(
        &create("batch", "Job", j),
        "spec.selector",
        Invalid,
        "`selector` not auto-generated",
    );
    let mut j = job();
    j["spec"]["manualSelector"] = json!(true);
    j["spec"]["selector"] = json!({"matchLabels": {"app": "pi"}});
    j["spec"]["template"]["metadata"]["labels"] = json!({"app": "x"});
    one(
        &create("batch", "Job", j),
        "spec.template.metadata.labels",
        Invalid,
        "`selector` does not match template `labels`",
    );
    let mut j = job();
    j["spec"]["completionMode"] = json!("Indexed");
    j["spec"]["parallelism"] = json!(2);
    one(
        &create("batch", "Job", j),
        "spec.completions",
        Required,
        "when completion mode is Indexed",
    );

    let mut stored = job();
    defaults::apply("batch", "Job", &mut stored);
    defaults::prepare_create("batch", "Job", &mut stored);
    let mut changed = stored.clone();
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = json!("perl:5");
    changed["spec"]["completions"] = json!(3);
    let errs = validate("batch", "Job", &changed, Some(&stored));
    has(&errs, "spec.template", Invalid, "field is immutable");
    has(
        &errs,
        "spec.completions",
        Invalid,
        "Invalid value: 3: field is immutable",
    );
    let mut scaled = stored.clone();
    scaled["spec"]["parallelism"] = json!(4);
    ok(&validate("batch", "Job", &scaled, Some(&stored)));
}

fn cron_job() -> Value {
    json!({"metadata": {"name": "hello"}, "spec": {"schedule": "*/1 * * * *", "jobTemplate": {"spec": {"template": {
        "spec": {"containers": [{"name": "hello", "image": "busybox"}], "restartPolicy": "OnFailure"}}}}}})
}

#[test]
fn cron_job_rules() {
    ok(&create("batch", "CronJob", cron_job()));
    let mut c = cron_job();
    c["spec"]["schedule"] = json!("61 * * * *");
    one(
        &create("batch", "CronJob", c),
        "spec.schedule",
        Invalid,
        "Invalid value: \"61 * * * *\": end of range (61) above maximum (59): 61",
    );
    let mut c = cron_job();
    c["spec"]["schedule"] = json!("TZ=UTC 0 * * * *");
    one(
        &create("batch", "CronJob", c),
        "spec.schedule",
        Invalid,
        "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
    );
    let mut c = cron_job();
    c["spec"].as_object_mut().unwrap().remove("schedule");
    one(&create("batch", "CronJob", c), "spec.schedule", Required, "");
    let mut c = cron_job();
    c["metadata"]["name"] = json!("a".repeat(53));
    one(
        &create("batch", "CronJob", c),
        "metadata.name",
        Invalid,
        "must be no more than 52 characters",
    );
    let mut c = cron_job();
    c["spec"]["timeZone"] = json!("Mars/Olympus");
    one(
        &create("batch", "CronJob", c),
        "spec.timeZone",
        Invalid,
        "unknown time zone Mars/Olympus",
    );
    let mut c = cron_job();
    c["spec"]["timeZone"] = json!("Europe/Berlin");
    ok(&create("batch", "CronJob", c));
    let mut c = cron_job();
    c["spec"]["concurrencyPolicy"] = json!("Sometimes");
    one(
        &create("batch", "CronJob", c),
        "spec.concurrencyPolicy",
        NotSupported,
        "\"Allow\", \"Forbid\", \"Replace\"",
    );
    let mut c = cron_job();
    c["spec"]["jobTemplate"]["spec"]["selector"] = json!({"matchLabels": {"a": "b"}});
    has(
        &create("batch", "CronJob", c),
        "spec.jobTemplate.spec.selector",
        Invalid,
        "`selector` will be auto-generated",
    );
}
