//! Checks a decoded object against its OpenAPI schema the way upstream's typed decoding
//! does: unknown fields are found (and dropped), values of the wrong JSON type are
//! rejected, quantities written as numbers become strings.

use krust_api::schema::SchemaNode;
use serde_json::Value;

const QUANTITY: &str = "io.k8s.apimachinery.pkg.api.resource.Quantity";
const MAX_DEPTH: usize = 64;

/// What the walk found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Findings {
    /// Paths of unknown fields (removed from the object).
    pub unknown: Vec<String>,
    /// Type errors, as upstream words them.
    pub type_errors: Vec<String>,
}

/// Walks `value` (the whole object) against `root` (the kind's schema).
pub fn check(root: SchemaNode<'_>, value: &mut Value) -> Findings {
    let mut f = Findings::default();
    if let Value::Object(map) = value {
        let keys: Vec<String> = map.keys().cloned().collect();
        for k in keys {
            if k == "apiVersion" || k == "kind" {
                continue;
            }
            walk_field(root, &k, map, &k, &mut f, 0);
        }
    }
    f
}

fn walk_field(
    parent: SchemaNode<'_>,
    key: &str,
    map: &mut serde_json::Map<String, Value>,
    path: &str,
    f: &mut Findings,
    depth: usize,
) {
    match parent.property(key) {
        Some(child) => {
            if let Some(v) = map.get_mut(key) {
                if v.is_null() {
                    // A typed decode turns null into "unset".
                    map.remove(key);
                    return;
                }
                walk(child, v, path, f, depth + 1);
            }
        }
        None => {
            if let Some(ap) = parent.additional_properties() {
                if let Some(v) = map.get_mut(key) {
                    walk(ap, v, path, f, depth + 1);
                }
            } else if !parent.preserves_unknown() {
                f.unknown.push(path.to_string());
                map.remove(key);
            }
        }
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn go_type(node: &SchemaNode<'_>) -> String {
    match (node.type_name(), node.keyword("format").and_then(Value::as_str)) {
        (Some("integer"), Some(fmt)) => fmt.to_string(),
        (Some("integer"), None) => "int".into(),
        (Some("number"), _) => "float64".into(),
        (Some("string"), _) => "string".into(),
        (Some("boolean"), _) => "bool".into(),
        (Some("array"), _) => "[]".into(),
        (Some("object"), _) => node.ref_name().map(short_name).unwrap_or("map").to_string(),
        _ => "value".into(),
    }
}

fn short_name(schema: &str) -> &str {
    schema.rsplit('.').next().unwrap_or(schema)
}

fn type_error(f: &mut Findings, v: &Value, path: &str, node: &SchemaNode<'_>) {
    let field = strip_indices(path);
    f.type_errors.push(format!(
        "json: cannot unmarshal {} into Go struct field .{field} of type {}",
        json_type(v),
        go_type(node)
    ));
}

fn strip_indices(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut skip = false;
    for c in path.chars() {
        match c {
            '[' => skip = true,
            ']' => skip = false,
            _ if !skip => out.push(c),
            _ => {}
        }
    }
    out
}

fn walk(node: SchemaNode<'_>, v: &mut Value, path: &str, f: &mut Findings, depth: usize) {
    if depth > MAX_DEPTH || v.is_null() {
        return;
    }
    if node.ref_name() == Some(QUANTITY) {
        match v {
            Value::String(_) => {}
            Value::Number(n) => *v = Value::String(n.to_string()),
            _ => type_error(f, v, path, &node),
        }
        return;
    }
    if node.int_or_string() {
        if !matches!(v, Value::String(_) | Value::Number(_)) {
            type_error(f, v, path, &node);
        }
        return;
    }
    if node.preserves_unknown() && node.type_name().is_none() {
        return;
    }
    match (node.type_name(), &mut *v) {
        (Some("object"), Value::Object(map)) => {
            let keys: Vec<String> = map.keys().cloned().collect();
            for k in keys {
                let child_path = format!("{path}.{k}");
                walk_field(node, &k, map, &child_path, f, depth);
            }
        }
        (Some("array"), Value::Array(items)) => {
            if let Some(item) = node.items() {
                for (i, it) in items.iter_mut().enumerate() {
                    walk(item, it, &format!("{path}[{i}]"), f, depth + 1);
                }
            }
        }
        (Some("string"), Value::String(_))
        | (Some("boolean"), Value::Bool(_))
        | (Some("number"), Value::Number(_)) => {}
        (Some("integer"), Value::Number(n)) => {
            if !(n.is_i64() || n.is_u64()) {
                type_error(f, v, path, &node);
            }
        }
        (None, _) => {}
        (Some(_), other) => {
            let other = other.clone();
            type_error(f, &other, path, &node);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use krust_api::schema::Schemas;
    use serde_json::json;

    fn schemas() -> Schemas {
        let (s, _) = krust_schema::built_in();
        Schemas::new(s)
    }

    #[test]
    fn unknown_fields_are_found_and_dropped() {
        let s = schemas();
        let root = s.named("io.k8s.api.apps.v1.Deployment").unwrap();
        let mut obj = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x", "labels": {"a": "b"}},
            "spec": {"replicas": 2, "foo": 1, "selector": {"matchLabels": {"a": "b"}},
              "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i", "bogus": true,
                 "resources": {"limits": {"cpu": 1}}}]}}}, "extra": {}});
        let f = check(root, &mut obj);
        assert_eq!(
            f.unknown,
            vec!["extra", "spec.foo", "spec.template.spec.containers[0].bogus"]
        );
        assert!(f.type_errors.is_empty(), "{:?}", f.type_errors);
        assert!(obj.get("extra").is_none());
        assert!(obj["spec"].get("foo").is_none());
        assert_eq!(
            obj["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"],
            "1"
        );
    }

    #[test]
    fn wrong_types_are_reported() {
        let s = schemas();
        let root = s.named("io.k8s.api.apps.v1.Deployment").unwrap();
        let mut obj = json!({"spec": {"replicas": "three", "paused": 1.5}});
        let f = check(root, &mut obj);
        assert_eq!(f.type_errors.len(), 2);
        assert!(
            f.type_errors[0].contains("cannot unmarshal bool") || f.type_errors[0].contains("number"),
            "{:?}",
            f.type_errors
        );
        assert!(
            f.type_errors
                .iter()
                .any(|e| e
                    == "json: cannot unmarshal string into Go struct field .spec.replicas of type int32")
        );
    }

    #[test]
    fn int_or_string_and_maps() {
        let s = schemas();
        let root = s.named("io.k8s.api.core.v1.Service").unwrap();
        let mut obj = json!({"spec": {"ports": [{"port": 80, "targetPort": "http"}, {"port": 81, "targetPort": 8081}], "selector": {"app": "x"}}});
        let f = check(root, &mut obj);
        assert_eq!(f, Findings::default());
    }
}
