//! The compiled form of a version's `openAPIV3Schema`: one [`Node`] per schema, with its
//! patterns and CEL rules compiled once, its `format` reduced to the ones upstream checks,
//! and its `default` pruned. Pruning, defaulting, validation and CEL all walk this tree.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::cel::{self, CompiledRule};
use super::pattern::{self, Compiled};
use super::util::{MAX_DEPTH, int_keyword};

/// What `additionalProperties` says.
#[derive(Debug)]
pub(crate) enum Additional {
    /// `true` or `false` without a schema.
    Bool(bool),
    /// A schema for every other key.
    Schema(Box<Node>),
}

/// A `pattern` keyword, as written and compiled.
#[derive(Debug)]
pub(crate) struct Pattern {
    pub source: String,
    pub regex: Compiled,
}

/// One schema node.
#[derive(Debug, Default)]
pub(crate) struct Node {
    /// `type`, empty when unset.
    pub ty: String,
    pub nullable: bool,
    /// `format` after dropping formats upstream does not check for this type.
    pub format: String,
    /// `format` as written (CEL maps `date-time` and `duration` to their own types).
    pub raw_format: String,
    pub default: Option<Value>,
    pub enumeration: Option<Vec<Value>>,
    pub maximum: Option<f64>,
    pub exclusive_maximum: bool,
    pub minimum: Option<f64>,
    pub exclusive_minimum: bool,
    pub max_length: Option<i64>,
    pub min_length: Option<i64>,
    pub pattern: Option<Pattern>,
    pub max_items: Option<i64>,
    pub min_items: Option<i64>,
    pub unique_items: bool,
    pub multiple_of: Option<f64>,
    pub max_properties: Option<i64>,
    pub min_properties: Option<i64>,
    pub required: Vec<String>,
    pub properties: BTreeMap<String, Node>,
    pub additional: Option<Additional>,
    pub items: Option<Box<Node>>,
    pub all_of: Vec<Node>,
    pub any_of: Vec<Node>,
    pub one_of: Vec<Node>,
    pub not: Option<Box<Node>>,
    pub preserve_unknown: bool,
    pub embedded: bool,
    pub int_or_string: bool,
    pub list_type: Option<String>,
    pub list_map_keys: Vec<String>,
    pub map_type: Option<String>,
    pub rules: Vec<CompiledRule>,
    /// Nothing is known about this node (a `$ref`, or beyond the depth limit): values
    /// are kept and accepted as they are.
    pub opaque: bool,
}

/// String formats upstream validates (`supportedVersionedFormats`, names without dashes).
const STRING_FORMATS: &[&str] = &[
    "bsonobjectid",
    "uri",
    "email",
    "hostname",
    "ipv4",
    "ipv6",
    "cidr",
    "mac",
    "uuid",
    "uuid3",
    "uuid4",
    "uuid5",
    "isbn",
    "isbn10",
    "isbn13",
    "creditcard",
    "ssn",
    "hexcolor",
    "rgbcolor",
    "byte",
    "password",
    "date",
    "duration",
    "datetime",
    "k8sshortname",
    "k8slongname",
];

/// The format the validator checks, or empty (`StripUnsupportedFormatsPostProcessor`).
fn effective_format(ty: &str, int_or_string: bool, format: &str) -> String {
    if format.is_empty() {
        return String::new();
    }
    let ty = if int_or_string { "" } else { ty };
    let keep = match ty {
        "" | "string" => STRING_FORMATS.contains(&format.replace('-', "").as_str()),
        "integer" => matches!(format, "int32" | "int64"),
        "number" => matches!(format, "float" | "double"),
        _ => false,
    };
    if keep { format.to_string() } else { String::new() }
}

fn f64_keyword(m: &Map<String, Value>, key: &str) -> Option<f64> {
    m.get(key).and_then(Value::as_f64)
}

fn str_keyword(m: &Map<String, Value>, key: &str) -> String {
    m.get(key).and_then(Value::as_str).unwrap_or("").to_string()
}

fn bool_keyword(m: &Map<String, Value>, key: &str) -> bool {
    m.get(key).and_then(Value::as_bool) == Some(true)
}

impl Node {
    /// Compiles a schema (the root `openAPIV3Schema`).
    pub(crate) fn compile(schema: &Value) -> Node {
        let mut cache = pattern::Cache::default();
        let mut node = Node::build(schema, &mut cache, 0);
        prune_defaults(&mut node, 0);
        node
    }

    fn build(v: &Value, cache: &mut pattern::Cache, depth: usize) -> Node {
        let Some(m) = v.as_object() else {
            return Node {
                opaque: true,
                ..Node::default()
            };
        };
        if depth > MAX_DEPTH || m.contains_key("$ref") {
            return Node {
                opaque: true,
                ..Node::default()
            };
        }
        let ty = str_keyword(m, "type");
        let int_or_string = bool_keyword(m, "x-kubernetes-int-or-string");
        let raw_format = str_keyword(m, "format");
        let format = effective_format(&ty, int_or_string, &raw_format);
        let child = |key: &str, cache: &mut pattern::Cache| {
            m.get(key)
                .filter(|s| s.is_object())
                .map(|s| Box::new(Node::build(s, cache, depth + 1)))
        };
        let list = |key: &str, cache: &mut pattern::Cache| -> Vec<Node> {
            m.get(key)
                .and_then(Value::as_array)
                .map(|a| a.iter().map(|s| Node::build(s, cache, depth + 1)).collect())
                .unwrap_or_default()
        };
        let properties = m
            .get("properties")
            .and_then(Value::as_object)
            .map(|p| {
                p.iter()
                    .map(|(k, s)| (k.clone(), Node::build(s, cache, depth + 1)))
                    .collect()
            })
            .unwrap_or_default();
        let additional = match m.get("additionalProperties") {
            Some(Value::Bool(b)) => Some(Additional::Bool(*b)),
            Some(s @ Value::Object(_)) => {
                Some(Additional::Schema(Box::new(Node::build(s, cache, depth + 1))))
            }
            _ => None,
        };
        let pattern = m
            .get("pattern")
            .and_then(Value::as_str)
            .filter(|p| !p.is_empty())
            .map(|p| Pattern {
                source: p.to_string(),
                regex: cache.get(p),
            });
        Node {
            ty,
            nullable: bool_keyword(m, "nullable"),
            format,
            raw_format,
            default: m.get("default").filter(|d| !d.is_null()).cloned(),
            enumeration: m.get("enum").and_then(Value::as_array).cloned(),
            maximum: f64_keyword(m, "maximum"),
            exclusive_maximum: bool_keyword(m, "exclusiveMaximum"),
            minimum: f64_keyword(m, "minimum"),
            exclusive_minimum: bool_keyword(m, "exclusiveMinimum"),
            max_length: int_keyword(m.get("maxLength")),
            min_length: int_keyword(m.get("minLength")),
            pattern,
            max_items: int_keyword(m.get("maxItems")),
            min_items: int_keyword(m.get("minItems")),
            unique_items: bool_keyword(m, "uniqueItems"),
            multiple_of: f64_keyword(m, "multipleOf"),
            max_properties: int_keyword(m.get("maxProperties")),
            min_properties: int_keyword(m.get("minProperties")),
            required: m
                .get("required")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
                .unwrap_or_default(),
            properties,
            additional,
            items: child("items", cache),
            all_of: list("allOf", cache),
            any_of: list("anyOf", cache),
            one_of: list("oneOf", cache),
            not: child("not", cache),
            preserve_unknown: bool_keyword(m, "x-kubernetes-preserve-unknown-fields"),
            embedded: bool_keyword(m, "x-kubernetes-embedded-resource"),
            int_or_string,
            list_type: m
                .get("x-kubernetes-list-type")
                .and_then(Value::as_str)
                .map(str::to_string),
            list_map_keys: m
                .get("x-kubernetes-list-map-keys")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
                .unwrap_or_default(),
            map_type: m
                .get("x-kubernetes-map-type")
                .and_then(Value::as_str)
                .map(str::to_string),
            rules: cel::compile_rules(m.get("x-kubernetes-validations")),
            opaque: false,
        }
    }

    /// The schema of an object key: its property, else `additionalProperties`.
    /// `Some(None)` means "allowed, but without a schema".
    pub(crate) fn field(&self, key: &str) -> Option<Option<&Node>> {
        if let Some(p) = self.properties.get(key) {
            return Some(Some(p));
        }
        match &self.additional {
            Some(Additional::Schema(s)) => Some(Some(s)),
            Some(Additional::Bool(_)) => Some(None),
            None => None,
        }
    }

    /// The `additionalProperties` schema, if it is one.
    pub(crate) fn additional_schema(&self) -> Option<&Node> {
        match &self.additional {
            Some(Additional::Schema(s)) => Some(s),
            _ => None,
        }
    }

    /// True when any node carries a `default`.
    pub(crate) fn has_defaults(&self) -> bool {
        self.default.is_some()
            || self.properties.values().any(Node::has_defaults)
            || self.items.as_ref().is_some_and(|i| i.has_defaults())
            || self.additional_schema().is_some_and(Node::has_defaults)
    }

    /// True when any node carries CEL rules.
    pub(crate) fn has_rules(&self) -> bool {
        !self.rules.is_empty()
            || self.properties.values().any(Node::has_rules)
            || self.items.as_ref().is_some_and(|i| i.has_rules())
            || self.additional_schema().is_some_and(Node::has_rules)
            || self.all_of.iter().any(Node::has_rules)
    }
}

/// Prunes every default value by its own schema (upstream's `PruneDefaults`), so defaulting
/// never adds fields that pruning would remove.
fn prune_defaults(node: &mut Node, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    if let Some(mut d) = node.default.take() {
        super::prune::prune_value(&mut d, Some(node), node.embedded, &mut None);
        node.default = Some(d);
    }
    for p in node.properties.values_mut() {
        prune_defaults(p, depth + 1);
    }
    if let Some(i) = node.items.as_mut() {
        prune_defaults(i, depth + 1);
    }
    if let Some(Additional::Schema(s)) = node.additional.as_mut() {
        prune_defaults(s, depth + 1);
    }
}
