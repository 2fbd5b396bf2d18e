//! Requests upstream refuses, untyped objects, and how several managers are reported.

use serde_json::json;

use super::tests::{ctx, deploy, entries, schemas, stored, template, uctx, web};
use super::*;

const T1: &str = "2024-05-01T10:00:00Z";
const T2: &str = "2024-05-01T10:05:00Z";
const T3: &str = "2024-05-01T10:10:00Z";

#[test]
fn bad_requests() {
    let s = schemas();
    let c = ctx(&s, "a", T1);
    let mut wrong = deploy(json!({}));
    wrong["apiVersion"] = json!("apps/v1beta1");
    assert_eq!(
        apply(None, &wrong, &c).unwrap_err(),
        ApplyError::BadRequest("invalid object type: apps/v1beta1, Kind=Deployment".into())
    );
    assert_eq!(
        apply(None, &json!({"metadata": {"name": "x"}}), &c).unwrap_err(),
        ApplyError::BadRequest("invalid object type: /, Kind=".into())
    );
    let mut with_mf = deploy(json!({}));
    with_mf["metadata"]["managedFields"] = json!([]);
    assert!(matches!(
        apply(None, &with_mf, &c),
        Err(ApplyError::BadRequest(_))
    ));
    assert!(matches!(
        apply(None, &json!([1]), &c),
        Err(ApplyError::BadRequest(_))
    ));
    let no_key = deploy(json!({"template": template(json!([{"image": "x"}]))}));
    assert_eq!(
        apply(None, &no_key, &c).unwrap_err(),
        ApplyError::Invalid(
            "failed to create typed patch object (default/web; apps/v1, Kind=Deployment): \
             .spec.template.spec.containers: element 0: associative list with keys has an \
             element that omits key field \"name\" (and doesn't have default value)"
                .into()
        )
    );
    let dup = deploy(json!({"template": template(json!([web("a"), web("b")]))}));
    let err = apply(None, &dup, &c).unwrap_err().to_string();
    assert!(
        err.ends_with(r#".spec.template.spec.containers: duplicate entries for key [name="web"]"#),
        "{err}"
    );
    let shape = deploy(json!({"replicas": {"a": 1}, "template": []}));
    let err = apply(None, &shape, &c).unwrap_err().to_string();
    assert!(
        err.contains("errors:\n  .spec.replicas: expected scalar, got map"),
        "{err}"
    );
    assert!(err.contains(".spec.template: expected map, got list"), "{err}");
    let mut deep = json!(1);
    for _ in 0..=MAX_DEPTH {
        deep = json!({"a": deep});
    }
    assert!(matches!(
        apply(None, &deploy(deep), &c),
        Err(ApplyError::BadRequest(_))
    ));
}

#[test]
fn untyped_objects_merge_maps_and_replace_lists() {
    let c = ApplyContext {
        manager: "op",
        api_version: "example.com/v1",
        kind: "Widget",
        subresource: None,
        force: false,
        now: T1,
        schema: None,
        reset: ResetFields::None,
    };
    let config = json!({"apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "w", "labels": {"a": "1"}, "finalizers": ["x"]},
        "spec": {"size": 1, "list": [1, 2], "nested": {"k": "v"}}});
    let obj = apply(None, &config, &c).unwrap();
    assert_eq!(
        obj["metadata"]["managedFields"][0]["fieldsV1"],
        json!({"f:metadata": {"f:finalizers": {r#"v:"x""#: {}}, "f:labels": {"f:a": {}}},
               "f:spec": {".": {}, "f:list": {}, "f:nested": {".": {}, "f:k": {}}, "f:size": {}}})
    );
    let live = stored(obj);
    let other = ApplyContext {
        manager: "other",
        ..c
    };
    let changed = json!({"apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "w"}, "spec": {"list": [3], "extra": true}});
    let err = apply(Some(&live), &changed, &other).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"Apply failed with 1 conflict: conflict with "op": .spec.list"#
    );
    let forced = apply(Some(&live), &changed, &ApplyContext { force: true, ..other }).unwrap();
    assert_eq!(
        forced["spec"],
        json!({"size": 1, "list": [3], "nested": {"k": "v"}, "extra": true})
    );
}

#[test]
fn same_manager_apply_and_update_entries_are_separate() {
    let s = schemas();
    let live = stored(apply(None, &deploy(json!({"replicas": 1})), &ctx(&s, "a", T1)).unwrap());
    let mut changed = live.clone();
    changed["spec"]["paused"] = json!(true);
    record_update(Some(&live), &mut changed, &uctx(&s, "a", T2));
    let got: Vec<(String, String)> = entries(&changed).into_iter().map(|(m, o, _)| (m, o)).collect();
    assert_eq!(got, [("a".into(), "Apply".into()), ("a".into(), "Update".into())]);
    // The applier dropping `paused` does not remove it: its Update entry owns it.
    let obj = apply(
        Some(&stored(changed)),
        &deploy(json!({"replicas": 1})),
        &ctx(&s, "a", T3),
    );
    assert_eq!(obj.unwrap()["spec"]["paused"], true);
}

#[test]
fn conflict_messages_for_several_managers() {
    let s = schemas();
    let live = stored(apply(None, &deploy(json!({"replicas": 1})), &ctx(&s, "b", T1)).unwrap());
    let mut changed = live.clone();
    changed["spec"]["paused"] = json!(true);
    changed["status"] = json!({"replicas": 1});
    record_update(Some(&live), &mut changed, &uctx(&s, "a-editor", T2));
    let mut sctx = uctx(&s, "ctrl", T2);
    sctx.subresource = Some("status");
    sctx.reset = ResetFields::for_write(Some("status"), true);
    let mut with_status = changed.clone();
    with_status["status"] = json!({"replicas": 2});
    record_update(Some(&changed), &mut with_status, &sctx);
    let mut config = deploy(json!({"replicas": 3, "paused": false}));
    config["status"] = json!({"replicas": 5});
    let mut actx = ctx(&s, "c", T3);
    actx.reset = ResetFields::None;
    let err = apply(Some(&stored(with_status)), &config, &actx).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Apply failed with 3 conflicts: conflicts with \"a-editor\" using apps/v1:\n\
         - .spec.paused\n\
         conflicts with \"b\":\n\
         - .spec.replicas\n\
         conflicts with \"ctrl\" with subresource \"status\" using apps/v1:\n\
         - .status.replicas"
    );
    let ApplyError::Conflicts(c) = err else { panic!() };
    assert_eq!(c.0[2].subresource.as_deref(), Some("status"));
    assert_eq!(c.0[2].operation, Operation::Update);
}

#[test]
fn deep_objects_stay_within_the_stack() {
    let mut deep = json!("leaf");
    for _ in 0..(MAX_DEPTH - 4) {
        deep = json!({"a": deep});
    }
    let config = json!({"apiVersion": "example.com/v1", "kind": "Deep",
        "metadata": {"name": "d"}, "spec": deep});
    let c = ApplyContext {
        manager: "m",
        api_version: "example.com/v1",
        kind: "Deep",
        subresource: None,
        force: false,
        now: T1,
        schema: None,
        reset: ResetFields::None,
    };
    let live = stored(apply(None, &config, &c).unwrap());
    let mut changed = live.clone();
    changed["spec"]["a"] = json!(1);
    let u = UpdateContext {
        manager: "u",
        api_version: "example.com/v1",
        subresource: None,
        now: T2,
        schema: None,
        reset: ResetFields::None,
        creations: None,
    };
    record_update(Some(&live), &mut changed, &u);
    // u owns `.spec.a` now, and m nothing below it: the deep leaves it owned are gone.
    let m = &changed["metadata"]["managedFields"][0];
    assert_eq!(m["manager"], "m");
    assert_eq!(m["fieldsV1"], json!({"f:spec": {}}));
    assert_eq!(
        changed["metadata"]["managedFields"][1]["fieldsV1"],
        json!({"f:spec": {"f:a": {}}})
    );
    let again = apply(
        Some(&stored(changed)),
        &config,
        &ApplyContext {
            force: true,
            now: T3,
            ..c
        },
    );
    assert!(again.is_ok());
}
