//! Schema-driven JSON → protobuf for one message, byte-compatible with Kubernetes' gogo output.
//!
//! Upstream's generated marshallers write fields in tag order, always write non-pointer
//! scalars and non-pointer nested structs (even when zero: hence the many `\x12\x00` in real
//! bodies), write pointer fields only when set, and write map entries sorted by key. Doing the
//! same here makes `encode` reproduce kubectl's bytes exactly, which the tests rely on.
//! JSON keys the schema does not know are ignored, as Go's decoder would.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};

use crate::decode::MAX_DEPTH;
use crate::error::{ProtoError, Result};
use crate::schema::{self, Card, Field, INLINE, Message, POINTER, Ty};
use crate::special;
use crate::wire::{self, I64};

/// Appends the encoding of `obj` as `msg` to `out`.
pub(crate) fn encode_message(
    msg: &Message,
    obj: &Map<String, Value>,
    depth: usize,
    out: &mut Vec<u8>,
) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(ProtoError::TooDeep(MAX_DEPTH));
    }
    for field in msg.fields {
        if field.has(INLINE) {
            // The embedded struct's fields sit in this same JSON object.
            let mut sub = Vec::new();
            encode_message(sub_message(field.ty)?, obj, depth + 1, &mut sub)?;
            wire::put_len(out, field.tag, &sub);
            continue;
        }
        let value = obj.get(field.json).filter(|v| !v.is_null());
        encode_field(field, value, depth, out).map_err(|e| e.at(field.json))?;
    }
    Ok(())
}

fn encode_field(field: &Field, value: Option<&Value>, depth: usize, out: &mut Vec<u8>) -> Result<()> {
    match field.card {
        Card::One => {
            // Pointers (and []byte, which is nil when absent) are written only when set.
            if value.is_none() && (field.has(POINTER) || field.ty == Ty::Bytes) {
                return Ok(());
            }
            write_value(out, field.tag, field.ty, value, depth)
        }
        Card::Repeated => {
            let Some(value) = value else { return Ok(()) };
            let Value::Array(items) = value else {
                return Err(ProtoError::json_type("array", value));
            };
            for (i, item) in items.iter().enumerate() {
                let item = Some(item).filter(|v| !v.is_null());
                write_value(out, field.tag, field.ty, item, depth).map_err(|e| e.at(&format!("[{i}]")))?;
            }
            Ok(())
        }
        Card::Map => {
            let Some(value) = value else { return Ok(()) };
            let Value::Object(map) = value else {
                return Err(ProtoError::json_type("object", value));
            };
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            for (key, item) in entries {
                let mut entry = Vec::new();
                wire::put_len(&mut entry, 1, key.as_bytes());
                let item = Some(item).filter(|v| !v.is_null());
                write_value(&mut entry, 2, field.ty, item, depth).map_err(|e| e.at(&format!("[{key:?}]")))?;
                wire::put_len(out, field.tag, &entry);
            }
            Ok(())
        }
    }
}

/// Writes one value of type `ty` as field `tag`; `None` writes the Go zero value.
fn write_value(out: &mut Vec<u8>, tag: u32, ty: Ty, value: Option<&Value>, depth: usize) -> Result<()> {
    match ty {
        Ty::String => {
            let s = match value {
                None => "",
                Some(v) => v.as_str().ok_or_else(|| ProtoError::json_type("string", v))?,
            };
            wire::put_len(out, tag, s.as_bytes());
        }
        Ty::Bytes => {
            let bytes = match value {
                None => Vec::new(),
                Some(v) => {
                    let text = v
                        .as_str()
                        .ok_or_else(|| ProtoError::json_type("base64 string", v))?;
                    STANDARD
                        .decode(text)
                        .map_err(|e| ProtoError::Invalid(format!("base64: {e}")))?
                }
            };
            wire::put_len(out, tag, &bytes);
        }
        Ty::Bool => {
            let b = match value {
                None => false,
                Some(v) => v.as_bool().ok_or_else(|| ProtoError::json_type("boolean", v))?,
            };
            wire::put_varint_field(out, tag, u64::from(b));
        }
        Ty::Int32 => {
            let i = match value {
                None => 0,
                Some(v) => v
                    .as_i64()
                    .and_then(|i| i32::try_from(i).ok())
                    .ok_or_else(|| ProtoError::json_type("32-bit integer", v))?,
            };
            wire::put_varint_field(out, tag, i64::from(i) as u64);
        }
        Ty::Int64 => {
            let i = match value {
                None => 0,
                Some(v) => v
                    .as_i64()
                    .ok_or_else(|| ProtoError::json_type("64-bit integer", v))?,
            };
            wire::put_varint_field(out, tag, i as u64);
        }
        Ty::Double => {
            let d = match value {
                None => 0.0,
                Some(v) => v.as_f64().ok_or_else(|| ProtoError::json_type("number", v))?,
            };
            wire::put_key(out, tag, I64);
            out.extend_from_slice(&d.to_bits().to_le_bytes());
        }
        Ty::Msg(_) => {
            let empty = Map::new();
            let obj = match value {
                None => &empty,
                Some(Value::Object(obj)) => obj,
                Some(other) => return Err(ProtoError::json_type("object", other)),
            };
            let mut sub = Vec::new();
            encode_message(sub_message(ty)?, obj, depth + 1, &mut sub)?;
            wire::put_len(out, tag, &sub);
        }
        special => wire::put_len(out, tag, &special::encode(special, value)?),
    }
    Ok(())
}

fn sub_message(ty: Ty) -> Result<&'static Message> {
    match ty {
        Ty::Msg(idx) => schema::message(idx),
        _ => None,
    }
    .ok_or_else(|| ProtoError::Invalid(format!("schema error: {ty:?} is not a message")))
}
