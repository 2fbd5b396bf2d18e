//! The little of the protobuf wire format the gnostic encoder needs: varints, fixed 64-bit
//! doubles and length-delimited fields, written with proto3 rules (scalar fields at their
//! zero value are left out; messages are written whenever present). We only ever encode,
//! so a writer is all there is; nested messages are built in their own buffer first,
//! because the length prefix comes before the content.

use serde_json::Value;

/// Wire type of varint fields (bool, int64, enum).
const VARINT: u32 = 0;
/// Wire type of 64-bit fixed fields (double).
const FIXED64: u32 = 1;
/// Wire type of length-delimited fields (string, bytes, message).
const LEN: u32 = 2;

/// One message being encoded.
#[derive(Debug, Default)]
pub struct Msg {
    buf: Vec<u8>,
}

impl Msg {
    /// An empty message.
    pub fn new() -> Self {
        Self::default()
    }

    /// The encoded bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    fn raw_varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    fn key(&mut self, field: u32, wire: u32) {
        self.raw_varint(u64::from((field << 3) | wire));
    }

    fn len_delimited(&mut self, field: u32, bytes: &[u8]) {
        self.key(field, LEN);
        self.raw_varint(bytes.len() as u64);
        self.buf.extend_from_slice(bytes);
    }

    /// A `string` field; empty strings are the default and not written.
    pub fn string(&mut self, field: u32, s: &str) {
        if !s.is_empty() {
            self.len_delimited(field, s.as_bytes());
        }
    }

    /// A `repeated string` field (every element is written, empty ones too).
    pub fn strings<'a>(&mut self, field: u32, items: impl IntoIterator<Item = &'a str>) {
        for s in items {
            self.len_delimited(field, s.as_bytes());
        }
    }

    /// A `bool` field; `false` is not written.
    pub fn bool(&mut self, field: u32, b: bool) {
        if b {
            self.key(field, VARINT);
            self.raw_varint(1);
        }
    }

    /// A `bool` member of a `oneof`: written even when false, since the member being set
    /// is itself information.
    pub fn oneof_bool(&mut self, field: u32, b: bool) {
        self.key(field, VARINT);
        self.raw_varint(u64::from(b));
    }

    /// An `int64` field; zero is not written. Negative values take ten bytes, as in Go.
    pub fn int64(&mut self, field: u32, v: i64) {
        if v != 0 {
            self.key(field, VARINT);
            self.raw_varint(v as u64);
        }
    }

    /// A `double` field; zero is not written.
    pub fn double(&mut self, field: u32, v: f64) {
        if v != 0.0 {
            self.key(field, FIXED64);
            self.buf.extend_from_slice(&v.to_le_bytes());
        }
    }

    /// A message field (written even when empty: presence matters for messages).
    pub fn message(&mut self, field: u32, m: Msg) {
        self.len_delimited(field, &m.buf);
    }
}

/// The YAML text gnostic keeps for free-form values (`Any.yaml`): vendor extensions,
/// defaults, enums and examples. Clients read it back with a YAML parser, so the value is
/// written in flow style, which for JSON data is JSON with `": "` and `", "` separators
/// (unambiguous in YAML 1.1 and 1.2 alike) and every string double-quoted (so `"on"` or
/// `"1.0"` stay strings).
pub fn yaml(v: &Value) -> String {
    let mut out = String::new();
    flow(v, &mut out);
    out.push('\n');
    out
}

fn flow(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            out.push('{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                quote(k, out);
                out.push_str(": ");
                flow(x, out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                flow(x, out);
            }
            out.push(']');
        }
        Value::String(s) => quote(s, out),
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
    }
}

/// A YAML double-quoted scalar. Characters YAML does not allow raw in a stream (C0 and C1
/// controls other than tab and NEL, DEL, U+FFFE/U+FFFF) are escaped.
fn quote(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20
                || (0x7f..=0x9f).contains(&(c as u32))
                || c == '\u{fffe}'
                || c == '\u{ffff}' =>
            {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn varints_and_fields() {
        let mut m = Msg::new();
        m.string(1, "2.0");
        m.string(2, "");
        m.bool(3, false);
        m.bool(4, true);
        m.int64(5, 300);
        m.oneof_bool(6, false);
        assert_eq!(
            m.into_bytes(),
            vec![0x0a, 3, b'2', b'.', b'0', 0x20, 1, 0x28, 0xac, 0x02, 0x30, 0]
        );
        let mut d = Msg::new();
        d.double(7, 1.5);
        assert_eq!(d.into_bytes(), [&[0x39u8][..], &1.5f64.to_le_bytes()].concat());
        let mut outer = Msg::new();
        outer.message(2, Msg::new());
        assert_eq!(outer.into_bytes(), vec![0x12, 0]);
    }

    #[test]
    fn yaml_flow() {
        let v = json!([{"group": "", "kind": "Pod", "version": "v1"}]);
        assert_eq!(
            yaml(&v),
            "[{\"group\": \"\", \"kind\": \"Pod\", \"version\": \"v1\"}]\n"
        );
        assert_eq!(yaml(&json!("a\"b\u{7f}")), "\"a\\\"b\\u007f\"\n");
        assert_eq!(yaml(&json!(true)), "true\n");
        assert_eq!(yaml(&json!({})), "{}\n");
    }
}
