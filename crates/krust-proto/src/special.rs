//! Messages whose JSON form is not an object of their fields.
//!
//! Kubernetes gives a handful of apimachinery types custom JSON: times are strings,
//! `IntOrString` is a bare number or string, `Quantity` is a string, `RawExtension` and
//! `FieldsV1` embed a JSON document, and `[]string` types such as `ExtraValue` are arrays.
//! On the wire they are ordinary small messages; this module converts both ways.

use serde_json::Value;

use crate::decode::Budget;
use crate::envelope;
use crate::error::{ProtoError, Result};
use crate::gotime;
use crate::schema::Ty;
use crate::wire::{self, Reader, WireValue};

/// `time.Time{}` (year 1) in Unix seconds: Go's zero time, shown as `null` (we omit it).
const GO_ZERO_TIME: i64 = -62_135_596_800;

/// Decodes a special message; `Ok(None)` means "zero value that JSON omits".
pub(crate) fn decode(ty: Ty, bytes: &[u8], depth: usize, budget: &mut Budget) -> Result<Option<Value>> {
    match ty {
        Ty::Time | Ty::MicroTime => decode_time(bytes, ty == Ty::MicroTime),
        Ty::Duration => {
            let mut nanos = 0i64;
            each_field(bytes, |tag, wv| {
                if tag == 1 {
                    nanos = varint(wv, "Duration")? as i64;
                }
                Ok(())
            })?;
            Ok(Some(Value::String(gotime::format_duration(nanos))))
        }
        Ty::IntOrString => decode_int_or_string(bytes).map(Some),
        Ty::Quantity => {
            let mut text = None;
            each_field(bytes, |tag, wv| {
                if tag == 1 {
                    text = Some(String::from_utf8_lossy(len(wv, "Quantity")?).into_owned());
                }
                Ok(())
            })?;
            Ok(Some(Value::String(text.unwrap_or_else(|| "0".to_owned()))))
        }
        Ty::RawExtension | Ty::FieldsV1 => {
            let mut raw: &[u8] = &[];
            each_field(bytes, |tag, wv| {
                if tag == 1 {
                    raw = len(wv, "raw bytes")?;
                }
                Ok(())
            })?;
            if raw.is_empty() {
                return Ok(None);
            }
            if ty == Ty::RawExtension && raw.starts_with(&envelope::MAGIC) {
                // An embedded object serialized as protobuf rather than JSON.
                return envelope::decode_at_depth(raw, depth + 1, budget).map(Some);
            }
            let value: Value = serde_json::from_slice(raw)
                .map_err(|e| ProtoError::Invalid(format!("embedded JSON: {e}")))?;
            Ok(Some(value).filter(|v| !v.is_null()))
        }
        Ty::StringList => {
            let mut items = Vec::new();
            each_field(bytes, |tag, wv| {
                if tag == 1 {
                    items.push(Value::String(
                        String::from_utf8_lossy(len(wv, "string")?).into_owned(),
                    ));
                }
                Ok(())
            })?;
            Ok(Some(Value::Array(items)))
        }
        other => Err(ProtoError::Invalid(format!("{other:?} is not a special message"))),
    }
}

fn decode_time(bytes: &[u8], micro: bool) -> Result<Option<Value>> {
    if bytes.is_empty() {
        return Ok(None);
    }
    let (mut seconds, mut nanos) = (0i64, 0i32);
    each_field(bytes, |tag, wv| {
        match tag {
            1 => seconds = varint(wv, "Time.seconds")? as i64,
            2 => nanos = varint(wv, "Time.nanos")? as i32,
            _ => {}
        }
        Ok(())
    })?;
    // Time keeps whole seconds; MicroTime truncates to microseconds (toward zero), as upstream.
    let nanos = if micro { nanos - nanos % 1000 } else { 0 };
    let total = i128::from(seconds) * 1_000_000_000 + i128::from(nanos);
    if total == i128::from(GO_ZERO_TIME) * 1_000_000_000 {
        return Ok(None);
    }
    gotime::format_time(seconds, nanos, micro).map(|s| Some(Value::String(s)))
}

fn decode_int_or_string(bytes: &[u8]) -> Result<Value> {
    let (mut kind, mut int_val, mut str_val) = (0i64, 0i32, String::new());
    each_field(bytes, |tag, wv| {
        match tag {
            1 => kind = varint(wv, "IntOrString.type")? as i64,
            2 => int_val = varint(wv, "IntOrString.intVal")? as i32,
            3 => str_val = String::from_utf8_lossy(len(wv, "IntOrString.strVal")?).into_owned(),
            _ => {}
        }
        Ok(())
    })?;
    match kind {
        0 => Ok(Value::from(int_val)),
        1 => Ok(Value::String(str_val)),
        other => Err(ProtoError::Invalid(format!("IntOrString type {other}"))),
    }
}

/// Encodes a special message; `None` is the Go zero value (what gogo writes for an unset
/// non-pointer field).
pub(crate) fn encode(ty: Ty, value: Option<&Value>) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    match (ty, value) {
        (Ty::Time | Ty::MicroTime, None) => {}
        (Ty::Time | Ty::MicroTime, Some(v)) => {
            let (seconds, nanos) = gotime::parse_time(as_str(v)?)?;
            let nanos = if ty == Ty::MicroTime {
                nanos - nanos % 1000
            } else {
                0
            };
            wire::put_varint_field(&mut out, 1, seconds as u64);
            wire::put_varint_field(&mut out, 2, i64::from(nanos) as u64);
        }
        (Ty::Duration, v) => {
            let nanos = v
                .map(|v| as_str(v).and_then(gotime::parse_duration))
                .transpose()?;
            wire::put_varint_field(&mut out, 1, nanos.unwrap_or(0) as u64);
        }
        (Ty::IntOrString, v) => {
            let (kind, int_val, str_val) = match v {
                None => (0, 0, ""),
                Some(Value::String(s)) => (1, 0, s.as_str()),
                Some(Value::Number(n)) => {
                    let i = n.as_i64().and_then(|i| i32::try_from(i).ok()).ok_or_else(|| {
                        ProtoError::Invalid(format!("IntOrString {n} is not a 32-bit integer"))
                    })?;
                    (0, i, "")
                }
                Some(other) => {
                    return Err(ProtoError::json_type("integer or string", other));
                }
            };
            wire::put_varint_field(&mut out, 1, kind);
            wire::put_varint_field(&mut out, 2, i64::from(int_val) as u64);
            wire::put_len(&mut out, 3, str_val.as_bytes());
        }
        (Ty::Quantity, v) => {
            let text = match v {
                None => "0".to_owned(),
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                Some(other) => {
                    return Err(ProtoError::json_type("quantity string", other));
                }
            };
            wire::put_len(&mut out, 1, text.as_bytes());
        }
        (Ty::RawExtension | Ty::FieldsV1, None) => {}
        (Ty::RawExtension | Ty::FieldsV1, Some(v)) => {
            let raw = serde_json::to_vec(v).map_err(|e| ProtoError::Invalid(e.to_string()))?;
            wire::put_len(&mut out, 1, &raw);
        }
        (Ty::StringList, None) => {}
        (Ty::StringList, Some(v)) => {
            let Value::Array(items) = v else {
                return Err(ProtoError::json_type("array of strings", v));
            };
            for item in items {
                wire::put_len(&mut out, 1, as_str(item)?.as_bytes());
            }
        }
        (other, _) => return Err(ProtoError::Invalid(format!("{other:?} is not a special message"))),
    }
    Ok(out)
}

fn as_str(v: &Value) -> Result<&str> {
    v.as_str().ok_or_else(|| ProtoError::json_type("string", v))
}

/// Calls `f` for every field of a small message.
fn each_field<'a>(bytes: &'a [u8], mut f: impl FnMut(u32, WireValue<'a>) -> Result<()>) -> Result<()> {
    let mut reader = Reader::new(bytes);
    while let Some((tag, wv)) = reader.next_field()? {
        f(tag, wv)?;
    }
    Ok(())
}

fn varint(wv: WireValue<'_>, expected: &'static str) -> Result<u64> {
    match wv {
        WireValue::Varint(v) => Ok(v),
        other => Err(ProtoError::WireType {
            found: other.wire_type(),
            expected,
        }),
    }
}

fn len<'a>(wv: WireValue<'a>, expected: &'static str) -> Result<&'a [u8]> {
    match wv {
        WireValue::Len(b) => Ok(b),
        other => Err(ProtoError::WireType {
            found: other.wire_type(),
            expected,
        }),
    }
}
