//! Encodes a Swagger 2.0 JSON document as gnostic's `openapi.v2.Document` protobuf message,
//! the form client-go fetches from `/openapi/v2` and decodes with `proto.Unmarshal`.
//!
//! Field numbers follow gnostic-models' `openapiv2/OpenAPIv2.proto`. Maps of the JSON
//! document become repeated `Named*` messages (`name` = 1, `value` = 2) in key order;
//! keys starting with `x-` become `vendor_extension` entries whose value is an `Any`
//! carrying only its `yaml` text (field 2), as gnostic's own JSON parser produces and as
//! kube-openapi and kubectl read them back. Parts of Swagger krust never emits (XML
//! objects, tags, OAuth flows, form and header parameter specifics) are left out.

use serde_json::{Map, Value};

use super::pb::{Msg, yaml};

fn obj(v: &Value) -> Option<&Map<String, Value>> {
    v.as_object()
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn flag(v: &Value, key: &str) -> bool {
    v.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn int(v: &Value, key: &str) -> i64 {
    v.get(key).and_then(Value::as_i64).unwrap_or(0)
}

fn num(v: &Value, key: &str) -> f64 {
    v.get(key).and_then(Value::as_f64).unwrap_or(0.0)
}

fn str_list<'a>(v: &'a Value, key: &str) -> impl Iterator<Item = &'a str> {
    v.get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

/// `Any`: a free-form value as YAML text.
fn any(v: &Value) -> Msg {
    let mut m = Msg::new();
    m.string(2, &yaml(v));
    m
}

/// The `x-` keys of an object as repeated `NamedAny` in field `field`.
fn extensions(m: &mut Msg, field: u32, v: &Value) {
    for (k, x) in obj(v).into_iter().flatten() {
        if k.starts_with("x-") {
            let mut named = Msg::new();
            named.string(1, k);
            named.message(2, any(x));
            m.message(field, named);
        }
    }
}

/// A `Named*` message: a map entry.
fn named(name: &str, value: Msg) -> Msg {
    let mut m = Msg::new();
    m.string(1, name);
    m.message(2, value);
    m
}

/// The whole document.
pub fn document(d: &Value) -> Vec<u8> {
    let mut m = Msg::new();
    m.string(1, text(d, "swagger"));
    if let Some(i) = d.get("info") {
        m.message(2, info(i));
    }
    m.string(3, text(d, "host"));
    m.string(4, text(d, "basePath"));
    m.strings(5, str_list(d, "schemes"));
    m.strings(6, str_list(d, "consumes"));
    m.strings(7, str_list(d, "produces"));
    if let Some(p) = d.get("paths") {
        m.message(8, paths(p));
    }
    if let Some(defs) = d.get("definitions").and_then(obj) {
        let mut dm = Msg::new();
        for (name, s) in defs {
            dm.message(1, named(name, schema(s)));
        }
        m.message(9, dm);
    }
    if let Some(params) = d.get("parameters").and_then(obj) {
        let mut pm = Msg::new();
        for (name, p) in params {
            pm.message(1, named(name, parameter(p)));
        }
        m.message(10, pm);
    }
    for req in d.get("security").and_then(Value::as_array).into_iter().flatten() {
        m.message(12, security_requirement(req));
    }
    if let Some(defs) = d.get("securityDefinitions").and_then(obj) {
        let mut sm = Msg::new();
        for (name, s) in defs {
            sm.message(1, named(name, security_definition(s)));
        }
        m.message(13, sm);
    }
    extensions(&mut m, 16, d);
    m.into_bytes()
}

fn info(i: &Value) -> Msg {
    let mut m = Msg::new();
    m.string(1, text(i, "title"));
    m.string(2, text(i, "version"));
    m.string(3, text(i, "description"));
    m.string(4, text(i, "termsOfService"));
    extensions(&mut m, 7, i);
    m
}

fn security_requirement(req: &Value) -> Msg {
    let mut m = Msg::new();
    for (name, scopes) in obj(req).into_iter().flatten() {
        let mut list = Msg::new();
        list.strings(
            1,
            scopes.as_array().into_iter().flatten().filter_map(Value::as_str),
        );
        m.message(1, named(name, list));
    }
    m
}

/// `SecurityDefinitionsItem`: a oneof by `type` (basic = 1, apiKey = 2).
fn security_definition(s: &Value) -> Msg {
    let mut item = Msg::new();
    let mut m = Msg::new();
    match text(s, "type") {
        "basic" => {
            m.string(1, "basic");
            m.string(2, text(s, "description"));
            extensions(&mut m, 3, s);
            item.message(1, m);
        }
        "apiKey" => {
            m.string(1, "apiKey");
            m.string(2, text(s, "name"));
            m.string(3, text(s, "in"));
            m.string(4, text(s, "description"));
            extensions(&mut m, 5, s);
            item.message(2, m);
        }
        _ => {}
    }
    item
}

fn paths(p: &Value) -> Msg {
    let mut m = Msg::new();
    extensions(&mut m, 1, p);
    for (name, item) in obj(p).into_iter().flatten() {
        if !name.starts_with("x-") {
            m.message(2, named(name, path_item(item)));
        }
    }
    m
}

fn path_item(item: &Value) -> Msg {
    let mut m = Msg::new();
    m.string(1, text(item, "$ref"));
    for (field, verb) in [
        (2, "get"),
        (3, "put"),
        (4, "post"),
        (5, "delete"),
        (6, "options"),
        (7, "head"),
        (8, "patch"),
    ] {
        if let Some(op) = item.get(verb) {
            m.message(field, operation(op));
        }
    }
    for p in item
        .get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        m.message(9, parameters_item(p));
    }
    extensions(&mut m, 10, item);
    m
}

fn operation(op: &Value) -> Msg {
    let mut m = Msg::new();
    m.strings(1, str_list(op, "tags"));
    m.string(2, text(op, "summary"));
    m.string(3, text(op, "description"));
    m.string(5, text(op, "operationId"));
    m.strings(6, str_list(op, "produces"));
    m.strings(7, str_list(op, "consumes"));
    for p in op
        .get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        m.message(8, parameters_item(p));
    }
    if let Some(r) = op.get("responses") {
        m.message(9, responses(r));
    }
    m.strings(10, str_list(op, "schemes"));
    m.bool(11, flag(op, "deprecated"));
    extensions(&mut m, 13, op);
    m
}

fn json_reference(v: &Value) -> Msg {
    let mut m = Msg::new();
    m.string(1, text(v, "$ref"));
    m.string(2, text(v, "description"));
    m
}

/// `ParametersItem`: a parameter (1) or a reference to a shared one (2).
fn parameters_item(p: &Value) -> Msg {
    let mut m = Msg::new();
    if p.get("$ref").is_some() {
        m.message(2, json_reference(p));
    } else {
        m.message(1, parameter(p));
    }
    m
}

/// `Parameter`: a body parameter (1) or a non-body one (2), itself a oneof by `in`.
fn parameter(p: &Value) -> Msg {
    let mut m = Msg::new();
    if text(p, "in") == "body" {
        let mut b = Msg::new();
        b.string(1, text(p, "description"));
        b.string(2, text(p, "name"));
        b.string(3, "body");
        b.bool(4, flag(p, "required"));
        if let Some(s) = p.get("schema") {
            b.message(5, schema(s));
        }
        extensions(&mut b, 6, p);
        m.message(1, b);
        return m;
    }
    // header = 1, formData = 2, query = 3, path = 4. Query and form-data parameters have
    // `allow_empty_value` at 5, which shifts every later field by one.
    let (member, shift) = match text(p, "in") {
        "header" => (1, 0),
        "formData" => (2, 1),
        "query" => (3, 1),
        _ => (4, 0),
    };
    let mut s = Msg::new();
    s.bool(1, flag(p, "required"));
    s.string(2, text(p, "in"));
    s.string(3, text(p, "description"));
    s.string(4, text(p, "name"));
    if shift == 1 {
        s.bool(5, flag(p, "allowEmptyValue"));
    }
    primitive_fields(&mut s, 5 + shift, p);
    let mut non_body = Msg::new();
    non_body.message(member, s);
    m.message(2, non_body);
    m
}

/// The run of fields parameter sub-schemas and `PrimitivesItems` share, numbered from
/// `base` (the field number of `type`): type, format, items, collectionFormat, default,
/// maximum, exclusiveMaximum, minimum, exclusiveMinimum, maxLength, minLength, pattern,
/// maxItems, minItems, uniqueItems, enum, multipleOf, vendor extensions.
fn primitive_fields(m: &mut Msg, base: u32, p: &Value) {
    m.string(base, text(p, "type"));
    m.string(base + 1, text(p, "format"));
    if let Some(items) = p.get("items") {
        m.message(base + 2, primitives_items(items));
    }
    m.string(base + 3, text(p, "collectionFormat"));
    if let Some(d) = p.get("default") {
        m.message(base + 4, any(d));
    }
    m.double(base + 5, num(p, "maximum"));
    m.bool(base + 6, flag(p, "exclusiveMaximum"));
    m.double(base + 7, num(p, "minimum"));
    m.bool(base + 8, flag(p, "exclusiveMinimum"));
    m.int64(base + 9, int(p, "maxLength"));
    m.int64(base + 10, int(p, "minLength"));
    m.string(base + 11, text(p, "pattern"));
    m.int64(base + 12, int(p, "maxItems"));
    m.int64(base + 13, int(p, "minItems"));
    m.bool(base + 14, flag(p, "uniqueItems"));
    for e in p.get("enum").and_then(Value::as_array).into_iter().flatten() {
        m.message(base + 15, any(e));
    }
    m.double(base + 16, num(p, "multipleOf"));
    extensions(m, base + 17, p);
}

fn primitives_items(items: &Value) -> Msg {
    let mut m = Msg::new();
    primitive_fields(&mut m, 1, items);
    m
}

fn responses(r: &Value) -> Msg {
    let mut m = Msg::new();
    for (code, resp) in obj(r).into_iter().flatten() {
        if code.starts_with("x-") {
            continue;
        }
        let mut value = Msg::new();
        if resp.get("$ref").is_some() {
            value.message(2, json_reference(resp));
        } else {
            let mut rm = Msg::new();
            rm.string(1, text(resp, "description"));
            if let Some(s) = resp.get("schema") {
                let mut item = Msg::new();
                item.message(1, schema(s));
                rm.message(2, item);
            }
            extensions(&mut rm, 5, resp);
            value.message(1, rm);
        }
        m.message(1, named(code, value));
    }
    extensions(&mut m, 2, r);
    m
}

/// `Schema`.
pub fn schema(s: &Value) -> Msg {
    let mut m = Msg::new();
    m.string(1, text(s, "$ref"));
    m.string(2, text(s, "format"));
    m.string(3, text(s, "title"));
    m.string(4, text(s, "description"));
    if let Some(d) = s.get("default") {
        m.message(5, any(d));
    }
    m.double(6, num(s, "multipleOf"));
    m.double(7, num(s, "maximum"));
    m.bool(8, flag(s, "exclusiveMaximum"));
    m.double(9, num(s, "minimum"));
    m.bool(10, flag(s, "exclusiveMinimum"));
    m.int64(11, int(s, "maxLength"));
    m.int64(12, int(s, "minLength"));
    m.string(13, text(s, "pattern"));
    m.int64(14, int(s, "maxItems"));
    m.int64(15, int(s, "minItems"));
    m.bool(16, flag(s, "uniqueItems"));
    m.int64(17, int(s, "maxProperties"));
    m.int64(18, int(s, "minProperties"));
    m.strings(19, str_list(s, "required"));
    for e in s.get("enum").and_then(Value::as_array).into_iter().flatten() {
        m.message(20, any(e));
    }
    match s.get("additionalProperties") {
        Some(Value::Bool(b)) => {
            let mut a = Msg::new();
            a.oneof_bool(2, *b);
            m.message(21, a);
        }
        Some(other @ Value::Object(_)) => {
            let mut a = Msg::new();
            a.message(1, schema(other));
            m.message(21, a);
        }
        _ => {}
    }
    match s.get("type") {
        Some(Value::String(t)) => {
            let mut t_msg = Msg::new();
            t_msg.strings(1, [t.as_str()]);
            m.message(22, t_msg);
        }
        Some(Value::Array(ts)) => {
            let mut t_msg = Msg::new();
            t_msg.strings(1, ts.iter().filter_map(Value::as_str));
            m.message(22, t_msg);
        }
        _ => {}
    }
    match s.get("items") {
        Some(Value::Array(list)) => {
            let mut i = Msg::new();
            list.iter().for_each(|x| i.message(1, schema(x)));
            m.message(23, i);
        }
        Some(one @ Value::Object(_)) => {
            let mut i = Msg::new();
            i.message(1, schema(one));
            m.message(23, i);
        }
        _ => {}
    }
    for x in s.get("allOf").and_then(Value::as_array).into_iter().flatten() {
        m.message(24, schema(x));
    }
    if let Some(props) = s.get("properties").and_then(obj) {
        let mut pm = Msg::new();
        for (name, p) in props {
            pm.message(1, named(name, schema(p)));
        }
        m.message(25, pm);
    }
    m.string(26, text(s, "discriminator"));
    m.bool(27, flag(s, "readOnly"));
    if let Some(docs) = s.get("externalDocs") {
        let mut d = Msg::new();
        d.string(1, text(docs, "description"));
        d.string(2, text(docs, "url"));
        extensions(&mut d, 3, docs);
        m.message(29, d);
    }
    if let Some(e) = s.get("example") {
        m.message(30, any(e));
    }
    extensions(&mut m, 31, s);
    m
}
