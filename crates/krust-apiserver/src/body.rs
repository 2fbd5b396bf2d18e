//! Request bodies: size limit, JSON with duplicate-field detection, YAML and protobuf.

use std::cell::RefCell;
use std::fmt;

use krust_api::ApiError;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use crate::negotiate::BodyFormat;

/// Largest request body accepted (as upstream: 3 MiB).
pub const MAX_BODY: usize = 3 * 1024 * 1024;

/// A decoded body and the duplicate fields it contained.
#[derive(Debug)]
pub struct Decoded {
    /// The object.
    pub value: Value,
    /// Paths of fields that appeared more than once (the last one wins).
    pub duplicates: Vec<String>,
}

/// Decodes a create/update body (JSON, YAML or protobuf) into an object.
pub fn decode_object(bytes: &[u8], format: BodyFormat) -> Result<Decoded, ApiError> {
    match format {
        BodyFormat::Json => parse_json(bytes),
        BodyFormat::Yaml | BodyFormat::ApplyPatch => parse_yaml(bytes),
        BodyFormat::Protobuf => krust_proto::decode(bytes)
            .map(|value| Decoded {
                value,
                duplicates: Vec::new(),
            })
            .map_err(|e| ApiError::bad_request(format!("unable to decode protobuf body: {e}"))),
        _ => Err(ApiError::unsupported_media_type(
            "patch content type on a non-patch request",
        )),
    }
}

/// Parses JSON, recording duplicate object keys by path.
pub fn parse_json(bytes: &[u8]) -> Result<Decoded, ApiError> {
    let dups = RefCell::new(Vec::new());
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = ValueSeed {
        path: String::new(),
        dups: &dups,
    }
    .deserialize(&mut de)
    .and_then(|v| de.end().map(|_| v))
    .map_err(|e| ApiError::bad_request(format!("error decoding JSON body: {e}")))?;
    Ok(Decoded {
        value,
        duplicates: dups.into_inner(),
    })
}

/// Parses YAML (a single document) into JSON values.
pub fn parse_yaml(bytes: &[u8]) -> Result<Decoded, ApiError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| ApiError::bad_request("error decoding YAML body: not UTF-8"))?;
    // JSON is YAML; prefer the JSON parser when the body is JSON (kubectl sends JSON even
    // with YAML content types) so duplicate detection works.
    if text.trim_start().starts_with('{')
        && let Ok(d) = parse_json(bytes)
    {
        return Ok(d);
    }
    let value: Value = serde_saphyr::from_str(text)
        .map_err(|e| ApiError::bad_request(format!("error decoding YAML body: {e}")))?;
    Ok(Decoded {
        value,
        duplicates: Vec::new(),
    })
}

struct ValueSeed<'a> {
    path: String,
    dups: &'a RefCell<Vec<String>>,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map(Value::Number).unwrap_or(Value::Null))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(ValueSeed {
            path: format!("{}[{}]", self.path, out.len()),
            dups: self.dups,
        })? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = if self.path.is_empty() {
                key.clone()
            } else {
                format!("{}.{key}", self.path)
            };
            if out.contains_key(&key) {
                self.dups.borrow_mut().push(path.clone());
            }
            let v = map.next_value_seed(ValueSeed {
                path,
                dups: self.dups,
            })?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_duplicates() {
        let d = parse_json(br#"{"spec":{"replicas":1,"replicas":2,"x":[{"a":1,"a":2}]}}"#).unwrap();
        assert_eq!(d.duplicates, vec!["spec.replicas", "spec.x[0].a"]);
        assert_eq!(d.value["spec"]["replicas"], 2);
    }

    #[test]
    fn malformed_is_400() {
        assert_eq!(parse_json(b"{\"a\":").unwrap_err().code, 400);
        assert_eq!(parse_json(b"{} {}").unwrap_err().code, 400);
        assert_eq!(parse_yaml(b"a: [1, 2").unwrap_err().code, 400);
    }

    #[test]
    fn yaml() {
        let d = parse_yaml(b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: \"1\"\n")
            .unwrap();
        assert_eq!(d.value["metadata"]["name"], "x");
        assert_eq!(d.value["data"]["a"], "1");
    }
}
