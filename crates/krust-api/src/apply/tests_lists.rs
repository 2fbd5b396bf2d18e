//! List and map semantics, FieldsV1 round trips and the client-side apply migration.

use serde_json::{Value, json};

use super::tests::{ctx, deploy, entries, fields_of, schemas, stored, uctx};
use super::*;

const T1: &str = "2024-05-01T10:00:00Z";
const T2: &str = "2024-05-01T10:05:00Z";
const T3: &str = "2024-05-01T10:10:00Z";

fn pod_spec(spec: Value) -> Value {
    deploy(json!({"template": {"spec": spec}}))
}

fn containers(obj: &Value) -> &Value {
    &obj["spec"]["template"]["spec"]["containers"]
}

#[test]
fn containers_env_and_ports_merge_by_key() {
    let s = schemas();
    let a = pod_spec(json!({"containers": [{"name": "web", "image": "nginx",
        "env": [{"name": "A", "value": "1"}],
        "ports": [{"containerPort": 80}]}]}));
    let live = stored(apply(None, &a, &ctx(&s, "a", T1)).unwrap());
    assert_eq!(
        fields_of(&live, "a", "Apply")["f:spec"]["f:template"]["f:spec"]["f:containers"],
        json!({r#"k:{"name":"web"}"#: {".": {}, "f:env": {r#"k:{"name":"A"}"#: {
                ".": {}, "f:name": {}, "f:value": {}}},
            "f:image": {}, "f:name": {},
            "f:ports": {r#"k:{"containerPort":80,"protocol":"TCP"}"#: {
                ".": {}, "f:containerPort": {}}}}})
    );
    // Another manager adds an env var, a port and a sidecar: all merged in.
    let b = pod_spec(json!({"containers": [
        {"name": "web", "env": [{"name": "B", "value": "2"}],
         "ports": [{"containerPort": 80, "protocol": "UDP"}]},
        {"name": "side", "image": "busybox"}]}));
    let obj = apply(Some(&live), &b, &ctx(&s, "b", T2)).unwrap();
    assert_eq!(
        containers(&obj),
        &json!([{"name": "web", "image": "nginx",
            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
            "ports": [{"containerPort": 80}, {"containerPort": 80, "protocol": "UDP"}]},
            {"name": "side", "image": "busybox"}])
    );
    // a drops its env var A: removed; B stays (b's).
    let a2 = pod_spec(json!({"containers": [{"name": "web", "image": "nginx",
        "ports": [{"containerPort": 80}]}]}));
    let obj = apply(Some(&stored(obj)), &a2, &ctx(&s, "a", T3)).unwrap();
    assert_eq!(containers(&obj)[0]["env"], json!([{"name": "B", "value": "2"}]));
}

#[test]
fn list_order_follows_live_then_config() {
    let s = schemas();
    let names = |obj: &Value| -> Vec<String> {
        containers(obj)
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let c = |n: &str| json!({"name": n});
    let live = stored(
        apply(
            None,
            &pod_spec(json!({"containers": [c("a"), c("b"), c("c")]})),
            &ctx(&s, "x", T1),
        )
        .unwrap(),
    );
    // Live-only items keep their places; new items come where the walk reaches them.
    let obj = apply(
        Some(&live),
        &pod_spec(json!({"containers": [c("b"), c("n")]})),
        &ctx(&s, "y", T2),
    )
    .unwrap();
    assert_eq!(names(&obj), ["a", "b", "c", "n"]);
    let obj = apply(
        Some(&live),
        &pod_spec(json!({"containers": [c("n"), c("c")]})),
        &ctx(&s, "y", T2),
    )
    .unwrap();
    assert_eq!(names(&obj), ["a", "b", "n", "c"]);
    // Shared items follow the configuration's order.
    let obj = apply(
        Some(&live),
        &pod_spec(json!({"containers": [c("c"), c("a")]})),
        &ctx(&s, "y", T2),
    )
    .unwrap();
    assert_eq!(names(&obj), ["b", "c", "a"]);
}

#[test]
fn sets_union_and_atomic_lists_replace() {
    let s = schemas();
    let mut a = pod_spec(json!({"containers": [{"name": "web", "args": ["--a", "--b"]}],
        "tolerations": [{"key": "k1"}], "nodeSelector": {"disk": "ssd"}}));
    a["metadata"]["finalizers"] = json!(["example.com/a"]);
    a["spec"]["selector"] = json!({"matchLabels": {"app": "web"}});
    let live = stored(apply(None, &a, &ctx(&s, "a", T1)).unwrap());
    let f = fields_of(&live, "a", "Apply");
    assert_eq!(
        f["f:metadata"],
        json!({"f:finalizers": {r#"v:"example.com/a""#: {}}})
    );
    assert_eq!(f["f:spec"]["f:selector"], json!({}));
    let spec = &f["f:spec"]["f:template"]["f:spec"];
    assert_eq!(spec["f:tolerations"], json!({}));
    assert_eq!(spec["f:nodeSelector"], json!({}));
    assert_eq!(spec["f:containers"][r#"k:{"name":"web"}"#]["f:args"], json!({}));

    let mut b = pod_spec(json!({"tolerations": [{"key": "k2"}], "nodeSelector": {"zone": "a"}}));
    b["metadata"]["finalizers"] = json!(["example.com/b"]);
    let mut force = ctx(&s, "b", T2);
    force.force = true;
    let obj = apply(Some(&live), &b, &force).unwrap();
    assert_eq!(
        obj["metadata"]["finalizers"],
        json!(["example.com/a", "example.com/b"])
    );
    let pod = &obj["spec"]["template"]["spec"];
    assert_eq!(pod["tolerations"], json!([{"key": "k2"}]));
    assert_eq!(pod["nodeSelector"], json!({"zone": "a"}), "atomic map replaced");
    assert_eq!(pod["containers"][0]["args"], json!(["--a", "--b"]));
    // The set item stays a's; the atomic lists moved to b.
    let fa = fields_of(&obj, "a", "Apply");
    assert_eq!(
        fa["f:metadata"],
        json!({"f:finalizers": {r#"v:"example.com/a""#: {}}})
    );
    assert!(
        fa["f:spec"]["f:template"]["f:spec"]
            .get("f:tolerations")
            .is_none()
    );
    // An update changing args steals the whole atomic list.
    let live = stored(obj);
    let mut edited = live.clone();
    edited["spec"]["template"]["spec"]["containers"][0]["args"] = json!(["--c"]);
    record_update(Some(&live), &mut edited, &uctx(&s, "kubectl-edit", T3));
    assert_eq!(
        fields_of(&edited, "kubectl-edit", "Update"),
        json!({"f:spec": {"f:template": {"f:spec": {"f:containers": {
            r#"k:{"name":"web"}"#: {"f:args": {}}}}}}})
    );
}

#[test]
fn patch_merge_key_without_list_type_is_associative() {
    let s = schemas();
    let a = pod_spec(json!({"volumes": [{"name": "data", "emptyDir": {}}]}));
    let live = stored(apply(None, &a, &ctx(&s, "a", T1)).unwrap());
    assert_eq!(
        fields_of(&live, "a", "Apply")["f:spec"]["f:template"]["f:spec"]["f:volumes"],
        json!({r#"k:{"name":"data"}"#: {".": {}, "f:emptyDir": {}, "f:name": {}}})
    );
    let b = pod_spec(json!({"volumes": [{"name": "cache", "emptyDir": {}}]}));
    let obj = apply(Some(&live), &b, &ctx(&s, "b", T2)).unwrap();
    assert_eq!(
        obj["spec"]["template"]["spec"]["volumes"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn fields_v1_round_trips_upstream_examples() {
    // Shapes as `kubectl get -o yaml --show-managed-fields` prints them.
    let examples = [
        json!({"f:metadata": {"f:annotations": {".": {}, "f:deployment.kubernetes.io/revision": {}}},
               "f:status": {"f:availableReplicas": {}, "f:conditions": {".": {},
                   r#"k:{"type":"Available"}"#: {".": {}, "f:lastTransitionTime": {},
                       "f:message": {}, "f:status": {}, "f:type": {}}}}}),
        json!({"f:spec": {"f:template": {"f:spec": {"f:containers": {
            r#"k:{"name":"nginx"}"#: {".": {}, "f:image": {}, "f:name": {},
                "f:ports": {".": {}, r#"k:{"containerPort":80,"protocol":"TCP"}"#: {
                    ".": {}, "f:containerPort": {}, "f:protocol": {}}}}}}}}}),
        json!({"f:metadata": {"f:finalizers": {".": {}, r#"v:"kubernetes.io/pvc-protection""#: {}},
               "f:ownerReferences": {".": {}, r#"k:{"uid":"6f1d2b1c"}"#: {}}}}),
        json!({"f:metadata": {"f:annotations": {"f:kubectl.kubernetes.io/last-applied-configuration": {}}}}),
        json!({"f:data": {".": {}, "f:key": {}}, "f:spec": {"f:selector": {}}}),
    ];
    for fields in examples {
        let set = FieldSet::from_fields_v1(&fields).unwrap();
        assert_eq!(set.to_fields_v1(), fields);
        let text = serde_json::to_string(&fields).unwrap();
        let reparsed: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(FieldSet::from_fields_v1(&reparsed).unwrap(), set);
    }
    let set = FieldSet::from_fields_v1(&json!({"f:spec": {"f:ports": {
        r#"k:{"port":80,"protocol":"TCP"}"#: {".": {}, "f:port": {}}}}}))
    .unwrap();
    let paths: Vec<String> = set.paths().iter().map(ToString::to_string).collect();
    assert_eq!(
        paths,
        [
            r#".spec.ports[port=80,protocol="TCP"]"#,
            r#".spec.ports[port=80,protocol="TCP"].port"#
        ]
    );
}

/// A Deployment created by client-side `kubectl apply`: the last-applied annotation and an
/// Update entry of `kubectl-client-side-apply` owning everything, the annotation included.
fn client_side_applied(s: &crate::schema::Schemas, replicas: i64) -> Value {
    let config = deploy(json!({"replicas": replicas, "paused": false}));
    let mut obj = config.clone();
    obj["metadata"]["annotations"] = json!({LAST_APPLIED: format!("{}\n", value::go_json(&config))});
    record_update(None, &mut obj, &uctx(s, "kubectl-client-side-apply", T1));
    stored(obj)
}

#[test]
fn kubectl_takes_over_client_side_applied_fields() {
    let s = schemas();
    let live = client_side_applied(&s, 2);
    assert!(
        fields_of(&live, "kubectl-client-side-apply", "Update")["f:metadata"]["f:annotations"]
            .get("f:kubectl.kubernetes.io/last-applied-configuration")
            .is_some()
    );
    // Another field manager conflicts as usual.
    let config = deploy(json!({"replicas": 3, "paused": false}));
    let err = apply(Some(&live), &config, &ctx(&s, "someone", T2)).unwrap_err();
    assert!(
        err.to_string()
            .contains(r#""kubectl-client-side-apply" using apps/v1: .spec.replicas"#)
    );
    // `kubectl` may take fields the annotation lists with their live values.
    let obj = apply(Some(&live), &config, &ctx(&s, "kubectl", T2)).unwrap();
    assert_eq!(obj["spec"]["replicas"], 3);
    assert_eq!(
        fields_of(&obj, "kubectl", "Apply"),
        json!({"f:spec": {"f:paused": {}, "f:replicas": {}}})
    );
    // The annotation now holds the applied configuration.
    let annotation = obj["metadata"]["annotations"][LAST_APPLIED].as_str().unwrap();
    assert_eq!(annotation, format!("{}\n", value::go_json(&config)));
    // A field changed out of band since the client-side apply still conflicts.
    let mut drifted = live.clone();
    drifted["spec"]["replicas"] = json!(7);
    let err = apply(Some(&drifted), &config, &ctx(&s, "kubectl", T2)).unwrap_err();
    assert!(err.to_string().contains(".spec.replicas"), "{err}");
}

#[test]
fn kubectl_migration_sequence() {
    let s = schemas();
    let live = client_side_applied(&s, 2);
    // 1. kubectl apply --server-side.
    let config = deploy(json!({"replicas": 2, "paused": true}));
    let obj = stored(apply(Some(&live), &config, &ctx(&s, "kubectl", T2)).unwrap());
    // 2. The annotation alone, as kubectl-last-applied.
    let annotation = obj["metadata"]["annotations"][LAST_APPLIED].clone();
    let only = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default",
                     "annotations": {LAST_APPLIED: annotation}}});
    let obj = stored(apply(Some(&obj), &only, &ctx(&s, "kubectl-last-applied", T2)).unwrap());
    assert_eq!(
        fields_of(&obj, "kubectl-last-applied", "Apply"),
        json!({"f:metadata": {"f:annotations": {"f:kubectl.kubernetes.io/last-applied-configuration": {}}}})
    );
    // 3. The JSON patch of managedFields (csaupgrade), recorded as an Update by kubectl.
    let upgraded = upgrade_managed_fields(&obj["metadata"]["managedFields"], "kubectl").unwrap();
    let mut patched = obj.clone();
    patched["metadata"]["managedFields"] = upgraded;
    record_update(Some(&obj), &mut patched, &uctx(&s, "kubectl", T3));
    let managers: Vec<(String, String)> = entries(&patched).into_iter().map(|(m, o, _)| (m, o)).collect();
    assert_eq!(
        managers,
        [
            ("kubectl".into(), "Apply".into()),
            ("kubectl-last-applied".into(), "Apply".into())
        ]
    );
    // 4. A later apply dropping `paused` removes it; the annotation survives.
    let next = deploy(json!({"replicas": 2}));
    let obj = apply(Some(&patched), &next, &ctx(&s, "kubectl", T3)).unwrap();
    assert!(obj["spec"].get("paused").is_none(), "{obj}");
    assert!(obj["metadata"]["annotations"][LAST_APPLIED].is_string());
    assert!(upgrade_managed_fields(&obj["metadata"]["managedFields"], "kubectl").is_none());
}

#[test]
fn update_entries_are_capped() {
    let s = schemas();
    let mut config = deploy(json!({"replicas": 0}));
    config["metadata"]["labels"] = json!({"app": "web"});
    let mut obj = stored(apply(None, &config, &ctx(&s, "a", T1)).unwrap());
    for i in 0..12 {
        let old = obj.clone();
        obj["metadata"]["labels"][format!("l{i}")] = json!("x");
        let now = format!("2024-05-01T11:{i:02}:00Z");
        record_update(Some(&old), &mut obj, &uctx(&s, &format!("m{i:02}"), &now));
    }
    let list = entries(&obj);
    let updates = list.iter().filter(|e| e.1 == "Update").count();
    assert_eq!(updates, 10);
    assert!(list.iter().any(|e| e.0 == "ancient-changes"));
}
