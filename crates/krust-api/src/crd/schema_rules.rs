//! The OpenAPI-level rules on a CRD's schema (upstream's
//! `ValidateCustomResourceDefinitionOpenAPISchema`): unsupported keywords, defaults where
//! they are not allowed, `x-kubernetes-list-type`/`-map-keys`/`-map-type` consistency,
//! `x-kubernetes-validations` fields, and the rules' compilation (with `oldSelf` refused where
//! old and new values cannot be correlated). Schema errors come before CEL errors.

use serde_json::{Map, Value};

use super::model::Node;
use super::rule_checks;
use super::util::MAX_DEPTH;
use crate::field_error::{FieldError, FieldPath};

const OPENAPI_TYPES: &[&str] = &["array", "boolean", "integer", "number", "object", "string"];
const META_FIELDS: &[&str] = &["metadata", "kind", "apiVersion"];

/// Checks that are relaxed on update when the old CRD already broke them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Strictness {
    pub valid_types: bool,
    pub atomic_sets: bool,
    pub map_list_keys: bool,
}

/// Schema errors and CEL errors, reported in that order.
#[derive(Debug, Default)]
pub(crate) struct Found {
    pub schema: Vec<FieldError>,
    pub cel: Vec<FieldError>,
}

#[derive(Clone)]
struct Ctx {
    allow_defaults: bool,
    no_default_reason: String,
    inside_meta: bool,
    uncorrelatable: Option<String>,
}

/// Walks a version's schema. `compiled` (the same schema, compiled) enables the CEL checks;
/// upstream skips them when the schema is not structural.
pub(crate) fn validate(
    schema: &Value,
    path: &FieldPath,
    strict: Strictness,
    compiled: Option<&Node>,
) -> Found {
    let mut found = Found::default();
    let ctx = Ctx {
        allow_defaults: true,
        no_default_reason: String::new(),
        inside_meta: false,
        uncorrelatable: None,
    };
    walk(schema, path, &ctx, true, strict, compiled, &mut found, 0);
    found
}

fn s<'a>(m: &'a Map<String, Value>, k: &str) -> &'a str {
    m.get(k).and_then(Value::as_str).unwrap_or("")
}

fn flag(m: &Map<String, Value>, k: &str) -> bool {
    m.get(k).and_then(Value::as_bool) == Some(true)
}

fn present(m: &Map<String, Value>, k: &str) -> bool {
    m.get(k).is_some_and(|v| !v.is_null())
}

#[allow(clippy::too_many_arguments)]
fn walk(
    v: &Value,
    path: &FieldPath,
    ctx: &Ctx,
    is_root: bool,
    strict: Strictness,
    node: Option<&Node>,
    found: &mut Found,
    depth: usize,
) {
    let Some(m) = v.as_object() else { return };
    if depth > MAX_DEPTH {
        return;
    }
    let start = found.schema.len();
    standard(m, path, ctx, strict, &mut found.schema);
    if flag(m, "uniqueItems") {
        found.schema.push(FieldError::forbidden(
            path.child("uniqueItems"),
            "uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
        ));
    }
    let embedded = flag(m, "x-kubernetes-embedded-resource");
    let properties = m.get("properties").and_then(Value::as_object);
    if let Some(ap) = m.get("additionalProperties").filter(|a| !a.is_null()) {
        if properties.is_some_and(|p| !p.is_empty()) && (ap.is_object() || ap == &Value::Bool(false)) {
            found.schema.push(FieldError::forbidden(
                path.child("additionalProperties"),
                "additionalProperties and properties are mutual exclusive",
            ));
        }
        let mut sub = ctx.clone();
        if ctx.inside_meta {
            forbid_defaults(
                &mut sub,
                "inside additionalProperties applying to object metadata",
            );
        }
        let child = node.and_then(Node::additional_schema);
        walk(
            ap,
            &path.child("additionalProperties"),
            &sub,
            false,
            strict,
            child,
            found,
            depth + 1,
        );
    }
    if let Some(p) = properties {
        for (k, sub_schema) in p {
            let mut sub = ctx.clone();
            if s(m, "x-kubernetes-map-type") == "atomic" && sub.uncorrelatable.is_none() {
                sub.uncorrelatable = Some(path.to_string());
            }
            if (is_root || embedded) && META_FIELDS.contains(&k.as_str()) {
                sub.inside_meta = true;
                if is_root {
                    forbid_defaults(&mut sub, &format!("in top-level {k}"));
                }
            }
            let child = node.and_then(|n| n.properties.get(k));
            walk(
                sub_schema,
                &path.child("properties").key(k),
                &sub,
                false,
                strict,
                child,
                found,
                depth + 1,
            );
        }
    }
    if let Some(not) = m.get("not") {
        walk(
            not,
            &path.child("not"),
            ctx,
            false,
            strict,
            None,
            found,
            depth + 1,
        );
    }
    for k in ["allOf", "oneOf", "anyOf"] {
        for (i, x) in m
            .get(k)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            walk(
                x,
                &path.child(k).index(i),
                ctx,
                false,
                strict,
                None,
                found,
                depth + 1,
            );
        }
    }
    if let Some(items) = m.get("items").filter(|i| !i.is_null()) {
        let mut sub = ctx.clone();
        if s(m, "x-kubernetes-list-type") != "map" && sub.uncorrelatable.is_none() {
            sub.uncorrelatable = Some(path.to_string());
        }
        match items {
            Value::Array(list) => {
                for (i, x) in list.iter().enumerate() {
                    walk(
                        x,
                        &path.child("items").index(i),
                        &sub,
                        false,
                        strict,
                        None,
                        found,
                        depth + 1,
                    );
                }
            }
            single => {
                let child = node.and_then(|n| n.items.as_deref());
                walk(
                    single,
                    &path.child("items"),
                    &sub,
                    false,
                    strict,
                    child,
                    found,
                    depth + 1,
                );
            }
        }
    }
    extensions(m, path, strict, &mut found.schema);
    rule_checks::static_checks(m, path, node, &mut found.schema);
    if found.schema.len() == start
        && let Some(n) = node
    {
        rule_checks::compiled(n, path, ctx.uncorrelatable.as_deref(), &mut found.cel);
    }
}

fn forbid_defaults(ctx: &mut Ctx, reason: &str) {
    ctx.allow_defaults = false;
    ctx.no_default_reason = reason.to_string();
}

/// `specStandardValidatorV3.validate`.
fn standard(
    m: &Map<String, Value>,
    path: &FieldPath,
    ctx: &Ctx,
    strict: Strictness,
    errs: &mut Vec<FieldError>,
) {
    let ty = s(m, "type");
    if strict.valid_types && !ty.is_empty() && !OPENAPI_TYPES.contains(&ty) {
        errs.push(FieldError::not_supported(path.child("type"), ty, OPENAPI_TYPES));
    }
    if present(m, "default") && !ctx.allow_defaults {
        let mut detail = "must not be set".to_string();
        if !ctx.no_default_reason.is_empty() {
            detail.push(' ');
            detail.push_str(&ctx.no_default_reason);
        }
        errs.push(FieldError::forbidden(path.child("default"), detail));
    }
    if !s(m, "id").is_empty() {
        errs.push(FieldError::forbidden(path.child("id"), "id is not supported"));
    }
    for (key, msg) in [
        ("additionalItems", "additionalItems is not supported"),
        ("patternProperties", "patternProperties is not supported"),
        ("definitions", "definitions is not supported"),
        ("dependencies", "dependencies is not supported"),
        ("$ref", "$ref is not supported"),
    ] {
        let set = match m.get(key) {
            None | Some(Value::Null) => false,
            Some(Value::Object(o)) => key == "additionalItems" || key == "dependencies" || !o.is_empty(),
            Some(Value::String(x)) => !x.is_empty(),
            Some(_) => true,
        };
        if set {
            errs.push(FieldError::forbidden(path.child(key), msg));
        }
    }
    if ty == "null" {
        errs.push(FieldError::forbidden(
            path.child("type"),
            "type cannot be set to null, use nullable as an alternative",
        ));
    }
    if m.get("items").is_some_and(Value::is_array) {
        errs.push(FieldError::forbidden(
            path.child("items"),
            "items must be a schema object and not an array",
        ));
    }
    if ctx.inside_meta && flag(m, "x-kubernetes-embedded-resource") {
        errs.push(FieldError::forbidden(
            path.child("x-kubernetes-embedded-resource"),
            "must not be used inside of resource meta",
        ));
    }
}

fn extensions(m: &Map<String, Value>, path: &FieldPath, strict: Strictness, errs: &mut Vec<FieldError>) {
    let ty = s(m, "type");
    if m.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(false)) {
        errs.push(FieldError::invalid(
            path.child("x-kubernetes-preserve-unknown-fields"),
            false,
            "must be true or undefined",
        ));
    }
    let type_needed = |errs: &mut Vec<FieldError>, want: &str, msg: &str| {
        if ty.is_empty() {
            errs.push(FieldError::required(path.child("type"), msg));
        } else if ty != want {
            errs.push(FieldError::invalid(path.child("type"), ty, msg));
        }
    };
    let map_type = m.get("x-kubernetes-map-type").filter(|x| !x.is_null());
    if let Some(mt) = map_type {
        type_needed(
            errs,
            "object",
            "must be object if x-kubernetes-map-type is specified",
        );
        let mt = mt.as_str().unwrap_or("");
        if mt != "atomic" && mt != "granular" {
            errs.push(FieldError::not_supported(
                path.child("x-kubernetes-map-type"),
                mt,
                &["atomic", "granular"],
            ));
        }
    }
    let list_type = m
        .get("x-kubernetes-list-type")
        .filter(|x| !x.is_null())
        .map(|x| x.as_str().unwrap_or(""));
    let items = m.get("items").and_then(Value::as_object);
    if let Some(lt) = list_type {
        if ty != "array" {
            type_needed(
                errs,
                "array",
                "must be array if x-kubernetes-list-type is specified",
            );
        } else if strict.atomic_sets
            && lt == "set"
            && let Some(is) = items
        {
            let msg = "must be atomic as item of a list with x-kubernetes-list-type=set";
            let item_list = is.get("x-kubernetes-list-type").cloned().unwrap_or(Value::Null);
            match s(is, "type") {
                "array" if !item_list.is_null() && item_list != "atomic" => errs.push(FieldError::invalid(
                    path.child("items").child("x-kubernetes-list-type"),
                    item_list,
                    msg,
                )),
                "object" if s(is, "x-kubernetes-map-type") != "atomic" => errs.push(FieldError::invalid(
                    path.child("items").child("x-kubernetes-map-type"),
                    item_list,
                    msg,
                )),
                _ => {}
            }
        }
        if !matches!(lt, "atomic" | "set" | "map") {
            errs.push(FieldError::not_supported(
                path.child("x-kubernetes-list-type"),
                lt,
                &["atomic", "set", "map"],
            ));
        }
    }
    let keys: Vec<&str> = m
        .get("x-kubernetes-list-map-keys")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let keys_value = m
        .get("x-kubernetes-list-map-keys")
        .cloned()
        .unwrap_or(Value::Null);
    if !keys.is_empty() {
        let msg = "must be map if x-kubernetes-list-map-keys is non-empty";
        match list_type {
            None => errs.push(FieldError::required(path.child("x-kubernetes-list-type"), msg)),
            Some(lt) if lt != "map" => {
                errs.push(FieldError::invalid(path.child("x-kubernetes-list-type"), lt, msg))
            }
            _ => {}
        }
    }
    if list_type == Some("map") {
        if keys.is_empty() {
            errs.push(FieldError::required(
                path.child("x-kubernetes-list-map-keys"),
                "must not be empty if x-kubernetes-list-type is map",
            ));
        }
        match m.get("items").filter(|i| !i.is_null()) {
            None => errs.push(FieldError::required(
                path.child("items"),
                "must have a schema if x-kubernetes-list-type is map",
            )),
            Some(Value::Array(a)) => errs.push(FieldError::invalid(
                path.child("items"),
                Value::Array(a.clone()),
                "must only have a single schema if x-kubernetes-list-type is map",
            )),
            Some(_) => {}
        }
        if let Some(is) = items {
            let item_type = s(is, "type");
            if item_type != "object" {
                errs.push(FieldError::invalid(
                    path.child("items").child("type"),
                    item_type,
                    "must be object if parent array's x-kubernetes-list-type is map",
                ));
            } else {
                let item_props = is.get("properties").and_then(Value::as_object);
                let mut seen = Vec::new();
                for k in &keys {
                    match item_props.and_then(|p| p.get(*k)).and_then(Value::as_object) {
                        Some(p) if matches!(s(p, "type"), "array" | "object") => {
                            errs.push(FieldError::invalid(
                                path.child("items").child("properties").key(k).child("type"),
                                item_type,
                                "must be a scalar type if parent array's x-kubernetes-list-type is map",
                            ))
                        }
                        Some(_) => {}
                        None => errs.push(FieldError::invalid(
                            path.child("x-kubernetes-list-map-keys"),
                            keys_value.clone(),
                            "entries must all be names of item properties",
                        )),
                    }
                    if seen.contains(k) {
                        errs.push(FieldError::invalid(
                            path.child("x-kubernetes-list-map-keys"),
                            keys_value.clone(),
                            "must not contain duplicate entries",
                        ));
                    }
                    seen.push(*k);
                }
            }
        }
    }
    if strict.map_list_keys {
        errs.extend(map_list_keys(m, path));
    }
}

/// Set and map list items may not be nullable; map keys must be required or defaulted.
pub(crate) fn map_list_keys(m: &Map<String, Value>, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let Some(is) = m.get("items").and_then(Value::as_object) else {
        return errs;
    };
    let lt = s(m, "x-kubernetes-list-type");
    if lt != "set" && lt != "map" {
        return errs;
    }
    if flag(is, "nullable") {
        errs.push(FieldError::forbidden(
            path.child("items").child("nullable"),
            format!("cannot be nullable when x-kubernetes-list-type is {lt}"),
        ));
    }
    if lt == "map" {
        let required: Vec<&str> = is
            .get("required")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let keys = m.get("x-kubernetes-list-map-keys").and_then(Value::as_array);
        for k in keys.into_iter().flatten().filter_map(Value::as_str) {
            let Some(p) = is
                .get("properties")
                .and_then(|p| p.get(k))
                .and_then(Value::as_object)
            else {
                continue;
            };
            let kp = path.child("items").child("properties").key(k);
            if !required.contains(&k) && !present(p, "default") {
                errs.push(FieldError::required(
                    kp.child("default"),
                    "this property is in x-kubernetes-list-map-keys, so it must have a default or be a required property",
                ));
            }
            if flag(p, "nullable") {
                errs.push(FieldError::forbidden(
                    kp.child("nullable"),
                    "this property is in x-kubernetes-list-map-keys, so it cannot be nullable",
                ));
            }
        }
    }
    errs
}
