//! Label selectors (`?labelSelector=app=web,tier in (a,b),!canary`).

use serde_json::{Map, Value};

/// A parsed label selector; the empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector {
    requirements: Vec<Requirement>,
}

/// One requirement of a selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// Label key.
    pub key: String,
    /// Operator.
    pub op: Operator,
    /// Values (empty for exists/does-not-exist).
    pub values: Vec<String>,
}

/// Selector operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// `key=value`, `key==value`
    Equals,
    /// `key!=value` (also matches objects without the key)
    NotEquals,
    /// `key in (a,b)`
    In,
    /// `key notin (a,b)` (also matches objects without the key)
    NotIn,
    /// `key`
    Exists,
    /// `!key`
    DoesNotExist,
    /// `key>N` (numeric)
    GreaterThan,
    /// `key<N` (numeric)
    LessThan,
}

impl Selector {
    /// Parses the query-string form. The error says what is wrong, for a 400.
    pub fn parse(s: &str) -> Result<Self, String> {
        let _ = s;
        Ok(Self::default())
    }

    /// Builds a selector from a `metav1.LabelSelector` object (matchLabels, matchExpressions).
    pub fn from_label_selector(sel: &Value) -> Result<Self, String> {
        let _ = sel;
        Ok(Self::default())
    }

    /// True if this selector selects everything.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// The requirements.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// Whether an object with these labels (`metadata.labels`, possibly absent) matches.
    pub fn matches(&self, labels: Option<&Map<String, Value>>) -> bool {
        let _ = labels;
        true
    }
}
