//! Field-level validation errors, formatted the way upstream's `field.Error` prints them, so
//! that `kubectl` shows users the same sentence it would show against Kubernetes.

use std::fmt;

use serde_json::Value;

/// What is wrong with one field; each maps to an upstream `CauseType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldErrorKind {
    /// A required field is absent or empty.
    Required,
    /// The value is malformed or out of range.
    Invalid,
    /// The value is not one of an enumerated set.
    NotSupported,
    /// The value repeats one that must be unique.
    Duplicate,
    /// The field may not be set (or changed) here.
    Forbidden,
    /// The value is longer than allowed.
    TooLong,
    /// The list has more items than allowed.
    TooMany,
    /// A referenced value does not exist.
    NotFound,
    /// The value has the wrong JSON type.
    TypeInvalid,
}

impl FieldErrorKind {
    /// The upstream `reason` of a `StatusCause`.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Required => "FieldValueRequired",
            Self::Invalid => "FieldValueInvalid",
            Self::NotSupported => "FieldValueNotSupported",
            Self::Duplicate => "FieldValueDuplicate",
            Self::Forbidden => "FieldValueForbidden",
            Self::TooLong => "FieldValueTooLong",
            Self::TooMany => "FieldValueTooMany",
            Self::NotFound => "FieldValueNotFound",
            Self::TypeInvalid => "FieldValueTypeInvalid",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Required => "Required value",
            Self::Invalid | Self::TypeInvalid => "Invalid value",
            Self::NotSupported => "Unsupported value",
            Self::Duplicate => "Duplicate value",
            Self::Forbidden => "Forbidden",
            Self::TooLong => "Too long",
            Self::TooMany => "Too many",
            Self::NotFound => "Not found",
        }
    }

    /// Whether upstream prints the offending value in the message.
    fn shows_value(self) -> bool {
        matches!(
            self,
            Self::Invalid
                | Self::TypeInvalid
                | Self::NotSupported
                | Self::Duplicate
                | Self::NotFound
                | Self::TooMany
        )
    }
}

/// One problem with one field of an object.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    /// Which kind of problem.
    pub kind: FieldErrorKind,
    /// Path of the field, e.g. `spec.template.spec.containers[0].name`.
    pub field: String,
    /// The offending value, when the message should show it.
    pub value: Option<Value>,
    /// What is expected instead; may be empty.
    pub detail: String,
}

impl FieldError {
    fn new(
        kind: FieldErrorKind,
        field: impl Into<String>,
        value: Option<Value>,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            field: field.into(),
            value,
            detail: detail.into(),
        }
    }
    /// A required field is missing.
    pub fn required(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(FieldErrorKind::Required, field, None, detail)
    }
    /// The value is not acceptable.
    pub fn invalid(field: impl Into<String>, value: impl Into<Value>, detail: impl Into<String>) -> Self {
        Self::new(FieldErrorKind::Invalid, field, Some(value.into()), detail)
    }
    /// The value is not among `supported`.
    pub fn not_supported(field: impl Into<String>, value: impl Into<Value>, supported: &[&str]) -> Self {
        let detail = if supported.is_empty() {
            String::new()
        } else {
            let quoted: Vec<String> = supported.iter().map(|s| format!("{s:?}")).collect();
            format!("supported values: {}", quoted.join(", "))
        };
        Self::new(FieldErrorKind::NotSupported, field, Some(value.into()), detail)
    }
    /// The value repeats an earlier one.
    pub fn duplicate(field: impl Into<String>, value: impl Into<Value>) -> Self {
        Self::new(FieldErrorKind::Duplicate, field, Some(value.into()), "")
    }
    /// The field may not be set or changed.
    pub fn forbidden(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(FieldErrorKind::Forbidden, field, None, detail)
    }
    /// The value is too long.
    pub fn too_long(field: impl Into<String>, max: usize) -> Self {
        Self::new(
            FieldErrorKind::TooLong,
            field,
            None,
            format!("may not be more than {max} bytes"),
        )
    }
    /// The list is too long.
    pub fn too_many(field: impl Into<String>, actual: usize, max: usize) -> Self {
        Self::new(
            FieldErrorKind::TooMany,
            field,
            Some(Value::from(actual)),
            format!("must have at most {max} items"),
        )
    }
    /// A referenced value does not exist.
    pub fn not_found(field: impl Into<String>, value: impl Into<Value>) -> Self {
        Self::new(FieldErrorKind::NotFound, field, Some(value.into()), "")
    }

    /// The message without the field path (the `message` of a `StatusCause`).
    pub fn body(&self) -> String {
        let mut s = self.kind.label().to_string();
        if let (true, Some(v)) = (self.kind.shows_value(), &self.value) {
            s.push_str(": ");
            s.push_str(&render_value(v));
        }
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }
}

/// Prints a value as Go's `%#v`-ish rendering upstream uses: strings quoted, numbers bare.
fn render_value(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.body())
    }
}

/// Joins several errors the way upstream's aggregate does: one bare, several in brackets.
pub fn join(errors: &[FieldError]) -> String {
    match errors {
        [one] => one.to_string(),
        many => {
            let parts: Vec<String> = many.iter().map(ToString::to_string).collect();
            format!("[{}]", parts.join(", "))
        }
    }
}

/// Builds field paths such as `spec.containers[0].name` while walking an object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldPath(String);

impl FieldPath {
    /// A root path (e.g. `metadata`).
    pub fn new(root: &str) -> Self {
        Self(root.to_string())
    }
    /// The path of a child field.
    pub fn child(&self, name: &str) -> Self {
        if self.0.is_empty() {
            Self(name.to_string())
        } else {
            Self(format!("{}.{name}", self.0))
        }
    }
    /// The path of a list element.
    pub fn index(&self, i: usize) -> Self {
        Self(format!("{}[{i}]", self.0))
    }
    /// The path of a map entry.
    pub fn key(&self, k: &str) -> Self {
        Self(format!("{}[{k}]", self.0))
    }
    /// The path as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<FieldPath> for String {
    fn from(p: FieldPath) -> String {
        p.0
    }
}

impl From<&FieldPath> for String {
    fn from(p: &FieldPath) -> String {
        p.0.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_upstream() {
        let e = FieldError::invalid("spec.replicas", -1, "must be greater than or equal to 0");
        assert_eq!(
            e.to_string(),
            "spec.replicas: Invalid value: -1: must be greater than or equal to 0"
        );
        let r = FieldError::required("spec.selector", "");
        assert_eq!(r.to_string(), "spec.selector: Required value");
        let n = FieldError::not_supported("spec.restartPolicy", "Sometimes", &["Always", "Never"]);
        assert_eq!(
            n.body(),
            "Unsupported value: \"Sometimes\": supported values: \"Always\", \"Never\""
        );
        assert_eq!(join(std::slice::from_ref(&r)), r.to_string());
        assert_eq!(join(&[r.clone(), e.clone()]), format!("[{r}, {e}]"));
    }

    #[test]
    fn paths() {
        let p = FieldPath::new("spec").child("containers").index(2).child("name");
        assert_eq!(p.as_str(), "spec.containers[2].name");
        assert_eq!(
            FieldPath::new("metadata").child("labels").key("a/b").as_str(),
            "metadata.labels[a/b]"
        );
    }
}
