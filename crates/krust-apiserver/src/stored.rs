//! The stored form of an object and its rendering with a resourceVersion.
//!
//! The resourceVersion of an object is the store's mod revision, known only after the write
//! commits, so it is not kept inside the stored bytes. Objects are stored as JSON with
//! `metadata` as the first key; rendering splices `"resourceVersion":"N"` in right after
//! `{"metadata":{`. Reads, lists and watch events therefore never re-parse or re-serialize
//! an object: they copy bytes.

use bytes::{BufMut, Bytes, BytesMut};
use serde_json::{Map, Value};

const HEAD: &[u8] = b"{\"metadata\":{";

/// Serializes an object (a JSON object) into its stored form: `metadata` first, without
/// `metadata.resourceVersion`.
pub fn encode(obj: &Value) -> Vec<u8> {
    let Some(map) = obj.as_object() else {
        return serde_json::to_vec(obj).unwrap_or_default();
    };
    let mut out = Vec::with_capacity(1024);
    out.extend_from_slice(b"{\"metadata\":");
    match map.get("metadata") {
        Some(Value::Object(meta)) if !meta.is_empty() => {
            let mut meta = meta.clone();
            meta.remove("resourceVersion");
            write_value(&mut out, &Value::Object(meta));
        }
        _ => out.extend_from_slice(b"{}"),
    }
    for (k, v) in map {
        if k == "metadata" {
            continue;
        }
        out.push(b',');
        write_value(&mut out, &Value::String(k.clone()));
        out.push(b':');
        write_value(&mut out, v);
    }
    out.push(b'}');
    out
}

fn write_value(out: &mut Vec<u8>, v: &Value) {
    // Writing a Value into a Vec cannot fail (no I/O, keys are strings).
    let _ = serde_json::to_writer(&mut *out, v);
}

/// Renders stored bytes with `metadata.resourceVersion` set to `rv`.
pub fn render(stored: &[u8], rv: u64) -> Bytes {
    let mut out = BytesMut::with_capacity(stored.len() + 32);
    render_into(&mut out, stored, rv);
    out.freeze()
}

/// Appends the rendering of `stored` with `rv` to `out`.
pub fn render_into(out: &mut BytesMut, stored: &[u8], rv: u64) {
    if let Some(rest) = stored.strip_prefix(HEAD) {
        out.put_slice(HEAD);
        out.put_slice(b"\"resourceVersion\":\"");
        out.put_slice(rv.to_string().as_bytes());
        out.put_u8(b'"');
        if rest.first() != Some(&b'}') {
            out.put_u8(b',');
        }
        out.put_slice(rest);
    } else {
        // Not in our stored form (written by something else): take the slow path.
        match decode(stored, rv) {
            Ok(v) => out.put_slice(&serde_json::to_vec(&v).unwrap_or_default()),
            Err(_) => out.put_slice(stored),
        }
    }
}

/// Parses stored bytes into an object with `metadata.resourceVersion` set.
pub fn decode(stored: &[u8], rv: u64) -> Result<Value, serde_json::Error> {
    let mut v: Value = serde_json::from_slice(stored)?;
    set_resource_version(&mut v, rv);
    Ok(v)
}

/// Sets `metadata.resourceVersion`, creating `metadata` if needed.
pub fn set_resource_version(obj: &mut Value, rv: u64) {
    if let Some(map) = obj.as_object_mut() {
        let meta = map.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
        if let Some(m) = meta.as_object_mut() {
            m.insert("resourceVersion".into(), Value::String(rv.to_string()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trip_with_rv() {
        let obj = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "a", "resourceVersion": "9"}, "spec": {"x": [1, 2]}});
        let stored = encode(&obj);
        assert!(stored.starts_with(HEAD));
        assert!(!String::from_utf8_lossy(&stored).contains("resourceVersion"));
        let rendered: Value = serde_json::from_slice(&render(&stored, 42)).unwrap();
        let mut expected = obj.clone();
        expected["metadata"]["resourceVersion"] = json!("42");
        assert_eq!(rendered, expected);
        assert_eq!(decode(&stored, 42).unwrap(), expected);
    }

    #[test]
    fn empty_metadata() {
        let obj = json!({"kind": "X"});
        let stored = encode(&obj);
        let rendered: Value = serde_json::from_slice(&render(&stored, 7)).unwrap();
        assert_eq!(
            rendered,
            json!({"kind": "X", "metadata": {"resourceVersion": "7"}})
        );
    }

    #[test]
    fn foreign_bytes_fall_back() {
        let rendered: Value =
            serde_json::from_slice(&render(br#"{"kind":"X","metadata":{"name":"n"}}"#, 3)).unwrap();
        assert_eq!(rendered["metadata"]["resourceVersion"], "3");
    }
}
