//! The Swagger 2.0 document, derived from the OpenAPI v3 documents so that both always
//! describe the same API: one document for all group-versions, whose `definitions` are the
//! component schemas and whose `paths` are the v3 operations in Swagger's shape (parameter
//! types inline instead of under `schema`, request bodies as `in: body` parameters, media
//! types as `consumes`/`produces`).
//!
//! kubectl parses the definitions with kube-openapi's `proto.NewOpenAPIData`, which rejects
//! the whole document over one schema it does not accept: a `$ref` beside a `type` or
//! `properties`, a reference to a missing definition, an array without exactly one `items`,
//! or several types. The conversion keeps every schema within those rules.
//!
//! `RawExtension` (a ControllerRevision's `data`) keeps its `type: object`, as upstream
//! publishes it, although krust accepts any JSON there. kubectl therefore cannot compute a
//! strategic merge patch that changes something inside it ("expected kind, but got map"),
//! exactly as against upstream. Publishing it without a type would let kubectl try, but
//! kubectl before 1.35 then dereferences a nil schema two levels below the untyped value
//! and crashes (fixed in apimachinery's "fix nested map segmentation fault", October 2025).

use serde_json::{Map, Value, json};

const V3_REF: &str = "#/components/schemas/";
const V2_REF: &str = "#/definitions/";

/// Upstream's Swagger spells this one as a string of format `int-or-string`.
const INT_OR_STRING: &str = "io.k8s.apimachinery.pkg.util.intstr.IntOrString";

/// Schema keywords Swagger 2.0 shares with OpenAPI 3.0 and that are copied as they are.
const SHARED: &[&str] = &[
    "description",
    "format",
    "title",
    "default",
    "multipleOf",
    "maximum",
    "exclusiveMaximum",
    "minimum",
    "exclusiveMinimum",
    "maxLength",
    "minLength",
    "pattern",
    "maxItems",
    "minItems",
    "uniqueItems",
    "maxProperties",
    "minProperties",
    "required",
    "enum",
    "readOnly",
    "example",
    "externalDocs",
];

/// Builds the Swagger document from the v3 group-version documents.
pub fn build<'a>(v3_docs: impl IntoIterator<Item = &'a Value>, version: &str) -> Value {
    let mut paths = Map::new();
    let mut definitions = Map::new();
    for doc in v3_docs {
        if let Some(p) = doc.get("paths").and_then(Value::as_object) {
            for (path, item) in p {
                paths.insert(path.clone(), path_item(item));
            }
        }
        if let Some(s) = doc.pointer("/components/schemas").and_then(Value::as_object) {
            for (name, s) in s {
                if !definitions.contains_key(name) {
                    definitions.insert(name.clone(), definition(name, s));
                }
            }
        }
    }
    json!({
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": version},
        "paths": paths,
        "definitions": definitions,
        "securityDefinitions": {"BearerToken": {
            "type": "apiKey", "name": "authorization", "in": "header",
            "description": "Bearer Token authentication",
        }},
        "security": [{"BearerToken": []}],
    })
}

/// A named component as a definition.
fn definition(name: &str, s: &Value) -> Value {
    let mut out = schema(s);
    if name == INT_OR_STRING
        && let Value::Object(m) = &mut out
    {
        m.insert("format".into(), json!("int-or-string"));
    }
    out
}

fn rewrite_ref(r: &str) -> String {
    match r.strip_prefix(V3_REF) {
        Some(name) => format!("{V2_REF}{name}"),
        None => r.to_string(),
    }
}

/// The reference a v3 schema stands for: its `$ref`, or the one of a single-element
/// `allOf` (how OpenAPI 3.0 puts a description or default beside a reference).
fn reference(obj: &Map<String, Value>) -> Option<String> {
    if let Some(r) = obj.get("$ref").and_then(Value::as_str) {
        return Some(rewrite_ref(r));
    }
    match obj.get("allOf").and_then(Value::as_array).map(Vec::as_slice) {
        Some([one]) => one.get("$ref").and_then(Value::as_str).map(rewrite_ref),
        _ => None,
    }
}

/// Converts one OpenAPI 3.0 schema to Swagger 2.0.
pub fn schema(s: &Value) -> Value {
    let Some(obj) = s.as_object() else {
        return json!({});
    };
    let reference = reference(obj);
    let mut out = Map::new();
    for (k, v) in obj {
        match k.as_str() {
            "$ref" | "allOf" if reference.is_some() => {}
            "properties" => {
                if let Some(props) = v.as_object() {
                    let converted = props.iter().map(|(n, p)| (n.clone(), schema(p))).collect();
                    out.insert(k.clone(), Value::Object(converted));
                }
            }
            "additionalProperties" => {
                let converted = match v {
                    Value::Bool(b) => Value::Bool(*b),
                    other => schema(other),
                };
                out.insert(k.clone(), converted);
            }
            "items" => {
                let converted = match v {
                    Value::Array(a) => a.first().map(schema).unwrap_or_else(|| json!({})),
                    other => schema(other),
                };
                out.insert(k.clone(), converted);
            }
            "allOf" => {
                if let Some(all) = v.as_array() {
                    out.insert(k.clone(), Value::Array(all.iter().map(schema).collect()));
                }
            }
            "type" => {
                let t = match v {
                    Value::Array(ts) => ts.iter().filter_map(Value::as_str).find(|t| *t != "null"),
                    other => other.as_str(),
                };
                if let Some(t) = t {
                    out.insert(k.clone(), Value::String(t.to_string()));
                }
            }
            // Swagger's discriminator is a property name; OpenAPI 3's is an object.
            "discriminator" if v.is_string() => {
                out.insert(k.clone(), v.clone());
            }
            key if key.starts_with("x-") || SHARED.contains(&key) => {
                out.insert(k.clone(), v.clone());
            }
            // oneOf, anyOf, not, nullable, writeOnly, deprecated: no Swagger 2.0 form.
            _ => {}
        }
    }
    if let Some(r) = reference {
        for k in ["type", "properties", "items", "additionalProperties", "format"] {
            out.remove(k);
        }
        out.insert("$ref".into(), Value::String(r));
        return Value::Object(out);
    }
    // Swagger has no "integer or string": upstream publishes such values as strings.
    if out.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) && !out.contains_key("type") {
        out.insert("type".into(), json!("string"));
    }
    if out.get("type").and_then(Value::as_str) == Some("array") && !out.contains_key("items") {
        out.insert("items".into(), json!({}));
    }
    Value::Object(out)
}

fn path_item(item: &Value) -> Value {
    let mut out = Map::new();
    for (k, v) in item.as_object().into_iter().flatten() {
        match k.as_str() {
            "parameters" => {
                out.insert(k.clone(), parameters(v));
            }
            "get" | "put" | "post" | "delete" | "patch" | "head" | "options" => {
                out.insert(k.clone(), operation(v));
            }
            key if key.starts_with("x-") => {
                out.insert(k.clone(), v.clone());
            }
            _ => {}
        }
    }
    Value::Object(out)
}

fn parameters(list: &Value) -> Value {
    Value::Array(list.as_array().into_iter().flatten().map(parameter).collect())
}

/// A query, path or header parameter: Swagger 2.0 puts the type beside the name.
fn parameter(p: &Value) -> Value {
    if let Some(r) = p.get("$ref").and_then(Value::as_str) {
        return json!({"$ref": r.replace("#/components/parameters/", "#/parameters/")});
    }
    let mut out = Map::new();
    for k in ["name", "in", "description", "required"] {
        if let Some(v) = p.get(k) {
            out.insert(k.into(), v.clone());
        }
    }
    if let Some(s) = p.get("schema").and_then(Value::as_object) {
        for k in ["type", "format", "uniqueItems", "enum", "default", "items"] {
            if let Some(v) = s.get(k) {
                out.insert(k.into(), v.clone());
            }
        }
    }
    Value::Object(out)
}

/// The schema of the first media type of a v3 `content` map.
fn content_schema(content: Option<&Value>) -> Option<Value> {
    content?
        .as_object()?
        .values()
        .find_map(|m| m.get("schema"))
        .map(schema)
}

fn media_types(content: Option<&Value>) -> impl Iterator<Item = &String> {
    content.and_then(Value::as_object).into_iter().flat_map(Map::keys)
}

fn operation(op: &Value) -> Value {
    let mut out = Map::new();
    for (k, v) in op.as_object().into_iter().flatten() {
        if k.starts_with("x-")
            || ["operationId", "description", "summary", "tags", "deprecated"].contains(&k.as_str())
        {
            out.insert(k.clone(), v.clone());
        }
    }
    let body = op.get("requestBody");
    let body_content = body.and_then(|b| b.get("content"));
    let mut consumes: Vec<Value> = media_types(body_content).map(|m| json!(m)).collect();
    if consumes.is_empty() {
        consumes.push(json!("*/*"));
    }
    let mut params: Vec<Value> = op
        .get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(parameter)
        .collect();
    if let Some(s) = content_schema(body_content) {
        let required = body
            .and_then(|b| b.get("required"))
            .cloned()
            .unwrap_or(json!(false));
        params.insert(
            0,
            json!({"name": "body", "in": "body", "required": required, "schema": s}),
        );
    }
    let mut produces: Vec<Value> = Vec::new();
    let mut responses = Map::new();
    for (code, r) in op
        .get("responses")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let content = r.get("content");
        for m in media_types(content) {
            if !produces.iter().any(|p| p == m) {
                produces.push(json!(m));
            }
        }
        let mut resp = Map::new();
        resp.insert(
            "description".into(),
            r.get("description").cloned().unwrap_or_else(|| json!("")),
        );
        if let Some(s) = content_schema(content) {
            resp.insert("schema".into(), s);
        }
        responses.insert(code.clone(), Value::Object(resp));
    }
    if produces.is_empty() {
        produces.push(json!("application/json"));
    }
    out.insert("consumes".into(), Value::Array(consumes));
    out.insert("produces".into(), Value::Array(produces));
    out.insert("schemes".into(), json!(["https"]));
    out.insert("parameters".into(), Value::Array(params));
    out.insert("responses".into(), Value::Object(responses));
    Value::Object(out)
}
