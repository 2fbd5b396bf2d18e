//! Structural schema rules (upstream's `NewStructural` + `ValidateStructural`): every node
//! says its type (or is int-or-string / preserves unknown fields), logical junctors
//! (`allOf`, `anyOf`, `oneOf`, `not`) only add value validations to nodes the structural part
//! already specifies, `metadata` may only restrict `name` and `generateName`, and embedded
//! resources are objects. Errors are sorted by their text, as upstream sorts them.

use serde_json::{Map, Value};

use super::pattern;
use super::util::MAX_DEPTH;
use crate::field_error::{FieldError, FieldPath};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    Root,
    Item,
    Field,
}

fn obj(v: &Value) -> Option<&Map<String, Value>> {
    v.as_object()
}

fn s<'a>(m: &'a Map<String, Value>, k: &str) -> &'a str {
    m.get(k).and_then(Value::as_str).unwrap_or("")
}

fn flag(m: &Map<String, Value>, k: &str) -> bool {
    m.get(k).and_then(Value::as_bool) == Some(true)
}

fn props(m: &Map<String, Value>) -> Option<&Map<String, Value>> {
    m.get("properties")
        .and_then(Value::as_object)
        .filter(|p| !p.is_empty())
}

/// Upstream refuses some keywords before anything else (`NewStructural` fails): the first
/// one found is reported on its own, and only when no other schema error is.
pub(crate) fn unsupported(schema: &Value) -> Option<String> {
    unsupported_in(schema, 0)
}

fn unsupported_in(v: &Value, depth: usize) -> Option<String> {
    let m = obj(v)?;
    if depth > MAX_DEPTH {
        return None;
    }
    for (key, what) in [
        ("id", "id"),
        ("$schema", "schema"),
        ("$ref", "$ref"),
        ("patternProperties", "patternProperties"),
        ("dependencies", "dependencies"),
        ("additionalItems", "additionalItems"),
        ("definitions", "definitions"),
    ] {
        let present = match m.get(key) {
            None | Some(Value::Null) => false,
            Some(Value::String(s)) => !s.is_empty(),
            Some(Value::Object(o)) => !o.is_empty() || key == "additionalItems",
            Some(_) => true,
        };
        if present {
            return Some(format!("OpenAPIV3Schema '{what}' is not supported"));
        }
    }
    if m.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(false)) {
        return Some(
            "internal error: 'x-kubernetes-preserve-unknown-fields' must be true or undefined".into(),
        );
    }
    if m.get("items").is_some_and(Value::is_array) {
        return Some("OpenAPIV3Schema 'items' must be a schema, but is an array".into());
    }
    let mut children: Vec<&Value> = Vec::new();
    children.extend(m.get("not"));
    for k in ["allOf", "anyOf", "oneOf"] {
        children.extend(m.get(k).and_then(Value::as_array).into_iter().flatten());
    }
    children.extend(m.get("items"));
    children.extend(
        m.get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flat_map(|p| p.values()),
    );
    children.extend(m.get("additionalProperties").filter(|a| a.is_object()));
    children.into_iter().find_map(|c| unsupported_in(c, depth + 1))
}

/// `ValidateStructural`, with errors sorted by their text.
pub(crate) fn validate(schema: &Value, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    invariants(schema, Level::Root, path, &mut errs, 0);
    if let Some(m) = obj(schema) {
        completeness_junctors(m, schema, path, path, &mut errs, 0);
    }
    errs.sort_by_key(|e| e.to_string());
    errs
}

fn is_int_or_string_any_of(any_of: Option<&Value>) -> bool {
    let Some(Value::Array(a)) = any_of else {
        return false;
    };
    a.len() == 2
        && a.first() == Some(&serde_json::json!({"type": "integer"}))
        && a.get(1) == Some(&serde_json::json!({"type": "string"}))
}

fn invariants(v: &Value, lvl: Level, path: &FieldPath, errs: &mut Vec<FieldError>, depth: usize) {
    let Some(m) = obj(v) else { return };
    if depth > MAX_DEPTH {
        errs.push(FieldError::forbidden(
            path.clone(),
            format!("must not be nested deeper than {MAX_DEPTH} levels"),
        ));
        return;
    }
    let ty = s(m, "type");
    let int_or_string = flag(m, "x-kubernetes-int-or-string");
    let preserve = flag(m, "x-kubernetes-preserve-unknown-fields");
    let embedded = flag(m, "x-kubernetes-embedded-resource");
    if ty == "array" && m.get("items").is_none_or(Value::is_null) {
        errs.push(FieldError::required(path.child("items"), "must be specified"));
    }
    if let Some(items) = m.get("items").filter(|i| i.is_object()) {
        invariants(items, Level::Item, &path.child("items"), errs, depth + 1);
    }
    if let Some(p) = m.get("properties").and_then(Value::as_object) {
        for (k, sub) in p {
            invariants(
                sub,
                Level::Field,
                &path.child("properties").key(k),
                errs,
                depth + 1,
            );
        }
    }
    if let Some(ap) = m.get("additionalProperties").filter(|a| !a.is_null()) {
        if lvl == Level::Root {
            errs.push(FieldError::forbidden(
                path.child("additionalProperties"),
                "must not be used at the root",
            ));
        }
        if ap.is_object() {
            invariants(
                ap,
                Level::Field,
                &path.child("additionalProperties"),
                errs,
                depth + 1,
            );
        }
    }
    if int_or_string && preserve {
        errs.push(FieldError::invalid(
            path.child("x-kubernetes-preserve-unknown-fields"),
            true,
            "must be false if x-kubernetes-int-or-string is true",
        ));
    }
    if int_or_string && embedded {
        errs.push(FieldError::invalid(
            path.child("x-kubernetes-embedded-resource"),
            true,
            "must be false if x-kubernetes-int-or-string is true",
        ));
    }
    let skip_any_of = is_int_or_string_any_of(m.get("anyOf"));
    let skip_first_all_of = m
        .get("allOf")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .is_some_and(|first| is_int_or_string_any_of(first.get("anyOf")));
    value_validation(m, skip_any_of, skip_first_all_of, path, errs, depth);
    if embedded && ty != "object" {
        let msg = "must be object if x-kubernetes-embedded-resource is true";
        if ty.is_empty() {
            errs.push(FieldError::required(path.child("type"), msg));
        } else {
            errs.push(FieldError::invalid(path.child("type"), ty, msg));
        }
    } else if ty.is_empty() && !int_or_string && !preserve {
        let msg = match lvl {
            Level::Root => "must not be empty at the root",
            Level::Item => "must not be empty for specified array items",
            Level::Field => "must not be empty for specified object fields",
        };
        errs.push(FieldError::required(path.child("type"), msg));
    }
    if embedded && m.get("additionalProperties").is_some_and(|a| !a.is_null()) {
        errs.push(FieldError::forbidden(
            path.child("additionalProperties"),
            "must not be used if x-kubernetes-embedded-resource is set",
        ));
    }
    if lvl == Level::Root && !ty.is_empty() && ty != "object" {
        errs.push(FieldError::invalid(
            path.child("type"),
            ty,
            "must be object at the root",
        ));
    }
    let check_meta = lvl == Level::Root || embedded;
    if let Some(p) = m.get("properties").and_then(Value::as_object) {
        for k in ["kind", "apiVersion"] {
            if let Some(sub) = p.get(k).and_then(Value::as_object)
                && check_meta
                && s(sub, "type") != "string"
            {
                errs.push(FieldError::invalid(
                    path.child("properties").key(k).child("type"),
                    s(sub, "type"),
                    "must be string",
                ));
            }
        }
        if let Some(meta) = p.get("metadata").and_then(Value::as_object) {
            metadata(
                meta,
                check_meta,
                lvl,
                &path.child("properties").key("metadata"),
                errs,
            );
        }
    }
    if embedded && !preserve && props(m).is_none() {
        errs.push(FieldError::required(
            path.child("properties"),
            "must not be empty if x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields",
        ));
    }
}

/// True for a keyword value Go would leave at its zero value.
fn is_zero(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Number(_) => false,
    }
}

fn metadata(
    m: &Map<String, Value>,
    check_meta: bool,
    lvl: Level,
    path: &FieldPath,
    errs: &mut Vec<FieldError>,
) {
    if check_meta && s(m, "type") != "object" {
        errs.push(FieldError::invalid(
            path.child("type"),
            s(m, "type"),
            "must be object",
        ));
    }
    if lvl != Level::Root {
        return;
    }
    let only_names = |p: &Map<String, Value>| p.keys().all(|k| k == "name" || k == "generateName");
    let extra = m.iter().any(|(k, v)| match k.as_str() {
        "type" | "default" => false,
        "properties" => v.as_object().is_some_and(|p| !p.is_empty() && !only_names(p)),
        _ => !is_zero(v),
    });
    if extra {
        errs.push(FieldError::forbidden(
            path.clone(),
            "must not specify anything other than name and generateName, but metadata is implicitly specified",
        ));
    }
}

fn value_validation(
    m: &Map<String, Value>,
    skip_any_of: bool,
    skip_first_all_of_any_of: bool,
    path: &FieldPath,
    errs: &mut Vec<FieldError>,
    depth: usize,
) {
    let list = |k: &str| {
        m.get(k)
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    };
    if !skip_any_of {
        for (i, x) in list("anyOf").iter().enumerate() {
            nested(x, false, &path.child("anyOf").index(i), errs, depth + 1);
        }
    }
    for (i, x) in list("allOf").iter().enumerate() {
        nested(
            x,
            skip_first_all_of_any_of && i == 0,
            &path.child("allOf").index(i),
            errs,
            depth + 1,
        );
    }
    for (i, x) in list("oneOf").iter().enumerate() {
        nested(x, false, &path.child("oneOf").index(i), errs, depth + 1);
    }
    if let Some(not) = m.get("not").filter(|n| n.is_object()) {
        nested(not, false, &path.child("not"), errs, depth + 1);
    }
    if let Some(p) = m.get("pattern").and_then(Value::as_str).filter(|p| !p.is_empty())
        && let Err(e) = pattern::compile(p)
    {
        errs.push(FieldError::invalid(
            path.child("pattern"),
            p,
            format!("must be a valid regular expression, but isn't: {e}"),
        ));
    }
}

/// A schema inside a junctor: value validations only.
fn nested(v: &Value, skip_any_of: bool, path: &FieldPath, errs: &mut Vec<FieldError>, depth: usize) {
    let Some(m) = obj(v) else { return };
    if depth > MAX_DEPTH {
        return;
    }
    value_validation(m, skip_any_of, false, path, errs, depth);
    if let Some(items) = m.get("items").filter(|i| i.is_object()) {
        nested(items, false, &path.child("items"), errs, depth + 1);
    }
    if let Some(p) = m.get("properties").and_then(Value::as_object) {
        for (k, sub) in p {
            nested(sub, false, &path.child("properties").key(k), errs, depth + 1);
        }
    }
    let forbid = |errs: &mut Vec<FieldError>, key: &str, msg: &str| {
        errs.push(FieldError::forbidden(path.child(key), msg));
    };
    if !s(m, "type").is_empty() {
        forbid(errs, "type", "must be empty to be structural");
    }
    match m.get("additionalProperties") {
        None | Some(Value::Null) | Some(Value::Bool(false)) => {}
        Some(_) => forbid(errs, "additionalProperties", "must be undefined to be structural"),
    }
    if m.get("default").is_some_and(|d| !d.is_null()) {
        forbid(errs, "default", "must be undefined to be structural");
    }
    for k in ["title", "description"] {
        if !s(m, k).is_empty() {
            forbid(errs, k, "must be empty to be structural");
        }
    }
    if flag(m, "nullable") {
        forbid(errs, "nullable", "must be false to be structural");
    }
    for k in [
        "x-kubernetes-preserve-unknown-fields",
        "x-kubernetes-embedded-resource",
        "x-kubernetes-int-or-string",
    ] {
        if flag(m, k) {
            forbid(errs, k, "must be false to be structural");
        }
    }
    if m.get("x-kubernetes-list-map-keys")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty())
    {
        forbid(
            errs,
            "x-kubernetes-list-map-keys",
            "must be empty to be structural",
        );
    }
    for k in ["x-kubernetes-list-type", "x-kubernetes-map-type"] {
        if m.get(k).is_some_and(|x| !x.is_null()) {
            forbid(errs, k, "must be undefined to be structural");
        }
    }
    if m.get("x-kubernetes-validations")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty())
    {
        forbid(errs, "x-kubernetes-validations", "must be empty to be structural");
    }
    if m.get("properties")
        .and_then(Value::as_object)
        .is_some_and(|p| p.contains_key("metadata"))
    {
        errs.push(FieldError::forbidden(
            path.child("properties").key("metadata"),
            "must not be specified in a nested context",
        ));
    }
}

/// Value validations of the root's junctors must only name fields the structural part has.
fn completeness_junctors(
    m: &Map<String, Value>,
    structural: &Value,
    s_path: &FieldPath,
    v_path: &FieldPath,
    errs: &mut Vec<FieldError>,
    depth: usize,
) {
    if depth > MAX_DEPTH {
        return;
    }
    if let Some(not) = m.get("not").filter(|n| n.is_object()) {
        completeness(
            not,
            Some(structural),
            s_path,
            &v_path.child("not"),
            errs,
            depth + 1,
        );
    }
    for k in ["allOf", "anyOf", "oneOf"] {
        for (i, x) in m
            .get(k)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            completeness(
                x,
                Some(structural),
                s_path,
                &v_path.child(k).index(i),
                errs,
                depth + 1,
            );
        }
    }
}

fn completeness(
    v: &Value,
    structural: Option<&Value>,
    s_path: &FieldPath,
    v_path: &FieldPath,
    errs: &mut Vec<FieldError>,
    depth: usize,
) {
    let Some(m) = obj(v) else { return };
    let Some(st) = structural.filter(|x| x.is_object()) else {
        errs.push(FieldError::required(
            s_path.clone(),
            format!("because it is defined in {v_path}"),
        ));
        return;
    };
    completeness_junctors(m, st, s_path, v_path, errs, depth);
    if let Some(items) = m.get("items").filter(|i| i.is_object()) {
        completeness(
            items,
            st.get("items"),
            &s_path.child("items"),
            &v_path.child("items"),
            errs,
            depth + 1,
        );
    }
    if let Some(p) = m.get("properties").and_then(Value::as_object) {
        let sp = st.get("properties").and_then(Value::as_object);
        for (k, sub) in p {
            let s_child = s_path.child("properties").key(k);
            let v_child = v_path.child("properties").key(k);
            match sp.and_then(|sp| sp.get(k)) {
                Some(target) => completeness(sub, Some(target), &s_child, &v_child, errs, depth + 1),
                None => errs.push(FieldError::required(
                    s_child,
                    format!("because it is defined in {v_child}"),
                )),
            }
        }
    }
}
