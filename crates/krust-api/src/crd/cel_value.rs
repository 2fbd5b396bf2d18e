//! Custom resource values as CEL sees them (upstream's `UnstructuredToVal`): objects with
//! declared properties are messages whose field names are escaped (`x-y` is `x__dash__y`,
//! keywords become `__in__`), maps keep their keys, `integer` is `int`, `number` is
//! `double`, strings with `format: byte`, `date-time`, `date` or `duration` become bytes,
//! timestamps and durations, and resource roots expose only `apiVersion`, `kind`,
//! `metadata.name` and `metadata.generateName`.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use kube_cel::cel::Value as Cel;
use kube_cel::cel::objects::{Key, Map};
use serde_json::Value;

use super::model::Node;
use super::util::{MAX_DEPTH, Num};

/// CEL's reserved words, which upstream escapes as `__word__`.
const RESERVED: &[&str] = &[
    "true",
    "false",
    "null",
    "in",
    "as",
    "break",
    "const",
    "continue",
    "else",
    "for",
    "function",
    "if",
    "import",
    "let",
    "loop",
    "package",
    "namespace",
    "return",
    "var",
    "void",
    "while",
];

/// The CEL name of a property, or None when upstream cannot expose it.
pub(crate) fn escape(name: &str) -> Option<String> {
    if RESERVED.contains(&name) {
        return Some(format!("__{name}__"));
    }
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || matches!(c, '_' | '.' | '-' | '/'));
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/')) {
        return None;
    }
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(c) = rest.chars().next() {
        if let Some(after) = rest.strip_prefix("__") {
            out.push_str("__underscores__");
            rest = after;
            continue;
        }
        match c {
            '.' => out.push_str("__dot__"),
            '-' => out.push_str("__dash__"),
            '/' => out.push_str("__slash__"),
            other => out.push(other),
        }
        rest = &rest[c.len_utf8()..];
    }
    Some(out)
}

fn string(s: &str) -> Cel {
    Cel::String(Arc::new(s.to_string()))
}

fn map(entries: HashMap<Key, Cel>) -> Cel {
    Cel::Map(Map {
        map: Arc::new(entries),
    })
}

/// Converts `v` (described by `s`, when known) to a CEL value. `root` marks a resource
/// root, whose metadata is reduced to its name fields.
pub(crate) fn to_cel(v: &Value, s: Option<&Node>, root: bool) -> Cel {
    convert(v, s, root, 0)
}

fn convert(v: &Value, s: Option<&Node>, root: bool, depth: usize) -> Cel {
    if depth > MAX_DEPTH {
        return Cel::Null;
    }
    let s = s.filter(|n| !n.opaque);
    match v {
        Value::Null => Cel::Null,
        Value::Bool(b) => Cel::Bool(*b),
        Value::Number(_) => match (Num::of(v), s.map(|n| n.ty.as_str())) {
            (Some(n), Some("number")) => Cel::Float(n.as_f64()),
            (Some(Num::Int(i)), _) => Cel::Int(i),
            (Some(Num::Float(f)), _) => Cel::Float(f),
            (None, _) => Cel::Null,
        },
        Value::String(text) => string_value(text, s),
        Value::Array(items) => {
            let item = s.and_then(|n| n.items.as_deref());
            Cel::List(Arc::new(
                items.iter().map(|x| convert(x, item, false, depth + 1)).collect(),
            ))
        }
        Value::Object(obj) => {
            let embedded = root || s.is_some_and(|n| n.embedded);
            let mut out = HashMap::with_capacity(obj.len());
            for (k, x) in obj {
                if embedded && k == "metadata" {
                    out.insert(Key::String(Arc::new(k.clone())), meta_names(x));
                    continue;
                }
                match s {
                    Some(n) if n.properties.contains_key(k) => {
                        if let Some(name) = escape(k) {
                            let child = convert(x, n.properties.get(k), false, depth + 1);
                            out.insert(Key::String(Arc::new(name)), child);
                        }
                    }
                    Some(n) => {
                        let child = convert(x, n.additional_schema(), false, depth + 1);
                        out.insert(Key::String(Arc::new(k.clone())), child);
                    }
                    None => {
                        out.insert(
                            Key::String(Arc::new(k.clone())),
                            convert(x, None, false, depth + 1),
                        );
                    }
                }
            }
            map(out)
        }
    }
}

fn string_value(text: &str, s: Option<&Node>) -> Cel {
    let format = s.map(|n| n.raw_format.as_str()).unwrap_or("");
    match format {
        "byte" => match base64::engine::general_purpose::STANDARD.decode(text) {
            Ok(b) => Cel::Bytes(Arc::new(b)),
            Err(_) => string(text),
        },
        "date-time" | "datetime" => kube_cel::cel::functions::time::timestamp(Arc::new(text.to_string()))
            .unwrap_or_else(|_| string(text)),
        "date" => kube_cel::cel::functions::time::timestamp(Arc::new(format!("{text}T00:00:00Z")))
            .unwrap_or_else(|_| string(text)),
        "duration" => kube_cel::cel::functions::time::duration(Arc::new(text.to_string()))
            .unwrap_or_else(|_| string(text)),
        _ => string(text),
    }
}

/// Root and embedded metadata: only `name` and `generateName` are visible to rules.
fn meta_names(meta: &Value) -> Cel {
    let mut out = HashMap::new();
    for k in ["name", "generateName"] {
        if let Some(Value::String(s)) = meta.get(k) {
            out.insert(Key::String(Arc::new(k.to_string())), string(s));
        }
    }
    map(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_upstream() {
        assert_eq!(escape("replicas").as_deref(), Some("replicas"));
        assert_eq!(escape("x-y").as_deref(), Some("x__dash__y"));
        assert_eq!(escape("a.b/c").as_deref(), Some("a__dot__b__slash__c"));
        assert_eq!(escape("a__b").as_deref(), Some("a__underscores__b"));
        assert_eq!(escape("namespace").as_deref(), Some("__namespace__"));
        assert_eq!(escape("1abc"), None);
        assert_eq!(escape("a b"), None);
    }
}
