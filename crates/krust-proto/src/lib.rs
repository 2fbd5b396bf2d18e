//! Kubernetes protobuf (`application/vnd.kubernetes.protobuf`) ↔ JSON for the built-in kinds.
//!
//! kubectl 1.32 and later send typed-client request bodies (`kubectl create deployment`,
//! `kubectl auth can-i`, ...) as protobuf and do not retry with JSON after a 415, so the API
//! server must read them. krust keeps objects as JSON, so this crate turns such a body into
//! exactly the JSON the same object has in Kubernetes' JSON encoding, and can go back.
//!
//! A body is the magic `k8s\0` followed by a `runtime.Unknown` envelope naming apiVersion and
//! kind; the object itself is a gogo-protobuf message using the field numbers of upstream's
//! `generated.proto`. The field table in `generated.rs` (made by `gen/gen.py` from k8s-pb and
//! the upstream Go types) supplies field numbers, JSON names and Go's `omitempty`/pointer
//! facts; the decoder and encoder are small table-driven loops.
//!
//! Decoding is safe on hostile input: no panics, lengths checked against remaining bytes,
//! nesting bounded, and memory proportional to the input.

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod codec_tests;
mod decode;
mod encode;
mod envelope;
mod error;
mod generated;
mod gotime;
mod schema;
mod special;
mod wire;

use serde_json::Value;

pub use error::{ProtoError, Result};

/// The media type of Kubernetes protobuf bodies (request `Content-Type` / `Accept`).
pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// The 4-byte prefix of every Kubernetes protobuf body.
pub const MAGIC: [u8; 4] = envelope::MAGIC;

/// Decodes a Kubernetes protobuf body into the object's Kubernetes JSON form.
///
/// The result carries `apiVersion` and `kind` from the envelope. Fields the schema does not
/// know are skipped (as protobuf readers must); zero values of `omitempty` fields are left
/// out, as Go's JSON encoder would; a zero `creationTimestamp` is omitted rather than `null`.
///
/// # Errors
/// [`ProtoError::BadMagic`] without the `k8s\0` prefix, [`ProtoError::UnknownKind`] for an
/// apiVersion/kind outside [`supported_kinds`], and other variants for malformed bytes.
pub fn decode(body: &[u8]) -> Result<Value> {
    envelope::decode_at_depth(body, 0, &mut decode::Budget::for_body(body.len()))
}

/// Encodes an object (which must carry `apiVersion` and `kind`) as a Kubernetes protobuf body.
///
/// The bytes match what Kubernetes' own marshalling produces for the same object, so the
/// output is usable for protobuf responses and as test vectors. JSON keys unknown to the
/// schema are ignored.
///
/// # Errors
/// [`ProtoError::MissingTypeMeta`], [`ProtoError::UnknownKind`], or a located error when a
/// field's JSON value has the wrong type or an invalid value (bad time, bad base64, ...).
pub fn encode(object: &Value) -> Result<Vec<u8>> {
    envelope::encode_object(object)
}

/// Whether [`decode`]/[`encode`] handle this apiVersion/kind; lets a server answer 415 early.
pub fn is_supported(api_version: &str, kind: &str) -> bool {
    schema::lookup_kind(api_version, kind).is_some()
}

/// Every (apiVersion, kind) with a schema, including the `...List` kinds.
/// (`DeleteOptions` is also accepted with any listed apiVersion.)
pub fn supported_kinds() -> impl Iterator<Item = (&'static str, &'static str)> {
    schema::kinds()
}
