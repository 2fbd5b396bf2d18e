//! CustomResourceDefinition semantics, free of I/O, as upstream's apiextensions-apiserver:
//!
//! - [`validate_crd`]: everything checked on a CRD create or update — names, versions,
//!   structural schemas (a non-structural schema is refused with each reason), defaults,
//!   list types, CEL rules, printer columns, subresources, conversion, stored versions.
//! - [`CompiledSchema`] (or the one-shot [`prune`], [`default_object`], [`validate_object`]):
//!   what happens to a custom resource on the way in and out — pruning of unknown fields,
//!   structural defaulting, OpenAPI v3 validation, embedded resources, list-type
//!   invariants and `x-kubernetes-validations` CEL rules with `self` and `oldSelf`.
//!
//! Schemas are a version's `openAPIV3Schema` as written in the CRD. Every walk is bounded
//! in depth, patterns are compiled with size limits, and CEL runs on a stack of its own.

mod cel;
mod cel_value;
mod conversion;
mod correlate;
mod defaulting;
mod defaults_check;
mod definition;
mod fieldpath;
mod formats;
mod listtype;
mod model;
mod objectmeta;
mod openapi;
mod openapi_numbers;
mod parts;
mod pattern;
mod prune;
mod rule_checks;
mod rules;
mod schema_rules;
mod structural;
mod util;
mod walk;

use serde_json::Value;

use crate::field_error::{FieldError, FieldErrorKind, FieldPath};
use model::Node;
use util::{NIL_PATH, with_big_stack};

/// A custom resource body that cannot be decoded as its schema requires (upstream answers
/// 400 Bad Request with this message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DecodeError(pub String);

/// A version's schema, compiled once (patterns, CEL rules, pruned defaults) and used for
/// every object of that version. Cheap to share between threads.
#[derive(Debug)]
pub struct CompiledSchema {
    root: Node,
}

/// Upstream's message when CEL rules are skipped because the object already has errors.
const BLOCKED: &str = "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation";

impl CompiledSchema {
    /// Compiles a version's `openAPIV3Schema`.
    pub fn new(schema: &Value) -> Self {
        with_big_stack(|| Self {
            root: Node::compile(schema),
        })
    }

    /// True when the schema has defaults, so objects read from storage need
    /// [`CompiledSchema::default`] applied (upstream defaults on every read).
    pub fn has_defaults(&self) -> bool {
        self.root.has_defaults()
    }

    /// Decoding a request body or a stored object: drops the fields the schema does not
    /// specify (unless it preserves unknown fields), the `null`s it neither allows nor
    /// defaults, and unknown ObjectMeta fields of the root and of embedded resources.
    /// Returns the paths of dropped fields (sorted, for `fieldValidation` warnings or strict
    /// errors); a wrongly typed `metadata` (or embedded `apiVersion`/`kind`) is an error.
    pub fn prune(&self, obj: &mut Value) -> Result<Vec<String>, DecodeError> {
        let mut meta_unknown = Vec::new();
        if let Some(meta) = obj.get_mut("metadata") {
            objectmeta::coerce_meta(meta, "metadata", &mut meta_unknown).map_err(DecodeError)?;
        }
        let mut unknown = Some(Vec::new());
        prune::prune_value(obj, Some(&self.root), true, &mut unknown);
        prune::prune_nulls(obj, Some(&self.root), 0);
        let mut embedded_unknown = Vec::new();
        objectmeta::coerce_embedded(obj, &self.root, &FieldPath::new(""), &mut embedded_unknown, 0)
            .map_err(|e| DecodeError(e.to_string()))?;
        let mut all = meta_unknown;
        let mut rest = unknown.unwrap_or_default();
        rest.sort();
        all.extend(rest);
        embedded_unknown.sort();
        all.extend(embedded_unknown);
        Ok(all)
    }

    /// Applies the schema's defaults (after [`CompiledSchema::prune`], on write and on read).
    pub fn default(&self, obj: &mut Value) {
        defaulting::default(obj, &self.root, 0);
    }

    /// Validates a custom resource on create (`old` None) or update: OpenAPI schema,
    /// embedded resources, list types, then CEL rules (skipped with upstream's message when
    /// an earlier error makes them unreliable). Errors of values left unchanged by an
    /// update are dropped, as upstream's ratcheting does. Root ObjectMeta is not checked
    /// here (the generic metadata validation does it).
    pub fn validate(&self, obj: &Value, old: Option<&Value>) -> Vec<FieldError> {
        with_big_stack(|| {
            let mut errs = openapi::validate(&self.root, obj, old, None);
            objectmeta::validate_embedded(obj, &self.root, &FieldPath::new(""), &mut errs, 0);
            let list_ok_before = old.is_none_or(|o| self.list_errors(o).is_empty());
            if list_ok_before {
                errs.extend(self.list_errors(obj));
            }
            self.rules(obj, old, &mut errs);
            errs
        })
    }

    /// Validates a write to the `/status` subresource: only `status` is checked against its
    /// schema (paths under `status`), then list types and CEL rules of the whole object.
    pub fn validate_status(&self, obj: &Value, old: &Value) -> Vec<FieldError> {
        with_big_stack(|| {
            let mut errs = Vec::new();
            if let (Some(status), Some(schema)) = (obj.get("status"), self.root.properties.get("status")) {
                errs = openapi::validate(schema, status, old.get("status"), Some("status"));
            }
            let new_list = self.list_errors(obj);
            if !new_list.is_empty() && self.list_errors(old).is_empty() {
                errs.extend(new_list);
            }
            self.rules(obj, Some(old), &mut errs);
            errs
        })
    }

    fn list_errors(&self, obj: &Value) -> Vec<FieldError> {
        let mut errs = Vec::new();
        if let Some(m) = obj.as_object() {
            listtype::validate_object(&self.root, m, &FieldPath::new(""), &mut errs, 0);
        }
        errs
    }

    fn rules(&self, obj: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {
        if !self.root.has_rules() {
            return;
        }
        let blocking = errs.iter().any(|e| {
            matches!(
                e.kind,
                FieldErrorKind::NotSupported
                    | FieldErrorKind::Required
                    | FieldErrorKind::TooLong
                    | FieldErrorKind::TooMany
                    | FieldErrorKind::TypeInvalid
            )
        });
        if blocking {
            errs.push(FieldError::invalid(NIL_PATH, Value::Null, BLOCKED));
        } else {
            rules::validate(&self.root, obj, old, &FieldPath::new(""), old.is_some(), errs);
        }
    }
}

/// Everything upstream checks on a CustomResourceDefinition create (`old` None) or update,
/// beyond generic ObjectMeta checks.
pub fn validate_crd(crd: &Value, old: Option<&Value>) -> Vec<FieldError> {
    with_big_stack(|| definition::validate(crd, old))
}

/// Validates a custom resource against its version's `openAPIV3Schema` (see
/// [`CompiledSchema::validate`]).
pub fn validate_object(schema: &Value, obj: &Value, old: Option<&Value>) -> Vec<FieldError> {
    CompiledSchema::new(schema).validate(obj, old)
}

/// Applies the defaults of a version's `openAPIV3Schema` (see [`CompiledSchema::default`]).
pub fn default_object(schema: &Value, obj: &mut Value) {
    CompiledSchema::new(schema).default(obj);
}

/// Prunes a custom resource by its version's `openAPIV3Schema` (see
/// [`CompiledSchema::prune`]).
pub fn prune(schema: &Value, obj: &mut Value) -> Result<Vec<String>, DecodeError> {
    CompiledSchema::new(schema).prune(obj)
}

/// The scale subresource's paths must hold integers (and the label selector a string) in
/// every write, as upstream's `ValidateScaleSpec`/`ValidateScaleStatus`. `scale` is the
/// version's `subresources.scale`; `status_only` for writes to `/status`.
pub fn validate_scale(obj: &Value, scale: &Value, status_only: bool) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let text = |k: &str| scale.get(k).and_then(Value::as_str).unwrap_or("");
    let mut paths = vec![text("statusReplicasPath")];
    if !status_only {
        paths.insert(0, text("specReplicasPath"));
    }
    for p in paths.into_iter().filter(|p| !p.is_empty()) {
        match nested(obj, p) {
            Err(e) => errs.push(FieldError::invalid(p, 0, e)),
            Ok(Some(Value::Number(n))) if n.as_i64().is_some() => {
                let v = n.as_i64().unwrap_or(0);
                if v < 0 {
                    errs.push(FieldError::invalid(p, v, "should be a non-negative integer"));
                } else if v > i64::from(i32::MAX) {
                    errs.push(FieldError::invalid(
                        p,
                        v,
                        format!("should be less than or equal to {}", i32::MAX),
                    ));
                }
            }
            Ok(Some(other)) => errs.push(FieldError::invalid(
                p,
                0,
                format!(
                    "{p} accessor error: {} is of the type {}, expected int64",
                    go_value(other),
                    go_type(other)
                ),
            )),
            Ok(None) => {}
        }
    }
    let selector = text("labelSelectorPath");
    if !selector.is_empty() {
        match nested(obj, selector) {
            Err(e) => errs.push(FieldError::invalid(selector, "", e)),
            Ok(Some(v)) if !v.is_string() => errs.push(FieldError::invalid(
                selector,
                "",
                format!(
                    "{selector} accessor error: {} is of the type {}, expected string",
                    go_value(v),
                    go_type(v)
                ),
            )),
            _ => {}
        }
    }
    errs
}

fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

fn go_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `unstructured.NestedFieldNoCopy` along a `.a.b` path.
fn nested<'a>(obj: &'a Value, path: &str) -> Result<Option<&'a Value>, String> {
    let fields: Vec<&str> = path.trim_start_matches('.').split('.').collect();
    let mut cur = obj;
    for (i, f) in fields.iter().enumerate() {
        match cur {
            Value::Object(m) => match m.get(*f) {
                Some(v) => cur = v,
                None => return Ok(None),
            },
            other => {
                let at = format!(".{}", fields.get(..i).unwrap_or(&[]).join("."));
                return Err(format!(
                    "{at} accessor error: {} is of the type {}, expected map[string]interface{{}}",
                    go_value(other),
                    go_type(other)
                ));
            }
        }
    }
    Ok(Some(cur))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
#[path = "crd/tests/mod.rs"]
mod tests;
