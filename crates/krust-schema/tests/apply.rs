//! Server-side apply and field ownership against the real built-in schemas, following the
//! requests kubectl and controllers send, with managedFields in the shapes
//! `kubectl get -o yaml --show-managed-fields` shows on upstream clusters.
#![allow(clippy::unwrap_used)]

use krust_api::apply::{
    ApplyContext, ApplyError, CreationMemo, FieldSet, LAST_APPLIED, ResetFields, UpdateContext, apply,
    object_fields, record_update, upgrade_managed_fields,
};
use krust_api::schema::Schemas;
use serde_json::{Value, json};

const T1: &str = "2025-03-01T09:00:00Z";
const T2: &str = "2025-03-01T09:01:00Z";
const T3: &str = "2025-03-01T09:02:00Z";
const T4: &str = "2025-03-01T09:03:00Z";

fn schemas() -> Schemas {
    Schemas::new(krust_schema::built_in().0)
}

struct Kind {
    api_version: &'static str,
    kind: &'static str,
    schema: &'static str,
}

const DEPLOYMENT: Kind = Kind {
    api_version: "apps/v1",
    kind: "Deployment",
    schema: "io.k8s.api.apps.v1.Deployment",
};
const SERVICE: Kind = Kind {
    api_version: "v1",
    kind: "Service",
    schema: "io.k8s.api.core.v1.Service",
};
const POD: Kind = Kind {
    api_version: "v1",
    kind: "Pod",
    schema: "io.k8s.api.core.v1.Pod",
};
const CONFIGMAP: Kind = Kind {
    api_version: "v1",
    kind: "ConfigMap",
    schema: "io.k8s.api.core.v1.ConfigMap",
};

fn ssa<'a>(s: &'a Schemas, k: &'a Kind, manager: &'a str, now: &'a str) -> ApplyContext<'a> {
    ApplyContext {
        manager,
        api_version: k.api_version,
        kind: k.kind,
        subresource: None,
        force: false,
        now,
        schema: s.named(k.schema),
        reset: ResetFields::for_write(None, k.kind != "ConfigMap"),
    }
}

fn upd<'a>(s: &'a Schemas, k: &'a Kind, manager: &'a str, now: &'a str) -> UpdateContext<'a> {
    UpdateContext {
        manager,
        api_version: k.api_version,
        subresource: None,
        now,
        schema: s.named(k.schema),
        reset: ResetFields::for_write(None, k.kind != "ConfigMap"),
        creations: None,
    }
}

/// The server's part of a create or update: identity and defaults a Deployment gets.
fn persist(mut obj: Value) -> Value {
    obj["metadata"]["uid"] = json!("0b7c6a7e-1f0e-4c43-9d2b-3c1f4a6f0e11");
    obj["metadata"]["resourceVersion"] = json!("100");
    obj["metadata"]["generation"] = json!(1);
    obj["metadata"]["creationTimestamp"] = json!(T1);
    obj
}

fn entry<'v>(obj: &'v Value, manager: &str, operation: &str) -> &'v Value {
    obj["metadata"]["managedFields"]
        .as_array()
        .and_then(|l| {
            l.iter()
                .find(|e| e["manager"] == manager && e["operation"] == operation)
        })
        .unwrap_or(&Value::Null)
}

fn managers(obj: &Value) -> Vec<String> {
    obj["metadata"]["managedFields"]
        .as_array()
        .map(|l| {
            l.iter()
                .map(|e| {
                    format!(
                        "{}/{}",
                        e["manager"].as_str().unwrap(),
                        e["operation"].as_str().unwrap()
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `kubectl create deployment nginx --image=nginx` style manifest, applied.
fn nginx(image: &str, replicas: i64) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "nginx", "namespace": "default", "labels": {"app": "nginx"}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "nginx"}},
            "template": {"metadata": {"labels": {"app": "nginx"}},
                "spec": {"containers": [{"name": "nginx", "image": image,
                    "ports": [{"containerPort": 80}]}]}}}})
}

#[test]
fn server_side_apply_creates_with_upstream_fields() {
    let s = schemas();
    let obj = apply(
        None,
        &nginx("nginx:1.27", 2),
        &ssa(&s, &DEPLOYMENT, "kubectl", T1),
    )
    .unwrap();
    let e = entry(&obj, "kubectl", "Apply");
    assert_eq!(e["apiVersion"], "apps/v1");
    assert_eq!(e["time"], T1);
    assert_eq!(e["fieldsType"], "FieldsV1");
    assert!(e.get("subresource").is_none());
    assert_eq!(
        e["fieldsV1"],
        json!({"f:metadata": {"f:labels": {"f:app": {}}},
            "f:spec": {"f:replicas": {}, "f:selector": {},
                "f:template": {"f:metadata": {"f:labels": {"f:app": {}}},
                    "f:spec": {"f:containers": {r#"k:{"name":"nginx"}"#: {
                        ".": {}, "f:image": {}, "f:name": {},
                        "f:ports": {r#"k:{"containerPort":80,"protocol":"TCP"}"#: {
                            ".": {}, "f:containerPort": {}}}}}}}}})
    );
}

#[test]
fn kubectl_create_records_update_fields() {
    let s = schemas();
    // kubectl create deployment, after the server's defaulting.
    let mut obj = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
                "containers": [{"name": "nginx", "image": "nginx", "resources": {},
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File", "imagePullPolicy": "Always"}],
                "restartPolicy": "Always", "terminationGracePeriodSeconds": 30,
                "dnsPolicy": "ClusterFirst", "securityContext": {},
                "schedulerName": "default-scheduler"}}},
        "status": {}});
    record_update(None, &mut obj, &upd(&s, &DEPLOYMENT, "kubectl-create", T1));
    let e = entry(&obj, "kubectl-create", "Update");
    assert_eq!(e["apiVersion"], "apps/v1");
    assert_eq!(
        e["fieldsV1"],
        json!({"f:metadata": {"f:labels": {".": {}, "f:app": {}}},
            "f:spec": {"f:progressDeadlineSeconds": {}, "f:replicas": {},
                "f:revisionHistoryLimit": {}, "f:selector": {},
                "f:strategy": {"f:rollingUpdate": {".": {}, "f:maxSurge": {}, "f:maxUnavailable": {}},
                    "f:type": {}},
                "f:template": {"f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                    "f:spec": {"f:containers": {r#"k:{"name":"nginx"}"#: {".": {},
                            "f:image": {}, "f:imagePullPolicy": {}, "f:name": {},
                            "f:resources": {}, "f:terminationMessagePath": {},
                            "f:terminationMessagePolicy": {}}},
                        "f:dnsPolicy": {}, "f:restartPolicy": {}, "f:schedulerName": {},
                        "f:securityContext": {}, "f:terminationGracePeriodSeconds": {}}}}})
    );
    // Then `kubectl apply --server-side` with another replica count conflicts with it.
    let live = persist(obj);
    let mut config = nginx("nginx", 3);
    config["metadata"]["name"] = json!("web");
    config["metadata"]["labels"] = json!({"app": "web"});
    config["spec"]["selector"] = json!({"matchLabels": {"app": "web"}});
    config["spec"]["template"]["metadata"]["labels"] = json!({"app": "web"});
    let err = apply(Some(&live), &config, &ssa(&s, &DEPLOYMENT, "kubectl", T2)).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"Apply failed with 1 conflict: conflict with "kubectl-create" using apps/v1: .spec.replicas"#
    );
}

#[test]
fn two_managers_conflict_then_force() {
    let s = schemas();
    let live = persist(
        apply(
            None,
            &nginx("nginx:1.27", 2),
            &ssa(&s, &DEPLOYMENT, "kubectl", T1),
        )
        .unwrap(),
    );
    // A CI tool applies only the image.
    let image_only = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "nginx", "namespace": "default"},
        "spec": {"template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.28"}]}}}});
    let err = apply(Some(&live), &image_only, &ssa(&s, &DEPLOYMENT, "ci", T2)).unwrap_err();
    let ApplyError::Conflicts(conflicts) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(conflicts.0.len(), 1);
    assert_eq!(
        conflicts.0[0].field,
        r#".spec.template.spec.containers[name="nginx"].image"#
    );
    assert_eq!(conflicts.0[0].cause_message(), r#"conflict with "kubectl""#);
    assert_eq!(
        err.to_string(),
        r#"Apply failed with 1 conflict: conflict with "kubectl": .spec.template.spec.containers[name="nginx"].image"#
    );
    let mut forced = ssa(&s, &DEPLOYMENT, "ci", T2);
    forced.force = true;
    let obj = persist(apply(Some(&live), &image_only, &forced).unwrap());
    assert_eq!(
        obj["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.28"
    );
    assert_eq!(
        obj["spec"]["template"]["spec"]["containers"][0]["ports"],
        json!([{"containerPort": 80}])
    );
    assert_eq!(
        entry(&obj, "ci", "Apply")["fieldsV1"],
        json!({"f:spec": {"f:template": {"f:spec": {"f:containers": {
            r#"k:{"name":"nginx"}"#: {".": {}, "f:image": {}, "f:name": {}}}}}}})
    );
    let kubectl = &entry(&obj, "kubectl", "Apply")["fieldsV1"];
    let container = &kubectl["f:spec"]["f:template"]["f:spec"]["f:containers"][r#"k:{"name":"nginx"}"#];
    assert!(container.get("f:image").is_none());
    assert!(container.get("f:ports").is_some());
    // kubectl re-applies its old manifest: now it conflicts with ci.
    let err = apply(
        Some(&obj),
        &nginx("nginx:1.27", 2),
        &ssa(&s, &DEPLOYMENT, "kubectl", T3),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"Apply failed with 1 conflict: conflict with "ci": .spec.template.spec.containers[name="nginx"].image"#
    );
    // kubectl drops the image from its manifest and changes replicas: no conflict, and
    // the image stays because ci owns it.
    let mut without_image = nginx("x", 4);
    without_image["spec"]["template"]["spec"]["containers"][0]
        .as_object_mut()
        .unwrap()
        .remove("image");
    let obj = apply(Some(&obj), &without_image, &ssa(&s, &DEPLOYMENT, "kubectl", T3)).unwrap();
    assert_eq!(obj["spec"]["replicas"], 4);
    assert_eq!(
        obj["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.28"
    );
}

#[test]
fn kubectl_edit_steals_then_apply_conflicts() {
    let s = schemas();
    let live = persist(
        apply(
            None,
            &nginx("nginx:1.27", 2),
            &ssa(&s, &DEPLOYMENT, "kubectl", T1),
        )
        .unwrap(),
    );
    let mut edited = live.clone();
    edited["spec"]["replicas"] = json!(5);
    edited["spec"]["template"]["spec"]["containers"][0]["env"] = json!([{"name": "MODE", "value": "debug"}]);
    record_update(
        Some(&live),
        &mut edited,
        &upd(&s, &DEPLOYMENT, "kubectl-edit", T2),
    );
    assert_eq!(managers(&edited), ["kubectl/Apply", "kubectl-edit/Update"]);
    assert_eq!(
        entry(&edited, "kubectl-edit", "Update")["fieldsV1"],
        json!({"f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {
            r#"k:{"name":"nginx"}"#: {"f:env": {".": {}, r#"k:{"name":"MODE"}"#: {
                ".": {}, "f:name": {}, "f:value": {}}}}}}}}})
    );
    let edited = persist(edited);
    let err = apply(
        Some(&edited),
        &nginx("nginx:1.27", 2),
        &ssa(&s, &DEPLOYMENT, "kubectl", T3),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"Apply failed with 1 conflict: conflict with "kubectl-edit" using apps/v1: .spec.replicas"#
    );
    // Re-applying with the edited value is fine, and the env var the applier never owned stays.
    let obj = apply(
        Some(&edited),
        &nginx("nginx:1.27", 5),
        &ssa(&s, &DEPLOYMENT, "kubectl", T3),
    )
    .unwrap();
    assert_eq!(
        obj["spec"]["template"]["spec"]["containers"][0]["env"][0]["name"],
        "MODE"
    );
}

#[test]
fn pod_lists_by_their_keys() {
    let s = schemas();
    let pod = |containers: Value, finalizers: Value| {
        json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "default", "finalizers": finalizers},
            "spec": {"containers": containers}})
    };
    let app = json!({"name": "app", "image": "app:1", "args": ["--port", "80"],
        "env": [{"name": "A", "value": "1"}],
        "ports": [{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 80, "protocol": "UDP"}],
        "volumeMounts": [{"name": "data", "mountPath": "/data"}]});
    let live = persist(
        apply(
            None,
            &pod(json!([app]), json!(["example.com/a"])),
            &ssa(&s, &POD, "op", T1),
        )
        .unwrap(),
    );
    let f = &entry(&live, "op", "Apply")["fieldsV1"];
    assert_eq!(
        f["f:metadata"],
        json!({"f:finalizers": {r#"v:"example.com/a""#: {}}})
    );
    assert_eq!(
        f["f:spec"]["f:containers"][r#"k:{"name":"app"}"#],
        json!({".": {}, "f:args": {}, "f:env": {r#"k:{"name":"A"}"#: {".": {}, "f:name": {}, "f:value": {}}},
            "f:image": {}, "f:name": {},
            "f:ports": {
                r#"k:{"containerPort":80,"protocol":"TCP"}"#: {".": {}, "f:containerPort": {}, "f:protocol": {}},
                r#"k:{"containerPort":80,"protocol":"UDP"}"#: {".": {}, "f:containerPort": {}, "f:protocol": {}}},
            "f:volumeMounts": {r#"k:{"mountPath":"/data"}"#: {".": {}, "f:mountPath": {}, "f:name": {}}}})
    );
    // A second manager adds a finalizer, an env var and a sidecar; args are atomic.
    let other = pod(
        json!([{"name": "app", "env": [{"name": "B", "value": "2"}], "args": ["--port", "81"]},
               {"name": "sidecar", "image": "envoy"}]),
        json!(["example.com/b"]),
    );
    let err = apply(Some(&live), &other, &ssa(&s, &POD, "mesh", T2)).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"Apply failed with 1 conflict: conflict with "op": .spec.containers[name="app"].args"#
    );
    let mut without_args = other.clone();
    without_args["spec"]["containers"][0]
        .as_object_mut()
        .unwrap()
        .remove("args");
    let obj = apply(Some(&live), &without_args, &ssa(&s, &POD, "mesh", T2)).unwrap();
    assert_eq!(
        obj["metadata"]["finalizers"],
        json!(["example.com/a", "example.com/b"])
    );
    let containers = obj["spec"]["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 2);
    assert_eq!(
        containers[0]["env"],
        json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}])
    );
    assert_eq!(containers[0]["args"], json!(["--port", "80"]));
    // op drops its finalizer and its env var; mesh's stay.
    let op2 = pod(
        json!([{"name": "app", "image": "app:1", "args": ["--port", "80"],
            "ports": [{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 80, "protocol": "UDP"}],
            "volumeMounts": [{"name": "data", "mountPath": "/data"}]}]),
        json!([]),
    );
    let obj = apply(Some(&persist(obj)), &op2, &ssa(&s, &POD, "op", T3)).unwrap();
    assert_eq!(obj["metadata"]["finalizers"], json!(["example.com/b"]));
    assert_eq!(
        obj["spec"]["containers"][0]["env"],
        json!([{"name": "B", "value": "2"}])
    );
}

#[test]
fn service_ports_and_configmap_data() {
    let s = schemas();
    let svc = json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}});
    let obj = apply(None, &svc, &ssa(&s, &SERVICE, "kubectl", T1)).unwrap();
    assert_eq!(
        entry(&obj, "kubectl", "Apply")["fieldsV1"],
        json!({"f:spec": {"f:ports": {r#"k:{"port":80,"protocol":"TCP"}"#: {
                ".": {}, "f:name": {}, "f:port": {}, "f:targetPort": {}}},
            "f:selector": {}}})
    );
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "cfg", "namespace": "default"}, "data": {"a": "1", "b": "2"}});
    let live = persist(apply(None, &cm, &ssa(&s, &CONFIGMAP, "kubectl", T1)).unwrap());
    assert_eq!(
        entry(&live, "kubectl", "Apply")["fieldsV1"],
        json!({"f:data": {"f:a": {}, "f:b": {}}})
    );
    let cm2 = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "cfg", "namespace": "default"}, "data": {"a": "1"}});
    let obj = apply(Some(&live), &cm2, &ssa(&s, &CONFIGMAP, "kubectl", T2)).unwrap();
    assert_eq!(obj["data"], json!({"a": "1"}));
}

#[test]
fn status_subresource_entries() {
    let s = schemas();
    let live = persist(apply(None, &nginx("nginx", 1), &ssa(&s, &DEPLOYMENT, "kubectl", T1)).unwrap());
    // The deployment controller writes /status.
    let mut with_status = live.clone();
    with_status["status"] = json!({"observedGeneration": 1, "replicas": 1, "readyReplicas": 1,
        "conditions": [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"}]});
    let ctx = UpdateContext {
        subresource: Some("status"),
        reset: ResetFields::for_write(Some("status"), true),
        ..upd(&s, &DEPLOYMENT, "kube-controller-manager", T2)
    };
    record_update(Some(&live), &mut with_status, &ctx);
    let e = entry(&with_status, "kube-controller-manager", "Update");
    assert_eq!(e["subresource"], "status");
    assert_eq!(
        e["fieldsV1"],
        json!({"f:status": {"f:conditions": {".": {}, r#"k:{"type":"Available"}"#: {
                ".": {}, "f:reason": {}, "f:status": {}, "f:type": {}}},
            "f:observedGeneration": {}, "f:readyReplicas": {}, "f:replicas": {}}})
    );
    // An apply to the main resource neither owns nor conflicts on status.
    let mut config = nginx("nginx", 1);
    config["status"] = json!({"replicas": 7});
    let obj = apply(
        Some(&persist(with_status)),
        &config,
        &ssa(&s, &DEPLOYMENT, "kubectl", T3),
    )
    .unwrap();
    assert!(
        entry(&obj, "kubectl", "Apply")["fieldsV1"]
            .get("f:status")
            .is_none()
    );
    assert_eq!(
        managers(&obj),
        ["kubectl/Apply", "kube-controller-manager/Update"]
    );
}

#[test]
fn client_side_apply_upgrade_as_kubectl_does_it() {
    let s = schemas();
    // `kubectl apply` (client-side) created the object.
    let manifest = nginx("nginx:1.27", 2);
    let mut created = manifest.clone();
    created["metadata"]["annotations"] =
        json!({LAST_APPLIED: serde_json::to_string(&manifest).unwrap() + "\n"});
    record_update(
        None,
        &mut created,
        &upd(&s, &DEPLOYMENT, "kubectl-client-side-apply", T1),
    );
    let live = persist(created);
    // `kubectl apply --server-side` with a new image: no conflict for `kubectl`.
    let changed = nginx("nginx:1.28", 2);
    let obj = persist(apply(Some(&live), &changed, &ssa(&s, &DEPLOYMENT, "kubectl", T2)).unwrap());
    assert_eq!(
        obj["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.28"
    );
    let annotation: Value =
        serde_json::from_str(obj["metadata"]["annotations"][LAST_APPLIED].as_str().unwrap()).unwrap();
    assert_eq!(annotation, changed);
    // kubectl's follow-up requests: the annotation as kubectl-last-applied, then the
    // managedFields migration as a JSON patch.
    let only_annotation = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "nginx", "namespace": "default",
            "annotations": {LAST_APPLIED: obj["metadata"]["annotations"][LAST_APPLIED]}}});
    let obj = persist(
        apply(
            Some(&obj),
            &only_annotation,
            &ssa(&s, &DEPLOYMENT, "kubectl-last-applied", T2),
        )
        .unwrap(),
    );
    let mut patched = obj.clone();
    patched["metadata"]["managedFields"] =
        upgrade_managed_fields(&obj["metadata"]["managedFields"], "kubectl").unwrap();
    record_update(Some(&obj), &mut patched, &upd(&s, &DEPLOYMENT, "kubectl", T3));
    assert_eq!(
        managers(&patched),
        ["kubectl/Apply", "kubectl-last-applied/Apply"]
    );
    // From now on kubectl owns what client-side apply set: dropping the port removes it.
    let mut no_port = nginx("nginx:1.28", 2);
    no_port["spec"]["template"]["spec"]["containers"][0]
        .as_object_mut()
        .unwrap()
        .remove("ports");
    let obj = apply(
        Some(&persist(patched)),
        &no_port,
        &ssa(&s, &DEPLOYMENT, "kubectl", T4),
    )
    .unwrap();
    assert!(
        obj["spec"]["template"]["spec"]["containers"][0]
            .get("ports")
            .is_none(),
        "{obj}"
    );
    assert!(obj["metadata"]["annotations"][LAST_APPLIED].is_string());
}

#[test]
fn invalid_configurations() {
    let s = schemas();
    let mut bad = nginx("x", 1);
    bad["spec"]["template"]["spec"]["containers"][0]["ports"] = json!([{"name": "http"}]);
    let err = apply(None, &bad, &ssa(&s, &DEPLOYMENT, "kubectl", T1)).unwrap_err();
    assert_eq!(
        err,
        ApplyError::Invalid(
            "failed to create typed patch object (default/nginx; apps/v1, Kind=Deployment): \
             .spec.template.spec.containers[name=\"nginx\"].ports: element 0: associative list \
             with keys has an element that omits key field \"containerPort\" (and doesn't have \
             default value)"
                .into()
        )
    );
    let mut pod = json!({"apiVersion": "v1", "kind": "Deployment", "metadata": {"name": "x"}});
    assert_eq!(
        apply(None, &pod, &ssa(&s, &DEPLOYMENT, "kubectl", T1)).unwrap_err(),
        ApplyError::BadRequest("invalid object type: /v1, Kind=Deployment".into())
    );
    pod["apiVersion"] = json!("apps/v1");
    pod["spec"] = json!({"selector": {"matchLabels": {"a": "b"}}});
    assert!(apply(None, &pod, &ssa(&s, &DEPLOYMENT, "kubectl", T1)).is_ok());
}

#[test]
fn field_sets_of_real_objects() {
    let s = schemas();
    let set = object_fields(&nginx("nginx", 1), s.named(DEPLOYMENT.schema));
    let text = set.to_fields_v1();
    assert_eq!(FieldSet::from_fields_v1(&text).unwrap(), set);
    let paths: Vec<String> = set.paths().iter().map(ToString::to_string).collect();
    assert!(paths.contains(&".spec.selector".to_owned()), "{paths:?}");
    assert!(paths.contains(&r#".spec.template.spec.containers[name="nginx"].ports[containerPort=80,protocol="TCP"].containerPort"#.to_owned()), "{paths:?}");
    assert!(paths.contains(&".apiVersion".to_owned()));
}

/// Creations recorded through the shape memo (a miss, then hits) get exactly the
/// managedFields the full computation gives, for objects that share a shape but not
/// their names, labels' values or images.
#[test]
fn memoised_creations_match_the_full_computation() {
    let s = schemas();
    let memo = CreationMemo::new();
    let objects = |i: usize| {
        let name = format!("obj-{i}");
        vec![
            (
                &POD,
                json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "namespace": "default", "labels": {"app": format!("a{i}")},
                    "finalizers": ["example.com/f"]},
                "spec": {"containers": [{"name": "main", "image": format!("img:{i}"),
                    "ports": [{"containerPort": 80}], "env": [{"name": "A", "value": format!("{i}")}],
                    "resources": {"requests": {"cpu": "100m"}}}],
                    "nodeSelector": {"disk": "ssd"}, "securityContext": {}},
                "status": {"phase": "Pending"}}),
            ),
            (&DEPLOYMENT, persist(nginx(&format!("nginx:{i}"), i as i64))),
            (
                &SERVICE,
                json!({"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": name, "namespace": "default"},
                "spec": {"selector": {"app": format!("a{i}")},
                    "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}]}}),
            ),
            (
                &CONFIGMAP,
                json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": name, "namespace": "default"},
                "data": {"key": format!("value {i}")}}),
            ),
            (
                &CONFIGMAP,
                json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": name, "namespace": "default"}}),
            ),
        ]
    };
    for i in 0..3 {
        for (k, obj) in objects(i) {
            let mut full = obj.clone();
            record_update(None, &mut full, &upd(&s, k, "maker", T1));
            let mut memoised = obj.clone();
            let ctx = UpdateContext {
                creations: Some((&memo, k.schema)),
                ..upd(&s, k, "maker", T1)
            };
            record_update(None, &mut memoised, &ctx);
            assert_eq!(
                memoised["metadata"]["managedFields"], full["metadata"]["managedFields"],
                "{} #{i}",
                k.kind
            );
        }
    }
    // Another manager and time on a hit: the entry is its own, the fields the shape's.
    let (k, obj) = objects(7).swap_remove(0);
    let mut hit = obj.clone();
    record_update(
        None,
        &mut hit,
        &UpdateContext {
            creations: Some((&memo, k.schema)),
            ..upd(&s, k, "other", T2)
        },
    );
    let e = entry(&hit, "other", "Update");
    assert_eq!(e["time"], T2);
    assert_eq!(e["apiVersion"], "v1");
    let mut full = obj;
    record_update(None, &mut full, &upd(&s, k, "other", T2));
    assert_eq!(
        hit["metadata"]["managedFields"],
        full["metadata"]["managedFields"]
    );
}
