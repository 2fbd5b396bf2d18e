//! Evaluation of `x-kubernetes-validations` over a custom resource, node by node as upstream's
//! `cel.Validator`: rules see `self` (and `oldSelf` for transition rules, which only run on
//! update when the value has a correlated old value, or always with `optionalOldSelf`);
//! failures are `Invalid` (or the rule's `reason`) at the node or its `fieldPath`, with the
//! rule's message. On update, errors of unchanged values are dropped (ratcheting), except
//! for transition rules.

use serde_json::Value;

use super::cel::{self, Activation, CompiledRule};
use super::cel_value::to_cel;
use super::correlate;
use super::fieldpath;
use super::model::Node;
use super::util::{MAX_DEPTH, NIL_PATH};
use crate::field_error::{FieldError, FieldPath};

/// Runs every rule below `s` on `obj` (`old` on update). With `ratchet`, failures of
/// values equal to their old counterpart are dropped.
pub(crate) fn validate(
    s: &Node,
    obj: &Value,
    old: Option<&Value>,
    path: &FieldPath,
    ratchet: bool,
    errs: &mut Vec<FieldError>,
) {
    let unchanged = ratchet && old == Some(obj);
    walk(s, obj, old, path, (ratchet, unchanged), true, errs, 0);
}

#[allow(clippy::too_many_arguments)]
fn walk(
    s: &Node,
    obj: &Value,
    old: Option<&Value>,
    path: &FieldPath,
    (ratchet, unchanged): (bool, bool),
    root: bool,
    errs: &mut Vec<FieldError>,
    depth: usize,
) {
    if obj.is_null() || s.opaque || depth > MAX_DEPTH {
        return;
    }
    expressions(s, obj, old, path, unchanged, root, errs);
    for branch in &s.all_of {
        walk(
            branch,
            obj,
            old,
            path,
            (ratchet, unchanged),
            false,
            errs,
            depth + 1,
        );
    }
    match obj {
        Value::Array(items) => {
            let Some(item) = s.items.as_deref() else { return };
            let correlatable = s.list_type.as_deref() == Some("map");
            for (i, v) in items.iter().enumerate() {
                let o = if correlatable {
                    correlate::item(s, old, v)
                } else {
                    None
                };
                let same = match o {
                    Some(o) => ratchet && o == v,
                    None => unchanged && !correlatable,
                };
                walk(
                    item,
                    v,
                    o,
                    &path.index(i),
                    (ratchet, same),
                    false,
                    errs,
                    depth + 1,
                );
            }
        }
        Value::Object(map) => {
            let correlatable = s.map_type.as_deref() != Some("atomic");
            for (k, v) in map {
                let (child, child_path) = match s.properties.get(k) {
                    Some(p) => (p, path.child(k)),
                    None => match s.additional_schema() {
                        Some(a) => (a, path.key(k)),
                        None => continue,
                    },
                };
                let o = if correlatable {
                    correlate::field(old, k)
                } else {
                    None
                };
                let same = match o {
                    Some(o) => ratchet && o == v,
                    None => unchanged && !correlatable,
                };
                walk(child, v, o, &child_path, (ratchet, same), false, errs, depth + 1);
            }
        }
        _ => {}
    }
}

/// Upstream's `ruleErrorString`: the message if any, else the rule.
fn rule_text(r: &CompiledRule) -> String {
    if r.message.is_empty() {
        r.rule.trim().to_string()
    } else {
        r.message.trim().to_string()
    }
}

fn expressions(
    s: &Node,
    obj: &Value,
    old: Option<&Value>,
    path: &FieldPath,
    unchanged: bool,
    root: bool,
    errs: &mut Vec<FieldError>,
) {
    if s.rules.is_empty() {
        return;
    }
    let type_value = Value::from(s.ty.as_str());
    // Upstream's root path is nil, printed `<nil>`; its children are `spec`, not `.spec`.
    let here = if path.as_str().is_empty() {
        FieldPath::new(NIL_PATH)
    } else {
        path.clone()
    };
    let this = to_cel(obj, Some(s), root);
    let old_cel = old.filter(|o| !o.is_null()).map(|o| to_cel(o, Some(s), root));
    for r in &s.rules {
        let program = match &r.program {
            Ok(p) => p,
            Err(e) => {
                errs.push(FieldError::invalid(
                    here.clone(),
                    type_value.clone(),
                    format!("rule compile error: {e}"),
                ));
                continue;
            }
        };
        let optional = r.optional_old_self == Some(true);
        if r.uses_old_self && old_cel.is_none() && !optional {
            continue;
        }
        let act = Activation {
            this: this.clone(),
            old: if r.uses_old_self { old_cel.clone() } else { None },
            optional_old: optional && r.uses_old_self,
        };
        let result = cel::eval(program, &act);
        let failed = match result {
            Ok(kube_cel::cel::Value::Bool(true)) => false,
            Ok(_) => true,
            Err(e) => {
                let msg = if e.starts_with("no such overload") {
                    format!(
                        "'{e}': call arguments did not match a supported operator, function or macro signature for rule: {}",
                        rule_text(r)
                    )
                } else {
                    format!("{e} evaluating rule: {}", rule_text(r))
                };
                errs.push(FieldError::invalid(here.clone(), type_value.clone(), msg));
                continue;
            }
        };
        if !failed || (!r.uses_old_self && unchanged) {
            continue;
        }
        let at = match fieldpath::resolve(r.field_path.trim(), s, true) {
            Ok((p, _)) if !r.field_path.trim().is_empty() && !p.is_empty() => path.child(&p),
            _ => here.clone(),
        };
        let plain = Activation {
            this: this.clone(),
            old: old_cel.clone(),
            optional_old: false,
        };
        let detail = match &r.message_program {
            Some(Ok(m)) => cel::message(m, &plain),
            _ => None,
        }
        .unwrap_or_else(|| {
            if r.message.is_empty() {
                format!("failed rule: {}", rule_text(r))
            } else {
                r.message.trim().to_string()
            }
        });
        let value = if matches!(s.ty.as_str(), "object" | "array") {
            type_value.clone()
        } else {
            obj.clone()
        };
        errs.push(match r.reason.as_deref() {
            Some("FieldValueForbidden") => FieldError::forbidden(at, detail),
            Some("FieldValueRequired") => FieldError::required(at, detail),
            Some("FieldValueDuplicate") => FieldError::duplicate(at, value),
            _ => FieldError::invalid(at, value, detail),
        });
    }
}
