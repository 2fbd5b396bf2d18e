//! The basic structure of CustomResourceDefinitions (group, names, scope, versions).

use std::collections::HashSet;

use serde_json::Value;

use super::names;
use super::util::{Errs, arr, get, immutable, s};
use crate::field_error::{FieldError, FieldPath};

fn or_null(v: Option<&Value>) -> &Value {
    static NULL: Value = Value::Null;
    v.unwrap_or(&NULL)
}

/// The structure of a CustomResourceDefinition: group, names, scope, versions with one
/// storage version, and the `<plural>.<group>` name. Schema semantics come later.
pub(crate) fn custom_resource_definition(errs: &mut Errs, obj: &Value, old: Option<&Value>) {
    let spec = or_null(get(obj, "spec"));
    let sp = FieldPath::new("spec");
    let group = s(spec, "group");
    if group.is_empty() {
        errs.push(FieldError::required(sp.child("group"), ""));
    } else if let m @ [_, ..] = names::is_dns1123_subdomain(group).as_slice() {
        errs.push(FieldError::invalid(sp.child("group"), group, m.join(",")));
    } else if !group.contains('.') {
        errs.push(FieldError::invalid(
            sp.child("group"),
            group,
            "should be a domain with at least one dot",
        ));
    }
    let n = or_null(get(spec, "names"));
    let np = sp.child("names");
    let plural = s(n, "plural");
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    if !name.is_empty() && name != format!("{plural}.{group}") {
        errs.push(FieldError::invalid(
            FieldPath::new("metadata").child("name"),
            name,
            "must be spec.names.plural+\".\"+spec.group",
        ));
    }
    for key in ["plural", "singular"] {
        let v = s(n, key);
        if v.is_empty() && key == "plural" {
            errs.push(FieldError::required(np.child(key), ""));
        } else if !v.is_empty() {
            let msgs = names::is_dns1035_label(v);
            if !msgs.is_empty() {
                errs.push(FieldError::invalid(np.child(key), v, msgs.join(",")));
            }
        }
    }
    for key in ["kind", "listKind"] {
        let v = s(n, key);
        if v.is_empty() {
            errs.push(FieldError::required(np.child(key), ""));
        } else {
            let msgs = names::is_dns1035_label(&v.to_lowercase());
            if !msgs.is_empty() {
                errs.push(FieldError::invalid(
                    np.child(key),
                    v,
                    format!(
                        "may have mixed case, but should otherwise match: {}",
                        msgs.join(",")
                    ),
                ));
            }
        }
    }
    if !s(n, "kind").is_empty() && s(n, "kind") == s(n, "listKind") {
        errs.push(FieldError::invalid(
            np.child("listKind"),
            s(n, "listKind"),
            "kind and listKind may not be the same",
        ));
    }
    match s(spec, "scope") {
        "" => errs.push(FieldError::required(sp.child("scope"), "")),
        "Cluster" | "Namespaced" => {}
        x => errs.push(FieldError::not_supported(
            sp.child("scope"),
            x,
            &["Cluster", "Namespaced"],
        )),
    }
    let versions = arr(spec, "versions");
    let vp = sp.child("versions");
    let mut seen = HashSet::new();
    let mut unique = true;
    let mut storage = 0;
    for (i, v) in versions.iter().enumerate() {
        let vname = s(v, "name");
        unique &= seen.insert(vname);
        if v.get("storage").and_then(Value::as_bool) == Some(true) {
            storage += 1;
        }
        let msgs = names::is_dns1035_label(vname);
        if !msgs.is_empty() {
            errs.push(FieldError::invalid(
                vp.index(i).child("name"),
                vname,
                msgs.join(","),
            ));
        }
        if v.pointer("/schema/openAPIV3Schema").is_none_or(Value::is_null) {
            errs.push(FieldError::required(
                vp.index(i).child("schema").child("openAPIV3Schema"),
                "schemas are required",
            ));
        }
    }
    if !unique {
        errs.push(FieldError::invalid(
            vp.clone(),
            Value::Array(versions.to_vec()),
            "must contain unique version names",
        ));
    }
    if storage != 1 {
        errs.push(FieldError::invalid(
            vp.clone(),
            Value::Array(versions.to_vec()),
            "must have exactly one version marked as storage version",
        ));
    }
    if let Some(old) = old {
        let old_spec = or_null(get(old, "spec"));
        immutable(errs, spec.get("group"), old_spec.get("group"), sp.child("group"));
        immutable(
            errs,
            n.get("plural"),
            old_spec.pointer("/names/plural"),
            np.child("plural"),
        );
    }
}
