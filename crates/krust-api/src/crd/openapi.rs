//! OpenAPI v3 validation of a custom resource as upstream runs it (kube-openapi's schema
//! validator, then `kubeOpenAPIResultToFieldErrors`): the same checks in the same order per
//! node (type, allOf/anyOf/oneOf/not, string, format, number, array, enum, object), the same
//! messages (`spec.size in body should be greater than or equal to 1`), and the same mapping
//! to field errors. On update, values equal to their old counterpart are not re-checked
//! (validation ratcheting, on by default upstream).

use std::collections::BTreeSet;

use serde_json::Value;

use super::correlate;
use super::formats;
use super::model::{Additional, Node};
use super::util::{MAX_DEPTH, NIL_PATH, Num, go_quote, is_json_integer, type_invalid};
use crate::field_error::FieldError;

/// What went wrong, as kube-openapi's error codes distinguish it.
#[derive(Debug, Clone)]
pub(super) enum Code {
    Required,
    Enum(Vec<Value>),
    TooLong(i64),
    MaxItems(i64, i64),
    TooManyProperties(i64, i64),
    Type,
    Other,
}

/// One kube-openapi error: `name` is its dotted path (None for errors that are not
/// `*errors.Validation`, which upstream reports without a field).
#[derive(Debug, Clone)]
struct VErr {
    name: Option<String>,
    code: Code,
    value: Option<Value>,
    message: String,
}

/// Errors and kube-openapi's "match count", used to pick the closest anyOf/oneOf branch.
#[derive(Debug, Default)]
pub(super) struct Outcome {
    errors: Vec<VErr>,
    matches: usize,
}

impl Outcome {
    fn merge(&mut self, other: Outcome) {
        self.errors.extend(other.errors);
        self.matches += other.matches;
    }
    pub(super) fn push(&mut self, name: &str, code: Code, value: Option<Value>, message: String) {
        self.errors.push(VErr {
            name: Some(name.to_string()),
            code,
            value,
            message,
        });
    }
    pub(super) fn push_plain(&mut self, message: String) {
        self.errors.push(VErr {
            name: None,
            code: Code::Other,
            value: None,
            message,
        });
    }
}

/// Validates `data` against `root`; errors carry paths under `prefix` (None at a resource
/// root, as upstream's nil path). `old` enables ratcheting.
pub(crate) fn validate(
    root: &Node,
    data: &Value,
    old: Option<&Value>,
    prefix: Option<&str>,
) -> Vec<FieldError> {
    let out = node(root, data, old, "", 0);
    out.errors
        .into_iter()
        .map(|e| to_field_error(e, prefix))
        .collect()
}

fn to_field_error(e: VErr, prefix: Option<&str>) -> FieldError {
    let base = prefix.unwrap_or(NIL_PATH);
    let Some(name) = e.name else {
        return FieldError::invalid(base, "", e.message);
    };
    let name = name.strip_prefix('.').unwrap_or(&name);
    let path = match (name.is_empty(), prefix) {
        (true, _) => base.to_string(),
        (false, Some(p)) if !p.is_empty() => format!("{p}.{name}"),
        (false, _) => name.to_string(),
    };
    let value = e.value.unwrap_or_else(|| Value::from(""));
    match e.code {
        Code::Required => FieldError::required(path, ""),
        Code::Enum(values) => {
            let shown: Vec<String> = values
                .iter()
                .map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect();
            let refs: Vec<&str> = shown.iter().map(String::as_str).collect();
            FieldError::not_supported(path, value, &refs)
        }
        Code::TooLong(max) => FieldError::too_long(path, usize::try_from(max).unwrap_or(0)),
        Code::MaxItems(actual, max) | Code::TooManyProperties(actual, max) => FieldError::too_many(
            path,
            usize::try_from(actual).unwrap_or(0),
            usize::try_from(max).unwrap_or(0),
        ),
        Code::Type => type_invalid(path, value, e.message),
        Code::Other => FieldError::invalid(path, value, e.message),
    }
}

fn types(s: &Node) -> Vec<&str> {
    if s.int_or_string {
        vec!["integer", "string"]
    } else if s.ty.is_empty() {
        Vec::new()
    } else {
        vec![s.ty.as_str()]
    }
}

fn node(s: &Node, data: &Value, old: Option<&Value>, path: &str, depth: usize) -> Outcome {
    let mut out = Outcome::default();
    if s.opaque || depth > MAX_DEPTH || old == Some(data) {
        // Ratcheting: an unchanged value keeps whatever it was accepted with.
        out.matches = 1;
        return out;
    }
    let tys = types(s);
    if data.is_null() {
        if !tys.is_empty() && !s.nullable {
            out.push(
                path,
                Code::Type,
                Some(Value::from("null")),
                format!("{path} in body must be of type {}: \"null\"", tys.join(",")),
            );
        }
        enumeration(s, data, path, &mut out);
        return out;
    }
    if !tys.is_empty() || !s.format.is_empty() {
        type_check(s, &tys, data, path, &mut out);
        out.matches += 1;
    }
    out.merge(junctors(s, data, old, path, depth));
    out.matches += 1;
    if let Value::String(text) = data {
        string_check(s, text, path, &mut out);
        out.matches += 1;
        if formats::known(&s.format) {
            if !formats::validates(&s.format, text) {
                out.push(
                    path,
                    Code::Type,
                    Some(data.clone()),
                    format!("{path} in body must be of type {}: {}", s.format, go_quote(text)),
                );
            }
            out.matches += 1;
        }
    }
    if let Some(n) = Num::of(data) {
        super::openapi_numbers::check(s, n, data, path, &mut out);
        out.matches += 1;
    }
    if let Value::Array(items) = data {
        out.merge(slice_check(s, items, old, path, depth));
        out.matches += 1;
    }
    enumeration(s, data, path, &mut out);
    out.matches += 1;
    if let Value::Object(map) = data {
        out.merge(object_check(s, map, old, path, depth));
        out.matches += 1;
    }
    out.matches += 1;
    out
}

fn type_check(s: &Node, tys: &[&str], data: &Value, path: &str, out: &mut Outcome) {
    let (sch_type, format) = match data {
        Value::Bool(_) => ("boolean", ""),
        Value::String(_) => ("string", ""),
        Value::Array(_) => ("array", ""),
        Value::Object(_) => ("object", ""),
        Value::Number(_) => match Num::of(data) {
            Some(Num::Int(_)) => ("integer", "int64"),
            _ => ("number", "float64"),
        },
        Value::Null => ("null", ""),
    };
    let has = |t: &str| tys.contains(&t);
    let float_int =
        sch_type == "number" && Num::of(data).is_some_and(|n| is_json_integer(n.as_f64())) && has("integer");
    let int_float = sch_type == "integer" && has("number");
    let stringy = matches!(data, Value::String(_) | Value::Array(_));
    let mut fail = |expected: &str, got: &str| {
        out.push(
            path,
            Code::Type,
            Some(Value::from(got)),
            format!("{path} in body must be of type {expected}: {}", go_quote(got)),
        );
    };
    if !(stringy || s.format.is_empty() || has(sch_type) || format == s.format || float_int || int_float) {
        fail(&s.format, format);
        return;
    }
    if stringy && !(has("number") || has("integer") || s.format.is_empty()) {
        return;
    }
    if !(has(sch_type) || float_int || int_float) {
        fail(&tys.join(","), sch_type);
    }
}

fn junctors(s: &Node, data: &Value, old: Option<&Value>, path: &str, depth: usize) -> Outcome {
    let mut main = Outcome::default();
    if !s.any_of.is_empty() {
        let mut best: Option<Outcome> = None;
        let mut success: Option<Outcome> = None;
        for branch in &s.any_of {
            let r = node(branch, data, old, path, depth + 1);
            if r.errors.is_empty() {
                success = Some(r);
                best = None;
                break;
            }
            if best.as_ref().is_none_or(|b| r.matches > b.matches) {
                best = Some(r);
            }
        }
        if success.is_none() {
            main.push_plain(format!(
                "{} must validate at least one schema (anyOf)",
                go_quote(path)
            ));
        }
        if let Some(b) = best.or(success) {
            main.merge(b);
        }
    }
    if !s.one_of.is_empty() {
        let mut best: Option<Outcome> = None;
        let mut first: Option<Outcome> = None;
        let mut valid = 0;
        for branch in &s.one_of {
            let r = node(branch, data, old, path, depth + 1);
            if r.errors.is_empty() {
                valid += 1;
                best = None;
                if first.is_none() {
                    first = Some(r);
                }
                continue;
            }
            if valid == 0 && best.as_ref().is_none_or(|b| r.matches > b.matches) {
                best = Some(r);
            }
        }
        if valid != 1 {
            let more = if valid == 0 {
                "Found none valid".to_string()
            } else {
                format!("Found {valid} valid alternatives")
            };
            main.push_plain(format!(
                "{} must validate one and only one schema (oneOf). {more}",
                go_quote(path)
            ));
            if let Some(b) = best {
                main.merge(b);
            }
        } else if let Some(f) = first {
            main.merge(f);
        }
    }
    if !s.all_of.is_empty() {
        let mut valid = 0;
        for branch in &s.all_of {
            let r = node(branch, data, old, path, depth + 1);
            if r.errors.is_empty() {
                valid += 1;
            }
            main.merge(r);
        }
        if valid != s.all_of.len() {
            let more = if valid == 0 { ". None validated" } else { "" };
            main.push_plain(format!(
                "{} must validate all the schemas (allOf){more}",
                go_quote(path)
            ));
        }
    }
    if let Some(not) = &s.not
        && node(not, data, old, path, depth + 1).errors.is_empty()
    {
        main.push_plain(format!("{} must not validate the schema (not)", go_quote(path)));
    }
    main
}

fn string_check(s: &Node, text: &str, path: &str, out: &mut Outcome) {
    let len = i64::try_from(text.chars().count()).unwrap_or(i64::MAX);
    let value = Some(Value::from(text));
    if let Some(max) = s.max_length
        && len > max
    {
        let msg = format!("{path} in body should be at most {max} chars long");
        out.push(path, Code::TooLong(max), value, msg);
        return;
    }
    if let Some(min) = s.min_length
        && len < min
    {
        let msg = format!("{path} in body should be at least {min} chars long");
        out.push(path, Code::Other, value, msg);
        return;
    }
    if let Some(p) = &s.pattern {
        match &p.regex {
            Err(e) => out.push(
                path,
                Code::Other,
                value,
                format!(
                    "{path} in body should match '{}, but pattern is invalid: {e}'",
                    p.source
                ),
            ),
            Ok(re) if !re.is_match(text) => out.push(
                path,
                Code::Other,
                value,
                format!("{path} in body should match '{}'", p.source),
            ),
            Ok(_) => {}
        }
    }
}

fn slice_check(s: &Node, items: &[Value], old: Option<&Value>, path: &str, depth: usize) -> Outcome {
    let mut out = Outcome::default();
    if let Some(item) = s.items.as_deref() {
        for (i, v) in items.iter().enumerate() {
            let o = correlate::item(s, old, v);
            out.merge(node(item, v, o, &format!("{path}[{i}]"), depth + 1));
        }
    }
    let size = i64::try_from(items.len()).unwrap_or(i64::MAX);
    if let Some(min) = s.min_items
        && size < min
    {
        let msg = format!("{path} in body should have at least {min} items");
        out.push(path, Code::Other, Some(Value::from(size)), msg);
    }
    if let Some(max) = s.max_items
        && size > max
    {
        let msg = format!("{path} in body should have at most {max} items");
        out.push(path, Code::MaxItems(size, max), Some(Value::from(size)), msg);
    }
    if s.unique_items {
        let mut seen = BTreeSet::new();
        if !items.iter().all(|v| seen.insert(canonical(v))) {
            out.push(
                path,
                Code::Other,
                None,
                format!("{path} in body shouldn't contain duplicates"),
            );
        }
    }
    out
}

/// A key equal for equal JSON values (numbers compared by value).
fn canonical(v: &Value) -> String {
    match Num::of(v) {
        Some(n) if is_json_integer(n.as_f64()) => format!("n{}", n.as_f64()),
        _ => v.to_string(),
    }
}

fn enum_matches(data: &Value, candidate: &Value) -> bool {
    match (Num::of(data), Num::of(candidate)) {
        (Some(a), Some(b)) => a.as_f64() == b.as_f64(),
        _ => !data.is_null() && data == candidate,
    }
}

fn enumeration(s: &Node, data: &Value, path: &str, out: &mut Outcome) {
    let Some(values) = s.enumeration.as_ref().filter(|v| !v.is_empty()) else {
        return;
    };
    if values.iter().any(|c| enum_matches(data, c)) {
        return;
    }
    let shown: Vec<String> = values
        .iter()
        .map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect();
    out.push(
        path,
        Code::Enum(values.clone()),
        Some(data.clone()),
        format!("{path} in body should be one of [{}]", shown.join(" ")),
    );
}

fn object_check(
    s: &Node,
    map: &serde_json::Map<String, Value>,
    old: Option<&Value>,
    path: &str,
    depth: usize,
) -> Outcome {
    let mut out = Outcome::default();
    let size = i64::try_from(map.len()).unwrap_or(i64::MAX);
    if let Some(min) = s.min_properties
        && size < min
    {
        let msg = format!("{path} in body should have at least {min} properties");
        out.push(path, Code::Other, Some(Value::from(size)), msg);
    }
    if let Some(max) = s.max_properties
        && size > max
    {
        let msg = format!("{path} in body should have at most {max} properties");
        out.push(
            path,
            Code::TooManyProperties(size, max),
            Some(Value::from(size)),
            msg,
        );
    }
    match &s.additional {
        Some(Additional::Bool(false)) => {
            for k in map.keys().filter(|k| !s.properties.contains_key(*k)) {
                out.push(
                    path,
                    Code::Other,
                    Some(Value::from(k.as_str())),
                    format!("{path}.{k} in body is a forbidden property"),
                );
            }
        }
        Some(Additional::Schema(ap)) => {
            for (k, v) in map.iter().filter(|(k, _)| !s.properties.contains_key(*k)) {
                let o = correlate::field(old, k);
                out.merge(node(ap, v, o, &format!("{path}.{k}"), depth + 1));
            }
        }
        _ => {}
    }
    for (name, prop) in &s.properties {
        if let Some(v) = map.get(name) {
            let child = if path.is_empty() {
                name.clone()
            } else {
                format!("{path}.{name}")
            };
            let o = correlate::field(old, name);
            out.merge(node(prop, v, o, &child, depth + 1));
        }
    }
    for k in &s.required {
        if !map.contains_key(k) {
            out.push(
                &format!("{path}.{k}"),
                Code::Required,
                None,
                format!("{path}.{k} in body is required"),
            );
        }
    }
    out
}
