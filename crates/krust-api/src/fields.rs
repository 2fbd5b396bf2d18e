//! Field selectors (`?fieldSelector=spec.nodeName=n1,status.phase!=Running`), parsed and
//! matched as upstream's `fields` package does, and the per-kind lists of selectable fields
//! (see [`supported`], [`field_set`] and [`FieldSelector::convert`]).
//!
//! A selector is a comma-separated AND of `field=value`, `field==value` or `field!=value`
//! terms. In values, `\,`, `\=` and `\\` stand for `,`, `=` and `\`; an unescaped `,` or `=`
//! in a value, or any other escape, is an error. Nothing is trimmed: `a = b` names the field
//! `a `, which no kind supports. Fields missing from an object compare as `""`.

mod kinds;

use std::fmt;

pub(crate) use kinds::pod_ip;
pub use kinds::{canonical_field, field_set, supported};

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

/// Splits on commas that are not escaped by a backslash.
fn split_terms(s: &str) -> Vec<&str> {
    let mut terms = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == ',' {
            terms.push(s.get(start..i).unwrap_or(""));
            start = i + 1;
        }
    }
    terms.push(s.get(start..).unwrap_or(""));
    terms
}

/// Splits a term at its first operator (`!=`, `==` or `=`, tried in that order at each
/// position): (field, negated, raw value).
fn split_term(term: &str) -> Option<(&str, bool, &str)> {
    for (i, _) in term.char_indices() {
        let rest = term.get(i..).unwrap_or("");
        let field = term.get(..i).unwrap_or("");
        if let Some(v) = rest.strip_prefix("!=") {
            return Some((field, true, v));
        }
        if let Some(v) = rest.strip_prefix("==") {
            return Some((field, false, v));
        }
        if let Some(v) = rest.strip_prefix('=') {
            return Some((field, false, v));
        }
    }
    None
}

/// Decodes `\\`, `\,` and `\=`; rejects other escapes and bare `,`/`=`.
pub fn unescape_value(s: &str) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut escaped = false;
    for c in s.chars() {
        if escaped {
            match c {
                '\\' | ',' | '=' => out.push(c),
                _ => {
                    return Err(format!("invalid field selector: invalid escape sequence: \\{c}"));
                }
            }
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            ',' | '=' => {
                return Err(format!(
                    "invalid field selector: unescaped character in value: {c}"
                ));
            }
            _ => out.push(c),
        }
    }
    if escaped {
        return Err("invalid field selector: invalid escape sequence: \\".to_string());
    }
    Ok(out)
}

/// Escapes `\`, `,` and `=` so a value survives [`FieldSelector::parse`].
pub fn escape_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | ',' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl FieldSelector {
    /// Parses the query-string form. The error says what is wrong, for a 400.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut parts = if s.is_empty() { Vec::new() } else { split_terms(s) };
        // Upstream sorts the raw terms, which fixes the order of requirements.
        parts.sort_unstable();
        let mut requirements = Vec::with_capacity(parts.len());
        for part in parts.into_iter().filter(|p| !p.is_empty()) {
            let Some((field, negated, raw)) = split_term(part) else {
                return Err(format!("invalid selector: '{s}'; can't understand '{part}'"));
            };
            requirements.push(FieldRequirement {
                field: field.to_string(),
                negated,
                value: unescape_value(raw)?,
            });
        }
        Ok(Self { requirements })
    }

    /// True if this selector selects everything.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// The terms.
    pub fn requirements(&self) -> &[FieldRequirement] {
        &self.requirements
    }

    /// Whether an object whose selectable fields are `fields` matches. A field missing from
    /// `fields` has the value `""`.
    pub fn matches(&self, fields: &[(String, String)]) -> bool {
        self.requirements.iter().all(|r| {
            let actual = fields
                .iter()
                .find(|(f, _)| *f == r.field)
                .map_or("", |(_, v)| v.as_str());
            (actual == r.value) != r.negated
        })
    }

    /// If the selector pins `metadata.name` to one value, that value (lets a server skip
    /// scanning a whole list).
    pub fn exact_name(&self) -> Option<&str> {
        self.requirements
            .iter()
            .find(|r| !r.negated && r.field == "metadata.name")
            .map(|r| r.value.as_str())
    }

    /// The same selector with each field checked against what `group`/`kind` supports and
    /// renamed to the name its selectable fields use (`spec.host` → `spec.nodeName` for
    /// pods, `regarding.name` → `involvedObject.name` for events.k8s.io). The error is
    /// upstream's message, for a 400.
    pub fn convert(&self, group: &str, kind: &str) -> Result<Self, String> {
        let requirements = self
            .requirements
            .iter()
            .map(|r| {
                Ok(FieldRequirement {
                    field: canonical_field(group, kind, &r.field)?.to_string(),
                    negated: r.negated,
                    value: r.value.clone(),
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Self { requirements })
    }
}

impl fmt::Display for FieldSelector {
    /// `field=value` / `field!=value` terms, values escaped, joined by `,`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            let op = if r.negated { "!=" } else { "=" };
            write!(f, "{}{op}{}", r.field, escape_value(&r.value))?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn fs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn parses_terms() {
        let s = FieldSelector::parse("status.phase!=Running,spec.nodeName==n1,metadata.name=x").unwrap();
        let r: Vec<(&str, bool, &str)> = s
            .requirements()
            .iter()
            .map(|r| (r.field.as_str(), r.negated, r.value.as_str()))
            .collect();
        assert_eq!(
            r,
            vec![
                ("metadata.name", false, "x"),
                ("spec.nodeName", false, "n1"),
                ("status.phase", true, "Running")
            ]
        );
        assert_eq!(
            s.to_string(),
            "metadata.name=x,spec.nodeName=n1,status.phase!=Running"
        );
        assert_eq!(s.exact_name(), Some("x"));
    }

    #[test]
    fn empty_and_empty_terms() {
        assert!(FieldSelector::parse("").unwrap().is_empty());
        assert!(FieldSelector::parse(",,").unwrap().is_empty());
        let s = FieldSelector::parse("a=").unwrap();
        assert_eq!(s.requirements()[0].value, "");
        assert!(s.matches(&[]));
        assert_eq!(FieldSelector::parse("").unwrap().exact_name(), None);
        assert_eq!(
            FieldSelector::parse("metadata.name!=x").unwrap().exact_name(),
            None
        );
    }

    #[test]
    fn escapes() {
        let s = FieldSelector::parse(r"a=x\,y\=z\\w,b!=c").unwrap();
        assert_eq!(s.requirements()[0].value, r"x,y=z\w");
        assert_eq!(s.to_string(), r"a=x\,y\=z\\w,b!=c");
        assert_eq!(
            FieldSelector::parse(r"a=\n").unwrap_err(),
            r"invalid field selector: invalid escape sequence: \n"
        );
        assert_eq!(
            FieldSelector::parse(r"a=b\").unwrap_err(),
            r"invalid field selector: invalid escape sequence: \"
        );
        assert_eq!(
            FieldSelector::parse("a=b=c").unwrap_err(),
            "invalid field selector: unescaped character in value: ="
        );
        assert_eq!(
            FieldSelector::parse("a=!b").unwrap().requirements()[0].value,
            "!b"
        );
    }

    #[test]
    fn syntax_errors() {
        assert_eq!(
            FieldSelector::parse("abc").unwrap_err(),
            "invalid selector: 'abc'; can't understand 'abc'"
        );
        assert_eq!(
            FieldSelector::parse("a=b,cd").unwrap_err(),
            "invalid selector: 'a=b,cd'; can't understand 'cd'"
        );
    }

    #[test]
    fn matching() {
        let fields = fs(&[("metadata.name", "p"), ("status.phase", "Running")]);
        let m = |s: &str| FieldSelector::parse(s).unwrap().matches(&fields);
        assert!(m("status.phase=Running"));
        assert!(!m("status.phase!=Running"));
        assert!(m("status.phase!=Pending,metadata.name=p"));
        assert!(!m("metadata.name=q"));
        assert!(m("spec.nodeName="));
        assert!(m("spec.nodeName!=n1"));
        assert!(!m("spec.nodeName=n1"));
    }
}
