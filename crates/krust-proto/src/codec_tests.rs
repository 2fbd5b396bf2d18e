//! Tests of the decoder and encoder on a synthetic message, for the value types no supported
//! kind happens to use (`Duration`, `double`, a plain `bytes` field) and for encoder errors.

use serde_json::{Value, json};

use crate::decode::{Budget, decode_message};
use crate::encode::encode_message;
use crate::error::ProtoError;
use crate::schema::{Card, Message, OMITEMPTY, POINTER, Ty, f};
use crate::wire::{self, I64};

static SYNTHETIC: Message = Message {
    fields: &[
        f(1, "blob", Ty::Bytes, Card::One, OMITEMPTY),
        f(2, "timeout", Ty::Duration, Card::One, 0),
        f(3, "ratio", Ty::Double, Card::One, OMITEMPTY),
        f(4, "ratios", Ty::Double, Card::Repeated, 0),
        f(5, "raw", Ty::Bytes, Card::One, 0),
        f(6, "grace", Ty::Duration, Card::One, OMITEMPTY | POINTER),
        f(7, "count", Ty::Int32, Card::One, 0),
    ],
};

fn dec(buf: &[u8]) -> Result<Value, ProtoError> {
    decode_message(&SYNTHETIC, buf, 0, &mut Budget::for_body(buf.len())).map(Value::Object)
}

fn enc(v: Value) -> Result<Vec<u8>, ProtoError> {
    let Value::Object(map) = v else {
        panic!("not an object")
    };
    let mut out = Vec::new();
    encode_message(&SYNTHETIC, &map, 0, &mut out).map(|()| out)
}

fn double(out: &mut Vec<u8>, tag: u32, d: f64) {
    wire::put_key(out, tag, I64);
    out.extend_from_slice(&d.to_bits().to_le_bytes());
}

#[test]
fn durations_bytes_and_doubles() {
    let mut buf = Vec::new();
    wire::put_len(&mut buf, 1, b"\x00\x01\xfe");
    let mut dur = Vec::new();
    wire::put_varint_field(&mut dur, 1, 5_400_000_000_000);
    wire::put_len(&mut buf, 2, &dur);
    double(&mut buf, 3, 0.25);
    let mut packed = Vec::new();
    packed.extend_from_slice(&1.5f64.to_bits().to_le_bytes());
    packed.extend_from_slice(&(-2.0f64).to_bits().to_le_bytes());
    wire::put_len(&mut buf, 4, &packed);
    double(&mut buf, 4, 3.0);
    wire::put_len(&mut buf, 5, b"");
    wire::put_len(&mut buf, 6, b"");
    wire::put_varint_field(&mut buf, 7, (-3i64) as u64);
    let v = dec(&buf).unwrap();
    assert_eq!(
        v,
        json!({"blob": "AAH+", "timeout": "1h30m0s", "ratio": 0.25, "ratios": [1.5, -2.0, 3.0],
               "raw": "", "grace": "0s", "count": -3})
    );
    // Encoding writes repeated doubles unpacked, as gogo does; decoding gives the same JSON.
    assert_eq!(dec(&enc(v.clone()).unwrap()).unwrap(), v);
}

#[test]
fn zero_values_of_unusual_types() {
    // Absent: Duration is a struct (always shown), bytes is a nil slice (never shown).
    assert_eq!(dec(&[]).unwrap(), json!({"timeout": "0s", "count": 0}));
    let mut buf = Vec::new();
    wire::put_len(&mut buf, 1, b"");
    double(&mut buf, 3, 0.0);
    assert_eq!(dec(&buf).unwrap(), json!({"timeout": "0s", "count": 0}));
}

#[test]
fn non_finite_doubles_are_errors() {
    let mut buf = Vec::new();
    double(&mut buf, 3, f64::NAN);
    assert_eq!(
        dec(&buf).unwrap_err().to_string(),
        "ratio: invalid value: double is NaN or infinite"
    );
}

#[test]
fn encoder_rejects_wrong_json_types() {
    let cases = [
        (json!({"blob": 1}), "blob: expected base64 string, found number"),
        (
            json!({"blob": "***"}),
            "blob: invalid value: base64: Invalid symbol 42, offset 0.",
        ),
        (
            json!({"timeout": "soon"}),
            "timeout: invalid value: invalid duration \"soon\"",
        ),
        (json!({"ratios": {}}), "ratios: expected array, found object"),
        (
            json!({"ratios": [1, "x"]}),
            "ratios[1]: expected number, found string",
        ),
        (
            json!({"count": 3_000_000_000u64}),
            "count: expected 32-bit integer, found number",
        ),
        (
            json!({"count": 1.5}),
            "count: expected 32-bit integer, found number",
        ),
    ];
    for (input, want) in cases {
        assert_eq!(enc(input).unwrap_err().to_string(), want);
    }
}

#[test]
fn budget_is_generous_for_real_bodies() {
    // gogo output needs well under one JSON value per two bytes, so a budget of len/2 with
    // no constant must still be enough for real objects.
    let object: Value = serde_json::from_str(include_str!("../tests/data/objects/pod.json")).unwrap();
    let body = crate::encode(&object).unwrap();
    let mut tight = Budget::with_limit(body.len() / 2);
    assert!(crate::envelope::decode_at_depth(&body, 0, &mut tight).is_ok());
    let mut too_tight = Budget::with_limit(body.len() / 8);
    assert_eq!(
        crate::envelope::decode_at_depth(&body, 0, &mut too_tight),
        Err(ProtoError::TooLarge)
    );
}
