//! Helpers shared by the integration tests: a tiny hand-driven protobuf writer (independent of
//! the crate's encoder, so tests do not check the crate against itself) and fixture loading.

#![allow(clippy::unwrap_used)]
#![allow(dead_code)]

use std::path::PathBuf;

use serde_json::Value;

/// A message under construction, one field at a time, in the order the test writes them.
#[derive(Clone, Default)]
pub struct Pb(pub Vec<u8>);

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v & 0x7f) as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

impl Pb {
    pub fn new() -> Self {
        Pb(Vec::new())
    }
    fn key(mut self, tag: u32, wire_type: u8) -> Self {
        varint(&mut self.0, u64::from(tag) << 3 | u64::from(wire_type));
        self
    }
    pub fn varint(self, tag: u32, v: u64) -> Self {
        let mut s = self.key(tag, 0);
        varint(&mut s.0, v);
        s
    }
    pub fn int(self, tag: u32, v: i64) -> Self {
        self.varint(tag, v as u64)
    }
    pub fn bytes(self, tag: u32, b: &[u8]) -> Self {
        let mut s = self.key(tag, 2);
        varint(&mut s.0, b.len() as u64);
        s.0.extend_from_slice(b);
        s
    }
    pub fn str(self, tag: u32, v: &str) -> Self {
        self.bytes(tag, v.as_bytes())
    }
    pub fn msg(self, tag: u32, m: Pb) -> Self {
        self.bytes(tag, &m.0)
    }
    /// A map entry {1 key, 2 value-bytes}.
    pub fn entry(self, tag: u32, key: &str, value: &[u8]) -> Self {
        self.msg(tag, Pb::new().str(1, key).bytes(2, value))
    }
    pub fn fixed64(self, tag: u32, v: u64) -> Self {
        let mut s = self.key(tag, 1);
        s.0.extend_from_slice(&v.to_le_bytes());
        s
    }
    pub fn fixed32(self, tag: u32, v: u32) -> Self {
        let mut s = self.key(tag, 5);
        s.0.extend_from_slice(&v.to_le_bytes());
        s
    }
}

/// A whole body: magic + runtime.Unknown{typeMeta, raw, contentEncoding, contentType}.
pub fn body(api_version: &str, kind: &str, raw: Pb) -> Vec<u8> {
    let type_meta = Pb::new().str(1, api_version).str(2, kind);
    let unknown = Pb::new().msg(1, type_meta).msg(2, raw).str(3, "").str(4, "");
    let mut out = b"k8s\0".to_vec();
    out.extend_from_slice(&unknown.0);
    out
}

pub fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("data")
}

pub fn load(path: &std::path::Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Drops `null` members recursively: Go writes a zero `creationTimestamp` as `null`, the
/// decoder leaves it out, and both mean the same.
pub fn without_nulls(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), without_nulls(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}
