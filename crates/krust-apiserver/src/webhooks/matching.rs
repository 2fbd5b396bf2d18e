//! Which webhooks a request goes to: rules (operations, groups, versions, resources with
//! subresources and wildcards, scope), namespaceSelector and objectSelector.

use krust_api::labels::Selector;
use serde_json::{Map, Value};

use super::Attributes;

/// Admission operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// A create.
    Create,
    /// An update or patch.
    Update,
    /// A delete.
    Delete,
}

impl Operation {
    /// Upstream's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "CREATE",
            Self::Update => "UPDATE",
            Self::Delete => "DELETE",
        }
    }
}

fn list(v: Option<&Value>) -> Vec<&str> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn resource_matches(pattern: &str, plural: &str, sub: Option<&str>) -> bool {
    let (pr, ps) = match pattern.split_once('/') {
        Some((r, s)) => (r, Some(s)),
        None => (pattern, None),
    };
    let res_ok = pr == "*" || pr == plural;
    let sub_ok = match (ps, sub) {
        (None, None) => true,
        (Some("*"), _) => true,
        (Some(p), Some(s)) => p == s,
        _ => false,
    };
    res_ok && sub_ok
}

fn rule_matches(rule: &Value, attrs: &Attributes<'_>) -> bool {
    let d = attrs.def;
    let ops = list(rule.get("operations"));
    let groups = list(rule.get("apiGroups"));
    let versions = list(rule.get("apiVersions"));
    let resources = list(rule.get("resources"));
    let scope = rule.get("scope").and_then(Value::as_str).unwrap_or("*");
    (ops.contains(&"*") || ops.contains(&attrs.operation.as_str()))
        && (groups.contains(&"*") || groups.contains(&d.group.as_str()))
        && (versions.contains(&"*") || versions.contains(&d.version.as_str()))
        && resources
            .iter()
            .any(|r| resource_matches(r, &d.plural, attrs.subresource))
        && match scope {
            "Cluster" => !d.namespaced,
            "Namespaced" => d.namespaced,
            _ => true,
        }
}

fn selector_matches(sel: Option<&Value>, labels: Option<&Map<String, Value>>) -> bool {
    match sel {
        None | Some(Value::Null) => true,
        Some(s) => Selector::from_label_selector(s)
            .map(|s| s.matches(labels))
            .unwrap_or(false),
    }
}

/// Whether a webhook applies to a request.
pub fn matches(
    hook: &Value,
    attrs: &Attributes<'_>,
    obj: Option<&Value>,
    old: Option<&Value>,
    namespace_labels: impl FnOnce() -> Option<Map<String, Value>>,
) -> bool {
    let rules = hook.get("rules").and_then(Value::as_array);
    if !rules.is_some_and(|r| r.iter().any(|r| rule_matches(r, attrs))) {
        return false;
    }
    let object_labels = |o: Option<&Value>| {
        o.and_then(|o| o.pointer("/metadata/labels"))
            .and_then(Value::as_object)
            .cloned()
    };
    let obj_sel = hook.get("objectSelector");
    if !(selector_matches(obj_sel, object_labels(obj).as_ref())
        || selector_matches(obj_sel, object_labels(old).as_ref()))
    {
        return false;
    }
    let ns_sel = hook.get("namespaceSelector");
    let namespaced_or_ns =
        attrs.def.namespaced || (attrs.def.group.is_empty() && attrs.def.kind == "Namespace");
    if namespaced_or_ns && ns_sel.is_some_and(|s| !s.is_null()) {
        return selector_matches(ns_sel, namespace_labels().as_ref());
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_with_subresources() {
        assert!(resource_matches("pods", "pods", None));
        assert!(!resource_matches("pods", "pods", Some("status")));
        assert!(resource_matches("pods/status", "pods", Some("status")));
        assert!(resource_matches("*/status", "deployments", Some("status")));
        assert!(resource_matches("*", "deployments", None));
        assert!(!resource_matches("*", "deployments", Some("scale")));
        assert!(resource_matches("pods/*", "pods", Some("log")));
    }
}
