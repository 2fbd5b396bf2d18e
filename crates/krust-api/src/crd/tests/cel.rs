//! CEL `x-kubernetes-validations` on custom resources: `self`, `oldSelf`, messages,
//! `fieldPath`, `reason`, `optionalOldSelf`, ratcheting and runtime errors.

use serde_json::{Value, json};

use super::{exactly, has, ok};
use crate::crd::CompiledSchema;
use crate::field_error::FieldErrorKind::*;

fn schema() -> Value {
    json!({"type": "object", "properties": {"spec": {"type": "object",
        "x-kubernetes-validations": [
            {"rule": "self.min <= self.max", "message": "min must not exceed max", "fieldPath": ".min"},
            {"rule": "!has(self.mode) || self.mode != 'off' || self.max == 0",
             "messageExpression": "'mode off needs max 0, not ' + string(self.max)"},
            {"rule": "self.max <= oldSelf.max", "message": "max may not grow", "reason": "FieldValueForbidden"}],
        "properties": {
            "min": {"type": "integer"}, "max": {"type": "integer"}, "mode": {"type": "string"},
            "image-name": {"type": "string", "x-kubernetes-validations": [{"rule": "self.startsWith('reg/')"}]},
            "tags": {"type": "array", "items": {"type": "string"}, "x-kubernetes-validations": [{"rule": "self.all(t, t.size() <= 3)", "message": "tags are short"}]},
            "limits": {"type": "object", "additionalProperties": {"type": "integer"},
                       "x-kubernetes-validations": [{"rule": "self.all(k, self[k] > 0)", "message": "limits are positive"}]},
            "immutable": {"type": "string", "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "is immutable"}]},
            "once": {"type": "string", "x-kubernetes-validations": [
                {"rule": "!oldSelf.hasValue() || oldSelf.value() == self", "message": "cannot change once set", "optionalOldSelf": true}]}}}}})
}

fn obj(spec: Value) -> Value {
    json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": spec})
}

#[test]
fn rules_see_self() {
    let s = CompiledSchema::new(&schema());
    ok(&s.validate(
        &obj(json!({"min": 1, "max": 2, "image-name": "reg/x", "tags": ["a"], "limits": {"cpu": 1}})),
        None,
    ));
    exactly(
        &s.validate(&obj(json!({"min": 3, "max": 2, "mode": "off", "image-name": "x", "tags": ["long"], "limits": {"cpu": 0}})), None),
        &[
            "spec.min: Invalid value: \"object\": min must not exceed max",
            "spec: Invalid value: \"object\": mode off needs max 0, not 2",
            "spec.image-name: Invalid value: \"x\": failed rule: self.startsWith('reg/')",
            "spec.limits: Invalid value: \"object\": limits are positive",
            "spec.tags: Invalid value: \"array\": tags are short",
        ],
    );
}

#[test]
fn transition_rules_only_on_update() {
    let s = CompiledSchema::new(&schema());
    let old = obj(json!({"min": 1, "max": 2, "immutable": "a", "once": "x"}));
    ok(&s.validate(&old, None));
    let mut grown = old.clone();
    grown["spec"]["max"] = json!(5);
    grown["spec"]["immutable"] = json!("b");
    grown["spec"]["once"] = json!("y");
    exactly(
        &s.validate(&grown, Some(&old)),
        &[
            "spec: Forbidden: max may not grow",
            "spec.immutable: Invalid value: \"b\": is immutable",
            "spec.once: Invalid value: \"y\": cannot change once set",
        ],
    );
    // A new field has no old value: plain transition rules skip it, optional ones run.
    let mut added = obj(json!({"min": 1, "max": 2}));
    let before = added.clone();
    added["spec"]["immutable"] = json!("new");
    added["spec"]["once"] = json!("first");
    ok(&s.validate(&added, Some(&before)));
}

#[test]
fn unchanged_values_ratchet_but_transition_rules_do_not() {
    let s = CompiledSchema::new(&schema());
    let old = obj(json!({"min": 5, "max": 2, "tags": ["long"]}));
    let mut new = old.clone();
    new["metadata"]["labels"] = json!({"a": "b"});
    new["spec"]["mode"] = json!("on");
    // spec changed, so its own rules run again; tags did not change, so theirs are ratcheted.
    exactly(
        &s.validate(&new, Some(&old)),
        &["spec.min: Invalid value: \"object\": min must not exceed max"],
    );
}

#[test]
fn rules_are_skipped_after_blocking_errors() {
    let s = CompiledSchema::new(
        &json!({"type": "object", "properties": {"spec": {"type": "object", "required": ["n"],
        "properties": {"n": {"type": "integer"}}, "x-kubernetes-validations": [{"rule": "self.n > 0"}]}}}),
    );
    exactly(
        &s.validate(&obj(json!({})), None),
        &[
            "spec.n: Required value",
            "<nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation",
        ],
    );
}

#[test]
fn runtime_errors_name_the_rule() {
    let s = CompiledSchema::new(
        &json!({"type": "object", "properties": {"spec": {"type": "object",
        "properties": {"n": {"type": "integer"}, "d": {"type": "integer"}},
        "x-kubernetes-validations": [{"rule": "self.n / self.d > 0"}, {"rule": "self.missing == 1", "message": "needs missing"}]}}}),
    );
    let errs = s.validate(&obj(json!({"n": 1, "d": 0})), None);
    has(
        &errs,
        "spec",
        Invalid,
        "division by zero evaluating rule: self.n / self.d > 0",
    );
    has(
        &errs,
        "spec",
        Invalid,
        "no such key: missing evaluating rule: needs missing",
    );
}

#[test]
fn root_rules_see_names_and_escaped_fields() {
    let s = CompiledSchema::new(&json!({"type": "object",
        "x-kubernetes-validations": [
            {"rule": "self.metadata.name.startsWith('w')", "message": "name must start with w"},
            {"rule": "!has(self.metadata.labels)", "message": "labels are not visible"},
            {"rule": "self.spec.x__dash__y == 1 && self.spec.__namespace__ == 'a'", "message": "escaped names"}],
        "properties": {"spec": {"type": "object", "properties": {"x-y": {"type": "integer"}, "namespace": {"type": "string"}}}}}));
    let mut o = obj(json!({"x-y": 1, "namespace": "a"}));
    o["metadata"]["labels"] = json!({"a": "b"});
    ok(&s.validate(&o, None));
    o["metadata"]["name"] = json!("v");
    exactly(
        &s.validate(&o, None),
        &["<nil>: Invalid value: \"object\": name must start with w"],
    );
}

#[test]
fn map_lists_correlate_items_for_old_self() {
    let s = CompiledSchema::new(
        &json!({"type": "object", "properties": {"ports": {"type": "array",
        "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
        "items": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}, "port": {"type": "integer"}},
            "x-kubernetes-validations": [{"rule": "self.port >= oldSelf.port", "message": "ports only grow"}]}}}}),
    );
    let old = json!({"ports": [{"name": "a", "port": 80}, {"name": "b", "port": 90}]});
    ok(&s.validate(
        &json!({"ports": [{"name": "b", "port": 91}, {"name": "a", "port": 80}, {"name": "c", "port": 1}]}),
        Some(&old),
    ));
    exactly(
        &s.validate(&json!({"ports": [{"name": "b", "port": 10}]}), Some(&old)),
        &["ports[0]: Invalid value: \"object\": ports only grow"],
    );
}

#[test]
fn hostile_rules_do_not_crash() {
    let deep = "(".repeat(200) + "true" + &")".repeat(200);
    let long = "1".to_string() + &"+1".repeat(1500) + " > 0";
    for rule in [
        deep.as_str(),
        long.as_str(),
        "Foo{a: 1} == Foo{a: 1}",
        "self.a.b.c.d",
    ] {
        let s = CompiledSchema::new(&json!({"type": "object", "x-kubernetes-validations": [{"rule": rule}]}));
        let _ = s.validate(&json!({"a": 1}), None);
    }
    let crd = super::crd_with(json!({"type": "object", "x-kubernetes-validations": [{"rule": deep}]}));
    has(
        &crate::crd::validate_crd(&crd, None),
        "spec.validation.openAPIV3Schema.x-kubernetes-validations[0].rule",
        Invalid,
        "compilation failed",
    );
}
