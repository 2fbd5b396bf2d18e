//! Path elements and field paths: the steps of a field set, their order, their FieldsV1 key
//! text (`f:name`, `k:{"name":"web"}`, `v:"x"`, `i:0`) and their display form
//! (`.spec.containers[name="web"].image`) used in conflict messages.

use std::cmp::Ordering;
use std::fmt;

use serde_json::Value;

use super::value::{compare, display, go_json, write_go_string};

/// One step into an object.
#[derive(Debug, Clone)]
pub enum PathElement {
    /// A field of a map or struct (`f:replicas`).
    Field(String),
    /// An item of an associative list, by its map keys sorted by name
    /// (`k:{"containerPort":80,"protocol":"TCP"}`).
    Key(Vec<(String, Value)>),
    /// An item of a set list, by its value (`v:"example.com/finalizer"`).
    Value(Value),
    /// An item of a list by position (`i:0`); upstream only uses it for lists it cannot
    /// key, which krust treats as atomic, but FieldsV1 may still carry it.
    Index(usize),
}

impl PathElement {
    /// A field element.
    pub fn field(name: impl Into<String>) -> Self {
        PathElement::Field(name.into())
    }

    fn kind(&self) -> u8 {
        match self {
            PathElement::Field(_) => 0,
            PathElement::Key(_) => 1,
            PathElement::Value(_) => 2,
            PathElement::Index(_) => 3,
        }
    }

    /// The FieldsV1 key of this element.
    pub fn to_key(&self) -> String {
        match self {
            PathElement::Field(name) => format!("f:{name}"),
            PathElement::Key(fields) => {
                let mut out = String::from("k:{");
                for (i, (name, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_go_string(name, &mut out);
                    out.push(':');
                    out.push_str(&go_json(value));
                }
                out.push('}');
                out
            }
            PathElement::Value(value) => format!("v:{}", go_json(value)),
            PathElement::Index(i) => format!("i:{i}"),
        }
    }

    /// Parses a FieldsV1 key. `Ok(None)` for an unknown element type, which upstream skips
    /// so that newer encodings stay readable.
    pub fn from_key(key: &str) -> Result<Option<PathElement>, String> {
        let bytes = key.as_bytes();
        if bytes.len() < 2 {
            return Err(format!("key must be 2 characters long: {key:?}"));
        }
        if bytes.get(1) != Some(&b':') {
            return Err(format!("missing colon: {key}"));
        }
        let rest = key.get(2..).unwrap_or_default();
        let parse =
            |text: &str| serde_json::from_str::<Value>(text).map_err(|e| format!("invalid key {key:?}: {e}"));
        Ok(Some(match bytes.first() {
            Some(b'f') => PathElement::Field(rest.to_owned()),
            Some(b'v') => PathElement::Value(parse(rest)?),
            Some(b'k') => match parse(rest)? {
                Value::Object(map) => {
                    let mut fields: Vec<(String, Value)> = map.into_iter().collect();
                    fields.sort_by(|a, b| a.0.cmp(&b.0));
                    PathElement::Key(fields)
                }
                _ => return Err(format!("invalid key {key:?}: not an object")),
            },
            Some(b'i') => {
                PathElement::Index(rest.parse().map_err(|e| format!("invalid index {key:?}: {e}"))?)
            }
            _ => return Ok(None),
        }))
    }
}

fn compare_keys(a: &[(String, Value)], b: &[(String, Value)]) -> Ordering {
    for ((an, av), (bn, bv)) in a.iter().zip(b) {
        let c = an.cmp(bn).then_with(|| compare(av, bv));
        if c != Ordering::Equal {
            return c;
        }
    }
    a.len().cmp(&b.len())
}

impl Ord for PathElement {
    /// Fields, then keys, then values, then indices; each by its content.
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (PathElement::Field(a), PathElement::Field(b)) => a.cmp(b),
            (PathElement::Key(a), PathElement::Key(b)) => compare_keys(a, b),
            (PathElement::Value(a), PathElement::Value(b)) => compare(a, b),
            (PathElement::Index(a), PathElement::Index(b)) => a.cmp(b),
            _ => self.kind().cmp(&other.kind()),
        }
    }
}

impl PartialOrd for PathElement {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for PathElement {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for PathElement {}

impl fmt::Display for PathElement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathElement::Field(name) => write!(f, ".{name}"),
            PathElement::Key(fields) => {
                let parts: Vec<String> = fields
                    .iter()
                    .map(|(n, v)| format!("{n}={}", display(v)))
                    .collect();
                write!(f, "[{}]", parts.join(","))
            }
            PathElement::Value(v) => write!(f, "[={}]", display(v)),
            PathElement::Index(i) => write!(f, "[{i}]"),
        }
    }
}

/// A field path, displayed as upstream prints it: `.spec.template.spec.containers[name="web"].image`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Path(pub Vec<PathElement>);

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for element in &self.0 {
            write!(f, "{element}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_round_trip() {
        for key in [
            "f:replicas",
            "f:kubectl.kubernetes.io/last-applied-configuration",
            r#"k:{"name":"web"}"#,
            r#"k:{"containerPort":80,"protocol":"TCP"}"#,
            r#"v:"example.com/finalizer""#,
            "i:3",
        ] {
            let pe = PathElement::from_key(key).unwrap().unwrap();
            assert_eq!(pe.to_key(), key);
        }
        // Key fields are sorted by name whatever their order in the text.
        let pe = PathElement::from_key(r#"k:{"protocol":"TCP","containerPort":80}"#)
            .unwrap()
            .unwrap();
        assert_eq!(pe.to_key(), r#"k:{"containerPort":80,"protocol":"TCP"}"#);
        assert!(PathElement::from_key("x:whatever").unwrap().is_none());
        assert!(PathElement::from_key("f").is_err());
        assert!(PathElement::from_key("fx").is_err());
        assert!(PathElement::from_key("k:[1]").is_err());
        assert!(PathElement::from_key("i:-1").is_err());
    }

    #[test]
    fn display_and_order() {
        let path = Path(vec![
            PathElement::field("spec"),
            PathElement::field("containers"),
            PathElement::Key(vec![("name".into(), json!("web"))]),
            PathElement::field("image"),
        ]);
        assert_eq!(path.to_string(), r#".spec.containers[name="web"].image"#);
        let ports = PathElement::Key(vec![
            ("containerPort".into(), json!(80)),
            ("protocol".into(), json!("TCP")),
        ]);
        assert_eq!(ports.to_string(), r#"[containerPort=80,protocol="TCP"]"#);
        assert_eq!(PathElement::Value(json!("x")).to_string(), r#"[="x"]"#);
        let mut elements = [
            PathElement::Index(0),
            PathElement::Value(json!("a")),
            PathElement::Key(vec![("port".into(), json!(10))]),
            PathElement::Key(vec![("port".into(), json!(9))]),
            PathElement::field("b"),
            PathElement::field("a"),
        ];
        elements.sort();
        let keys: Vec<String> = elements.iter().map(PathElement::to_key).collect();
        assert_eq!(
            keys,
            [
                "f:a",
                "f:b",
                r#"k:{"port":9}"#,
                r#"k:{"port":10}"#,
                r#"v:"a""#,
                "i:0"
            ]
        );
    }
}
