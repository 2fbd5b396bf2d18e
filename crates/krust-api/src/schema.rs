//! Navigation over OpenAPI v3 schemas (the built-in components, or a CRD's inline schema).
//!
//! Strategic merge patch, unknown-field detection and pruning all need to ask "what is the
//! schema of field X here?" and "how does this list merge?"; `SchemaNode` answers those
//! questions and resolves `$ref`s into `components.schemas`.

use std::collections::HashMap;

use serde_json::{Map, Value};

const REF_PREFIX: &str = "#/components/schemas/";

/// Components whose content upstream decodes as raw JSON, whatever their OpenAPI `type`
/// says: an embedded object (`RawExtension`, e.g. a ControllerRevision's `data`), a field
/// set (`FieldsV1`) and any JSON value (`JSON`, e.g. a CRD schema's `default`).
const RAW_JSON: &[&str] = &[
    "io.k8s.apimachinery.pkg.runtime.RawExtension",
    "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1",
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON",
];

/// A set of named component schemas, as in `components.schemas` of an OpenAPI v3 document.
///
/// Held in a hash map: every `$ref` followed while checking or patching an object is a
/// lookup by a long, shared-prefix name, which an ordered map makes expensive.
#[derive(Debug, Clone, Default)]
pub struct Schemas {
    components: HashMap<String, Value>,
}

/// How a list (or object) merges under strategic merge patch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PatchStrategy {
    /// `merge`: lists merge element-wise (by merge key for lists of objects).
    pub merge: bool,
    /// `retainKeys`: fields absent from the patch are cleared (with `$retainKeys`).
    pub retain_keys: bool,
}

impl Schemas {
    /// Wraps a `components.schemas` map.
    pub fn new(components: Map<String, Value>) -> Self {
        Self {
            components: components.into_iter().collect(),
        }
    }

    /// These schemas plus more (e.g. custom kinds' schemas for an OpenAPI document).
    pub fn with_extra(&self, extra: impl IntoIterator<Item = (String, Value)>) -> Self {
        let mut components = self.components.clone();
        components.extend(extra);
        Self { components }
    }

    /// The component schema of a name.
    pub fn component(&self, name: &str) -> Option<&Value> {
        self.components.get(name)
    }

    /// A node for the named component (e.g. `io.k8s.api.core.v1.Pod`).
    pub fn named(&self, name: &str) -> Option<SchemaNode<'_>> {
        self.components
            .get(name)
            .map(|schema| SchemaNode::new(self, schema))
    }

    /// A node for an inline schema (such as a CRD's `openAPIV3Schema`).
    pub fn inline<'a>(&'a self, schema: &'a Value) -> SchemaNode<'a> {
        SchemaNode::new(self, schema)
    }
}

/// One point in a schema tree.
#[derive(Debug, Clone, Copy)]
pub struct SchemaNode<'a> {
    schemas: &'a Schemas,
    schema: &'a Value,
    /// `schema` with its references followed, worked out once: every lookup needs it, and
    /// following `$ref`s means hashing long component names.
    resolved: &'a Value,
    /// The last component name the references reached, if any.
    resolved_name: Option<&'a str>,
}

impl<'a> SchemaNode<'a> {
    fn new(schemas: &'a Schemas, schema: &'a Value) -> Self {
        let (resolved, resolved_name) = Self::resolve(schemas, schema);
        SchemaNode {
            schemas,
            schema,
            resolved,
            resolved_name,
        }
    }

    /// Follows `$ref` (possibly inside a one-element `allOf`): the schema reached and the
    /// name of the last component on the way. The local keys next to a `$ref`
    /// (description, extensions) stay visible through `keyword`.
    fn resolve(schemas: &'a Schemas, schema: &'a Value) -> (&'a Value, Option<&'a str>) {
        let mut s = schema;
        let mut name = None;
        for _ in 0..8 {
            if let Some(n) = s
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix(REF_PREFIX))
            {
                match schemas.components.get(n) {
                    Some(t) => {
                        name = Some(n);
                        s = t;
                    }
                    None => return (s, name),
                }
            } else if let Some(Value::Array(all)) = s.get("allOf")
                && let [one] = all.as_slice()
            {
                s = one;
            } else {
                return (s, name);
            }
        }
        (s, name)
    }

    fn resolved(&self) -> &'a Value {
        self.resolved
    }

    fn resolved_name(&self) -> Option<&'a str> {
        self.resolved_name
    }

    /// True where any JSON value is accepted as is (see `RAW_JSON`).
    pub fn is_raw_json(&self) -> bool {
        self.resolved_name().is_some_and(|n| RAW_JSON.contains(&n))
    }

    /// The raw schema value at this node (after resolving references).
    pub fn value(&self) -> &'a Value {
        self.resolved()
    }

    /// The name of the referenced component, when this node is a `$ref`.
    pub fn ref_name(&self) -> Option<&'a str> {
        self.schema
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix(REF_PREFIX))
    }

    fn node(&self, schema: &'a Value) -> SchemaNode<'a> {
        SchemaNode::new(self.schemas, schema)
    }

    /// An extension or keyword, looked up first on the local node then on the resolved one.
    pub fn keyword(&self, name: &str) -> Option<&'a Value> {
        self.schema.get(name).or_else(|| self.resolved().get(name))
    }

    /// The `type` keyword (`object`, `array`, `string`, `integer`, `number`, `boolean`);
    /// none for raw JSON (`is_raw_json`), which takes a value of any type.
    pub fn type_name(&self) -> Option<&'a str> {
        if self.is_raw_json() {
            return None;
        }
        self.keyword("type").and_then(Value::as_str)
    }

    /// The schema of an object property.
    pub fn property(&self, name: &str) -> Option<SchemaNode<'a>> {
        self.resolved()
            .get("properties")
            .and_then(|p| p.get(name))
            .map(|s| self.node(s))
    }

    /// All declared properties.
    pub fn properties(&self) -> Option<&'a Map<String, Value>> {
        self.resolved().get("properties").and_then(Value::as_object)
    }

    /// Required property names.
    pub fn required(&self) -> impl Iterator<Item = &'a str> {
        self.resolved()
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
    }

    /// The schema of array items.
    pub fn items(&self) -> Option<SchemaNode<'a>> {
        self.resolved().get("items").map(|s| self.node(s))
    }

    /// The schema of map values (`additionalProperties` as a schema).
    pub fn additional_properties(&self) -> Option<SchemaNode<'a>> {
        match self.resolved().get("additionalProperties") {
            Some(v @ Value::Object(_)) => Some(self.node(v)),
            _ => None,
        }
    }

    /// True for `x-kubernetes-preserve-unknown-fields: true`, raw JSON (`is_raw_json`) or
    /// a schema that says nothing about its shape (no type, properties, items or
    /// references).
    pub fn preserves_unknown(&self) -> bool {
        if self.is_raw_json() {
            return true;
        }
        if self
            .keyword("x-kubernetes-preserve-unknown-fields")
            .and_then(Value::as_bool)
            == Some(true)
        {
            return true;
        }
        let r = self.resolved();
        r.get("type").is_none()
            && r.get("properties").is_none()
            && r.get("items").is_none()
            && r.get("additionalProperties").is_none()
            && self.keyword("x-kubernetes-int-or-string").is_none()
    }

    /// True for `x-kubernetes-int-or-string`.
    pub fn int_or_string(&self) -> bool {
        self.keyword("x-kubernetes-int-or-string")
            .and_then(Value::as_bool)
            == Some(true)
    }

    /// `x-kubernetes-patch-merge-key` of a list field.
    pub fn patch_merge_key(&self) -> Option<&'a str> {
        self.keyword("x-kubernetes-patch-merge-key")
            .and_then(Value::as_str)
    }

    /// `x-kubernetes-patch-strategy` of a field (`merge`, `retainKeys`, `merge,retainKeys`).
    pub fn patch_strategy(&self) -> PatchStrategy {
        let raw = self
            .keyword("x-kubernetes-patch-strategy")
            .and_then(Value::as_str)
            .unwrap_or("");
        PatchStrategy {
            merge: raw.split(',').any(|s| s.trim() == "merge"),
            retain_keys: raw.split(',').any(|s| s.trim() == "retainKeys"),
        }
    }

    /// `x-kubernetes-list-type` (`atomic`, `set`, `map`).
    pub fn list_type(&self) -> Option<&'a str> {
        self.keyword("x-kubernetes-list-type").and_then(Value::as_str)
    }

    /// `x-kubernetes-list-map-keys`.
    pub fn list_map_keys(&self) -> Vec<&'a str> {
        self.keyword("x-kubernetes-list-map-keys")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Schemas {
        let comps = json!({
            "Pod": {"type": "object", "properties": {
                "spec": {"$ref": "#/components/schemas/PodSpec", "description": "spec"}}},
            "PodSpec": {"type": "object", "properties": {
                "containers": {"type": "array", "items": {"$ref": "#/components/schemas/Container"},
                    "x-kubernetes-patch-merge-key": "name", "x-kubernetes-patch-strategy": "merge"}}},
            "Container": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}
        });
        Schemas::new(comps.as_object().cloned().unwrap_or_default())
    }

    #[test]
    fn navigates_refs() {
        let s = sample();
        let pod = s.named("Pod").unwrap();
        let spec = pod.property("spec").unwrap();
        assert_eq!(spec.ref_name(), Some("PodSpec"));
        assert_eq!(spec.keyword("description").unwrap(), "spec");
        let containers = spec.property("containers").unwrap();
        assert_eq!(containers.patch_merge_key(), Some("name"));
        assert!(containers.patch_strategy().merge);
        let item = containers.items().unwrap();
        assert_eq!(item.required().collect::<Vec<_>>(), vec!["name"]);
        assert!(item.property("image").is_none());
    }

    #[test]
    fn raw_json_takes_anything() {
        let comps = json!({
            "io.k8s.apimachinery.pkg.runtime.RawExtension": {"type": "object"},
            "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON": {"type": "object"},
            "Revision": {"type": "object", "properties": {
                "data": {"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.runtime.RawExtension"},
                "default": {"allOf": [{"$ref": "#/components/schemas/io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON"}]},
                "status": {"$ref": "#/components/schemas/Empty"}}},
            "Empty": {"type": "object"}
        });
        let s = Schemas::new(comps.as_object().cloned().unwrap_or_default());
        let rev = s.named("Revision").unwrap();
        for field in ["data", "default"] {
            let node = rev.property(field).unwrap();
            assert!(node.is_raw_json(), "{field}");
            assert!(node.preserves_unknown(), "{field}");
            assert_eq!(node.type_name(), None, "{field}");
        }
        // An ordinary empty struct keeps its type and takes no unknown fields.
        let empty = rev.property("status").unwrap();
        assert!(!empty.is_raw_json());
        assert!(!empty.preserves_unknown());
        assert_eq!(empty.type_name(), Some("object"));
        assert!(!rev.is_raw_json());
    }
}
