//! Strategic merge patch against a small hand-written schema: merge lists by key and as
//! sets, directives, ordering, validation, and fields without schema.

use serde_json::{Value, json};

use super::{PatchError, strategic_merge};
use crate::schema::Schemas;

fn schemas() -> Schemas {
    let merge_list = |item: &str| {
        json!({"type": "array", "items": {"$ref": format!("#/components/schemas/{item}")},
               "x-kubernetes-patch-strategy": "merge", "x-kubernetes-patch-merge-key": "name"})
    };
    let comps = json!({
        "Obj": {"type": "object", "properties": {
            "mergingList": merge_list("Item"),
            "mergingIntList": {"type": "array", "items": {"type": "integer"},
                               "x-kubernetes-patch-strategy": "merge"},
            "nonMergingList": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}},
            "nonMergingIntList": {"type": "array", "items": {"type": "integer"}},
            "retainKeysMap": {"$ref": "#/components/schemas/Item",
                              "x-kubernetes-patch-strategy": "retainKeys"},
            "replaceMap": {"type": "object", "additionalProperties": {"type": "string"},
                           "x-kubernetes-patch-strategy": "replace"},
            "simpleMap": {"type": "object", "additionalProperties": {"type": "string"}},
            "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
        }},
        "Item": {"type": "object", "properties": {
            "name": {"type": "string"}, "value": {"type": "string"}, "other": {"type": "string"},
            "nested": merge_list("Item"),
            "ints": {"type": "array", "items": {"type": "integer"}, "x-kubernetes-patch-strategy": "merge"}
        }}
    });
    Schemas::new(comps.as_object().cloned().unwrap_or_default())
}

fn smp(doc: Value, patch: Value) -> Result<Value, PatchError> {
    let s = schemas();
    let out = strategic_merge(&doc, &patch, s.named("Obj"))?;
    assert_no_directives(&out);
    Ok(out)
}

fn ok(doc: Value, patch: Value) -> Value {
    match smp(doc.clone(), patch.clone()) {
        Ok(v) => v,
        Err(e) => panic!("{patch} on {doc}: {e:?}"),
    }
}

fn malformed(doc: Value, patch: Value) -> String {
    match smp(doc, patch) {
        Err(PatchError::Malformed(m)) => m,
        other => panic!("expected Malformed, got {other:?}"),
    }
}

fn assert_no_directives(v: &Value) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                assert!(!super::directive::is_directive_key(k), "directive {k} leaked");
                assert_no_directives(v);
            }
        }
        Value::Array(items) => items.iter().for_each(assert_no_directives),
        _ => {}
    }
}

fn names(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .map(|i| i["name"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn maps_merge_and_null_deletes() {
    let doc = json!({"simpleMap": {"a": "1", "b": "2"}, "keep": 1, "drop": 2});
    let out = ok(
        doc,
        json!({"simpleMap": {"b": null, "c": "3"}, "drop": null,
                             "added": {"x": 1, "y": null}, "missing": null}),
    );
    assert_eq!(
        out,
        json!({"simpleMap": {"a": "1", "c": "3"}, "keep": 1, "added": {"x": 1}})
    );
}

#[test]
fn patch_directive_on_maps() {
    let doc = json!({"simpleMap": {"a": "1"}, "other": 1});
    assert_eq!(
        ok(doc.clone(), json!({"$patch": "replace", "x": 1})),
        json!({"x": 1})
    );
    assert_eq!(ok(doc.clone(), json!({"$patch": "delete"})), json!({}));
    // As upstream: a deleted map that exists becomes empty; one that does not stays absent.
    assert_eq!(
        ok(
            doc.clone(),
            json!({"simpleMap": {"$patch": "delete"}, "gone": {"$patch": "delete"}})
        ),
        json!({"simpleMap": {}, "other": 1})
    );
    assert_eq!(
        ok(doc.clone(), json!({"simpleMap": {"$patch": "replace", "b": "2"}})),
        json!({"simpleMap": {"b": "2"}, "other": 1})
    );
    assert_eq!(
        ok(doc.clone(), json!({"simpleMap": {"$patch": "merge", "b": "2"}})),
        json!({"simpleMap": {"a": "1", "b": "2"}, "other": 1})
    );
    assert!(malformed(doc, json!({"simpleMap": {"$patch": "explode"}})).contains("explode"));
}

#[test]
fn merging_list_updates_adds_and_orders_like_upstream() {
    let doc = json!({"mergingList": [{"name": "1"}, {"name": "2", "value": "b"}, {"name": "3"}]});
    // Patch order wins for named elements; server-only ones interleave by stored order.
    let out = ok(
        doc.clone(),
        json!({"mergingList": [{"name": "3", "value": "c"}, {"name": "1", "value": "a"}]}),
    );
    assert_eq!(
        out["mergingList"],
        json!([{"name": "2", "value": "b"}, {"name": "3", "value": "c"}, {"name": "1", "value": "a"}])
    );
    // Without $setElementOrder a new element comes before the stored ones (upstream).
    let out = ok(doc.clone(), json!({"mergingList": [{"name": "4"}]}));
    assert_eq!(names(&out["mergingList"]), ["4", "1", "2", "3"]);
    // Field deletion inside an element, nested merge lists (new values first, as above).
    let doc = json!({"mergingList": [{"name": "a", "value": "v", "nested": [{"name": "n1"}], "ints": [1]}]});
    let out = ok(
        doc,
        json!({"mergingList": [{"name": "a", "value": null, "other": "o",
        "nested": [{"name": "n2"}], "ints": [2]}]}),
    );
    assert_eq!(
        out["mergingList"],
        json!([{"name": "a", "other": "o", "nested": [{"name": "n2"}, {"name": "n1"}], "ints": [2, 1]}])
    );
}

#[test]
fn merging_list_delete_and_replace_directives() {
    let doc =
        json!({"mergingList": [{"name": "1"}, {"name": "1"}, {"name": "2", "value": "a"}, {"name": "3"}]});
    let out = ok(
        doc.clone(),
        json!({"mergingList": [{"name": "1", "$patch": "delete"},
                                                     {"name": "9", "$patch": "delete"}]}),
    );
    assert_eq!(
        out["mergingList"],
        json!([{"name": "2", "value": "a"}, {"name": "3"}])
    );
    let out = ok(doc.clone(), json!({"mergingList": [{"$patch": "replace"}]}));
    assert_eq!(out["mergingList"], json!([]));
    let out = ok(
        doc.clone(),
        json!({"mergingList": [{"$patch": "replace"}, {"name": "x", "value": null}]}),
    );
    assert_eq!(out["mergingList"], json!([{"name": "x"}]));
    // A deletion in a list the object does not have leaves no trace but the empty list.
    let out = ok(
        json!({}),
        json!({"mergingList": [{"name": "a"}, {"name": "b", "$patch": "delete"}]}),
    );
    assert_eq!(out["mergingList"], json!([{"name": "a"}]));
    assert!(malformed(doc.clone(), json!({"mergingList": [{"$patch": "delete"}]})).contains("merge key"));
    assert!(malformed(doc, json!({"mergingList": [{"$patch": "bogus", "name": "1"}]})).contains("bogus"));
}

#[test]
fn merge_key_is_required() {
    let doc = json!({"mergingList": [{"name": "1", "value": "a"}]});
    let msg = malformed(doc, json!({"mergingList": [{"value": "b"}]}));
    assert!(msg.contains("does not contain declared merge key"), "{msg}");
}

#[test]
fn set_element_order_for_objects() {
    let doc = json!({"mergingList": [{"name": "1", "other": "a"}, {"name": "2"}, {"name": "9"},
                                     {"name": "3"}, {"name": "4"}]});
    let out = ok(
        doc.clone(),
        json!({"$setElementOrder/mergingList":
        [{"name": "2"}, {"name": "1"}, {"name": "4"}, {"name": "3"}]}),
    );
    assert_eq!(names(&out["mergingList"]), ["2", "1", "9", "4", "3"]);
    assert_eq!(out["mergingList"][1], json!({"name": "1", "other": "a"}));
    // Adding with an order puts the new element where the order says.
    let out = ok(
        doc.clone(),
        json!({"$setElementOrder/mergingList":
        [{"name": "1"}, {"name": "5"}, {"name": "2"}, {"name": "9"}, {"name": "3"}, {"name": "4"}],
        "mergingList": [{"name": "5", "value": "new"}]}),
    );
    assert_eq!(names(&out["mergingList"]), ["1", "5", "2", "9", "3", "4"]);
    // Order names an element nobody has: ignored.
    let out = ok(
        json!({"mergingList": [{"name": "1"}, {"name": "3"}]}),
        json!({"$setElementOrder/mergingList": [{"name": "3"}, {"name": "2"}, {"name": "1"}],
               "mergingList": [{"name": "3", "value": "3"}, {"name": "1", "value": "1"}]}),
    );
    assert_eq!(
        out["mergingList"],
        json!([{"name": "3", "value": "3"}, {"name": "1", "value": "1"}])
    );
    // The patch must follow the directive's order.
    let msg = malformed(
        doc.clone(),
        json!({"$setElementOrder/mergingList": [{"name": "1"}, {"name": "2"}],
        "mergingList": [{"name": "2"}, {"name": "1"}]}),
    );
    assert!(msg.contains("doesn't match"), "{msg}");
    assert!(
        malformed(
            doc.clone(),
            json!({"$setElementOrder/mergingList": {"name": "1"}})
        )
        .contains("list")
    );
    assert!(malformed(doc, json!({"$setElementOrderX": []})).contains("setElementOrder"));
    // Nothing to order: no field appears.
    assert_eq!(
        ok(
            json!({}),
            json!({"$setElementOrder/mergingList": [{"name": "a"}]})
        ),
        json!({})
    );
}

#[test]
fn primitive_lists() {
    let doc = json!({"mergingIntList": [1, 2], "nonMergingIntList": [1, 2, 3]});
    assert_eq!(
        ok(doc.clone(), json!({"mergingIntList": [2, 3]}))["mergingIntList"],
        json!([1, 2, 3])
    );
    assert_eq!(
        ok(doc.clone(), json!({"nonMergingIntList": [5]}))["nonMergingIntList"],
        json!([5])
    );
    let out = ok(
        json!({"mergingIntList": [1, 2, 3]}),
        json!({"$setElementOrder/mergingIntList": [1, 2, 4], "mergingIntList": [4],
               "$deleteFromPrimitiveList/mergingIntList": [3]}),
    );
    assert_eq!(out["mergingIntList"], json!([1, 2, 4]));
    let out = ok(
        json!({"mergingIntList": [1, 3]}),
        json!({"$setElementOrder/mergingIntList": [3, 2, 1]}),
    );
    assert_eq!(out["mergingIntList"], json!([3, 1]));
    let out = ok(
        json!({"mergingIntList": [1, 2, 3, 3, 4]}),
        json!({"$deleteFromPrimitiveList/mergingIntList": [3, 7]}),
    );
    assert_eq!(out["mergingIntList"], json!([1, 2, 4]));
    // Works without merge strategy too, and never creates the list.
    let out = ok(
        doc.clone(),
        json!({"$deleteFromPrimitiveList/nonMergingIntList": [2],
                                     "$deleteFromPrimitiveList/absent": [1]}),
    );
    assert_eq!(
        out,
        json!({"mergingIntList": [1, 2], "nonMergingIntList": [1, 3]})
    );
    assert!(
        malformed(
            doc,
            json!({"$deleteFromPrimitiveList/mergingIntList": [{"a": 1}]})
        )
        .contains("primitive")
    );
}

#[test]
fn non_merging_lists_are_replaced_and_cleaned() {
    let doc = json!({"nonMergingList": [{"name": "a"}, {"name": "b"}]});
    let out = ok(
        doc,
        json!({"nonMergingList": [{"name": "c", "value": null, "$retainKeys": ["name"]}]}),
    );
    assert_eq!(out["nonMergingList"], json!([{"name": "c"}]));
}

#[test]
fn retain_keys() {
    let doc = json!({"retainKeysMap": {"name": "type1", "value": "foo", "other": "x"}});
    let out = ok(
        doc.clone(),
        json!({"retainKeysMap": {"$retainKeys": ["name", "other"], "name": "type2",
                                                       "value": null}}),
    );
    assert_eq!(out["retainKeysMap"], json!({"name": "type2", "other": "x"}));
    // Without the directive the map just merges.
    let out = ok(doc.clone(), json!({"retainKeysMap": {"value": "bar"}}));
    assert_eq!(
        out["retainKeysMap"],
        json!({"name": "type1", "value": "bar", "other": "x"})
    );
    let msg = malformed(
        doc.clone(),
        json!({"retainKeysMap": {"$retainKeys": ["name"], "value": "v"}}),
    );
    assert!(msg.contains("retainKeys"), "{msg}");
    assert!(malformed(doc, json!({"retainKeysMap": {"$retainKeys": "name"}})).contains("retainKeys"));
}

#[test]
fn replace_strategy_map() {
    let doc = json!({"replaceMap": {"a": "1"}});
    assert_eq!(
        ok(doc, json!({"replaceMap": {"b": "2"}}))["replaceMap"],
        json!({"b": "2"})
    );
}

#[test]
fn list_shape_errors() {
    let err = smp(json!({"mergingIntList": [[1]]}), json!({"mergingIntList": [[2]]})).unwrap_err();
    assert!(
        matches!(err, PatchError::Inapplicable(ref m) if m.contains("lists of lists")),
        "{err:?}"
    );
    let err = smp(json!({"mergingIntList": [1]}), json!({"mergingIntList": ["a"]})).unwrap_err();
    assert!(matches!(err, PatchError::Inapplicable(_)), "{err:?}");
    assert!(malformed(json!({}), json!([1])).contains("object"));
}

#[test]
fn fields_without_schema_merge_like_merge_patch() {
    let doc = json!({"free": {"list": [1, 2], "m": {"a": 1}}, "unknown": [{"name": "a"}]});
    let out = ok(
        doc.clone(),
        json!({"free": {"list": [3], "m": {"b": 2}}, "unknown": [{"name": "b"}]}),
    );
    assert_eq!(
        out,
        json!({"free": {"list": [3], "m": {"a": 1, "b": 2}}, "unknown": [{"name": "b"}]})
    );
    let out = strategic_merge(&doc, &json!({"free": {"m": null}, "unknown": [3]}), None).unwrap();
    assert_eq!(out, json!({"free": {"list": [1, 2]}, "unknown": [3]}));
    // Lists of objects without a merge key cannot merge and are not ordered.
    let out = ok(
        json!({"nonMergingList": [{"value": "x"}]}),
        json!({"$setElementOrder/nonMergingList": [{"value": "y"}], "nonMergingList": [{"value": "y"}]}),
    );
    assert_eq!(out["nonMergingList"], json!([{"value": "y"}]));
}

#[test]
fn type_changes_replace() {
    let out = ok(
        json!({"simpleMap": {"a": "1"}, "mergingList": [{"name": "a"}]}),
        json!({"simpleMap": "flat", "mergingList": {"name": "x", "$patch": "merge"}}),
    );
    assert_eq!(out, json!({"simpleMap": "flat", "mergingList": {"name": "x"}}));
}
