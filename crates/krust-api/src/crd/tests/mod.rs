//! Tests of CRD semantics: definitions and structural schemas, object validation, CEL
//! rules, defaulting and pruning — with upstream's field paths and messages.

use serde_json::{Value, json};

use crate::field_error::{FieldError, FieldErrorKind};

mod cel;
mod defaulting;
mod definition;
mod object;
mod structural;

/// Asserts some error at `field`, of `kind`, whose full text contains `text`.
#[track_caller]
fn has(errs: &[FieldError], field: &str, kind: FieldErrorKind, text: &str) {
    assert!(
        errs.iter()
            .any(|e| e.field == field && e.kind == kind && e.to_string().contains(text)),
        "no {kind:?} error at {field} containing {text:?} in {errs:#?}"
    );
}

/// Asserts exactly the given rendered errors, in order.
#[track_caller]
fn exactly(errs: &[FieldError], want: &[&str]) {
    let got: Vec<String> = errs.iter().map(ToString::to_string).collect();
    assert_eq!(got, want);
}

#[track_caller]
fn ok(errs: &[FieldError]) {
    assert!(errs.is_empty(), "{errs:#?}");
}

/// A valid single-version CRD with `schema` as its openAPIV3Schema.
fn crd_with(schema: Value) -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "conversion": {"strategy": "None"},
            "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": schema}}]},
        "status": {"storedVersions": ["v1"]}
    })
}

/// A typical schema: spec with a size, a mode enum and a status.
fn widget_schema() -> Value {
    json!({"type": "object", "properties": {
        "spec": {"type": "object", "required": ["size"], "properties": {
            "size": {"type": "integer", "minimum": 1, "maximum": 10},
            "mode": {"type": "string", "enum": ["fast", "slow"], "default": "slow"},
            "name": {"type": "string", "maxLength": 5, "pattern": "^[a-z]+$"}}},
        "status": {"type": "object", "properties": {"replicas": {"type": "integer"}}}}})
}
