//! Apply and update flows against a small Deployment-like schema (the real built-in
//! schemas are exercised in krust-schema's `tests/apply.rs`).

use serde_json::{Value, json};

use super::*;
use crate::schema::Schemas;

const T1: &str = "2024-05-01T10:00:00Z";
const T2: &str = "2024-05-01T10:05:00Z";
const T3: &str = "2024-05-01T10:10:00Z";

fn r(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

/// Deployment, ObjectMeta, pod template and container, with upstream's list metadata and
/// upstream's component names (so the atomic-struct and key-default tables apply).
pub(super) fn schemas() -> Schemas {
    let meta = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
    let strings = json!({"type": "object", "additionalProperties": {"type": "string"}});
    let comps = json!({
        "Deployment": {"type": "object", "properties": {
            "apiVersion": {"type": "string"}, "kind": {"type": "string"},
            "metadata": r(meta), "spec": r("io.k8s.api.apps.v1.DeploymentSpec"),
            "status": r("io.k8s.api.apps.v1.DeploymentStatus")}},
        meta: {"type": "object", "properties": {
            "name": {"type": "string"}, "namespace": {"type": "string"},
            "uid": {"type": "string"}, "resourceVersion": {"type": "string"},
            "generation": {"type": "integer"}, "creationTimestamp": {"type": "string"},
            "labels": strings, "annotations": strings,
            "finalizers": {"type": "array", "items": {"type": "string"},
                "x-kubernetes-list-type": "set", "x-kubernetes-patch-strategy": "merge"},
            "managedFields": {"type": "array", "items": {"type": "object"},
                "x-kubernetes-list-type": "atomic"}}},
        "io.k8s.api.apps.v1.DeploymentSpec": {"type": "object", "properties": {
            "replicas": {"type": "integer"}, "paused": {"type": "boolean"},
            "selector": r("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector"),
            "strategy": {"type": "object", "properties": {"type": {"type": "string"}}},
            "template": r("io.k8s.api.core.v1.PodTemplateSpec")}},
        "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector": {"type": "object", "properties": {
            "matchLabels": strings}},
        "io.k8s.api.apps.v1.DeploymentStatus": {"type": "object", "properties": {
            "replicas": {"type": "integer"}, "readyReplicas": {"type": "integer"}}},
        "io.k8s.api.core.v1.PodTemplateSpec": {"type": "object", "properties": {
            "metadata": r(meta), "spec": r("io.k8s.api.core.v1.PodSpec")}},
        "io.k8s.api.core.v1.PodSpec": {"type": "object", "properties": {
            "containers": {"type": "array", "items": r("io.k8s.api.core.v1.Container"),
                "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                "x-kubernetes-patch-strategy": "merge", "x-kubernetes-patch-merge-key": "name"},
            "volumes": {"type": "array", "items": {"type": "object", "properties": {
                "name": {"type": "string"}, "emptyDir": {"type": "object"}}},
                "x-kubernetes-patch-strategy": "merge,retainKeys",
                "x-kubernetes-patch-merge-key": "name"},
            "tolerations": {"type": "array", "items": {"type": "object"},
                "x-kubernetes-list-type": "atomic"},
            "nodeSelector": strings}},
        "io.k8s.api.core.v1.Container": {"type": "object", "required": ["name"], "properties": {
            "name": {"type": "string"}, "image": {"type": "string"},
            "args": {"type": "array", "items": {"type": "string"},
                "x-kubernetes-list-type": "atomic"},
            "env": {"type": "array", "items": {"type": "object", "properties": {
                "name": {"type": "string"}, "value": {"type": "string"}}},
                "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
            "ports": {"type": "array", "items": r("io.k8s.api.core.v1.ContainerPort"),
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["containerPort", "protocol"]},
            "resources": {"type": "object", "properties": {"limits": strings}}}},
        "io.k8s.api.core.v1.ContainerPort": {"type": "object", "properties": {
            "containerPort": {"type": "integer"}, "protocol": {"type": "string"},
            "name": {"type": "string"}}}
    });
    Schemas::new(comps.as_object().cloned().unwrap_or_default())
}

pub(super) fn ctx<'a>(s: &'a Schemas, manager: &'a str, now: &'a str) -> ApplyContext<'a> {
    ApplyContext {
        manager,
        api_version: "apps/v1",
        kind: "Deployment",
        subresource: None,
        force: false,
        now,
        schema: s.named("Deployment"),
        reset: ResetFields::Status,
    }
}

pub(super) fn uctx<'a>(s: &'a Schemas, manager: &'a str, now: &'a str) -> UpdateContext<'a> {
    UpdateContext {
        manager,
        api_version: "apps/v1",
        subresource: None,
        now,
        schema: s.named("Deployment"),
        reset: ResetFields::Status,
        creations: None,
    }
}

pub(super) fn deploy(spec: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": "web", "namespace": "default"}, "spec": spec})
}

/// What the server adds on create, so that later writes are updates.
pub(super) fn stored(mut obj: Value) -> Value {
    obj["metadata"]["uid"] = json!("u-1");
    obj["metadata"]["resourceVersion"] = json!("1");
    obj
}

pub(super) fn entries(obj: &Value) -> Vec<(String, String, Value)> {
    obj["metadata"]["managedFields"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|e| {
                    (
                        e["manager"].as_str().unwrap_or_default().to_owned(),
                        e["operation"].as_str().unwrap_or_default().to_owned(),
                        e["fieldsV1"].clone(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

pub(super) fn fields_of(obj: &Value, manager: &str, op: &str) -> Value {
    entries(obj)
        .into_iter()
        .find(|(m, o, _)| m == manager && o == op)
        .map(|(_, _, f)| f)
        .unwrap_or(Value::Null)
}

pub(super) fn web(image: &str) -> Value {
    json!({"name": "web", "image": image})
}

pub(super) fn template(containers: Value) -> Value {
    json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": containers}})
}

#[test]
fn create_by_apply_records_one_apply_entry() {
    let s = schemas();
    let config = deploy(json!({"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                               "template": template(json!([web("nginx:1")]))}));
    let obj = apply(None, &config, &ctx(&s, "kubectl", T1)).unwrap();
    assert_eq!(obj["spec"]["replicas"], 2);
    let list = obj["metadata"]["managedFields"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(
        list[0],
        json!({"manager": "kubectl", "operation": "Apply", "apiVersion": "apps/v1",
               "time": T1, "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {
                   "f:replicas": {}, "f:selector": {},
                   "f:template": {"f:metadata": {"f:labels": {"f:app": {}}},
                       "f:spec": {"f:containers": {r#"k:{"name":"web"}"#: {
                           ".": {}, "f:image": {}, "f:name": {}}}}}}}})
    );
}

#[test]
fn second_apply_changes_a_field_and_keeps_one_entry() {
    let s = schemas();
    let first = deploy(json!({"replicas": 2, "template": template(json!([web("nginx:1")]))}));
    let live = stored(apply(None, &first, &ctx(&s, "kubectl", T1)).unwrap());
    let second = deploy(json!({"replicas": 3, "template": template(json!([web("nginx:2")]))}));
    let obj = apply(Some(&live), &second, &ctx(&s, "kubectl", T2)).unwrap();
    assert_eq!(obj["spec"]["replicas"], 3);
    assert_eq!(
        obj["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:2"
    );
    assert_eq!(obj["metadata"]["uid"], "u-1");
    let list = obj["metadata"]["managedFields"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["time"], T2);
    // Re-applying the same configuration changes nothing, not even the time.
    let again = apply(Some(&stored(obj.clone())), &second, &ctx(&s, "kubectl", T3)).unwrap();
    assert_eq!(again["metadata"]["managedFields"][0]["time"], T2);
    assert_eq!(again["spec"], obj["spec"]);
}

#[test]
fn two_appliers_keep_two_entries() {
    let s = schemas();
    let a = deploy(json!({"replicas": 2}));
    let live = stored(apply(None, &a, &ctx(&s, "a", T1)).unwrap());
    let mut b = deploy(json!({"paused": true}));
    b["metadata"]["labels"] = json!({"team": "x"});
    let obj = apply(Some(&live), &b, &ctx(&s, "b", T2)).unwrap();
    assert_eq!(obj["spec"], json!({"replicas": 2, "paused": true}));
    assert_eq!(
        fields_of(&obj, "a", "Apply"),
        json!({"f:spec": {"f:replicas": {}}})
    );
    assert_eq!(
        fields_of(&obj, "b", "Apply"),
        json!({"f:metadata": {"f:labels": {"f:team": {}}}, "f:spec": {"f:paused": {}}})
    );
    // Entries are sorted oldest first.
    let names: Vec<String> = entries(&obj).into_iter().map(|e| e.0).collect();
    assert_eq!(names, ["a", "b"]);
}

#[test]
fn conflict_names_manager_and_field() {
    let s = schemas();
    let a = deploy(json!({"replicas": 2, "template": template(json!([web("nginx:1")]))}));
    let live = stored(apply(None, &a, &ctx(&s, "a", T1)).unwrap());
    // Same values: shared ownership, no conflict.
    let shared = apply(Some(&live), &deploy(json!({"replicas": 2})), &ctx(&s, "b", T2)).unwrap();
    assert_eq!(
        fields_of(&shared, "b", "Apply"),
        json!({"f:spec": {"f:replicas": {}}})
    );
    // Different values: one conflict per field.
    let b = deploy(json!({"replicas": 5, "template": template(json!([web("nginx:9")]))}));
    let err = apply(Some(&live), &b, &ctx(&s, "b", T2)).unwrap_err();
    let ApplyError::Conflicts(conflicts) = &err else {
        panic!("{err:?}")
    };
    let fields: Vec<&str> = conflicts.0.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            ".spec.replicas",
            r#".spec.template.spec.containers[name="web"].image"#
        ]
    );
    assert_eq!(conflicts.0[0].cause_message(), r#"conflict with "a""#);
    assert_eq!(
        err.to_string(),
        "Apply failed with 2 conflicts: conflicts with \"a\":\n- .spec.replicas\n\
         - .spec.template.spec.containers[name=\"web\"].image"
    );
    let one = apply(Some(&live), &deploy(json!({"replicas": 5})), &ctx(&s, "b", T2)).unwrap_err();
    assert_eq!(
        one.to_string(),
        r#"Apply failed with 1 conflict: conflict with "a": .spec.replicas"#
    );
}

#[test]
fn force_moves_ownership() {
    let s = schemas();
    let a = deploy(json!({"replicas": 2, "paused": false}));
    let live = stored(apply(None, &a, &ctx(&s, "a", T1)).unwrap());
    let mut force = ctx(&s, "b", T2);
    force.force = true;
    let obj = apply(Some(&live), &deploy(json!({"replicas": 5})), &force).unwrap();
    assert_eq!(obj["spec"]["replicas"], 5);
    assert_eq!(fields_of(&obj, "a", "Apply"), json!({"f:spec": {"f:paused": {}}}));
    assert_eq!(
        fields_of(&obj, "b", "Apply"),
        json!({"f:spec": {"f:replicas": {}}})
    );
    // a no longer owns replicas: dropping it from a's config leaves it in place.
    let obj = apply(
        Some(&stored(obj)),
        &deploy(json!({"paused": false})),
        &ctx(&s, "a", T3),
    );
    assert_eq!(obj.unwrap()["spec"]["replicas"], 5);
}

#[test]
fn fields_dropped_from_config_are_removed_unless_owned() {
    let s = schemas();
    let mut a = deploy(json!({"replicas": 2, "paused": true,
                              "template": template(json!([web("nginx:1"),
                                  {"name": "side", "image": "busybox"}]))}));
    a["metadata"]["labels"] = json!({"app": "web", "tier": "x"});
    let live = stored(apply(None, &a, &ctx(&s, "a", T1)).unwrap());
    // b shares `paused` (same value).
    let live = stored(apply(Some(&live), &deploy(json!({"paused": true})), &ctx(&s, "b", T2)).unwrap());
    let mut a2 = deploy(json!({"template": template(json!([web("nginx:1")]))}));
    a2["metadata"]["labels"] = json!({"app": "web"});
    let obj = apply(Some(&live), &a2, &ctx(&s, "a", T3)).unwrap();
    assert_eq!(obj["metadata"]["labels"], json!({"app": "web"}));
    assert!(obj["spec"].get("replicas").is_none(), "{obj}");
    assert_eq!(obj["spec"]["paused"], true, "b still owns it");
    let containers = &obj["spec"]["template"]["spec"]["containers"];
    assert_eq!(containers, &json!([web("nginx:1")]));
}

#[test]
fn update_steals_without_conflict_then_apply_conflicts() {
    let s = schemas();
    let a = deploy(json!({"replicas": 2, "paused": false}));
    let live = stored(apply(None, &a, &ctx(&s, "kubectl", T1)).unwrap());
    let mut edited = live.clone();
    edited["spec"]["replicas"] = json!(7);
    record_update(Some(&live), &mut edited, &uctx(&s, "kubectl-edit", T2));
    assert_eq!(
        fields_of(&edited, "kubectl", "Apply"),
        json!({"f:spec": {"f:paused": {}}})
    );
    assert_eq!(
        fields_of(&edited, "kubectl-edit", "Update"),
        json!({"f:spec": {"f:replicas": {}}})
    );
    let err = apply(Some(&edited), &a, &ctx(&s, "kubectl", T3)).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"Apply failed with 1 conflict: conflict with "kubectl-edit" using apps/v1: .spec.replicas"#
    );
    let ApplyError::Conflicts(c) = err else { panic!() };
    assert_eq!(
        c.0[0].cause_message(),
        r#"conflict with "kubectl-edit" using apps/v1"#
    );
}

#[test]
fn update_entries_on_create_and_change() {
    let s = schemas();
    let mut created = deploy(json!({"replicas": 1, "strategy": {"type": "Recreate"},
                                    "template": template(json!([web("nginx")]))}));
    record_update(None, &mut created, &uctx(&s, "kubectl-create", T1));
    // By-value structs (spec, strategy, template, its metadata and spec) exist in the zero
    // object; labels and the container are new maps, hence ".".
    assert_eq!(
        fields_of(&created, "kubectl-create", "Update"),
        json!({"f:spec": {"f:replicas": {}, "f:strategy": {"f:type": {}},
            "f:template": {"f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                "f:spec": {"f:containers": {r#"k:{"name":"web"}"#: {
                    ".": {}, "f:image": {}, "f:name": {}}}}}}})
    );
    // The same manager's later update merges into its entry; another's takes the field.
    let live = stored(created);
    let mut scaled = live.clone();
    scaled["spec"]["replicas"] = json!(3);
    record_update(Some(&live), &mut scaled, &uctx(&s, "hpa", T2));
    assert_eq!(
        fields_of(&scaled, "hpa", "Update"),
        json!({"f:spec": {"f:replicas": {}}})
    );
    let creator = fields_of(&scaled, "kubectl-create", "Update");
    assert!(creator["f:spec"].get("f:replicas").is_none());
    // Nothing changed: no entry for the writer.
    let mut same = scaled.clone();
    record_update(Some(&scaled), &mut same, &uctx(&s, "noop", T3));
    assert_eq!(fields_of(&same, "noop", "Update"), Value::Null);
    assert_eq!(
        same["metadata"]["managedFields"],
        scaled["metadata"]["managedFields"]
    );
}

#[test]
fn object_without_managed_fields_stays_untracked_until_applied() {
    let s = schemas();
    let live = stored(deploy(json!({"replicas": 1, "paused": false})));
    let mut updated = live.clone();
    updated["spec"]["replicas"] = json!(2);
    record_update(Some(&live), &mut updated, &uctx(&s, "kubectl-edit", T1));
    assert!(updated["metadata"].get("managedFields").is_none());
    // The first apply gives what is there to before-first-apply, which then conflicts.
    let err = apply(
        Some(&updated),
        &deploy(json!({"replicas": 5})),
        &ctx(&s, "me", T2),
    );
    assert_eq!(
        err.unwrap_err().to_string(),
        r#"Apply failed with 1 conflict: conflict with "before-first-apply" using apps/v1: .spec.replicas"#
    );
    let obj = apply(
        Some(&updated),
        &deploy(json!({"replicas": 2})),
        &ctx(&s, "me", T2),
    )
    .unwrap();
    assert_eq!(
        fields_of(&obj, "before-first-apply", "Update"),
        json!({"f:spec": {"f:paused": {}, "f:replicas": {}}})
    );
    assert_eq!(
        fields_of(&obj, "me", "Apply"),
        json!({"f:spec": {"f:replicas": {}}})
    );
}

#[test]
fn managed_fields_in_the_request() {
    let s = schemas();
    let live = stored(apply(None, &deploy(json!({"replicas": 1})), &ctx(&s, "a", T1)).unwrap());
    // Sent back unchanged (kubectl edit/replace): kept.
    let mut replaced = live.clone();
    replaced["spec"]["paused"] = json!(true);
    record_update(Some(&live), &mut replaced, &uctx(&s, "kubectl-replace", T2));
    assert_eq!(entries(&replaced).len(), 2);
    // Reset with [] (or [{}]): cleared, and the object is no longer tracked.
    for reset in [json!([]), json!([{}])] {
        let mut cleared = live.clone();
        cleared["metadata"]["managedFields"] = reset;
        record_update(Some(&live), &mut cleared, &uctx(&s, "x", T2));
        assert!(cleared["metadata"].get("managedFields").is_none());
    }
    // Rewritten: the request's entries are used.
    let mut rewritten = live.clone();
    rewritten["metadata"]["managedFields"] = json!([{"manager": "other", "operation": "Apply",
        "apiVersion": "apps/v1", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}}}]);
    record_update(Some(&live), &mut rewritten, &uctx(&s, "x", T2));
    assert_eq!(entries(&rewritten)[0].0, "other");
    // Through a subresource the request's managedFields are ignored.
    let mut via_status = rewritten.clone();
    let mut status_ctx = uctx(&s, "ctrl", T3);
    status_ctx.subresource = Some("status");
    status_ctx.reset = ResetFields::AllButStatus;
    via_status["status"] = json!({"replicas": 1});
    record_update(Some(&live), &mut via_status, &status_ctx);
    assert_eq!(entries(&via_status)[0].0, "a");
}

#[test]
fn status_is_owned_through_the_subresource_only() {
    let s = schemas();
    let mut config = deploy(json!({"replicas": 1}));
    config["status"] = json!({"replicas": 9});
    let live = stored(apply(None, &config, &ctx(&s, "a", T1)).unwrap());
    assert_eq!(
        fields_of(&live, "a", "Apply"),
        json!({"f:spec": {"f:replicas": {}}})
    );
    let mut with_status = live.clone();
    with_status["status"] = json!({"replicas": 1, "readyReplicas": 1});
    let mut sctx = uctx(&s, "kube-controller-manager", T2);
    sctx.subresource = Some("status");
    sctx.reset = ResetFields::AllButStatus;
    record_update(Some(&live), &mut with_status, &sctx);
    let list = with_status["metadata"]["managedFields"].as_array().unwrap();
    let entry = list
        .iter()
        .find(|e| e["manager"] == "kube-controller-manager")
        .unwrap();
    assert_eq!(entry["subresource"], "status");
    assert_eq!(
        entry["fieldsV1"],
        json!({"f:status": {"f:readyReplicas": {}, "f:replicas": {}}})
    );
    // Apply to /status: its own Apply entry, separate from the main one.
    let mut actx = ctx(&s, "a", T3);
    actx.subresource = Some("status");
    actx.reset = ResetFields::AllButStatus;
    let mut status_config = deploy(json!({}));
    status_config["status"] = json!({"readyReplicas": 1});
    let obj = apply(Some(&stored(with_status)), &status_config, &actx).unwrap();
    let applies: Vec<&Value> = obj["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["manager"] == "a")
        .collect();
    assert_eq!(applies.len(), 2);
    assert!(applies.iter().any(
        |e| e["subresource"] == "status" && e["fieldsV1"] == json!({"f:status": {"f:readyReplicas": {}}})
    ));
}
