//! Shape of the generated field table and lookups into it.
//!
//! Protobuf bytes carry only field numbers, and Go's JSON rules depend on facts the wire does
//! not show (the JSON name, `omitempty`, pointer or value, `,inline`). `generated.rs` records
//! those facts for every message reachable from the supported kinds; this module gives them
//! types and answers "which message is this apiVersion/kind" and "which field is tag N".

use crate::generated::{KINDS, MESSAGES};

/// Go JSON tag has `omitempty`: a zero scalar is left out of the JSON.
pub(crate) const OMITEMPTY: u8 = 1;
/// The Go field is a pointer: gogo writes it only when set, so a present zero value is real.
pub(crate) const POINTER: u8 = 2;
/// The Go field is embedded with `json:",inline"`: its fields live in the parent JSON object.
pub(crate) const INLINE: u8 = 4;

/// What one field (or one element, or one map value) holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ty {
    /// UTF-8 text (`string`); JSON string.
    String,
    /// Opaque bytes; JSON base64 string.
    Bytes,
    /// `bool`; JSON boolean.
    Bool,
    /// `int32` varint; JSON number.
    Int32,
    /// `int64` varint; JSON number.
    Int64,
    /// `double` (fixed 64-bit); JSON number.
    Double,
    /// A nested message, by index into the message table; JSON object.
    Msg(u16),
    /// `metav1.Time` {1 seconds, 2 nanos}; RFC 3339 string with whole seconds.
    Time,
    /// `metav1.MicroTime`; RFC 3339 string with six fractional digits.
    MicroTime,
    /// `metav1.Duration` {1 nanoseconds}; Go duration string such as `1h0m0s`.
    /// No supported kind has one today; kept so that adding such a kind needs no code.
    #[cfg_attr(not(test), allow(dead_code))]
    Duration,
    /// `intstr.IntOrString` {1 type, 2 intVal, 3 strVal}; JSON number or string.
    IntOrString,
    /// `resource.Quantity` {1 string}; JSON string.
    Quantity,
    /// `runtime.RawExtension` {1 raw}; the embedded JSON document.
    RawExtension,
    /// `metav1.FieldsV1` {1 raw}; the embedded JSON document.
    FieldsV1,
    /// A Go `[]string` named type such as `ExtraValue` {1 repeated items}; JSON array.
    StringList,
}

/// How many values a field holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Card {
    /// At most one value (proto2 `optional`).
    One,
    /// A list (`repeated`); scalars may come packed or not.
    Repeated,
    /// `map<string, Ty>`, sent as repeated entries {1 key, 2 value}.
    Map,
}

/// One field of a message.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Field {
    /// Protobuf field number.
    pub(crate) tag: u32,
    /// JSON name (empty for inline fields).
    pub(crate) json: &'static str,
    /// Value type (element type for lists, value type for maps).
    pub(crate) ty: Ty,
    /// Cardinality.
    pub(crate) card: Card,
    /// `OMITEMPTY` | `POINTER` | `INLINE`.
    pub(crate) flags: u8,
}

/// Short constructor so that the generated table stays one line per field.
pub(crate) const fn f(tag: u32, json: &'static str, ty: Ty, card: Card, flags: u8) -> Field {
    Field {
        tag,
        json,
        ty,
        card,
        flags,
    }
}

impl Field {
    pub(crate) fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

/// One message: its fields, sorted by tag. (The generated table names each in a comment.)
#[derive(Debug)]
pub(crate) struct Message {
    pub(crate) fields: &'static [Field],
}

impl Message {
    /// The field with this number, if the schema knows it (unknown fields are skipped).
    pub(crate) fn field(&self, tag: u32) -> Option<(usize, &'static Field)> {
        let fields = self.fields;
        let i = fields.binary_search_by_key(&tag, |f| f.tag).ok()?;
        fields.get(i).map(|f| (i, f))
    }
}

/// A top-level kind accepted in the `runtime.Unknown` envelope.
#[derive(Debug)]
pub(crate) struct Kind {
    pub(crate) api_version: &'static str,
    pub(crate) kind: &'static str,
    pub(crate) msg: u16,
}

/// The message at `idx`; `None` only if the table were inconsistent.
pub(crate) fn message(idx: u16) -> Option<&'static Message> {
    MESSAGES.get(usize::from(idx))
}

/// The message for a top-level apiVersion/kind.
///
/// `DeleteOptions` is registered in every API group upstream, so it is accepted with any
/// apiVersion that names a supported group version.
pub(crate) fn lookup_kind(api_version: &str, kind: &str) -> Option<&'static Message> {
    let found = KINDS
        .iter()
        .find(|k| k.api_version == api_version && k.kind == kind);
    let found = found.or_else(|| {
        (kind == "DeleteOptions" && KINDS.iter().any(|k| k.api_version == api_version))
            .then(|| KINDS.iter().find(|k| k.kind == "DeleteOptions"))
            .flatten()
    });
    found.and_then(|k| message(k.msg))
}

/// Every (apiVersion, kind) pair listed in the table.
pub(crate) fn kinds() -> impl Iterator<Item = (&'static str, &'static str)> {
    KINDS.iter().map(|k| (k.api_version, k.kind))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_sorted_and_references_resolve() {
        for (n, m) in MESSAGES.iter().enumerate() {
            assert!(
                m.fields.windows(2).all(|w| w[0].tag < w[1].tag),
                "message {n} not sorted"
            );
            for f in m.fields {
                if let Ty::Msg(i) = f.ty {
                    assert!(message(i).is_some(), "message {n} field {} dangling", f.tag);
                }
                assert_eq!(f.json.is_empty(), f.has(INLINE), "message {n} field {}", f.tag);
            }
        }
        for k in KINDS {
            assert!(message(k.msg).is_some());
        }
    }

    #[test]
    fn delete_options_in_any_known_group() {
        let meta = lookup_kind("meta.k8s.io/v1", "DeleteOptions").map(|m| m as *const Message);
        assert!(meta.is_some());
        for av in ["v1", "apps/v1", "batch/v1"] {
            let m = lookup_kind(av, "DeleteOptions").map(|m| m as *const Message);
            assert_eq!(m, meta, "{av}");
        }
        assert!(lookup_kind("nope/v1", "DeleteOptions").is_none());
        assert!(lookup_kind("apps/v1", "Nope").is_none());
    }
}
