//! Defaulting and pruning of custom resources.

use serde_json::json;

use crate::crd::{CompiledSchema, default_object, prune};

fn schema() -> serde_json::Value {
    json!({"type": "object", "properties": {
        "spec": {"type": "object", "default": {}, "properties": {
            "replicas": {"type": "integer", "default": 1},
            "strategy": {"type": "object", "properties": {
                "type": {"type": "string", "default": "Rolling"},
                "maxSurge": {"type": "integer", "default": 2}}},
            "ports": {"type": "array", "items": {"type": "object", "properties": {
                "protocol": {"type": "string", "default": "TCP"}, "port": {"type": "integer"}}}},
            "nullable": {"type": "string", "nullable": true, "default": "d"},
            "labels": {"type": "object", "additionalProperties": {"type": "string", "default": "v"}},
            "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true,
                     "properties": {"known": {"type": "object", "properties": {"a": {"type": "string"}}}}},
            "template": {"type": "object", "x-kubernetes-embedded-resource": true, "properties": {"spec": {"type": "object",
                "properties": {"x": {"type": "string"}}}}}}}}})
}

#[test]
fn nested_defaults_apply_only_where_the_parent_exists() {
    let mut obj = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}});
    default_object(&schema(), &mut obj);
    assert_eq!(obj["spec"], json!({"replicas": 1, "nullable": "d"}));
    let mut obj = json!({"spec": {"replicas": 3, "strategy": {}, "ports": [{"port": 80}, {"port": 81, "protocol": "UDP"}]}});
    default_object(&schema(), &mut obj);
    assert_eq!(
        obj["spec"],
        json!({"replicas": 3, "strategy": {"type": "Rolling", "maxSurge": 2}, "nullable": "d",
            "ports": [{"port": 80, "protocol": "TCP"}, {"port": 81, "protocol": "UDP"}]})
    );
}

#[test]
fn nulls_are_defaulted_unless_nullable() {
    let mut obj = json!({"spec": {"replicas": null, "nullable": null, "labels": {"a": null}}});
    default_object(&schema(), &mut obj);
    assert_eq!(obj["spec"]["replicas"], 1);
    assert_eq!(obj["spec"]["nullable"], json!(null));
    assert_eq!(obj["spec"]["labels"]["a"], "v");
}

#[test]
fn pruning_drops_unknown_fields_and_reports_them() {
    let s = CompiledSchema::new(&schema());
    let mut obj = json!({"apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "w", "bogus": 1, "labels": {"a": "b"}},
        "spec": {"replicas": 2, "extra": true, "ports": [{"port": 1, "host": "x"}],
            "free": {"anything": {"goes": 1}, "known": {"a": "b", "z": 1}},
            "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "junk": 1}, "spec": {"x": "y", "w": 1}, "other": 1},
            "strategy": null},
        "status": {"x": 1}});
    let unknown = s.prune(&mut obj).unwrap();
    assert_eq!(
        unknown,
        vec![
            "metadata.bogus",
            "spec.extra",
            "spec.free.known.z",
            "spec.ports[0].host",
            "spec.template.other",
            "spec.template.spec.w",
            "status",
            "spec.template.metadata.junk",
        ]
    );
    assert_eq!(
        obj,
        json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "labels": {"a": "b"}},
            "spec": {"replicas": 2, "ports": [{"port": 1}], "free": {"anything": {"goes": 1}, "known": {"a": "b"}},
                "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"x": "y"}}}})
    );
}

#[test]
fn bad_metadata_types_are_decode_errors() {
    let mut obj = json!({"metadata": {"name": "w", "labels": {"a": 1}}});
    let err = prune(&schema(), &mut obj).unwrap_err();
    assert_eq!(
        err.to_string(),
        "json: cannot unmarshal number into Go struct field ObjectMeta.labels of type string"
    );
    let mut obj = json!({"metadata": {"name": "w"}, "spec": {"template": {"apiVersion": 1, "kind": "Pod"}}});
    let err = prune(&schema(), &mut obj).unwrap_err();
    assert_eq!(
        err.to_string(),
        "spec.template.apiVersion: Invalid value: 1: must be a string"
    );
}

#[test]
fn preserve_unknown_fields_at_the_root() {
    let s = json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true,
        "properties": {"spec": {"type": "object", "properties": {"a": {"type": "string"}}}}});
    let mut obj = json!({"anything": 1, "spec": {"a": "x", "b": 2}});
    assert_eq!(prune(&s, &mut obj).unwrap(), vec!["spec.b"]);
    assert_eq!(obj, json!({"anything": 1, "spec": {"a": "x"}}));
}

#[test]
fn compiled_schemas_are_shareable() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<CompiledSchema>();
    assert!(CompiledSchema::new(&schema()).has_defaults());
    assert!(!CompiledSchema::new(&json!({"type": "object"})).has_defaults());
}
