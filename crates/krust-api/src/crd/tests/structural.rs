//! Structural schema rules, defaults, list types and CEL rule compilation in
//! `validate_crd`: a non-structural schema is refused with each reason.

use serde_json::{Value, json};

use super::{crd_with, exactly, has, ok};
use crate::crd::validate_crd;
use crate::field_error::FieldError;
use crate::field_error::FieldErrorKind::*;

fn check(schema: Value) -> Vec<FieldError> {
    validate_crd(&crd_with(schema), None)
}

const ROOT: &str = "spec.validation.openAPIV3Schema";

#[test]
fn every_node_needs_a_type() {
    exactly(
        &check(json!({"properties": {
            "spec": {"properties": {"a": {}, "b": {"type": "array"}, "c": {"type": "array", "items": {}}}},
            "any": {"x-kubernetes-preserve-unknown-fields": true},
            "ios": {"x-kubernetes-int-or-string": true}}})),
        &[
            "spec.validation.openAPIV3Schema.properties[spec].properties[a].type: Required value: must not be empty for specified object fields",
            "spec.validation.openAPIV3Schema.properties[spec].properties[b].items: Required value: must be specified",
            "spec.validation.openAPIV3Schema.properties[spec].properties[c].items.type: Required value: must not be empty for specified array items",
            "spec.validation.openAPIV3Schema.properties[spec].type: Required value: must not be empty for specified object fields",
            "spec.validation.openAPIV3Schema.type: Required value: must not be empty at the root",
        ],
    );
}

#[test]
fn junctors_carry_only_value_validations() {
    let errs = check(json!({"type": "object", "properties": {"spec": {"type": "object",
        "properties": {"a": {"type": "string"}},
        "anyOf": [{"type": "object", "properties": {"b": {"description": "x"}}}],
        "allOf": [{"default": 1, "nullable": true, "x-kubernetes-list-type": "set"}],
        "not": {"properties": {"metadata": {}}}}}}));
    let sp = format!("{ROOT}.properties[spec]");
    has(
        &errs,
        &format!("{sp}.anyOf[0].type"),
        Forbidden,
        "must be empty to be structural",
    );
    has(
        &errs,
        &format!("{sp}.anyOf[0].properties[b].description"),
        Forbidden,
        "must be empty to be structural",
    );
    has(
        &errs,
        &format!("{sp}.allOf[0].default"),
        Forbidden,
        "must be undefined to be structural",
    );
    has(
        &errs,
        &format!("{sp}.allOf[0].nullable"),
        Forbidden,
        "must be false to be structural",
    );
    has(
        &errs,
        &format!("{sp}.allOf[0].x-kubernetes-list-type"),
        Forbidden,
        "must be undefined to be structural",
    );
    has(
        &errs,
        &format!("{sp}.not.properties[metadata]"),
        Forbidden,
        "must not be specified in a nested context",
    );
}

#[test]
fn root_junctors_must_name_specified_fields() {
    let errs = check(
        json!({"type": "object", "properties": {"spec": {"type": "object"}},
        "oneOf": [{"required": ["spec"]}, {"properties": {"other": {"minLength": 1}}}]}),
    );
    has(
        &errs,
        &format!("{ROOT}.properties[other]"),
        Required,
        "because it is defined in spec.validation.openAPIV3Schema.oneOf[1].properties[other]",
    );
}

#[test]
fn unsupported_keywords() {
    let errs = check(json!({"type": "object", "properties": {"spec": {"$ref": "#/definitions/x"}}}));
    has(
        &errs,
        &format!("{ROOT}.properties[spec].$ref"),
        Forbidden,
        "$ref is not supported",
    );
    let errs = check(
        json!({"type": "object", "properties": {"spec": {"type": "array", "items": {"type": "string"}, "additionalItems": false, "uniqueItems": true}}}),
    );
    has(
        &errs,
        &format!("{ROOT}.properties[spec].additionalItems"),
        Forbidden,
        "additionalItems is not supported",
    );
    has(
        &errs,
        &format!("{ROOT}.properties[spec].uniqueItems"),
        Forbidden,
        "runtime complexity becomes quadratic",
    );
    let errs = check(json!({"type": "object", "properties": {"spec": {"type": "object",
        "properties": {"a": {"type": "string"}}, "additionalProperties": {"type": "string"}}}}));
    has(
        &errs,
        &format!("{ROOT}.properties[spec].additionalProperties"),
        Forbidden,
        "additionalProperties and properties are mutual exclusive",
    );
    let errs = check(json!({"type": "object", "additionalProperties": {"type": "string"}}));
    has(
        &errs,
        &format!("{ROOT}.additionalProperties"),
        Forbidden,
        "must not be used at the root",
    );
    let errs = check(json!({"type": "object", "properties": {"spec": {"type": "null"}}}));
    has(
        &errs,
        &format!("{ROOT}.properties[spec].type"),
        Forbidden,
        "type cannot be set to null, use nullable as an alternative",
    );
    let errs = check(json!({"type": "object", "properties": {"spec": {"type": "thing"}}}));
    has(
        &errs,
        &format!("{ROOT}.properties[spec].type"),
        NotSupported,
        "\"array\", \"boolean\"",
    );
    let errs = check(json!({"type": "object", "properties": {"s": {"type": "string", "pattern": "a("}}}));
    has(
        &errs,
        &format!("{ROOT}.properties[s].pattern"),
        Invalid,
        "must be a valid regular expression, but isn't",
    );
}

#[test]
fn metadata_may_only_restrict_names() {
    ok(&check(
        json!({"type": "object", "properties": {"metadata": {"type": "object",
        "properties": {"name": {"type": "string", "maxLength": 10}}}}}),
    ));
    let errs = check(
        json!({"type": "object", "properties": {"metadata": {"type": "object",
        "properties": {"labels": {"type": "object"}}}}}),
    );
    has(
        &errs,
        &format!("{ROOT}.properties[metadata]"),
        Forbidden,
        "must not specify anything other than name and generateName, but metadata is implicitly specified",
    );
    let errs = check(json!({"type": "object", "properties": {"kind": {"type": "integer"}}}));
    has(
        &errs,
        &format!("{ROOT}.properties[kind].type"),
        Invalid,
        "must be string",
    );
    let errs = check(
        json!({"type": "object", "properties": {"metadata": {"type": "object", "default": {"name": "x"}}}}),
    );
    has(
        &errs,
        &format!("{ROOT}.properties[metadata].default"),
        Forbidden,
        "must not be set in top-level metadata",
    );
}

#[test]
fn embedded_resources_are_objects() {
    let errs = check(json!({"type": "object", "properties": {
        "a": {"type": "string", "x-kubernetes-embedded-resource": true},
        "b": {"type": "object", "x-kubernetes-embedded-resource": true},
        "c": {"type": "object", "x-kubernetes-embedded-resource": true, "x-kubernetes-preserve-unknown-fields": true,
              "properties": {"metadata": {"type": "object", "x-kubernetes-embedded-resource": true, "x-kubernetes-preserve-unknown-fields": true}}}}}));
    has(
        &errs,
        &format!("{ROOT}.properties[a].type"),
        Invalid,
        "must be object if x-kubernetes-embedded-resource is true",
    );
    has(
        &errs,
        &format!("{ROOT}.properties[b].properties"),
        Required,
        "must not be empty if x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields",
    );
    let errs = check(json!({"type": "object", "properties": {
        "c": {"type": "object", "x-kubernetes-embedded-resource": true, "x-kubernetes-preserve-unknown-fields": true,
              "properties": {"metadata": {"type": "object", "properties": {"x": {"type": "object", "x-kubernetes-embedded-resource": true, "x-kubernetes-preserve-unknown-fields": true}}}}}}}));
    has(
        &errs,
        &format!("{ROOT}.properties[c].properties[metadata].properties[x].x-kubernetes-embedded-resource"),
        Forbidden,
        "must not be used inside of resource meta",
    );
    let errs = check(
        json!({"type": "object", "properties": {"i": {"x-kubernetes-int-or-string": true, "x-kubernetes-preserve-unknown-fields": true}}}),
    );
    has(
        &errs,
        &format!("{ROOT}.properties[i].x-kubernetes-preserve-unknown-fields"),
        Invalid,
        "must be false if x-kubernetes-int-or-string is true",
    );
}

#[test]
fn defaults_must_validate_and_be_pruned() {
    let errs = check(
        json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "size": {"type": "integer", "minimum": 1, "default": 0},
        "mode": {"type": "string", "enum": ["a", "b"], "default": "c"},
        "obj": {"type": "object", "properties": {"x": {"type": "string"}}, "default": {"x": "1", "y": 2}}}}}}),
    );
    let sp = format!("{ROOT}.properties[spec].properties");
    has(
        &errs,
        &format!("{sp}[size].default"),
        Invalid,
        "in body should be greater than or equal to 1",
    );
    has(
        &errs,
        &format!("{sp}[mode].default"),
        NotSupported,
        "Unsupported value: \"c\": supported values: \"a\", \"b\"",
    );
    has(
        &errs,
        &format!("{sp}[obj].default"),
        Invalid,
        "must not have unknown fields",
    );
    let errs = check(json!({"type": "object", "properties": {"spec": {"type": "object",
        "x-kubernetes-validations": [{"rule": "self.n > 2", "message": "n must be above 2"}],
        "properties": {"n": {"type": "integer"}}, "default": {"n": 1}}}}));
    has(
        &errs,
        &format!("{ROOT}.properties[spec].default"),
        Invalid,
        "n must be above 2",
    );
    ok(&check(
        json!({"type": "object", "properties": {"spec": {"type": "object", "default": {},
        "properties": {"n": {"type": "integer", "default": 3}}}}}),
    ));
}

#[test]
fn list_types_and_map_keys() {
    let errs = check(json!({"type": "object", "properties": {
        "a": {"type": "object", "x-kubernetes-list-type": "set"},
        "b": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "bag"},
        "c": {"type": "array", "items": {"type": "object", "properties": {"k": {"type": "string"}}}, "x-kubernetes-list-type": "map"},
        "d": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-map-keys": ["k"]},
        "e": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["k", "z"],
              "items": {"type": "object", "properties": {"k": {"type": "object"}}}},
        "f": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "object"}},
        "g": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["k"],
              "items": {"type": "object", "properties": {"k": {"type": "string", "nullable": true}}}}}}));
    let p = format!("{ROOT}.properties");
    has(
        &errs,
        &format!("{p}[a].type"),
        Invalid,
        "must be array if x-kubernetes-list-type is specified",
    );
    has(
        &errs,
        &format!("{p}[b].x-kubernetes-list-type"),
        NotSupported,
        "\"atomic\", \"set\", \"map\"",
    );
    has(
        &errs,
        &format!("{p}[c].x-kubernetes-list-map-keys"),
        Required,
        "must not be empty if x-kubernetes-list-type is map",
    );
    has(
        &errs,
        &format!("{p}[d].x-kubernetes-list-type"),
        Required,
        "must be map if x-kubernetes-list-map-keys is non-empty",
    );
    has(
        &errs,
        &format!("{p}[e].items.properties[k].type"),
        Invalid,
        "must be a scalar type if parent array's x-kubernetes-list-type is map",
    );
    has(
        &errs,
        &format!("{p}[e].x-kubernetes-list-map-keys"),
        Invalid,
        "entries must all be names of item properties",
    );
    has(
        &errs,
        &format!("{p}[f].items.x-kubernetes-map-type"),
        Invalid,
        "must be atomic as item of a list with x-kubernetes-list-type=set",
    );
    has(
        &errs,
        &format!("{p}[g].items.properties[k].default"),
        Required,
        "must have a default or be a required property",
    );
    has(
        &errs,
        &format!("{p}[g].items.properties[k].nullable"),
        Forbidden,
        "so it cannot be nullable",
    );
}

#[test]
fn cel_rules_compile_at_crd_time() {
    let errs = check(json!({"type": "object", "properties": {"spec": {"type": "object",
        "properties": {"n": {"type": "integer"},
            "items": {"type": "array", "items": {"type": "string", "x-kubernetes-validations": [{"rule": "self != oldSelf"}]}}},
        "x-kubernetes-validations": [
            {"rule": "self.n >"},
            {"rule": "self.n > other"},
            {"rule": "self.n > 1", "reason": "Teapot"},
            {"rule": "self.n > 1", "optionalOldSelf": true},
            {"rule": "self.n > 1", "fieldPath": ".nope"},
            {"rule": "self.n > 1", "messageExpression": "'n is ' +"}]}}}));
    let vp = format!("{ROOT}.properties[spec].x-kubernetes-validations");
    has(
        &errs,
        &format!("{vp}[2].reason"),
        NotSupported,
        "\"FieldValueDuplicate\", \"FieldValueForbidden\"",
    );
    has(
        &errs,
        &format!("{vp}[4].fieldPath"),
        Invalid,
        "must be a valid path",
    );
    // Compilation only runs when the schema has no other errors.
    let errs = check(json!({"type": "object", "properties": {"spec": {"type": "object",
        "properties": {"n": {"type": "integer"},
            "items": {"type": "array", "items": {"type": "string", "x-kubernetes-validations": [{"rule": "self != oldSelf"}]}}},
        "x-kubernetes-validations": [
            {"rule": "self.n >"},
            {"rule": "self.n > other"},
            {"rule": "self.n > 1", "optionalOldSelf": true},
            {"rule": "self.n > 1", "messageExpression": "'n is ' +"}]}}}));
    has(
        &errs,
        &format!("{vp}[0].rule"),
        Invalid,
        "compilation failed: ERROR: <input>:1:",
    );
    has(
        &errs,
        &format!("{vp}[1].rule"),
        Invalid,
        "undeclared reference to 'other'",
    );
    has(
        &errs,
        &format!("{vp}[2].optionalOldSelf"),
        Invalid,
        "may not be set if oldSelf is not used in rule",
    );
    has(
        &errs,
        &format!("{vp}[3].messageExpression"),
        Invalid,
        "messageExpression compilation failed",
    );
    has(
        &errs,
        &format!("{ROOT}.properties[spec].properties[items].items.x-kubernetes-validations[0].rule"),
        Invalid,
        "oldSelf cannot be used on the uncorrelatable portion of the schema within spec.validation.openAPIV3Schema.properties[spec].properties[items]",
    );
    ok(&check(
        json!({"type": "object", "properties": {"spec": {"type": "object",
        "properties": {"n": {"type": "integer"}, "tags": {"type": "array", "items": {"type": "string"}}},
        "x-kubernetes-validations": [
            {"rule": "self.n >= 0 && self.tags.all(t, t.size() > 0)"},
            {"rule": "self.n >= oldSelf.n", "message": "n may not shrink"},
            {"rule": "!has(self.tags) || self.tags.exists(t, t == 'a')", "messageExpression": "'missing a in ' + string(size(self.tags))"}]}}}),
    ));
}

#[test]
fn status_subresource_restricts_the_root() {
    let mut c = crd_with(
        json!({"type": "object", "properties": {"spec": {"type": "object"}}, "anyOf": [{"required": ["spec"]}]}),
    );
    c["spec"]["versions"][0]["subresources"] = json!({"status": {}});
    has(
        &validate_crd(&c, None),
        ROOT,
        Invalid,
        "fields are allowed at the root of the schema if the status subresource is enabled",
    );
    let mut c = crd_with(json!({"type": "object", "nullable": true}));
    c["spec"]["versions"][0]["subresources"] = json!({"status": {}});
    has(
        &validate_crd(&c, None),
        &format!("{ROOT}.nullable"),
        Forbidden,
        "nullable cannot be true at the root",
    );
}

#[test]
fn int_or_string_patterns_are_structural() {
    ok(&check(json!({"type": "object", "properties": {
        "port": {"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]},
        "pct": {"x-kubernetes-int-or-string": true, "allOf": [{"anyOf": [{"type": "integer"}, {"type": "string"}]}, {"pattern": "^[0-9]+%?$"}]}}})));
}
