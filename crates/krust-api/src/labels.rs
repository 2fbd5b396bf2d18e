//! Label selectors (`?labelSelector=app=web,tier in (a,b),!canary`), parsed, matched and
//! printed as upstream's `labels` package does, plus the `metav1.LabelSelector` object form
//! (`matchLabels`/`matchExpressions`) that workloads carry in `spec.selector`.
//!
//! Two selectors are special: the empty one selects everything, and [`Selector::nothing`]
//! selects no object at all. The latter is what a *null* `metav1.LabelSelector` means
//! upstream (`LabelSelectorAsSelector(nil)`), so [`Selector::from_label_selector`] returns it
//! for `Value::Null`, while `{}` selects everything.

mod parser;
mod validate;

use std::fmt;

use serde_json::{Map, Value};

pub use validate::{
    DNS1123_SUBDOMAIN_MAX_LENGTH, LABEL_VALUE_MAX_LENGTH, QUALIFIED_NAME_MAX_LENGTH,
    dns1123_subdomain_errors, label_value_errors, qualified_name_errors,
};

/// A parsed label selector; the empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector {
    requirements: Vec<Requirement>,
    /// True for the selector that matches no object (a null `metav1.LabelSelector`).
    nothing: bool,
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

/// Go's `%#v` of a `[]string`, as upstream's field errors show a bad value list.
fn go_string_slice(values: &[String]) -> String {
    let inner: Vec<String> = values.iter().map(|v| format!("{v:?}")).collect();
    format!("[]string{{{}}}", inner.join(", "))
}

/// Joins several error messages the way upstream's error aggregates print.
fn aggregate(errs: Vec<String>) -> String {
    let mut unique: Vec<String> = Vec::new();
    for e in errs {
        if !unique.contains(&e) {
            unique.push(e);
        }
    }
    match unique.len() {
        1 => unique.remove(0),
        _ => format!("[{}]", unique.join(", ")),
    }
}

impl Requirement {
    /// Builds and validates a requirement: the key must be a qualified name, the values
    /// valid label values, and their count must suit the operator (one for `=`, `!=`, `>`,
    /// `<`; at least one for `in`/`notin`; none for exists). `>`/`<` need an integer.
    pub fn new(key: &str, op: Operator, values: Vec<String>) -> Result<Self, String> {
        let mut errs = Vec::new();
        let key_errs = qualified_name_errors(key);
        if !key_errs.is_empty() {
            errs.push(format!("key: Invalid value: {key:?}: {}", key_errs.join("; ")));
        }
        let bad_values =
            |detail: &str| format!("values: Invalid value: {}: {detail}", go_string_slice(&values));
        match op {
            Operator::In | Operator::NotIn if values.is_empty() => {
                errs.push(bad_values(
                    "for 'in', 'notin' operators, values set can't be empty",
                ));
            }
            Operator::Equals | Operator::NotEquals if values.len() != 1 => {
                errs.push(bad_values("exact-match compatibility requires one single value"));
            }
            Operator::Exists | Operator::DoesNotExist if !values.is_empty() => {
                errs.push(bad_values(
                    "values set must be empty for exists and does not exist",
                ));
            }
            Operator::GreaterThan | Operator::LessThan => {
                if values.len() != 1 {
                    errs.push(bad_values(
                        "for 'Gt', 'Lt' operators, exactly one value is required",
                    ));
                }
                for (i, v) in values.iter().enumerate() {
                    if v.parse::<i64>().is_err() {
                        errs.push(format!(
                            "values[{i}]: Invalid value: {v:?}: for 'Gt', 'Lt' operators, the value must be an integer"
                        ));
                    }
                }
            }
            _ => {}
        }
        for (i, v) in values.iter().enumerate() {
            let value_errs = label_value_errors(v);
            if !value_errs.is_empty() {
                errs.push(format!(
                    "values[{i}][{key}]: Invalid value: {v:?}: {}",
                    value_errs.join("; ")
                ));
            }
        }
        if errs.is_empty() {
            Ok(Self {
                key: key.to_string(),
                op,
                values,
            })
        } else {
            Err(aggregate(errs))
        }
    }

    /// Whether labels (absent = no labels) satisfy this requirement. `!=` and `notin` hold
    /// when the key is absent; `>`/`<` need the label to be an integer.
    pub fn matches(&self, labels: Option<&Map<String, Value>>) -> bool {
        let value = labels
            .and_then(|l| l.get(&self.key))
            .map(|v| v.as_str().unwrap_or(""));
        let has = |v: &str| self.values.iter().any(|x| x == v);
        match (self.op, value) {
            (Operator::Equals | Operator::In, Some(v)) => has(v),
            (Operator::Equals | Operator::In, None) => false,
            (Operator::NotEquals | Operator::NotIn, Some(v)) => !has(v),
            (Operator::NotEquals | Operator::NotIn, None) => true,
            (Operator::Exists, v) => v.is_some(),
            (Operator::DoesNotExist, v) => v.is_none(),
            (Operator::GreaterThan | Operator::LessThan, None) => false,
            (op @ (Operator::GreaterThan | Operator::LessThan), Some(v)) => {
                let (Ok(actual), [wanted]) = (v.parse::<i64>(), self.values.as_slice()) else {
                    return false;
                };
                let Ok(wanted) = wanted.parse::<i64>() else {
                    return false;
                };
                if op == Operator::GreaterThan {
                    actual > wanted
                } else {
                    actual < wanted
                }
            }
        }
    }
}

impl fmt::Display for Requirement {
    /// Upstream's canonical form: `!k`, `k`, `k=v`, `k!=v`, `k>1`, `k in (a,b)` with the
    /// values sorted. `k==v` prints as `k=v` (one operator stands for both spellings).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (prefix, infix) = match self.op {
            Operator::DoesNotExist => return write!(f, "!{}", self.key),
            Operator::Exists => return write!(f, "{}", self.key),
            Operator::Equals => ("", "="),
            Operator::NotEquals => ("", "!="),
            Operator::GreaterThan => ("", ">"),
            Operator::LessThan => ("", "<"),
            Operator::In => ("(", " in "),
            Operator::NotIn => ("(", " notin "),
        };
        let mut values = self.values.clone();
        values.sort();
        let suffix = if prefix.is_empty() { "" } else { ")" };
        write!(f, "{}{infix}{prefix}{}{suffix}", self.key, values.join(","))
    }
}

fn string_field<'a>(obj: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, String> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("invalid label selector: {name} must be a string")),
    }
}

impl Selector {
    /// Parses the query-string form. The error says what is wrong, for a 400.
    pub fn parse(s: &str) -> Result<Self, String> {
        Ok(Self {
            requirements: parser::parse(s)?,
            nothing: false,
        })
    }

    /// The selector that matches no object at all.
    pub fn nothing() -> Self {
        Self {
            requirements: Vec::new(),
            nothing: true,
        }
    }

    /// A selector requiring exactly these labels (a Service's or ReplicationController's
    /// `spec.selector` map); empty selects everything. Keys and values are not validated,
    /// as upstream trusts an already validated set; non-string values count as `""`.
    pub fn from_set(labels: &Map<String, Value>) -> Self {
        let mut requirements: Vec<Requirement> = labels
            .iter()
            .map(|(k, v)| Requirement {
                key: k.clone(),
                op: Operator::Equals,
                values: vec![v.as_str().unwrap_or("").to_string()],
            })
            .collect();
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Self {
            requirements,
            nothing: false,
        }
    }

    /// Builds a selector from a `metav1.LabelSelector` object (matchLabels, matchExpressions).
    ///
    /// `{}` (or no terms) selects everything; `null` selects nothing, like upstream's
    /// `LabelSelectorAsSelector(nil)`. An unknown operator or an invalid key/value is an error.
    pub fn from_label_selector(sel: &Value) -> Result<Self, String> {
        let obj = match sel {
            Value::Null => return Ok(Self::nothing()),
            Value::Object(obj) => obj,
            _ => return Err("invalid label selector: must be an object".to_string()),
        };
        let empty = Map::new();
        let match_labels = match obj.get("matchLabels") {
            None | Some(Value::Null) => &empty,
            Some(Value::Object(m)) => m,
            Some(_) => return Err("invalid label selector: matchLabels must be an object".to_string()),
        };
        let no_exprs = Vec::new();
        let exprs = match obj.get("matchExpressions") {
            None | Some(Value::Null) => &no_exprs,
            Some(Value::Array(a)) => a,
            Some(_) => return Err("invalid label selector: matchExpressions must be a list".to_string()),
        };
        let mut requirements = Vec::with_capacity(match_labels.len() + exprs.len());
        for (k, v) in match_labels {
            let Some(v) = v.as_str() else {
                return Err(format!(
                    "invalid label selector: matchLabels[{k}] must be a string"
                ));
            };
            requirements.push(Requirement::new(k, Operator::Equals, vec![v.to_string()])?);
        }
        for expr in exprs {
            let Some(expr) = expr.as_object() else {
                return Err("invalid label selector: matchExpressions items must be objects".to_string());
            };
            let key = string_field(expr, "key")?.unwrap_or("");
            let op_name = string_field(expr, "operator")?.unwrap_or("");
            let op = match op_name {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                other => return Err(format!("{other:?} is not a valid label selector operator")),
            };
            let values = match expr.get("values") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(a)) => a
                    .iter()
                    .map(|v| v.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| "invalid label selector: values must be strings".to_string())?,
                Some(_) => return Err("invalid label selector: values must be a list".to_string()),
            };
            requirements.push(Requirement::new(key, op, values)?);
        }
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(Self {
            requirements,
            nothing: false,
        })
    }

    /// True if this selector selects everything.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty() && !self.nothing
    }

    /// True if this selector selects no object (see [`Selector::nothing`]).
    pub fn matches_nothing(&self) -> bool {
        self.nothing
    }

    /// The requirements.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// Whether an object with these labels (`metadata.labels`, possibly absent) matches.
    pub fn matches(&self, labels: Option<&Map<String, Value>>) -> bool {
        !self.nothing && self.requirements.iter().all(|r| r.matches(labels))
    }
}

impl fmt::Display for Selector {
    /// The canonical string (requirements sorted by key, joined by `,`), e.g. `app=web` for
    /// `Scale.status.selector`; empty for both the everything and the nothing selector.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

/// A label map as `kubectl` columns show it (`a=b,c=d`, keys sorted), `<none>` when empty.
pub fn format_labels(labels: Option<&Map<String, Value>>) -> String {
    let mut pairs: Vec<String> = labels
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
        .collect();
    pairs.sort();
    if pairs.is_empty() {
        "<none>".to_string()
    } else {
        pairs.join(",")
    }
}

/// A `metav1.LabelSelector` as table columns show it: its canonical string, `<none>` when it
/// selects everything or nothing, `<error>` when it is invalid.
pub fn format_label_selector(sel: Option<&Value>) -> String {
    match Selector::from_label_selector(sel.unwrap_or(&Value::Null)) {
        Ok(s) => {
            let text = s.to_string();
            if text.is_empty() {
                "<none>".to_string()
            } else {
                text
            }
        }
        Err(_) => "<error>".to_string(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
