//! Strategic merge patch against the real built-in schemas, with the bodies kubectl sends:
//! client-side `apply` (3-way, `$setElementOrder`, nulls, last-applied annotation), `edit`,
//! `set image`, `rollout restart`, `cordon`, and the Python client's SMP on `/scale`.
#![allow(clippy::unwrap_used)]

use krust_api::patch::{PatchError, strategic_merge};
use krust_api::schema::Schemas;
use serde_json::{Value, json};

fn schemas() -> Schemas {
    Schemas::new(krust_schema::built_in().0)
}

fn smp(schema: &str, doc: &Value, patch: Value) -> Result<Value, PatchError> {
    let s = schemas();
    let node = s.named(schema).unwrap_or_else(|| panic!("no schema {schema}"));
    strategic_merge(doc, &patch, Some(node))
}

const DEPLOYMENT: &str = "io.k8s.api.apps.v1.Deployment";

fn deploy(patch: Value) -> Value {
    smp(DEPLOYMENT, &deployment(), patch).unwrap()
}

fn container(name: &str, image: &str) -> Value {
    json!({"name": name, "image": image, "imagePullPolicy": "IfNotPresent",
           "ports": [{"containerPort": 80, "protocol": "TCP", "name": "http"}],
           "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
           "resources": {"limits": {"cpu": "500m"}},
           "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"})
}

/// A Deployment as the apiserver stores it after `kubectl apply` (defaults filled in).
fn deployment() -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "uid": "u1", "generation": 1,
            "labels": {"app": "web"},
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{\"old\":true}\n",
                            "deployment.kubernetes.io/revision": "1"}},
        "spec": {
            "replicas": 1, "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [container("web", "nginx:1.25"), container("side", "busybox")],
                    "volumes": [{"name": "data", "emptyDir": {}},
                                {"name": "cfg", "configMap": {"name": "a", "defaultMode": 420}}],
                    "tolerations": [{"key": "k", "operator": "Exists"}],
                    "restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "schedulerName": "default-scheduler"
                }
            }
        },
        "status": {"replicas": 1, "conditions": [{"type": "Available", "status": "True"}]}
    })
}

fn pod_spec(v: &Value) -> &Value {
    &v["spec"]["template"]["spec"]
}

fn names(list: &Value) -> Vec<&str> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["name"].as_str())
        .collect()
}

#[test]
fn client_side_apply_body_from_the_protocol_doc() {
    let out = deploy(json!({"metadata":{"annotations":{
        "kubectl.kubernetes.io/last-applied-configuration":"{\"new\":true}\n"}},
        "spec":{"replicas":3,"template":{"spec":{"$setElementOrder/containers":[{"name":"web"},{"name":"side"}],
        "containers":[{"image":"nginx:1.27","name":"web"}]}}}}));
    assert_eq!(out["spec"]["replicas"], 3);
    let ann = &out["metadata"]["annotations"];
    assert_eq!(
        ann["kubectl.kubernetes.io/last-applied-configuration"],
        "{\"new\":true}\n"
    );
    assert_eq!(ann["deployment.kubernetes.io/revision"], "1");
    let mut want = container("web", "nginx:1.27");
    assert_eq!(pod_spec(&out)["containers"][0], want);
    want = container("side", "busybox");
    assert_eq!(pod_spec(&out)["containers"][1], want);
    // Everything else is untouched.
    let mut expected = deployment();
    expected["spec"]["replicas"] = json!(3);
    expected["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] =
        json!("{\"new\":true}\n");
    expected["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:1.27");
    assert_eq!(out, expected);
}

#[test]
fn apply_with_a_single_container_order_keeps_server_only_containers() {
    // The protocol doc's body names only "web": "side" is server-only and stays after it.
    let out = deploy(json!({"spec":{"replicas":3,"template":{"spec":{
        "$setElementOrder/containers":[{"name":"web"}],"containers":[{"image":"nginx:1.27","name":"web"}]}}}}));
    assert_eq!(names(&pod_spec(&out)["containers"]), ["web", "side"]);
}

#[test]
fn apply_removes_a_container() {
    let out = deploy(
        json!({"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"web"}],
        "containers":[{"$patch":"delete","name":"side"}]}}}}),
    );
    assert_eq!(names(&pod_spec(&out)["containers"]), ["web"]);
}

#[test]
fn apply_adds_a_container_where_the_order_says() {
    let out = deploy(json!({"spec":{"template":{"spec":{
        "$setElementOrder/containers":[{"name":"init"},{"name":"web"},{"name":"side"}],
        "containers":[{"image":"alpine","name":"init"}]}}}}));
    assert_eq!(names(&pod_spec(&out)["containers"]), ["init", "web", "side"]);
    assert_eq!(
        pod_spec(&out)["containers"][0],
        json!({"name": "init", "image": "alpine"})
    );
}

#[test]
fn apply_reorders_containers() {
    let out = deploy(json!({"spec":{"template":{"spec":{
        "$setElementOrder/containers":[{"name":"side"},{"name":"web"}]}}}}));
    assert_eq!(names(&pod_spec(&out)["containers"]), ["side", "web"]);
    assert_eq!(pod_spec(&out)["containers"][1], container("web", "nginx:1.25"));
}

#[test]
fn apply_deletes_an_env_var_and_a_field() {
    let out = deploy(
        json!({"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"web"},{"name":"side"}],
        "containers":[{"$setElementOrder/env":[{"name":"B"},{"name":"C"}],
            "env":[{"$patch":"delete","name":"A"},{"name":"C","value":"3"}],
            "name":"web","ports":null,"resources":{"limits":{"cpu":null,"memory":"1Gi"}}}]}}}}),
    );
    let web = &pod_spec(&out)["containers"][0];
    assert_eq!(
        web["env"],
        json!([{"name": "B", "value": "2"}, {"name": "C", "value": "3"}])
    );
    assert!(web.get("ports").is_none());
    assert_eq!(web["resources"], json!({"limits": {"memory": "1Gi"}}));
    assert_eq!(pod_spec(&out)["containers"][1], container("side", "busybox"));
}

#[test]
fn edit_changes_an_env_value_and_adds_a_port() {
    // kubectl edit sends a 2-way patch of the same shape.
    let out = deploy(
        json!({"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"web"},{"name":"side"}],
        "containers":[{"$setElementOrder/env":[{"name":"A"},{"name":"B"}],"env":[{"name":"B","value":"20"}],
            "$setElementOrder/ports":[{"containerPort":80},{"containerPort":443}],
            "ports":[{"containerPort":443,"protocol":"TCP"}],"name":"web"}]}}}}),
    );
    let web = &pod_spec(&out)["containers"][0];
    assert_eq!(
        web["env"],
        json!([{"name": "A", "value": "1"}, {"name": "B", "value": "20"}])
    );
    assert_eq!(
        web["ports"],
        json!([{"containerPort": 80, "protocol": "TCP", "name": "http"}, {"containerPort": 443, "protocol": "TCP"}])
    );
}

#[test]
fn ports_merge_by_container_port() {
    let out = deploy(json!({"spec":{"template":{"spec":{"containers":[{"name":"web",
        "ports":[{"containerPort":80,"name":"web"}]}]}}}}));
    assert_eq!(
        pod_spec(&out)["containers"][0]["ports"],
        json!([{"containerPort": 80, "protocol": "TCP", "name": "web"}])
    );
}

#[test]
fn set_image_and_rollout_restart() {
    let out =
        deploy(json!({"spec":{"template":{"spec":{"containers":[{"image":"busybox:1.36","name":"side"}]}}}}));
    assert_eq!(names(&pod_spec(&out)["containers"]), ["web", "side"]);
    assert_eq!(pod_spec(&out)["containers"][1]["image"], "busybox:1.36");

    let at = "2025-01-01T00:00:00Z";
    let out = deploy(json!({"spec":{"template":{"metadata":{"annotations":{
        "kubectl.kubernetes.io/restartedAt":at}}}}}));
    assert_eq!(
        out["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"],
        at
    );
    assert_eq!(
        out["spec"]["template"]["metadata"]["labels"],
        json!({"app": "web"})
    );
}

#[test]
fn retain_keys_switches_rolling_update_to_recreate() {
    for patch in [
        json!({"spec":{"strategy":{"$retainKeys":["type"],"type":"Recreate"}}}),
        json!({"spec":{"strategy":{"$retainKeys":["type"],"rollingUpdate":null,"type":"Recreate"}}}),
    ] {
        assert_eq!(deploy(patch)["spec"]["strategy"], json!({"type": "Recreate"}));
    }
    // Without the directive (an old client) the stale rollingUpdate stays.
    let out = deploy(json!({"spec":{"strategy":{"type":"Recreate"}}}));
    assert!(out["spec"]["strategy"].get("rollingUpdate").is_some());
}

#[test]
fn volumes_union_by_name_with_retain_keys() {
    let out = deploy(json!({"spec":{"template":{"spec":{
        "$setElementOrder/volumes":[{"name":"data"},{"name":"cfg"},{"name":"tls"}],
        "volumes":[{"$retainKeys":["configMap","name"],"configMap":{"name":"b"},"name":"data"},
                   {"name":"tls","secret":{"secretName":"tls"}}]}}}}));
    assert_eq!(
        pod_spec(&out)["volumes"],
        json!([{"name": "data", "configMap": {"name": "b"}},
               {"name": "cfg", "configMap": {"name": "a", "defaultMode": 420}},
               {"name": "tls", "secret": {"secretName": "tls"}}])
    );
}

#[test]
fn atomic_lists_are_replaced() {
    let out =
        deploy(json!({"spec":{"template":{"spec":{"tolerations":[{"key":"other","operator":"Exists"}]}}}}));
    assert_eq!(
        pod_spec(&out)["tolerations"],
        json!([{"key": "other", "operator": "Exists"}])
    );
}

#[test]
fn finalizers_merge_as_a_set() {
    let doc = json!({"metadata": {"name": "ns", "finalizers": ["a", "b"]}});
    let ns = "io.k8s.api.core.v1.Namespace";
    let out = smp(
        ns,
        &doc,
        json!({"metadata":{"$setElementOrder/finalizers":["a","c"],
        "finalizers":["c"],"$deleteFromPrimitiveList/finalizers":["b"]}}),
    )
    .unwrap();
    assert_eq!(out["metadata"]["finalizers"], json!(["a", "c"]));
    let out = smp(ns, &doc, json!({"metadata":{"finalizers":["b","c"]}})).unwrap();
    assert_eq!(out["metadata"]["finalizers"], json!(["a", "b", "c"]));
    let out = smp(
        ns,
        &doc,
        json!({"metadata":{"$deleteFromPrimitiveList/finalizers":["a","b"]}}),
    )
    .unwrap();
    assert_eq!(out["metadata"]["finalizers"], json!([]));
}

#[test]
fn owner_references_merge_by_uid() {
    let doc = json!({"metadata": {"name": "rs", "ownerReferences": [
        {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "u1", "controller": true}]}});
    let out = smp(
        "io.k8s.api.apps.v1.ReplicaSet",
        &doc,
        json!({"metadata":{"ownerReferences":[
        {"uid":"u1","blockOwnerDeletion":true},{"apiVersion":"v1","kind":"X","name":"x","uid":"u2"}]}}),
    )
    .unwrap();
    let refs = &out["metadata"]["ownerReferences"];
    assert_eq!(refs.as_array().map(Vec::len), Some(2));
    assert!(
        refs.as_array()
            .unwrap()
            .iter()
            .any(|r| r["uid"] == "u1" && r["controller"] == true && r["blockOwnerDeletion"] == true)
    );
}

#[test]
fn cordon_a_node() {
    let node = json!({"metadata": {"name": "n1", "labels": {"kubernetes.io/hostname": "n1"}},
        "spec": {"podCIDR": "10.0.0.0/24", "taints": [{"key": "a", "effect": "NoSchedule"}]}});
    let out = smp(
        "io.k8s.api.core.v1.Node",
        &node,
        json!({"spec":{"unschedulable":true}}),
    )
    .unwrap();
    assert_eq!(out["spec"]["unschedulable"], true);
    assert_eq!(out["spec"]["taints"], node["spec"]["taints"]);
    assert_eq!(out["metadata"], node["metadata"]);
}

#[test]
fn scale_subresource_via_strategic_merge() {
    let scale = json!({"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": {"name": "web"},
        "spec": {"replicas": 1}, "status": {"replicas": 1, "selector": "app=web"}});
    let out = smp(
        "io.k8s.api.autoscaling.v1.Scale",
        &scale,
        json!({"spec":{"replicas":5}}),
    )
    .unwrap();
    assert_eq!(out["spec"]["replicas"], 5);
    assert_eq!(out["status"], scale["status"]);
}

#[test]
fn service_ports_merge_by_port() {
    let svc = json!({"metadata": {"name": "s"}, "spec": {"selector": {"app": "web"},
        "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}]}});
    let out = smp(
        "io.k8s.api.core.v1.Service",
        &svc,
        json!({"spec":{
        "$setElementOrder/ports":[{"port":80},{"port":443}],
        "ports":[{"port":80,"targetPort":9090},{"name":"https","port":443,"targetPort":8443}]}}),
    )
    .unwrap();
    assert_eq!(
        out["spec"]["ports"],
        json!([{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 9090},
               {"name": "https", "port": 443, "targetPort": 8443}])
    );
}

#[test]
fn status_conditions_merge_by_type() {
    let out = deploy(
        json!({"status":{"conditions":[{"type":"Progressing","status":"True"},
        {"type":"Available","status":"False"}]}}),
    );
    let conds = out["status"]["conditions"].as_array().unwrap();
    assert_eq!(conds.len(), 2);
    assert!(
        conds
            .iter()
            .any(|c| c["type"] == "Available" && c["status"] == "False")
    );
}

#[test]
fn invalid_patches_are_rejected() {
    let err = smp(
        DEPLOYMENT,
        &deployment(),
        json!({"spec":{"template":{"spec":{
        "containers":[{"image":"nginx"}]}}}}),
    )
    .unwrap_err();
    assert!(
        matches!(&err, PatchError::Malformed(m) if m.contains("merge key")),
        "{err:?}"
    );
    let err = smp(DEPLOYMENT, &deployment(), json!({"spec":{"$patch":"obliterate"}})).unwrap_err();
    assert!(matches!(err, PatchError::Malformed(_)));
    let err = smp(
        DEPLOYMENT,
        &deployment(),
        json!({"spec":{"template":{"spec":{
        "$setElementOrder/containers":[{"name":"web"}],"containers":[{"name":"side","image":"x"}]}}}}),
    )
    .unwrap_err();
    assert!(matches!(err, PatchError::Malformed(_)));
}

#[test]
fn replace_strategy_replaces_the_pdb_selector() {
    let pdb = json!({"metadata": {"name": "p"}, "spec": {"minAvailable": 1,
        "selector": {"matchLabels": {"a": "1"}, "matchExpressions": [{"key": "k", "operator": "Exists"}]}}});
    let out = smp(
        "io.k8s.api.policy.v1.PodDisruptionBudget",
        &pdb,
        json!({"spec":{"selector":{"matchLabels":{"b":"2"}}}}),
    )
    .unwrap();
    assert_eq!(
        out["spec"],
        json!({"minAvailable": 1, "selector": {"matchLabels": {"b": "2"}}})
    );
}
