//! OpenAPI v3: a root index and one document per group-version, generated from the
//! component schemas and the registry. kubectl uses them to validate (`apply`, `create`)
//! and to explain fields; the PATCH operations carry `x-kubernetes-group-version-kind`
//! and a `fieldValidation` parameter so kubectl leaves validation to the server.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use bytes::Bytes;
use krust_api::{registry::ResourceDef, schema::Schemas};
use parking_lot::RwLock;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// One served document.
#[derive(Debug, Clone)]
pub struct Doc {
    /// JSON bytes.
    pub body: Bytes,
    /// Content hash (also the ETag).
    pub hash: String,
}

/// All documents.
#[derive(Debug, Default)]
pub struct Docs {
    /// The `/openapi/v3` index.
    pub root: Bytes,
    /// `api/v1`, `apis/apps/v1`, ... → document.
    pub by_path: HashMap<String, Doc>,
}

/// Lazily built documents, rebuilt when the set of resources changes.
#[derive(Default)]
pub struct OpenApi {
    docs: RwLock<Option<Arc<Docs>>>,
    /// The Swagger 2.0 document, derived from `docs`.
    v2: crate::openapi_v2::Cache,
}

impl OpenApi {
    /// The documents, building them on first use.
    pub fn get(
        &self,
        schemas: &Schemas,
        gvk_schema: &HashMap<(String, String, String), String>,
        resources: &[ResourceDef],
    ) -> Arc<Docs> {
        if let Some(d) = self.docs.read().as_ref() {
            return d.clone();
        }
        let built = Arc::new(build(schemas, gvk_schema, resources));
        *self.docs.write() = Some(built.clone());
        built
    }

    /// Drops the documents: the next request rebuilds them (the set of resources changed).
    pub fn invalidate(&self) {
        *self.docs.write() = None;
    }

    /// The OpenAPI v2 document (built from the v3 documents on first use).
    pub fn v2(&self, v3: &Arc<Docs>) -> Arc<crate::openapi_v2::Doc> {
        self.v2.get(v3)
    }
}

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

fn build(
    schemas: &Schemas,
    gvk_schema: &HashMap<(String, String, String), String>,
    resources: &[ResourceDef],
) -> Docs {
    let mut groups: Vec<(String, String)> = Vec::new();
    for r in resources {
        let gv = (r.group.clone(), r.version.clone());
        if !groups.contains(&gv) {
            groups.push(gv);
        }
    }
    let mut by_path = HashMap::new();
    let mut root_paths = Map::new();
    for (g, v) in groups {
        let defs: Vec<&ResourceDef> = resources
            .iter()
            .filter(|r| r.group == g && r.version == v)
            .collect();
        let doc = group_version_doc(schemas, gvk_schema, &g, &v, &defs);
        let body = serde_json::to_vec(&doc).unwrap_or_default();
        let hash = hex(&Sha256::digest(&body));
        let path = gv_path(&g, &v);
        root_paths.insert(
            path.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{path}?hash={hash}")}),
        );
        by_path.insert(
            path,
            Doc {
                body: Bytes::from(body),
                hash,
            },
        );
    }
    let root = serde_json::to_vec(&json!({"paths": root_paths})).unwrap_or_default();
    Docs {
        root: Bytes::from(root),
        by_path,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

const STATUS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
const DELETE_OPTIONS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions";
const PATCH: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";
const SCALE: &str = "io.k8s.api.autoscaling.v1.Scale";

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn query_param(name: &str, desc: &str, ty: &str) -> Value {
    json!({"name": name, "in": "query", "description": desc, "schema": {"type": ty, "uniqueItems": true}})
}

fn path_param(name: &str, desc: &str) -> Value {
    json!({"name": name, "in": "path", "description": desc, "required": true, "schema": {"type": "string", "uniqueItems": true}})
}

fn write_params() -> Vec<Value> {
    vec![
        query_param(
            "dryRun",
            "When present, the request is validated but not persisted. The only valid value is All.",
            "string",
        ),
        query_param("fieldManager", "Name of the actor making the change.", "string"),
        query_param(
            "fieldValidation",
            "How the server treats unknown or duplicate fields: Ignore, Warn (the default) or Strict.",
            "string",
        ),
    ]
}

fn response(schema: Option<&str>) -> Value {
    let content = match schema {
        Some(s) => {
            json!({"application/json": {"schema": schema_ref(s)}, "application/yaml": {"schema": schema_ref(s)}})
        }
        None => json!({"application/json": {"schema": {"type": "object"}}}),
    };
    json!({"description": "OK", "content": content})
}

fn operation(
    action: &str,
    op_id: String,
    gvk: &Value,
    schema: Option<&str>,
    params: Vec<Value>,
    body: Option<Value>,
) -> Value {
    let mut op = Map::new();
    op.insert("operationId".into(), Value::String(op_id));
    op.insert("x-kubernetes-action".into(), Value::String(action.to_string()));
    op.insert("x-kubernetes-group-version-kind".into(), gvk.clone());
    op.insert("parameters".into(), Value::Array(params));
    if let Some(b) = body {
        op.insert("requestBody".into(), b);
    }
    op.insert(
        "responses".into(),
        json!({"200": response(schema), "401": {"description": "Unauthorized"}}),
    );
    Value::Object(op)
}

fn camel(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
        None => String::new(),
    }
}

fn group_version_doc(
    schemas: &Schemas,
    gvk_schema: &HashMap<(String, String, String), String>,
    group: &str,
    version: &str,
    defs: &[&ResourceDef],
) -> Value {
    let mut paths = Map::new();
    let mut roots: BTreeSet<String> = [STATUS, DELETE_OPTIONS, PATCH]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let prefix = if group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{group}/{version}")
    };
    let gv_id = format!(
        "{}{}",
        camel(&group.replace(".k8s.io", "").replace('.', "")),
        camel(version)
    );
    for def in defs {
        let schema = gvk_schema
            .get(&(def.group.clone(), def.version.clone(), def.kind.clone()))
            .cloned();
        if let Some(s) = &schema {
            roots.insert(s.clone());
        }
        let gvk = json!({"group": def.group, "version": def.version, "kind": def.kind});
        let ns_part = if def.namespaced {
            "/namespaces/{namespace}"
        } else {
            ""
        };
        let scope_id = if def.namespaced { "Namespaced" } else { "" };
        let coll = format!("{prefix}{ns_part}/{}", def.plural);
        let item = format!("{coll}/{{name}}");
        let mut common = vec![query_param(
            "pretty",
            "If 'true', the output is pretty printed.",
            "string",
        )];
        if def.namespaced {
            common.push(path_param(
                "namespace",
                "object name and auth scope, such as for teams and projects",
            ));
        }
        let body = schema
            .as_deref()
            .map(|s| json!({"content": {"*/*": {"schema": schema_ref(s)}}, "required": true}));
        let kind_id = format!("{gv_id}{scope_id}{}", def.kind);
        let s = schema.as_deref();
        let mut coll_ops = Map::new();
        coll_ops.insert("parameters".into(), Value::Array(common.clone()));
        if def.verbs.contains(&"list") {
            coll_ops.insert(
                "get".into(),
                operation("list", format!("list{kind_id}"), &gvk, None, vec![], None),
            );
        }
        if def.verbs.contains(&"create") {
            coll_ops.insert(
                "post".into(),
                operation(
                    "post",
                    format!("create{kind_id}"),
                    &gvk,
                    s,
                    write_params(),
                    body.clone(),
                ),
            );
        }
        if def.verbs.contains(&"deletecollection") {
            coll_ops.insert(
                "delete".into(),
                operation(
                    "deletecollection",
                    format!("deleteCollection{kind_id}"),
                    &gvk,
                    Some(STATUS),
                    vec![],
                    None,
                ),
            );
        }
        paths.insert(coll, Value::Object(coll_ops));
        if def.kind == "SelfSubjectAccessReview" || def.kind == "Binding" {
            continue;
        }
        let mut item_params = common.clone();
        item_params.insert(0, path_param("name", &format!("name of the {}", def.kind)));
        let mut patch_params = write_params();
        patch_params.push(query_param(
            "force",
            "Force is going to \"force\" Apply requests.",
            "boolean",
        ));
        let patch_body = json!({"content": {
            "application/json-patch+json": {"schema": schema_ref(PATCH)},
            "application/merge-patch+json": {"schema": schema_ref(PATCH)},
            "application/strategic-merge-patch+json": {"schema": schema_ref(PATCH)},
            "application/apply-patch+yaml": {"schema": schema_ref(PATCH)}}, "required": true});
        let item_ops = json!({
            "parameters": item_params,
            "get": operation("get", format!("read{kind_id}"), &gvk, s, vec![], None),
            "put": operation("put", format!("replace{kind_id}"), &gvk, s, write_params(), body.clone()),
            "patch": operation("patch", format!("patch{kind_id}"), &gvk, s, patch_params.clone(), Some(patch_body.clone())),
            "delete": operation("delete", format!("delete{kind_id}"), &gvk, Some(STATUS), vec![], Some(json!({"content": {"*/*": {"schema": schema_ref(DELETE_OPTIONS)}}}))),
        });
        paths.insert(item.clone(), item_ops);
        for sub in &def.subresources {
            let (sub_schema, sub_gvk) = if sub.name == "scale" {
                roots.insert(SCALE.to_string());
                (
                    Some(SCALE),
                    json!({"group": "autoscaling", "version": "v1", "kind": "Scale"}),
                )
            } else {
                (s, gvk.clone())
            };
            if sub.name == "binding" || sub.name == "finalize" || sub.name == "log" {
                continue;
            }
            let sub_id = format!("{kind_id}{}", camel(sub.name));
            let sub_body =
                sub_schema.map(|x| json!({"content": {"*/*": {"schema": schema_ref(x)}}, "required": true}));
            paths.insert(
                format!("{item}/{}", sub.name),
                json!({
                    "parameters": item_params,
                    "get": operation("get", format!("read{sub_id}"), &sub_gvk, sub_schema, vec![], None),
                    "put": operation("put", format!("replace{sub_id}"), &sub_gvk, sub_schema, write_params(), sub_body),
                    "patch": operation("patch", format!("patch{sub_id}"), &sub_gvk, sub_schema, patch_params.clone(), Some(patch_body.clone())),
                }),
            );
        }
    }
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": crate::version::GIT_VERSION},
        "paths": paths,
        "components": {"schemas": reachable(schemas, roots)},
    })
}

/// The named schemas reachable from `roots` through `$ref`s.
fn reachable(schemas: &Schemas, roots: BTreeSet<String>) -> Map<String, Value> {
    let mut out = Map::new();
    let mut todo: Vec<String> = roots.into_iter().collect();
    while let Some(name) = todo.pop() {
        if out.contains_key(&name) {
            continue;
        }
        let Some(s) = schemas.component(&name) else {
            continue;
        };
        collect_refs(s, &mut todo);
        out.insert(name, s.clone());
    }
    out
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(r) = m
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
            {
                out.push(r.to_string());
            }
            m.values().for_each(|x| collect_refs(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| collect_refs(x, out)),
        _ => {}
    }
}
