//! Checks of `x-kubernetes-validations` entries in a CRD schema: the fields of each rule
//! (`rule`, `message`, `messageExpression`, `reason`, `fieldPath`), and once the schema is
//! otherwise valid, the rules' compilation and where `oldSelf` may be used.

use serde_json::{Map, Value};

use super::fieldpath;
use super::model::Node;
use crate::field_error::{FieldError, FieldPath};

const REASONS: &[&str] = &[
    "FieldValueDuplicate",
    "FieldValueForbidden",
    "FieldValueInvalid",
    "FieldValueRequired",
];

fn has_newline(s: &str) -> bool {
    s.contains('\n') || s.contains('\r')
}

pub(crate) fn static_checks(
    m: &Map<String, Value>,
    path: &FieldPath,
    node: Option<&Node>,
    errs: &mut Vec<FieldError>,
) {
    let Some(rules) = m.get("x-kubernetes-validations").and_then(Value::as_array) else {
        return;
    };
    for (i, r) in rules.iter().enumerate() {
        let rp = path.child("x-kubernetes-validations").index(i);
        let text = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("");
        let (rule, message, message_expr, field_path) = (
            text("rule"),
            text("message"),
            text("messageExpression"),
            text("fieldPath"),
        );
        if rule.trim().is_empty() {
            errs.push(FieldError::required(rp.child("rule"), "rule is not specified"));
        } else if !message.is_empty() && message.trim().is_empty() {
            errs.push(FieldError::invalid(
                rp.child("message"),
                message,
                "must be non-empty if specified",
            ));
        } else if has_newline(message.trim()) {
            errs.push(FieldError::invalid(
                rp.child("message"),
                message,
                "must not contain line breaks",
            ));
        } else if has_newline(rule.trim()) && message.trim().is_empty() {
            errs.push(FieldError::required(
                rp.child("message"),
                "message must be specified if rule contains line breaks",
            ));
        }
        if !message_expr.is_empty() && message_expr.trim().is_empty() {
            errs.push(FieldError::required(
                rp.child("messageExpression"),
                "messageExpression must be non-empty if specified",
            ));
        }
        if let Some(reason) = r.get("reason").filter(|x| !x.is_null()) {
            let reason = reason.as_str().unwrap_or("");
            if !REASONS.contains(&reason) {
                errs.push(FieldError::not_supported(rp.child("reason"), reason, REASONS));
            }
        }
        if !field_path.is_empty() && field_path.trim().is_empty() {
            errs.push(FieldError::invalid(
                rp.child("fieldPath"),
                field_path,
                "must be non-empty if specified",
            ));
        }
        if has_newline(field_path) {
            errs.push(FieldError::invalid(
                rp.child("fieldPath"),
                field_path,
                "must not contain line breaks",
            ));
        }
        if !field_path.is_empty()
            && let Some(n) = node
            && fieldpath::resolve(field_path, n, true).is_err()
        {
            errs.push(FieldError::invalid(
                rp.child("fieldPath"),
                field_path,
                "must be a valid path",
            ));
        }
    }
}

pub(crate) fn compiled(n: &Node, path: &FieldPath, uncorrelatable: Option<&str>, errs: &mut Vec<FieldError>) {
    for (i, r) in n.rules.iter().enumerate() {
        let rp = path.child("x-kubernetes-validations").index(i);
        if let Err(e) = &r.program {
            errs.push(FieldError::invalid(rp.child("rule"), r.raw.clone(), e.clone()));
        }
        if let Some(Err(e)) = &r.message_program {
            errs.push(FieldError::invalid(
                rp.child("messageExpression"),
                r.raw.clone(),
                format!("messageExpression {e}"),
            ));
        }
        if r.uses_old_self {
            if let Some(within) = uncorrelatable {
                errs.push(FieldError::invalid(
                    rp.child("rule"),
                    r.rule.as_str(),
                    format!(
                        "oldSelf cannot be used on the uncorrelatable portion of the schema within {within}"
                    ),
                ));
            }
        } else if let Some(o) = r.optional_old_self {
            errs.push(FieldError::invalid(
                rp.child("optionalOldSelf"),
                o,
                "may not be set if oldSelf is not used in rule",
            ));
        }
    }
}
