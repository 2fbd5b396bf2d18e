//! The Swagger document's content (what kubectl's parser needs), and its protobuf encoding
//! read back with a minimal decoder written against gnostic's field numbers.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use krust_api::schema::Schemas;
use serde_json::{Value, json};

use super::{Doc, PROTO, gnostic, swagger};
use crate::negotiate::parse_accept;
use crate::openapi::{Docs, OpenApi};

/// The v3 documents of the built-in API, the Swagger JSON and the served document.
fn fixture() -> &'static (Value, Doc) {
    static FIXTURE: OnceLock<(Value, Doc)> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let docs = v3_docs();
        let parsed: Vec<Value> = docs
            .by_path
            .values()
            .map(|d| serde_json::from_slice(&d.body).unwrap())
            .collect();
        (swagger::build(&parsed, "v1.33.0"), Doc::build(&docs))
    })
}

fn v3_docs() -> Arc<Docs> {
    let (components, kinds) = krust_schema::built_in();
    let gvk_schema: HashMap<(String, String, String), String> = kinds
        .into_iter()
        .map(|k| ((k.group.into(), k.version.into(), k.kind.into()), k.schema))
        .collect();
    let mut resources = krust_api::registry::built_in();
    for r in &mut resources {
        r.schema = gvk_schema
            .get(&(r.group.clone(), r.version.clone(), r.kind.clone()))
            .cloned();
    }
    OpenApi::default().get(&Schemas::new(components), &gvk_schema, &resources)
}

// --- A minimal protobuf reader -------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq)]
enum Wire<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
}

fn varint(buf: &[u8], pos: &mut usize) -> u64 {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = buf[*pos];
        *pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return v;
        }
    }
    panic!("varint too long");
}

/// Every field of a message, in order; panics on anything malformed.
fn decode(buf: &[u8]) -> Vec<(u32, Wire<'_>)> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        let key = varint(buf, &mut pos);
        let field = (key >> 3) as u32;
        let wire = match key & 7 {
            0 => Wire::Varint(varint(buf, &mut pos)),
            1 => {
                let v = u64::from_le_bytes(buf[pos..pos + 8].try_into().unwrap());
                pos += 8;
                Wire::Fixed64(v)
            }
            2 => {
                let len = varint(buf, &mut pos) as usize;
                let b = &buf[pos..pos + len];
                pos += len;
                Wire::Bytes(b)
            }
            other => panic!("unexpected wire type {other}"),
        };
        out.push((field, wire));
    }
    out
}

/// The length-delimited values of field `n`.
fn all(msg: &[u8], n: u32) -> Vec<&[u8]> {
    decode(msg)
        .into_iter()
        .filter_map(|(f, w)| match w {
            Wire::Bytes(b) if f == n => Some(b),
            _ => None,
        })
        .collect()
}

fn one(msg: &[u8], n: u32) -> &[u8] {
    let v = all(msg, n);
    assert_eq!(v.len(), 1, "field {n} present {} times", v.len());
    v[0]
}

fn string(msg: &[u8], n: u32) -> String {
    all(msg, n)
        .first()
        .map(|b| String::from_utf8(b.to_vec()).unwrap())
        .unwrap_or_default()
}

fn strings(msg: &[u8], n: u32) -> Vec<String> {
    all(msg, n)
        .into_iter()
        .map(|b| String::from_utf8(b.to_vec()).unwrap())
        .collect()
}

fn varint_field(msg: &[u8], n: u32) -> Option<u64> {
    decode(msg).into_iter().find_map(|(f, w)| match w {
        Wire::Varint(v) if f == n => Some(v),
        _ => None,
    })
}

/// The entries of a repeated `Named*` field: (name, value message).
fn named(msg: &[u8], n: u32) -> Vec<(String, &[u8])> {
    all(msg, n)
        .into_iter()
        .map(|e| (string(e, 1), one(e, 2)))
        .collect()
}

fn entry<'a>(msg: &'a [u8], n: u32, name: &str) -> &'a [u8] {
    named(msg, n)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no entry {name}"))
}

/// A vendor extension's YAML, read back as a value.
fn extension(msg: &[u8], n: u32, name: &str) -> Value {
    let text = string(entry(msg, n, name), 2);
    serde_saphyr::from_str(&text).unwrap()
}

// --- Encoding ---------------------------------------------------------------------------

#[test]
fn tiny_document_has_known_bytes() {
    let bytes = gnostic::document(&json!({"swagger": "2.0", "info": {"title": "T", "version": "1"}}));
    assert_eq!(
        bytes,
        vec![0x0a, 3, b'2', b'.', b'0', 0x12, 6, 0x0a, 1, b'T', 0x12, 1, b'1']
    );
}

#[test]
fn schema_fields_round_trip() {
    let s = json!({
        "description": "d",
        "type": "object",
        "required": ["a", "b"],
        "additionalProperties": false,
        "properties": {
            "a": {"$ref": "#/definitions/A", "x-kubernetes-patch-strategy": "merge"},
            "b": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
        },
        "x-kubernetes-group-version-kind": [{"group": "", "kind": "Pod", "version": "v1"}],
    });
    let bytes = gnostic::schema(&s).into_bytes();
    assert_eq!(string(&bytes, 4), "d");
    assert_eq!(strings(one(&bytes, 22), 1), vec!["object"]);
    assert_eq!(strings(&bytes, 19), vec!["a", "b"]);
    // additionalProperties: false is the `boolean` member (2) of the oneof, present.
    assert_eq!(decode(one(&bytes, 21)), vec![(2, Wire::Varint(0))]);
    let props = one(&bytes, 25);
    let a = entry(props, 1, "a");
    assert_eq!(string(a, 1), "#/definitions/A");
    assert_eq!(extension(a, 31, "x-kubernetes-patch-strategy"), json!("merge"));
    let b = entry(props, 1, "b");
    assert_eq!(varint_field(b, 14), Some(3));
    let items = all(one(b, 23), 1);
    assert_eq!(items.len(), 1);
    assert_eq!(strings(one(items[0], 22), 1), vec!["string"]);
    assert_eq!(
        extension(&bytes, 31, "x-kubernetes-group-version-kind"),
        json!([{"group": "", "kind": "Pod", "version": "v1"}])
    );
}

#[test]
fn parameters_take_their_oneof_members() {
    let op = json!({"parameters": [
        {"name": "body", "in": "body", "required": true, "schema": {"$ref": "#/definitions/P"}},
        {"name": "fieldValidation", "in": "query", "type": "string", "uniqueItems": true},
        {"name": "name", "in": "path", "required": true, "type": "string"},
    ]});
    let doc = gnostic::document(&json!({"paths": {"/x": {"patch": op}}}));
    let item = entry(one(&doc, 8), 2, "/x");
    let params = all(one(item, 8), 8);
    assert_eq!(params.len(), 3);
    let body = one(one(params[0], 1), 1);
    assert_eq!((string(body, 2), string(body, 3)), ("body".into(), "body".into()));
    assert_eq!(varint_field(body, 4), Some(1));
    assert_eq!(string(one(body, 5), 1), "#/definitions/P");
    // client-go: GetParameter().GetNonBodyParameter().GetQueryParameterSubSchema().GetName()
    let query = one(one(one(params[1], 1), 2), 3);
    assert_eq!(string(query, 4), "fieldValidation");
    assert_eq!(string(query, 6), "string");
    assert_eq!(varint_field(query, 20), Some(1));
    let path = one(one(one(params[2], 1), 2), 4);
    assert_eq!(
        (varint_field(path, 1), string(path, 4), string(path, 5)),
        (Some(1), "name".into(), "string".into())
    );
}

// --- The document ------------------------------------------------------------------------

fn walk(v: &Value, f: &mut impl FnMut(&serde_json::Map<String, Value>)) {
    match v {
        Value::Object(m) => {
            f(m);
            m.values().for_each(|x| walk(x, f));
        }
        Value::Array(a) => a.iter().for_each(|x| walk(x, f)),
        _ => {}
    }
}

#[test]
fn swagger_has_definitions_paths_and_extensions() {
    let (doc, _) = fixture();
    assert_eq!(doc["swagger"], "2.0");
    assert_eq!(doc["info"]["title"], "Kubernetes");
    let defs = doc["definitions"].as_object().unwrap();
    let dep = &defs["io.k8s.api.apps.v1.Deployment"];
    assert_eq!(
        dep["x-kubernetes-group-version-kind"],
        json!([{"group": "apps", "kind": "Deployment", "version": "v1"}])
    );
    let strategy = &defs["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["strategy"];
    assert_eq!(
        strategy["$ref"],
        "#/definitions/io.k8s.api.apps.v1.DeploymentStrategy"
    );
    assert_eq!(strategy["x-kubernetes-patch-strategy"], "retainKeys");
    let containers = &defs["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
    assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
    assert_eq!(containers["x-kubernetes-patch-strategy"], "merge");
    assert_eq!(
        containers["items"]["$ref"],
        "#/definitions/io.k8s.api.core.v1.Container"
    );
    assert_eq!(
        defs["io.k8s.apimachinery.pkg.runtime.RawExtension"]["type"],
        "object"
    );
    assert_eq!(
        defs["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["format"],
        "int-or-string"
    );

    let item = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"];
    let patch = &item["patch"];
    assert_eq!(
        patch["x-kubernetes-group-version-kind"],
        json!({"group": "apps", "kind": "Deployment", "version": "v1"})
    );
    let params = patch["parameters"].as_array().unwrap();
    assert!(
        params
            .iter()
            .any(|p| p["name"] == "fieldValidation" && p["in"] == "query" && p["type"] == "string")
    );
    let body = params.iter().find(|p| p["in"] == "body").unwrap();
    assert_eq!(
        body["schema"]["$ref"],
        "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Patch"
    );
    assert!(
        patch["consumes"]
            .as_array()
            .unwrap()
            .contains(&json!("application/strategic-merge-patch+json"))
    );
    assert_eq!(
        item["get"]["responses"]["200"]["schema"]["$ref"],
        "#/definitions/io.k8s.api.apps.v1.Deployment"
    );
    assert!(
        item["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "namespace" && p["in"] == "path")
    );
    let pod = &doc["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]["patch"];
    assert_eq!(pod["x-kubernetes-group-version-kind"]["group"], "");
}

/// The rules of kube-openapi's `NewOpenAPIData`, which fails the whole document otherwise.
#[test]
fn definitions_parse_under_kubectl_rules() {
    let (doc, _) = fixture();
    assert!(!doc.to_string().contains("#/components/"));
    let defs = doc["definitions"].as_object().unwrap();
    let mut checked = 0;
    walk(&doc["definitions"], &mut |m| {
        if let Some(r) = m.get("$ref").and_then(Value::as_str) {
            let name = r.strip_prefix("#/definitions/").expect("definition reference");
            assert!(defs.contains_key(name), "dangling {r}");
            assert!(
                m.get("type").is_none() && m.get("properties").is_none(),
                "{r} has a type"
            );
            checked += 1;
        }
        if let Some(t) = m.get("type") {
            // A property named "type" is an object (a schema), not a keyword.
            if let Some(t) = t.as_str() {
                assert!(
                    ["object", "array", "string", "integer", "number", "boolean"].contains(&t),
                    "type {t}"
                );
                if t == "array" {
                    assert!(
                        m.get("items").is_some_and(Value::is_object),
                        "array without items"
                    );
                }
            }
        }
    });
    assert!(checked > 100);
}

#[test]
fn protobuf_matches_json() {
    let (doc, served) = fixture();
    let bytes = served.proto.body.as_ref();
    assert_eq!(string(bytes, 1), "2.0");
    let defs = named(one(bytes, 9), 1);
    assert_eq!(defs.len(), doc["definitions"].as_object().unwrap().len());
    let dep = defs
        .iter()
        .find(|(n, _)| n == "io.k8s.api.apps.v1.Deployment")
        .map(|(_, v)| *v)
        .unwrap();
    assert_eq!(
        extension(dep, 31, "x-kubernetes-group-version-kind"),
        json!([{"group": "apps", "kind": "Deployment", "version": "v1"}])
    );
    let paths = named(one(bytes, 8), 2);
    assert_eq!(paths.len(), doc["paths"].as_object().unwrap().len());
    let item = paths
        .iter()
        .find(|(n, _)| n == "/apis/apps/v1/namespaces/{namespace}/deployments/{name}")
        .map(|(_, v)| *v)
        .unwrap();
    let patch = one(item, 8);
    assert_eq!(
        extension(patch, 13, "x-kubernetes-group-version-kind"),
        json!({"group": "apps", "kind": "Deployment", "version": "v1"})
    );
    assert!(strings(patch, 7).contains(&"application/strategic-merge-patch+json".to_string()));
    let ok = entry(one(patch, 9), 1, "200");
    let schema = one(one(one(ok, 1), 2), 1);
    assert_eq!(string(schema, 1), "#/definitions/io.k8s.api.apps.v1.Deployment");
    // The served JSON is the same document.
    let served_json: Value = serde_json::from_slice(&served.json.body).unwrap();
    assert_eq!(served_json["definitions"].as_object().unwrap().len(), defs.len());
}

#[test]
fn negotiation_and_etags() {
    let (_, doc) = fixture();
    let proto = doc
        .respond(
            &parse_accept(Some("application/com.github.proto-openapi.spec.v2@v1.0+protobuf")),
            None,
        )
        .unwrap();
    assert_eq!(proto.status(), 200);
    assert_eq!(proto.headers()["content-type"], PROTO);
    let etag = proto.headers()["etag"].to_str().unwrap().to_string();
    assert_eq!(etag, doc.proto.etag);
    let cached = doc.respond(&parse_accept(Some(PROTO)), Some(&etag)).unwrap();
    assert_eq!(cached.status(), 304);
    let json = doc
        .respond(&parse_accept(Some("application/json")), Some(&etag))
        .unwrap();
    assert_eq!(json.status(), 200, "the JSON representation has its own ETag");
    assert_eq!(json.headers()["content-type"], "application/json");
    assert_eq!(
        doc.respond(&[], None).unwrap().headers()["content-type"],
        "application/json"
    );
    let refused = doc.respond(&parse_accept(Some("text/html")), None).unwrap_err();
    assert_eq!(refused.code, 406);
}
