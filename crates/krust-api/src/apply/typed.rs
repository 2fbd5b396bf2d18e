//! The structure server-side apply needs from a schema: which values are maps of fields,
//! which lists are associative (and by which keys), and what is atomic.
//!
//! This follows upstream's conversion of OpenAPI into structured-merge-diff types
//! (kube-openapi's `schemaconv`): `x-kubernetes-list-type` (`atomic`, `set`, `map` with
//! `x-kubernetes-list-map-keys`), falling back to `x-kubernetes-patch-strategy: merge` with
//! a merge key (associative by that key) or without one (set), other lists atomic;
//! `x-kubernetes-map-type: atomic` maps; raw extensions atomic; schema-less values
//! "deduced" (maps granular, every key a member; lists atomic).
//!
//! krust's built-in schemas do not carry upstream's `+structType=atomic`/`+mapType=atomic`
//! markers nor the `+default` of list keys, so the few that matter are listed here.

use std::sync::OnceLock;

use serde_json::{Value, json};

use super::path::PathElement;
use crate::schema::{SchemaNode, Schemas};

/// Go structs marked `+structType=atomic` in Kubernetes 1.33 (owned and replaced whole).
const ATOMIC_STRUCTS: &[&str] = &[
    "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector",
    "io.k8s.apimachinery.pkg.apis.meta.v1.OwnerReference",
    "io.k8s.api.autoscaling.v1.CrossVersionObjectReference",
    "io.k8s.api.core.v1.ConfigMapKeySelector",
    "io.k8s.api.core.v1.EndpointAddress",
    "io.k8s.api.core.v1.EndpointPort",
    "io.k8s.api.core.v1.LocalObjectReference",
    "io.k8s.api.core.v1.NodeSelector",
    "io.k8s.api.core.v1.NodeSelectorTerm",
    "io.k8s.api.core.v1.ObjectFieldSelector",
    "io.k8s.api.core.v1.ObjectReference",
    "io.k8s.api.core.v1.ResourceFieldSelector",
    "io.k8s.api.core.v1.ScopeSelector",
    "io.k8s.api.core.v1.SecretKeySelector",
    "io.k8s.api.core.v1.SecretReference",
    "io.k8s.api.core.v1.TopologySelectorTerm",
    "io.k8s.api.core.v1.TypedLocalObjectReference",
    "io.k8s.api.discovery.v1.EndpointPort",
    "io.k8s.api.networking.v1.ServiceBackendPort",
    "io.k8s.api.rbac.v1.RoleRef",
    "io.k8s.api.rbac.v1.Subject",
];

/// Map fields marked `+mapType=atomic` (schema, property).
const ATOMIC_MAP_FIELDS: &[(&str, &str)] = &[
    ("io.k8s.api.core.v1.PodSpec", "nodeSelector"),
    ("io.k8s.api.core.v1.ReplicationControllerSpec", "selector"),
    ("io.k8s.api.core.v1.ServiceSpec", "selector"),
];

/// `+default` of list-map keys (schema, property, default): a port without `protocol` is
/// keyed as `TCP`, as upstream's OpenAPI says.
const KEY_DEFAULTS: &[(&str, &str, &str)] = &[
    ("io.k8s.api.core.v1.ContainerPort", "protocol", "TCP"),
    ("io.k8s.api.core.v1.ServicePort", "protocol", "TCP"),
    ("io.k8s.api.core.v1.LocalObjectReference", "name", ""),
];

const RAW_EXTENSION: &str = "io.k8s.apimachinery.pkg.runtime.RawExtension";
const OBJECT_META: &str = "ObjectMeta";

/// ObjectMeta as upstream types it, for objects whose schema does not describe `metadata`
/// (CRDs, or no schema at all): labels and annotations are granular maps, finalizers a
/// set, ownerReferences a map keyed by uid, managedFields atomic.
fn object_meta() -> SchemaNode<'static> {
    static META: OnceLock<Schemas> = OnceLock::new();
    let schemas = META.get_or_init(|| {
        let strings = json!({"type": "object", "additionalProperties": {"type": "string"}});
        let meta = json!({"type": "object", "properties": {
            "name": {"type": "string"}, "generateName": {"type": "string"},
            "namespace": {"type": "string"}, "selfLink": {"type": "string"},
            "uid": {"type": "string"}, "resourceVersion": {"type": "string"},
            "generation": {"type": "integer"}, "creationTimestamp": {"type": "string"},
            "deletionTimestamp": {"type": "string"},
            "deletionGracePeriodSeconds": {"type": "integer"},
            "labels": strings, "annotations": strings,
            "finalizers": {"type": "array", "items": {"type": "string"},
                "x-kubernetes-list-type": "set"},
            "ownerReferences": {"type": "array", "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["uid"],
                "items": {"type": "object", "x-kubernetes-map-type": "atomic"}},
            "managedFields": {"type": "array", "x-kubernetes-list-type": "atomic"},
        }});
        let mut components = serde_json::Map::new();
        components.insert(OBJECT_META.into(), meta);
        Schemas::new(components)
    });
    schemas.inline(schemas.component(OBJECT_META).unwrap_or(&Value::Null))
}

/// The type of a value's position in the object.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Ty<'a> {
    /// The object itself; `metadata` is typed as ObjectMeta when the schema lacks it.
    Root(Option<SchemaNode<'a>>),
    /// A position described by a schema; `atomic_map` when the enclosing field says so.
    Node(SchemaNode<'a>, bool),
    /// No type information: maps granular with every key a member, lists atomic.
    Deduced,
    /// Replaced and owned as a whole, whatever it holds.
    Atomic,
}

/// How a list's items are identified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ListKind<'a> {
    Atomic,
    /// Items are unique scalars, identified by value.
    Set,
    /// Items are objects identified by these fields.
    Map(Vec<&'a str>),
}

/// How a value is walked at its position.
#[derive(Debug, Clone)]
pub(crate) enum Shape<'a> {
    /// Owned and compared as one value: scalars, atomic maps and lists, null.
    Leaf,
    /// A map whose entries are walked one by one.
    Map,
    /// An associative list (never `ListKind::Atomic`) with its item type.
    List(ListKind<'a>, Ty<'a>),
}

/// What a schema allows at a position, independent of the value found there.
enum Kind<'a> {
    Scalar,
    Map { atomic: bool },
    List(ListKind<'a>),
    Deduced,
    Atomic,
}

/// The component a node refers to (`$ref`, or a one-element `allOf` of one).
pub(crate) fn component<'a>(node: &SchemaNode<'a>) -> Option<&'a str> {
    if let Some(name) = node.ref_name() {
        return Some(name);
    }
    let all = node.keyword("allOf")?.as_array()?;
    match all.as_slice() {
        [one] => one.get("$ref")?.as_str()?.strip_prefix("#/components/schemas/"),
        _ => None,
    }
}

fn list_kind<'a>(node: &SchemaNode<'a>) -> ListKind<'a> {
    match node.list_type() {
        Some("set") => ListKind::Set,
        Some("map") => match node.list_map_keys() {
            keys if keys.is_empty() => ListKind::Atomic,
            keys => ListKind::Map(keys),
        },
        Some(_) => ListKind::Atomic,
        None => {
            let strategy = node.patch_strategy();
            match node.patch_merge_key() {
                _ if !strategy.merge => ListKind::Atomic,
                Some(key) => ListKind::Map(vec![key]),
                None => ListKind::Set,
            }
        }
    }
}

fn kind<'a>(node: &SchemaNode<'a>, atomic_hint: bool) -> Kind<'a> {
    if node.is_raw_json() {
        return if component(node) == Some(RAW_EXTENSION) {
            Kind::Atomic
        } else {
            Kind::Deduced
        };
    }
    if node.int_or_string() {
        return Kind::Scalar;
    }
    let map = || Kind::Map {
        atomic: atomic_hint
            || node.keyword("x-kubernetes-map-type").and_then(Value::as_str) == Some("atomic")
            || component(node).is_some_and(|c| ATOMIC_STRUCTS.contains(&c)),
    };
    let value = node.value();
    match node.type_name() {
        Some("object") => map(),
        Some("array") => Kind::List(list_kind(node)),
        Some(_) => Kind::Scalar,
        None if value.get("properties").is_some() || value.get("additionalProperties").is_some() => map(),
        None if value.get("items").is_some() => Kind::List(list_kind(node)),
        None => Kind::Deduced,
    }
}

/// A value that does not fit its schema.
pub(crate) fn mismatch(expected: &str, v: &Value) -> String {
    let got = match v {
        Value::Object(_) => "map",
        Value::Array(_) => "list",
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Bool(_) => "boolean",
        Value::Null => "null",
    };
    format!("expected {expected}, got {got}")
}

impl<'a> Ty<'a> {
    /// How `v` is walked here; `Err` when it does not fit the schema (the caller decides
    /// whether that is an error or the value is simply treated as a leaf).
    pub(crate) fn shape(&self, v: &Value) -> Result<Shape<'a>, String> {
        let kind = match self {
            Ty::Root(_) => {
                return match v {
                    Value::Object(_) => Ok(Shape::Map),
                    _ => Err(mismatch("map", v)),
                };
            }
            Ty::Node(node, atomic) => kind(node, *atomic),
            Ty::Deduced => Kind::Deduced,
            Ty::Atomic => Kind::Atomic,
        };
        match (kind, v) {
            (_, Value::Null) | (Kind::Atomic, _) => Ok(Shape::Leaf),
            (Kind::Deduced, Value::Object(_)) => Ok(Shape::Map),
            (Kind::Deduced, _) => Ok(Shape::Leaf),
            (Kind::Scalar, Value::Object(_) | Value::Array(_)) => Err(mismatch("scalar", v)),
            (Kind::Scalar, _) => Ok(Shape::Leaf),
            (Kind::Map { atomic }, Value::Object(_)) => Ok(if atomic { Shape::Leaf } else { Shape::Map }),
            (Kind::Map { .. }, _) => Err(mismatch("map", v)),
            (Kind::List(ListKind::Atomic), Value::Array(_)) => Ok(Shape::Leaf),
            (Kind::List(list), Value::Array(_)) => Ok(Shape::List(list, self.item())),
            (Kind::List(_), _) => Err(mismatch("list", v)),
        }
    }

    /// The type of field `key` of a map here, and whether it is a declared (named) field:
    /// undeclared entries (labels, data, deduced maps) are members of a field set even
    /// when they have children.
    pub(crate) fn field(&self, key: &str) -> (Ty<'a>, bool) {
        match self {
            Ty::Root(schema) => {
                let prop = schema.and_then(|s| s.property(key));
                if key == "metadata" {
                    let described = prop.is_some_and(|p| p.property("labels").is_some());
                    return match prop {
                        Some(p) if described => (Ty::Node(p, false), true),
                        _ => (Ty::Node(object_meta(), false), true),
                    };
                }
                match prop {
                    Some(p) => (Ty::Node(p, false), true),
                    None => (Ty::Deduced, false),
                }
            }
            Ty::Node(node, _) => {
                if let Some(prop) = node.property(key) {
                    // Only a few fields can be atomic maps: skip the lookup for the rest.
                    let atomic = ATOMIC_MAP_FIELDS.iter().any(|(_, f)| *f == key)
                        && component(node).is_some_and(|c| ATOMIC_MAP_FIELDS.contains(&(c, key)));
                    return (Ty::Node(prop, atomic), true);
                }
                match node.additional_properties() {
                    Some(values) => (Ty::Node(values, false), false),
                    None => (Ty::Deduced, false),
                }
            }
            Ty::Deduced => (Ty::Deduced, false),
            Ty::Atomic => (Ty::Atomic, false),
        }
    }

    /// True when `key` is a declared field of the map type here.
    pub(crate) fn is_named(&self, key: &str) -> bool {
        match self {
            Ty::Root(_) | Ty::Node(..) => self.field(key).1,
            Ty::Deduced | Ty::Atomic => false,
        }
    }

    /// The type of list items here (atomic when the schema does not say).
    pub(crate) fn item(&self) -> Ty<'a> {
        match self {
            Ty::Node(node, _) => node.items().map_or(Ty::Atomic, |items| Ty::Node(items, false)),
            _ => Ty::Atomic,
        }
    }

    /// The default of list-map key `key` of items of this type, if the schema has one.
    fn key_default(&self, key: &str) -> Option<Value> {
        let Ty::Node(node, _) = self else {
            return None;
        };
        if let Some(default) = node.property(key).and_then(|p| p.keyword("default")) {
            return Some(default.clone());
        }
        let name = component(node)?;
        KEY_DEFAULTS
            .iter()
            .find(|(schema, prop, _)| *schema == name && *prop == key)
            .map(|(_, _, default)| Value::String((*default).to_owned()))
    }
}

/// The path element of a list item (upstream's `listItemToPathElement`), or why the item
/// cannot be identified.
pub(crate) fn item_element(
    kind: &ListKind<'_>,
    item_ty: &Ty<'_>,
    item: &Value,
) -> Result<PathElement, String> {
    match kind {
        ListKind::Atomic => Err("invalid indexing of non-associative list".into()),
        ListKind::Set => match item {
            Value::Object(_) => Err("associative list without keys has an element that's a map type".into()),
            Value::Array(_) => Err("not supported: associative list with lists as elements".into()),
            Value::Null => Err("associative list without keys has an element that's an explicit null".into()),
            _ => Ok(PathElement::Value(item.clone())),
        },
        ListKind::Map(keys) => {
            let map = match item {
                Value::Object(map) => map,
                Value::Null => {
                    return Err("associative list with keys may not have a null element".into());
                }
                _ => return Err("associative list with keys may not have non-map elements".into()),
            };
            let mut fields = Vec::with_capacity(keys.len());
            for key in keys {
                let value = match map.get(*key) {
                    Some(v) => v.clone(),
                    None => item_ty.key_default(key).ok_or_else(|| {
                        format!(
                            "associative list with keys has an element that omits key field {} \
                             (and doesn't have default value)",
                            super::value::go_quote(key)
                        )
                    })?,
                };
                fields.push(((*key).to_owned(), value));
            }
            fields.sort_by(|a, b| a.0.cmp(&b.0));
            Ok(PathElement::Key(fields))
        }
    }
}

/// The elements of all items of a list, or `None` when one cannot be identified (such a
/// list in a stored object is then handled as atomic).
pub(crate) fn item_elements(
    kind: &ListKind<'_>,
    item_ty: &Ty<'_>,
    items: &[Value],
) -> Option<Vec<PathElement>> {
    items
        .iter()
        .map(|item| item_element(kind, item_ty, item).ok())
        .collect()
}
