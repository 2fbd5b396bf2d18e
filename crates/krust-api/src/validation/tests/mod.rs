//! Validation tests per kind: valid manifests pass, each rule's failure names the right
//! field, kind and message.

use serde_json::{Value, json};

use super::validate;
use crate::defaults;
use crate::field_error::{FieldError, FieldErrorKind};

/// Defaults and validates a new object, as the API server does on create.
fn create(group: &str, kind: &str, mut obj: Value) -> Vec<FieldError> {
    defaults::apply(group, kind, &mut obj);
    defaults::prepare_create(group, kind, &mut obj);
    validate(group, kind, &obj, None)
}

/// Defaults both and validates an update.
fn update(group: &str, kind: &str, old: Value, mut new: Value) -> Vec<FieldError> {
    let mut old = old;
    defaults::apply(group, kind, &mut old);
    defaults::prepare_create(group, kind, &mut old);
    defaults::apply(group, kind, &mut new);
    defaults::prepare_update(group, kind, &mut new, &old);
    validate(group, kind, &new, Some(&old))
}

/// Asserts exactly one error, at `field`, of `kind`, whose message contains `text`.
#[track_caller]
fn one(errs: &[FieldError], field: &str, kind: FieldErrorKind, text: &str) {
    assert_eq!(errs.len(), 1, "{errs:#?}");
    has(errs, field, kind, text);
}

/// Asserts some error at `field`, of `kind`, whose message contains `text`.
#[track_caller]
fn has(errs: &[FieldError], field: &str, kind: FieldErrorKind, text: &str) {
    assert!(
        errs.iter()
            .any(|e| e.field == field && e.kind == kind && e.to_string().contains(text)),
        "no {kind:?} error at {field} containing {text:?} in {errs:#?}"
    );
}

#[track_caller]
fn ok(errs: &[FieldError]) {
    assert!(errs.is_empty(), "{errs:#?}");
}

mod apps;
mod core;
mod misc;
mod names;
mod pod;
mod pod_update;
