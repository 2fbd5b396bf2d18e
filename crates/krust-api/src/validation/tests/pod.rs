//! Pods: metadata, containers, volumes, resources, probes and update rules.

use super::*;
use FieldErrorKind::*;

pub(super) fn pod(spec: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "web", "namespace": "default", "labels": {"run": "web"}},
           "spec": spec})
}

pub(super) fn nginx() -> Value {
    pod(json!({"containers": [{"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}]}))
}

fn with_container(c: Value) -> Value {
    pod(json!({"containers": [c]}))
}

#[test]
fn valid_pods_pass() {
    ok(&create("", "Pod", nginx()));
    let full = pod(json!({
        "initContainers": [{"name": "init", "image": "busybox", "command": ["true"]}],
        "containers": [{
            "name": "app", "image": "registry.k8s.io/app:v1",
            "ports": [{"name": "http", "containerPort": 8080}, {"name": "metrics", "containerPort": 9090, "protocol": "TCP"}],
            "env": [{"name": "MY_POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                    {"name": "my.env-name", "value": "x"},
                    {"name": "CFG", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "app.conf"}}}],
            "envFrom": [{"secretRef": {"name": "creds"}}],
            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "1", "memory": "128Mi"}},
            "volumeMounts": [{"name": "data", "mountPath": "/data"}, {"name": "cfg", "mountPath": "/etc/cfg", "readOnly": true}],
            "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}},
            "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 5},
            "lifecycle": {"preStop": {"sleep": {"seconds": 5}}},
            "securityContext": {"runAsUser": 1000, "allowPrivilegeEscalation": false}
        }],
        "volumes": [{"name": "data", "emptyDir": {"sizeLimit": "1Gi"}}, {"name": "cfg", "configMap": {"name": "cfg"}}],
        "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}],
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 100, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname",
                "labelSelector": {"matchLabels": {"run": "web"}}}}]}},
        "serviceAccountName": "app",
        "securityContext": {"fsGroup": 2000}
    }));
    ok(&create("", "Pod", full));
}

#[test]
fn metadata_rules() {
    let mut p = nginx();
    p["metadata"]["name"] = json!("Web_1");
    let errs = create("", "Pod", p);
    one(
        &errs,
        "metadata.name",
        Invalid,
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
    );

    let mut p = nginx();
    p["metadata"] = json!({"namespace": "default"});
    one(
        &create("", "Pod", p),
        "metadata.name",
        Required,
        "name or generateName is required",
    );

    let mut p = nginx();
    p["metadata"] = json!({"generateName": "web-"});
    ok(&create("", "Pod", p));

    let mut p = nginx();
    p["metadata"]["labels"] = json!({"-bad": "x", "ok": "-bad"});
    let errs = create("", "Pod", p);
    assert_eq!(errs.len(), 2, "{errs:#?}");
    has(
        &errs,
        "metadata.labels",
        Invalid,
        "name part must consist of alphanumeric characters",
    );
    has(
        &errs,
        "metadata.labels",
        Invalid,
        "a valid label must be an empty string",
    );

    let mut p = nginx();
    p["metadata"]["annotations"] = json!({"big": "x".repeat(300 * 1024)});
    one(
        &create("", "Pod", p),
        "metadata.annotations",
        TooLong,
        "may not be more than 262144 bytes",
    );

    let mut p = nginx();
    p["metadata"]["finalizers"] = json!(["foo", "example.com/foo", "kubernetes"]);
    one(
        &create("", "Pod", p),
        "metadata.finalizers[0]",
        Invalid,
        "name is neither a standard finalizer name nor is it fully qualified",
    );

    let mut p = nginx();
    p["metadata"]["ownerReferences"] = json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs"}]);
    one(
        &create("", "Pod", p),
        "metadata.ownerReferences.uid",
        Invalid,
        "uid must not be empty",
    );
}

#[test]
fn container_rules() {
    one(
        &create("", "Pod", pod(json!({"containers": []}))),
        "spec.containers",
        Required,
        "Required value",
    );
    one(
        &create("", "Pod", with_container(json!({"name": "Web", "image": "x"}))),
        "spec.containers[0].name",
        Invalid,
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'",
    );
    one(
        &create("", "Pod", with_container(json!({"name": "web"}))),
        "spec.containers[0].image",
        Required,
        "",
    );
    let dup = pod(
        json!({"containers": [{"name": "a", "image": "x"}], "initContainers": [{"name": "a", "image": "x"}]}),
    );
    one(
        &create("", "Pod", dup),
        "spec.initContainers[0].name",
        Duplicate,
        "Duplicate value: \"a\"",
    );
    let errs = create(
        "",
        "Pod",
        with_container(json!({"name": "a", "image": "x", "ports": [
            {"containerPort": 70000}, {"containerPort": 80, "protocol": "HTTP"},
            {"name": "http", "containerPort": 81}, {"name": "http", "containerPort": 82},
            {"name": "Web--1", "containerPort": 83}]})),
    );
    has(
        &errs,
        "spec.containers[0].ports[0].containerPort",
        Invalid,
        "Invalid value: 70000: must be between 1 and 65535, inclusive",
    );
    has(
        &errs,
        "spec.containers[0].ports[1].protocol",
        NotSupported,
        "Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
    );
    has(&errs, "spec.containers[0].ports[3].name", Duplicate, "\"http\"");
    has(
        &errs,
        "spec.containers[0].ports[4].name",
        Invalid,
        "must not contain consecutive hyphens",
    );
    let errs = create(
        "",
        "Pod",
        with_container(json!({"name": "a", "image": "x", "env": [
            {"name": "A=B", "value": "1"},
            {"name": "C", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}, "secretKeyRef": {"name": "s", "key": "k"}}},
            {"name": "D", "valueFrom": {"fieldRef": {"fieldPath": "spec.bogus"}}}]})),
    );
    has(
        &errs,
        "spec.containers[0].env[0].name",
        Invalid,
        "printable ASCII characters other than '='",
    );
    has(
        &errs,
        "spec.containers[0].env[1].valueFrom",
        Invalid,
        "may not have more than one field specified at a time",
    );
    has(
        &errs,
        "spec.containers[0].env[2].valueFrom.fieldRef.fieldPath",
        Invalid,
        "field label not supported: spec.bogus",
    );
    let errs = create(
        "",
        "Pod",
        with_container(
            json!({"name": "a", "image": "x", "imagePullPolicy": "Sometimes", "terminationMessagePolicy": "X"}),
        ),
    );
    has(
        &errs,
        "spec.containers[0].imagePullPolicy",
        NotSupported,
        "supported values: \"Always\", \"IfNotPresent\", \"Never\"",
    );
    has(
        &errs,
        "spec.containers[0].terminationMessagePolicy",
        NotSupported,
        "\"File\", \"FallbackToLogsOnError\"",
    );
}

#[test]
fn spec_rules() {
    let mut p = nginx();
    p["spec"]["restartPolicy"] = json!("Sometimes");
    p["spec"]["dnsPolicy"] = json!("Google");
    let errs = create("", "Pod", p);
    has(
        &errs,
        "spec.restartPolicy",
        NotSupported,
        "Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"",
    );
    has(
        &errs,
        "spec.dnsPolicy",
        NotSupported,
        "\"ClusterFirstWithHostNet\", \"ClusterFirst\", \"Default\", \"None\"",
    );
    let mut p = nginx();
    p["spec"]["activeDeadlineSeconds"] = json!(0);
    one(
        &create("", "Pod", p),
        "spec.activeDeadlineSeconds",
        Invalid,
        "must be between 1 and 2147483647, inclusive",
    );
    let mut p = nginx();
    p["spec"]["tolerations"] = json!([{"operator": "Equal", "value": "x"}]);
    one(
        &create("", "Pod", p),
        "spec.tolerations[0].operator",
        Invalid,
        "operator must be Exists when `key` is empty",
    );
    let mut p = nginx();
    p["spec"]["dnsPolicy"] = json!("None");
    one(
        &create("", "Pod", p),
        "spec.dnsConfig",
        Required,
        "must provide `dnsConfig` when `dnsPolicy` is None",
    );
    let mut p = nginx();
    p["spec"]["nodeName"] = json!("Node_1");
    one(
        &create("", "Pod", p),
        "spec.nodeName",
        Invalid,
        "RFC 1123 subdomain",
    );
    let mut p = nginx();
    p["spec"]["ephemeralContainers"] = json!([{"name": "debug", "image": "busybox"}]);
    one(
        &create("", "Pod", p),
        "spec.ephemeralContainers",
        Forbidden,
        "cannot be set on create",
    );
}

#[test]
fn volume_rules() {
    let p = pod(json!({
        "containers": [{"name": "a", "image": "x", "volumeMounts": [
            {"name": "data", "mountPath": "/d"}, {"name": "cfg", "mountPath": "/d"}]}],
        "volumes": [{"name": "cfg", "configMap": {"name": "c"}}, {"name": "cfg", "emptyDir": {}}]
    }));
    let errs = create("", "Pod", p);
    has(&errs, "spec.volumes[1].name", Duplicate, "\"cfg\"");
    has(
        &errs,
        "spec.containers[0].volumeMounts[0].name",
        NotFound,
        "Not found: \"data\"",
    );
    has(
        &errs,
        "spec.containers[0].volumeMounts[1].mountPath",
        Invalid,
        "must be unique",
    );
    let two = pod(json!({"containers": [{"name": "a", "image": "x"}],
        "volumes": [{"name": "v", "emptyDir": {}, "hostPath": {"path": "/x"}}]}));
    one(
        &create("", "Pod", two),
        "spec.volumes[0].hostPath",
        Forbidden,
        "may not specify more than 1 volume type",
    );
    let bad = pod(json!({"containers": [{"name": "a", "image": "x"}],
        "volumes": [{"name": "s", "secret": {"defaultMode": 1000}}, {"name": "h", "hostPath": {"path": "/a/../b", "type": "Dir"}}]}));
    let errs = create("", "Pod", bad);
    has(&errs, "spec.volumes[0].secret.secretName", Required, "");
    has(
        &errs,
        "spec.volumes[0].secret.defaultMode",
        Invalid,
        "must be a number between 0 and 0777 (octal), both inclusive",
    );
    has(
        &errs,
        "spec.volumes[1].hostPath.path",
        Invalid,
        "must not contain '..'",
    );
    has(
        &errs,
        "spec.volumes[1].hostPath.type",
        NotSupported,
        "\"DirectoryOrCreate\"",
    );
}

#[test]
fn resource_rules() {
    let errs = create(
        "",
        "Pod",
        with_container(json!({"name": "a", "image": "x",
        "resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}})),
    );
    one(
        &errs,
        "spec.containers[0].resources.requests",
        Invalid,
        "Invalid value: \"2\": must be less than or equal to cpu limit of 1",
    );
    let errs = create(
        "",
        "Pod",
        with_container(json!({"name": "a", "image": "x",
        "resources": {"limits": {"cpu": "1x", "gpu": "1"}, "requests": {"memory": "-1Gi"}}})),
    );
    has(
        &errs,
        "spec.containers[0].resources.limits[cpu]",
        Invalid,
        "quantities must match the regular expression",
    );
    has(
        &errs,
        "spec.containers[0].resources.limits[gpu]",
        Invalid,
        "must be a standard resource type or fully qualified",
    );
    has(
        &errs,
        "spec.containers[0].resources.requests[memory]",
        Invalid,
        "Invalid value: \"-1Gi\": must be greater than or equal to 0",
    );
    let errs = create(
        "",
        "Pod",
        with_container(json!({"name": "a", "image": "x",
        "resources": {"requests": {"example.com/gpu": "1"}}})),
    );
    one(
        &errs,
        "spec.containers[0].resources.limits",
        Required,
        "Limit must be set for non overcommitable resources",
    );
}

#[test]
fn probe_rules() {
    let errs = create(
        "",
        "Pod",
        with_container(json!({"name": "a", "image": "x",
        "livenessProbe": {"exec": {"command": ["true"]}, "tcpSocket": {"port": 80}, "successThreshold": 2},
        "readinessProbe": {"periodSeconds": 5},
        "startupProbe": {"httpGet": {"port": 0}}})),
    );
    has(
        &errs,
        "spec.containers[0].livenessProbe.tcpSocket",
        Forbidden,
        "may not specify more than 1 handler type",
    );
    has(
        &errs,
        "spec.containers[0].livenessProbe.successThreshold",
        Invalid,
        "must be 1",
    );
    has(
        &errs,
        "spec.containers[0].readinessProbe",
        Required,
        "must specify a handler type",
    );
    has(
        &errs,
        "spec.containers[0].startupProbe.httpGet.port",
        Invalid,
        "must be between 1 and 65535, inclusive",
    );
    let init = pod(json!({"containers": [{"name": "a", "image": "x"}],
        "initContainers": [{"name": "i", "image": "x", "readinessProbe": {"exec": {"command": ["x"]}}}]}));
    one(
        &create("", "Pod", init),
        "spec.initContainers[0].readinessProbe",
        Forbidden,
        "may not be set for init containers without restartPolicy=Always",
    );
}

#[test]
fn template_errors_use_template_paths() {
    let mut d = json!({"metadata": {"name": "d"}, "spec": {"selector": {"matchLabels": {"a": "b"}},
        "template": {"metadata": {"labels": {"a": "b", "bad key": "x"}}, "spec": {"containers": [{"name": "c"}]}}}});
    let errs = create("apps", "Deployment", d.take());
    has(
        &errs,
        "spec.template.labels",
        Invalid,
        "name part must consist of alphanumeric characters",
    );
    has(&errs, "spec.template.spec.containers[0].image", Required, "");
}
