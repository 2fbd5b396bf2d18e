//! Field selectors (`?fieldSelector=spec.nodeName=n1,status.phase!=Running`).

use serde_json::Value;

/// A parsed field selector; the empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector {
    requirements: Vec<FieldRequirement>,
}

/// One `field=value` or `field!=value` term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRequirement {
    /// Field path, e.g. `spec.nodeName`.
    pub field: String,
    /// True for `!=`.
    pub negated: bool,
    /// The value compared against.
    pub value: String,
}

impl FieldSelector {
    /// Parses the query-string form. The error says what is wrong, for a 400.
    pub fn parse(s: &str) -> Result<Self, String> {
        let _ = s;
        Ok(Self::default())
    }

    /// True if this selector selects everything.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// The terms.
    pub fn requirements(&self) -> &[FieldRequirement] {
        &self.requirements
    }

    /// Whether an object whose selectable fields are `fields` matches.
    pub fn matches(&self, fields: &[(String, String)]) -> bool {
        let _ = fields;
        true
    }

    /// If the selector pins `metadata.name` to one value, that value (lets a server skip
    /// scanning a whole list).
    pub fn exact_name(&self) -> Option<&str> {
        None
    }
}

/// Whether `field` can be used in a field selector on `group`/`kind`.
pub fn supported(group: &str, kind: &str, field: &str) -> bool {
    let _ = (group, kind);
    matches!(field, "metadata.name" | "metadata.namespace")
}

/// The selectable fields of an object and their values (always `metadata.name` and
/// `metadata.namespace`, plus the kind's own, e.g. `spec.nodeName` for pods).
pub fn field_set(group: &str, kind: &str, obj: &Value) -> Vec<(String, String)> {
    let _ = (group, kind, obj);
    Vec::new()
}
