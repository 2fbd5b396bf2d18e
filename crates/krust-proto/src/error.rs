//! Errors of decoding and encoding.
//!
//! Request bodies come from the network, so every way bytes can be wrong is an error value,
//! never a panic. Errors inside a message name the JSON path of the field (for example
//! `spec.template.spec.containers.image`), which is what an API client can act on.

/// Why a body could not be decoded or an object could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtoError {
    /// The body does not start with the 4 bytes `k8s\0`.
    #[error("not a Kubernetes protobuf body: missing the k8s\\0 magic prefix")]
    BadMagic,
    /// The envelope has no `typeMeta`, or it lacks apiVersion or kind.
    #[error("protobuf envelope has no apiVersion/kind")]
    MissingTypeMeta,
    /// apiVersion/kind is not in the supported set.
    #[error("protobuf decoding of apiVersion {api_version:?} kind {kind:?} is not supported")]
    UnknownKind {
        /// apiVersion from the envelope or object.
        api_version: String,
        /// kind from the envelope or object.
        kind: String,
    },
    /// The envelope's `contentEncoding` is set (no Kubernetes client sets it).
    #[error("unsupported protobuf content encoding {0:?}")]
    ContentEncoding(String),
    /// A length, varint or fixed-size value runs past the end of its buffer.
    #[error("truncated protobuf data")]
    Truncated,
    /// A varint longer than 10 bytes or overflowing 64 bits.
    #[error("malformed protobuf varint")]
    BadVarint,
    /// Field number 0, or a wire type protobuf does not define (or groups, which are unused).
    #[error("invalid protobuf field key (field {field}, wire type {wire_type})")]
    BadKey {
        /// Field number found.
        field: u64,
        /// Wire type found.
        wire_type: u8,
    },
    /// A known field arrived with a wire type that does not fit its schema type.
    #[error("wrong protobuf wire type {found} for a field of type {expected}")]
    WireType {
        /// Wire type found.
        found: u8,
        /// Schema type expected.
        expected: &'static str,
    },
    /// Messages nested deeper than the decoder allows.
    #[error("protobuf messages nested deeper than {0} levels")]
    TooDeep(usize),
    /// The body would expand into far more JSON values than its size justifies (a flood of
    /// empty elements, each given Go's zero-value fields).
    #[error("protobuf body expands to too many JSON values")]
    TooLarge,
    /// A value that decodes but has no valid meaning (bad time, bad IntOrString type, ...).
    #[error("invalid value: {0}")]
    Invalid(String),
    /// Encoding: a JSON value has the wrong type for its field.
    #[error("expected {expected}, found {found}")]
    JsonType {
        /// What the schema wants.
        expected: &'static str,
        /// The JSON type found.
        found: &'static str,
    },
    /// Any of the above, located at a JSON path inside the object.
    #[error("{path}: {source}")]
    At {
        /// Dotted JSON path of the field.
        path: String,
        /// What went wrong there.
        #[source]
        source: Box<ProtoError>,
    },
}

impl ProtoError {
    /// A JSON value of the wrong type for its field.
    pub(crate) fn json_type(expected: &'static str, found: &serde_json::Value) -> ProtoError {
        let found = match found {
            serde_json::Value::Null => "null",
            serde_json::Value::Bool(_) => "boolean",
            serde_json::Value::Number(_) => "number",
            serde_json::Value::String(_) => "string",
            serde_json::Value::Array(_) => "array",
            serde_json::Value::Object(_) => "object",
        };
        ProtoError::JsonType { expected, found }
    }

    /// Prefixes the error's location with one more path segment (used while unwinding).
    pub(crate) fn at(self, segment: &str) -> ProtoError {
        // A size limit concerns the whole body, not the field where it happened to run out.
        if segment.is_empty() || self == ProtoError::TooLarge {
            return self;
        }
        match self {
            ProtoError::At { path, source } => {
                let sep = if path.starts_with('[') { "" } else { "." };
                ProtoError::At {
                    path: format!("{segment}{sep}{path}"),
                    source,
                }
            }
            other => ProtoError::At {
                path: segment.to_owned(),
                source: Box::new(other),
            },
        }
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = ProtoError> = std::result::Result<T, E>;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn paths_nest_outermost_first() {
        let e = ProtoError::Truncated.at("image").at("containers").at("spec");
        assert_eq!(e.to_string(), "spec.containers.image: truncated protobuf data");
        assert_eq!(ProtoError::Truncated.at(""), ProtoError::Truncated);
        let e = ProtoError::Truncated.at("name").at("[2]").at("containers");
        assert_eq!(e.to_string(), "containers[2].name: truncated protobuf data");
    }
}
