//! The `k8s\0` + `runtime.Unknown` envelope around every Kubernetes protobuf object.
//!
//! `runtime.Unknown` is {1 typeMeta{1 apiVersion, 2 kind}, 2 raw, 3 contentEncoding,
//! 4 contentType}; `raw` holds the object's own message, chosen by apiVersion/kind.

use serde_json::Value;

use crate::decode::{self, Budget, MAX_DEPTH};
use crate::encode;
use crate::error::{ProtoError, Result};
use crate::schema;
use crate::wire::{self, Reader, WireValue};

/// The 4 bytes every Kubernetes protobuf body starts with.
pub(crate) const MAGIC: [u8; 4] = *b"k8s\0";

/// Decodes a whole body (magic included); `depth` counts enclosing messages for
/// objects embedded in a `RawExtension`.
pub(crate) fn decode_at_depth(body: &[u8], depth: usize, budget: &mut Budget) -> Result<Value> {
    if depth > MAX_DEPTH {
        return Err(ProtoError::TooDeep(MAX_DEPTH));
    }
    let unknown = body.strip_prefix(&MAGIC).ok_or(ProtoError::BadMagic)?;
    let (mut type_meta, mut raw, mut encoding): (Option<&[u8]>, &[u8], &[u8]) = (None, &[], &[]);
    let mut reader = Reader::new(unknown);
    while let Some((tag, wv)) = reader.next_field()? {
        match (tag, wv) {
            (1, WireValue::Len(b)) => type_meta = Some(b),
            (2, WireValue::Len(b)) => raw = b,
            (3, WireValue::Len(b)) => encoding = b,
            // contentType names the raw encoding; upstream leaves it empty for protobuf.
            (4, WireValue::Len(_)) => {}
            (1..=4, other) => {
                return Err(ProtoError::WireType {
                    found: other.wire_type(),
                    expected: "Unknown field",
                });
            }
            _ => {}
        }
    }
    let (api_version, kind) = parse_type_meta(type_meta.ok_or(ProtoError::MissingTypeMeta)?)?;
    if !encoding.is_empty() {
        return Err(ProtoError::ContentEncoding(
            String::from_utf8_lossy(encoding).into_owned(),
        ));
    }
    let msg = schema::lookup_kind(&api_version, &kind).ok_or_else(|| ProtoError::UnknownKind {
        api_version: api_version.clone(),
        kind: kind.clone(),
    })?;
    let mut object = decode::decode_message(msg, raw, depth + 1, budget)?;
    object.insert("apiVersion".to_owned(), Value::String(api_version));
    object.insert("kind".to_owned(), Value::String(kind));
    Ok(Value::Object(object))
}

fn parse_type_meta(bytes: &[u8]) -> Result<(String, String)> {
    let (mut api_version, mut kind) = (String::new(), String::new());
    let mut reader = Reader::new(bytes);
    while let Some((tag, wv)) = reader.next_field()? {
        match (tag, wv) {
            (1, WireValue::Len(b)) => api_version = String::from_utf8_lossy(b).into_owned(),
            (2, WireValue::Len(b)) => kind = String::from_utf8_lossy(b).into_owned(),
            (1 | 2, other) => {
                return Err(ProtoError::WireType {
                    found: other.wire_type(),
                    expected: "string",
                });
            }
            _ => {}
        }
    }
    if api_version.is_empty() || kind.is_empty() {
        return Err(ProtoError::MissingTypeMeta);
    }
    Ok((api_version, kind))
}

/// Encodes an object (with apiVersion and kind) into a whole body, magic included.
pub(crate) fn encode_object(object: &Value) -> Result<Vec<u8>> {
    let Value::Object(map) = object else {
        return Err(ProtoError::json_type("object", object));
    };
    let field = |name: &str| map.get(name).and_then(Value::as_str).filter(|s| !s.is_empty());
    let (Some(api_version), Some(kind)) = (field("apiVersion"), field("kind")) else {
        return Err(ProtoError::MissingTypeMeta);
    };
    let msg = schema::lookup_kind(api_version, kind).ok_or_else(|| ProtoError::UnknownKind {
        api_version: api_version.to_owned(),
        kind: kind.to_owned(),
    })?;
    let mut raw = Vec::new();
    encode::encode_message(msg, map, 1, &mut raw)?;
    Ok(wrap(api_version, kind, &raw))
}

/// Builds the envelope around an already encoded object, as upstream writes it.
pub(crate) fn wrap(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
    let mut type_meta = Vec::new();
    wire::put_len(&mut type_meta, 1, api_version.as_bytes());
    wire::put_len(&mut type_meta, 2, kind.as_bytes());
    let mut out = MAGIC.to_vec();
    wire::put_len(&mut out, 1, &type_meta);
    wire::put_len(&mut out, 2, raw);
    wire::put_len(&mut out, 3, b"");
    wire::put_len(&mut out, 4, b"");
    out
}
