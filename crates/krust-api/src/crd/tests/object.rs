//! OpenAPI validation of custom resources: paths and messages as upstream prints them.

use serde_json::{Value, json};

use super::{exactly, has, ok, widget_schema};
use crate::crd::{CompiledSchema, validate_object, validate_scale};
use crate::field_error::FieldError;
use crate::field_error::FieldErrorKind::*;

fn widget(spec: Value) -> Value {
    json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": spec})
}

fn check(schema: Value, obj: Value) -> Vec<FieldError> {
    validate_object(&schema, &obj, None)
}

#[test]
fn valid_objects_pass() {
    ok(&validate_object(
        &widget_schema(),
        &widget(json!({"size": 3, "mode": "fast", "name": "abc"})),
        None,
    ));
}

#[test]
fn required_enum_type_and_bounds() {
    exactly(
        &validate_object(
            &widget_schema(),
            &widget(json!({"mode": "turbo", "name": "ABCDEFG"})),
            None,
        ),
        &[
            "spec.mode: Unsupported value: \"turbo\": supported values: \"fast\", \"slow\"",
            "spec.name: Too long: may not be more than 5 bytes",
            "spec.size: Required value",
        ],
    );
    exactly(
        &validate_object(&widget_schema(), &widget(json!({"size": "three"})), None),
        &["spec.size: Invalid value: \"string\": spec.size in body must be of type integer: \"string\""],
    );
    exactly(
        &validate_object(&widget_schema(), &widget(json!({"size": 11, "name": "a1"})), None),
        &[
            "spec.name: Invalid value: \"a1\": spec.name in body should match '^[a-z]+$'",
            "spec.size: Invalid value: 11: spec.size in body should be less than or equal to 10",
        ],
    );
    let s = json!({"type": "object", "properties": {"n": {"type": "number", "exclusiveMinimum": true, "minimum": 0.5, "multipleOf": 0.25},
        "i": {"type": "integer", "multipleOf": 3, "exclusiveMaximum": true, "maximum": 9}}});
    exactly(
        &check(s.clone(), json!({"n": 0.5, "i": 9})),
        &[
            "i: Invalid value: 9: i in body should be less than 9",
            "n: Invalid value: 0.5: n in body should be greater than 0.5",
        ],
    );
    exactly(
        &check(s, json!({"n": 0.6, "i": 4})),
        &[
            "i: Invalid value: 4: i in body should be a multiple of 3",
            "n: Invalid value: 0.6: n in body should be a multiple of 0.25",
        ],
    );
}

#[test]
fn strings_arrays_and_maps() {
    let s = json!({"type": "object", "properties": {
        "short": {"type": "string", "minLength": 2},
        "list": {"type": "array", "items": {"type": "integer"}, "minItems": 1, "maxItems": 2},
        "labels": {"type": "object", "additionalProperties": {"type": "string", "maxLength": 3}, "maxProperties": 1, "minProperties": 1}}});
    exactly(
        &check(
            s.clone(),
            json!({"short": "a", "list": [1, "x", 3], "labels": {"a": "long", "b": "ok"}}),
        ),
        &[
            "labels: Too many: 2: must have at most 1 items",
            "labels.a: Too long: may not be more than 3 bytes",
            "list[1]: Invalid value: \"string\": list[1] in body must be of type integer: \"string\"",
            "list: Too many: 3: must have at most 2 items",
            "short: Invalid value: \"a\": short in body should be at least 2 chars long",
        ],
    );
    exactly(
        &check(s, json!({"list": [], "labels": {}})),
        &[
            "labels: Invalid value: 0: labels in body should have at least 1 properties",
            "list: Invalid value: 0: list in body should have at least 1 items",
        ],
    );
}

#[test]
fn formats_nullable_and_int_or_string() {
    let s = json!({"type": "object", "properties": {
        "when": {"type": "string", "format": "date-time"},
        "id": {"type": "string", "format": "uuid"},
        "data": {"type": "string", "format": "byte"},
        "n32": {"type": "integer", "format": "int32"},
        "maybe": {"type": "string", "nullable": true},
        "never": {"type": "string"},
        "port": {"x-kubernetes-int-or-string": true}}});
    ok(&check(
        s.clone(),
        json!({"when": "2024-05-06T07:08:09Z", "id": "123e4567-e89b-12d3-a456-426614174000",
        "data": "aGk=", "n32": 5, "maybe": null, "port": "http"}),
    ));
    ok(&check(s.clone(), json!({"port": 8080})));
    exactly(
        &check(
            s,
            json!({"when": "tomorrow", "id": "x", "data": "!!", "n32": 3_000_000_000_i64, "never": null, "port": true}),
        ),
        &[
            "data: Invalid value: \"!!\": data in body must be of type byte: \"!!\"",
            "id: Invalid value: \"x\": id in body must be of type uuid: \"x\"",
            "<nil>: Invalid value: \"\": Checked value must be of type integer with format int32 in n32",
            "never: Invalid value: \"null\": never in body must be of type string: \"null\"",
            "port: Invalid value: \"boolean\": port in body must be of type integer,string: \"boolean\"",
            "when: Invalid value: \"tomorrow\": when in body must be of type date-time: \"tomorrow\"",
        ],
    );
}

#[test]
fn junctors() {
    let s = json!({"type": "object", "properties": {"spec": {"type": "object",
        "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
        "oneOf": [{"required": ["a"]}, {"required": ["b"]}],
        "not": {"required": ["a", "b"]}}}});
    ok(&check(s.clone(), json!({"spec": {"a": "x"}})));
    exactly(
        &check(s.clone(), json!({"spec": {}})),
        &[
            "<nil>: Invalid value: \"\": \"spec\" must validate one and only one schema (oneOf). Found none valid",
            "spec.a: Required value",
        ],
    );
    let errs = check(s, json!({"spec": {"a": "x", "b": "y"}}));
    has(
        &errs,
        "<nil>",
        Invalid,
        "\"spec\" must validate one and only one schema (oneOf). Found 2 valid alternatives",
    );
    has(
        &errs,
        "<nil>",
        Invalid,
        "\"spec\" must not validate the schema (not)",
    );
    let any = json!({"type": "object", "properties": {"v": {"type": "integer", "anyOf": [{"minimum": 10}, {"maximum": 0}]}}});
    exactly(
        &check(any, json!({"v": 5})),
        &[
            "<nil>: Invalid value: \"\": \"v\" must validate at least one schema (anyOf)",
            "v: Invalid value: 5: v in body should be greater than or equal to 10",
        ],
    );
}

#[test]
fn embedded_resources_and_list_types() {
    let s = json!({"type": "object", "properties": {
        "template": {"type": "object", "x-kubernetes-embedded-resource": true, "x-kubernetes-preserve-unknown-fields": true},
        "tags": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
        "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                  "items": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}, "port": {"type": "integer"}}}}}});
    ok(&check(
        s.clone(),
        json!({"template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}, "tags": ["a", "b"],
        "ports": [{"name": "a", "port": 1}, {"name": "b", "port": 1}]}),
    ));
    exactly(
        &check(
            s,
            json!({"template": {"apiVersion": "a/b/c", "metadata": {"name": "Bad/Name", "labels": {"-x": "y"}}},
            "tags": ["a", "b", "a"], "ports": [{"name": "a"}, {"name": "a", "port": 2}]}),
        ),
        &[
            "template.kind: Required value",
            "template.apiVersion: Invalid value: \"a/b/c\": unexpected GroupVersion string: a/b/c",
            "template.metadata.name: Invalid value: \"Bad/Name\": may not contain '/'",
            "template.metadata.labels: Invalid value: \"-x\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
            "ports[1]: Duplicate value: {\"name\":\"a\"}",
            "tags[2]: Duplicate value: \"a\"",
        ],
    );
}

#[test]
fn updates_ratchet_unchanged_values() {
    let schema = CompiledSchema::new(&widget_schema());
    let old = widget(json!({"size": 20, "name": "x"}));
    // The stored object breaks a rule added later; an update that leaves it alone passes.
    let mut new = old.clone();
    new["spec"]["name"] = json!("y");
    ok(&schema.validate(&new, Some(&old)));
    new["spec"]["size"] = json!(30);
    has(
        &schema.validate(&new, Some(&old)),
        "spec.size",
        Invalid,
        "should be less than or equal to 10",
    );
    has(
        &schema.validate(&new, None),
        "spec.size",
        Invalid,
        "should be less than or equal to 10",
    );
}

#[test]
fn status_writes_check_status() {
    let schema = CompiledSchema::new(&widget_schema());
    let old = widget(json!({"size": 1}));
    let mut new = old.clone();
    new["status"] = json!({"replicas": "two"});
    exactly(
        &schema.validate_status(&new, &old),
        &["status.replicas: Invalid value: \"string\": replicas in body must be of type integer: \"string\""],
    );
}

#[test]
fn root_metadata_name_restrictions() {
    let s = json!({"type": "object", "properties": {"metadata": {"type": "object", "properties": {"name": {"type": "string", "maxLength": 3}}}}});
    exactly(
        &check(s, json!({"metadata": {"name": "toolong"}})),
        &["metadata.name: Too long: may not be more than 3 bytes"],
    );
}

#[test]
fn scale_paths_hold_integers() {
    let scale = json!({"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas", "labelSelectorPath": ".status.selector"});
    ok(&validate_scale(
        &json!({"spec": {"replicas": 2}, "status": {"replicas": 1, "selector": "a=b"}}),
        &scale,
        false,
    ));
    exactly(
        &validate_scale(
            &json!({"spec": {"replicas": -1}, "status": {"replicas": "x"}}),
            &scale,
            false,
        ),
        &[
            ".spec.replicas: Invalid value: -1: should be a non-negative integer",
            ".status.replicas: Invalid value: 0: .status.replicas accessor error: x is of the type string, expected int64",
        ],
    );
}
