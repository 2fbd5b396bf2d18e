//! Schema-driven protobuf → JSON for one message.
//!
//! Reads the fields of a message in wire order and gathers them per schema field (last value
//! wins for scalars, lists append, maps insert, and repeated occurrences of a singular message
//! are merged by decoding their concatenation, which is protobuf's merge rule). The JSON
//! object is then built the way Go's `encoding/json` would write the upstream struct: zero
//! scalars of non-pointer `omitempty` fields are left out, pointer fields that were sent are
//! kept even when zero, non-pointer nested structs are always objects (Go's `omitempty` never
//! drops a struct), `,inline` fields are flattened. Empty lists and maps are left out (Go would
//! write `null` for a non-`omitempty` nil slice; both mean "none").

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Number, Value};

use crate::error::{ProtoError, Result};
use crate::schema::{self, Card, Field, INLINE, Message, OMITEMPTY, POINTER, Ty};
use crate::special;
use crate::wire::{Reader, WireValue};

/// Deepest message nesting accepted (real objects stay well below 20).
pub(crate) const MAX_DEPTH: usize = 64;

/// Decoding limits shared by the whole body.
///
/// Go's zero values make a 2-byte empty list element expand into an object with nested empty
/// objects, so the number of JSON values is capped relative to the body size (gogo output
/// needs well under one value per byte; the constant leaves room for sparse senders).
pub(crate) struct Budget {
    values_left: usize,
}

impl Budget {
    pub(crate) fn for_body(len: usize) -> Self {
        Budget {
            values_left: len.saturating_add(1024),
        }
    }

    #[cfg(test)]
    pub(crate) fn with_limit(values: usize) -> Self {
        Budget { values_left: values }
    }

    /// Accounts for one more JSON value.
    pub(crate) fn spend(&mut self) -> Result<()> {
        self.values_left = self.values_left.checked_sub(1).ok_or(ProtoError::TooLarge)?;
        Ok(())
    }
}

/// What has been read so far for one schema field.
enum Slot<'a> {
    Empty,
    Scalar(Value),
    Parts(Vec<&'a [u8]>),
    List(Vec<Value>),
    Map(Map<String, Value>),
}

/// Decodes `buf` as `msg` into a JSON object.
pub(crate) fn decode_message(
    msg: &Message,
    buf: &[u8],
    depth: usize,
    budget: &mut Budget,
) -> Result<Map<String, Value>> {
    if depth > MAX_DEPTH {
        return Err(ProtoError::TooDeep(MAX_DEPTH));
    }
    budget.spend()?;
    let mut slots: Vec<Slot<'_>> = msg.fields.iter().map(|_| Slot::Empty).collect();
    let mut reader = Reader::new(buf);
    while let Some((tag, wv)) = reader.next_field()? {
        let Some((idx, field)) = msg.field(tag) else {
            continue;
        };
        let Some(slot) = slots.get_mut(idx) else { continue };
        read_occurrence(field, slot, wv, depth, budget).map_err(|e| e.at(field.json))?;
    }
    let mut out = Map::new();
    for (field, slot) in msg.fields.iter().zip(slots) {
        finish(field, slot, depth, &mut out, budget).map_err(|e| e.at(field.json))?;
    }
    Ok(out)
}

/// Records one occurrence of `field` on the wire.
fn read_occurrence<'a>(
    field: &Field,
    slot: &mut Slot<'a>,
    wv: WireValue<'a>,
    depth: usize,
    budget: &mut Budget,
) -> Result<()> {
    match field.card {
        Card::One if is_message_like(field.ty) => {
            let bytes = expect_len(wv, ty_name(field.ty))?;
            match slot {
                Slot::Parts(parts) => parts.push(bytes),
                other => *other = Slot::Parts(vec![bytes]),
            }
        }
        Card::One => *slot = Slot::Scalar(scalar(field.ty, wv)?),
        Card::Repeated => {
            if !matches!(slot, Slot::List(_)) {
                *slot = Slot::List(Vec::new());
            }
            let Slot::List(list) = slot else { return Ok(()) };
            match (field.ty, wv) {
                (Ty::Bool | Ty::Int32 | Ty::Int64 | Ty::Double, WireValue::Len(packed)) => {
                    read_packed(field.ty, packed, list, budget)?;
                }
                (ty, wv) => {
                    let at = list.len();
                    budget.spend()?;
                    let value = element(ty, wv, depth, budget).map_err(|e| e.at(&format!("[{at}]")))?;
                    list.push(value);
                }
            }
        }
        Card::Map => {
            budget.spend()?;
            let (key, value) = map_entry(field.ty, expect_len(wv, "map entry")?, depth, budget)?;
            if !matches!(slot, Slot::Map(_)) {
                *slot = Slot::Map(Map::new());
            }
            if let Slot::Map(map) = slot {
                map.insert(key, value);
            }
        }
    }
    Ok(())
}

/// Turns what was gathered for `field` into JSON in `out`.
fn finish(
    field: &Field,
    slot: Slot<'_>,
    depth: usize,
    out: &mut Map<String, Value>,
    budget: &mut Budget,
) -> Result<()> {
    let slot = match slot {
        Slot::Empty => match absent_value(field) {
            Some(zero) => zero,
            None => return Ok(()),
        },
        other => other,
    };
    let value = match slot {
        Slot::Empty => return Ok(()),
        Slot::Scalar(v) => {
            if field.has(OMITEMPTY) && !field.has(POINTER) && is_zero(&v) {
                return Ok(());
            }
            v
        }
        Slot::Parts(parts) => {
            let bytes: Cow<'_, [u8]> = match parts.as_slice() {
                [one] => Cow::Borrowed(*one),
                many => Cow::Owned(many.concat()),
            };
            match message_like(field.ty, &bytes, depth, budget)? {
                Some(Value::Object(inner)) if field.has(INLINE) => {
                    out.extend(inner);
                    return Ok(());
                }
                Some(v) => v,
                None => return Ok(()),
            }
        }
        Slot::List(list) => Value::Array(list),
        Slot::Map(map) => Value::Object(map),
    };
    budget.spend()?;
    out.insert(field.json.to_owned(), value);
    Ok(())
}

/// What Go holds for a field the sender did not write: a non-pointer field still has its zero
/// value, which Go's JSON encoder writes out (then subject to `omitempty`). gogo senders write
/// such fields anyway; this keeps other senders' bodies decoding to the same JSON.
fn absent_value(field: &Field) -> Option<Slot<'static>> {
    if field.card != Card::One || field.has(POINTER) || field.ty == Ty::Bytes {
        return None;
    }
    if is_message_like(field.ty) {
        Some(Slot::Parts(Vec::new()))
    } else {
        Some(Slot::Scalar(zero_scalar(field.ty)))
    }
}

fn is_message_like(ty: Ty) -> bool {
    !matches!(
        ty,
        Ty::String | Ty::Bytes | Ty::Bool | Ty::Int32 | Ty::Int64 | Ty::Double
    )
}

/// Decodes a nested message or special message; `None` for a zero that JSON omits.
fn message_like(ty: Ty, bytes: &[u8], depth: usize, budget: &mut Budget) -> Result<Option<Value>> {
    match ty {
        Ty::Msg(idx) => {
            let msg = schema::message(idx)
                .ok_or_else(|| ProtoError::Invalid(format!("schema has no message {idx}")))?;
            decode_message(msg, bytes, depth + 1, budget).map(|m| Some(Value::Object(m)))
        }
        special => special::decode(special, bytes, depth, budget),
    }
}

/// One list element or map value.
fn element(ty: Ty, wv: WireValue<'_>, depth: usize, budget: &mut Budget) -> Result<Value> {
    if is_message_like(ty) {
        Ok(message_like(ty, expect_len(wv, ty_name(ty))?, depth, budget)?.unwrap_or(Value::Null))
    } else {
        scalar(ty, wv)
    }
}

/// Decodes a map entry message {1 key, 2 value}; a missing value is the zero value.
fn map_entry(ty: Ty, entry: &[u8], depth: usize, budget: &mut Budget) -> Result<(String, Value)> {
    let mut key = String::new();
    let mut value = None;
    let mut reader = Reader::new(entry);
    while let Some((tag, wv)) = reader.next_field()? {
        match tag {
            1 => key = String::from_utf8_lossy(expect_len(wv, "string")?).into_owned(),
            2 => value = Some(wv),
            _ => {}
        }
    }
    let value = match value {
        Some(wv) => element(ty, wv, depth, budget),
        None if is_message_like(ty) => Ok(message_like(ty, &[], depth, budget)?.unwrap_or(Value::Null)),
        None => Ok(zero_scalar(ty)),
    };
    value
        .map(|v| (key.clone(), v))
        .map_err(|e| e.at(&format!("[{key:?}]")))
}

fn read_packed(ty: Ty, packed: &[u8], list: &mut Vec<Value>, budget: &mut Budget) -> Result<()> {
    let mut reader = Reader::new(packed);
    while !reader.is_empty() {
        let wv = if ty == Ty::Double {
            WireValue::I64(reader.fixed64()?)
        } else {
            WireValue::Varint(reader.varint()?)
        };
        budget.spend()?;
        list.push(scalar(ty, wv)?);
    }
    Ok(())
}

/// Converts a scalar wire value to JSON.
fn scalar(ty: Ty, wv: WireValue<'_>) -> Result<Value> {
    match (ty, wv) {
        (Ty::String, WireValue::Len(b)) => Ok(Value::String(String::from_utf8_lossy(b).into_owned())),
        (Ty::Bytes, WireValue::Len(b)) => Ok(Value::String(STANDARD.encode(b))),
        (Ty::Bool, WireValue::Varint(v)) => Ok(Value::Bool(v != 0)),
        // int32 is sign-extended to 64 bits on the wire; keep the low 32 bits as protobuf does.
        (Ty::Int32, WireValue::Varint(v)) => Ok(Value::from(v as i32)),
        (Ty::Int64, WireValue::Varint(v)) => Ok(Value::from(v as i64)),
        (Ty::Double, WireValue::I64(bits)) => Number::from_f64(f64::from_bits(bits))
            .map(Value::Number)
            .ok_or_else(|| ProtoError::Invalid("double is NaN or infinite".to_owned())),
        (ty, wv) => Err(ProtoError::WireType {
            found: wv.wire_type(),
            expected: ty_name(ty),
        }),
    }
}

fn zero_scalar(ty: Ty) -> Value {
    match ty {
        Ty::Bool => Value::Bool(false),
        Ty::Int32 | Ty::Int64 | Ty::Double => Value::from(0),
        _ => Value::String(String::new()),
    }
}

fn is_zero(v: &Value) -> bool {
    match v {
        Value::String(s) => s.is_empty(),
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        _ => false,
    }
}

fn expect_len<'a>(wv: WireValue<'a>, expected: &'static str) -> Result<&'a [u8]> {
    match wv {
        WireValue::Len(b) => Ok(b),
        other => Err(ProtoError::WireType {
            found: other.wire_type(),
            expected,
        }),
    }
}

/// Human name of a schema type, for wire-type errors.
pub(crate) fn ty_name(ty: Ty) -> &'static str {
    match ty {
        Ty::String => "string",
        Ty::Bytes => "bytes",
        Ty::Bool => "bool",
        Ty::Int32 => "int32",
        Ty::Int64 => "int64",
        Ty::Double => "double",
        Ty::Msg(_) => "message",
        Ty::Time => "Time",
        Ty::MicroTime => "MicroTime",
        Ty::Duration => "Duration",
        Ty::IntOrString => "IntOrString",
        Ty::Quantity => "Quantity",
        Ty::RawExtension => "RawExtension",
        Ty::FieldsV1 => "FieldsV1",
        Ty::StringList => "string list",
    }
}
