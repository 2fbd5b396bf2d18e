//! `validate_crd`: what upstream checks on a CustomResourceDefinition create or update
//! (`ValidateCustomResourceDefinition[Update]`), on the v1 object as stored.
//!
//! Upstream validates its internal type, into which v1 converts by moving per-version
//! `schema`, `subresources` and `additionalPrinterColumns` to the top level when every version
//! has the same value; so errors in the schema of a single-version CRD are reported under
//! `spec.validation.openAPIV3Schema`, as here.

use serde_json::Value;

use super::conversion;
use super::defaults_check;
use super::model::Node;
use super::parts;
use super::schema_rules::{self, Strictness};
use super::structural;
use crate::field_error::{FieldError, FieldPath};
use crate::validation::names;

type Errs = Vec<FieldError>;

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

/// Equal as upstream's semantic equality sees it: absent, `null` and empty are the same.
fn same(a: Option<&Value>, b: Option<&Value>) -> bool {
    let norm = |v: Option<&Value>| match v {
        None | Some(Value::Null) => None,
        Some(Value::Array(x)) if x.is_empty() => None,
        Some(other) => Some(other.clone()),
    };
    norm(a) == norm(b)
}

/// True when every version has the same value of `key` (then upstream moves it up).
fn identical(versions: &[Value], key: &str) -> bool {
    versions
        .first()
        .is_some_and(|first| versions.iter().all(|v| same(v.get(key), first.get(key))))
}

fn established(crd: &Value) -> bool {
    crd.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| s(c, "type") == "Established" && s(c, "status") == "True")
        })
}

/// Every `openAPIV3Schema` of a CRD.
fn schemas(crd: &Value) -> Vec<&Value> {
    crd.pointer("/spec/versions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.pointer("/schema/openAPIV3Schema"))
        .filter(|x| x.is_object())
        .collect()
}

/// Checks relaxed on update because the stored CRD already breaks them.
fn strictness(old: Option<&Value>) -> (Strictness, bool) {
    let Some(old) = old else {
        return (
            Strictness {
                valid_types: true,
                atomic_sets: true,
                map_list_keys: true,
            },
            true,
        );
    };
    let old_schemas = schemas(old);
    let any = |pred: &dyn Fn(&serde_json::Map<String, Value>) -> bool| {
        old_schemas.iter().any(|sc| super::walk::any_schema(sc, pred))
    };
    let invalid_type = any(&|m| {
        let t = m.get("type").and_then(Value::as_str).unwrap_or("");
        !t.is_empty() && !["array", "boolean", "integer", "number", "object", "string"].contains(&t)
    });
    let non_atomic_set = any(&|m| {
        let Some(is) = m.get("items").and_then(Value::as_object) else {
            return false;
        };
        if m.get("x-kubernetes-list-type").and_then(Value::as_str) != Some("set") {
            return false;
        }
        match is.get("type").and_then(Value::as_str) {
            Some("array") => is
                .get("x-kubernetes-list-type")
                .and_then(Value::as_str)
                .is_some_and(|t| t != "atomic"),
            Some("object") => is.get("x-kubernetes-map-type").and_then(Value::as_str) != Some("atomic"),
            _ => false,
        }
    });
    let bad_keys = any(&|m| !schema_rules::map_list_keys(m, &FieldPath::new("")).is_empty());
    let unpruned = old_schemas
        .iter()
        .any(|sc| super::walk::has_unpruned_defaults(sc));
    (
        Strictness {
            valid_types: !invalid_type,
            atomic_sets: !non_atomic_set,
            map_list_keys: !bad_keys,
        },
        !unpruned,
    )
}

/// Everything upstream checks on a CRD; `old` is the stored CRD on update.
pub(crate) fn validate(crd: &Value, old: Option<&Value>) -> Errs {
    let mut errs = Vec::new();
    let null = Value::Null;
    let spec = crd.get("spec").unwrap_or(&null);
    let sp = FieldPath::new("spec");
    let group = s(spec, "group");
    let names_v = spec.get("names").unwrap_or(&null);
    let plural = s(names_v, "plural");
    let name = crd
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
    match s(spec, "scope") {
        "" => errs.push(FieldError::required(sp.child("scope"), "")),
        "Cluster" | "Namespaced" => {}
        x => errs.push(FieldError::not_supported(
            sp.child("scope"),
            x,
            &["Cluster", "Namespaced"],
        )),
    }
    let (strict, require_pruned) = strictness(old);
    let versions: Vec<Value> = spec
        .get("versions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    versions_and_schemas(&mut errs, &versions, strict, require_pruned, old);
    for key in ["plural", "singular", "kind", "listKind"] {
        if s(names_v, key).is_empty() {
            errs.push(FieldError::required(sp.child("names").child(key), ""));
        }
    }
    parts::names(&mut errs, names_v, &sp.child("names"));
    top_level(&mut errs, &versions, strict, require_pruned);
    let pruf = spec.get("preserveUnknownFields").and_then(Value::as_bool) == Some(true);
    if pruf
        && s(spec.get("conversion").unwrap_or(&null), "strategy") != "None"
        && spec.get("conversion").is_some()
    {
        errs.push(FieldError::invalid(
            sp.child("conversion").child("strategy"),
            s(spec.get("conversion").unwrap_or(&null), "strategy"),
            "must be None if spec.preserveUnknownFields is true",
        ));
    }
    let require_known =
        old.is_none_or(|o| conversion::has_known_review_version(o.pointer("/spec/conversion")));
    conversion::conversion(&mut errs, spec.get("conversion"), require_known);
    if let Some(o) = old {
        update_rules(&mut errs, spec, o.get("spec").unwrap_or(&null), established(o));
    }
    if let Some(accepted) = crd.pointer("/status/acceptedNames") {
        parts::names(
            &mut errs,
            accepted,
            &FieldPath::new("status").child("acceptedNames"),
        );
    }
    let stored: Vec<&str> = crd
        .pointer("/status/storedVersions")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    parts::stored_versions(&mut errs, &stored, &versions);
    parts::api_approval(&mut errs, crd, old);
    let old_pruf = old
        .and_then(|o| o.pointer("/spec/preserveUnknownFields"))
        .and_then(Value::as_bool)
        == Some(true);
    if pruf && !old_pruf {
        errs.push(FieldError::invalid(
            sp.child("preserveUnknownFields"),
            true,
            "cannot set to true, set x-kubernetes-preserve-unknown-fields to true in spec.versions[*].schema instead",
        ));
    }
    errs
}

fn status_enabled(sub: Option<&Value>) -> bool {
    sub.and_then(|x| x.get("status")).is_some_and(|x| !x.is_null())
}

fn versions_and_schemas(
    errs: &mut Errs,
    versions: &[Value],
    strict: Strictness,
    require_pruned: bool,
    old: Option<&Value>,
) {
    let sp = FieldPath::new("spec");
    let vp = sp.child("versions");
    let require_schema = old.is_none_or(|o| {
        o.pointer("/spec/versions")
            .and_then(Value::as_array)
            .is_some_and(|vs| {
                vs.iter()
                    .all(|v| v.pointer("/schema/openAPIV3Schema").is_some_and(|x| !x.is_null()))
            })
    });
    let schema_collapsed = identical(versions, "schema");
    let top_schema = schema_collapsed
        .then(|| {
            versions
                .first()
                .and_then(|v| v.pointer("/schema/openAPIV3Schema"))
        })
        .flatten()
        .filter(|x| !x.is_null());
    if require_schema && top_schema.is_none() {
        for (i, v) in versions.iter().enumerate() {
            if v.pointer("/schema/openAPIV3Schema").is_none_or(Value::is_null) {
                errs.push(FieldError::required(
                    vp.index(i).child("schema").child("openAPIV3Schema"),
                    "",
                ));
            }
        }
    }
    let subresources_collapsed = identical(versions, "subresources");
    let columns_collapsed = identical(versions, "additionalPrinterColumns");
    let fields_collapsed = identical(versions, "selectableFields");
    let mut storage = 0;
    let mut seen = Vec::new();
    let mut unique = true;
    for (i, v) in versions.iter().enumerate() {
        let p = vp.index(i);
        let vname = s(v, "name");
        if v.get("storage").and_then(Value::as_bool) == Some(true) {
            storage += 1;
        }
        if seen.contains(&vname) {
            unique = false;
        }
        seen.push(vname);
        let msgs = names::is_dns1035_label(vname);
        if !msgs.is_empty() {
            errs.push(FieldError::invalid(p.child("name"), vname, msgs.join(",")));
        }
        parts::deprecation_warning(errs, v, &p);
        let subs = if subresources_collapsed {
            versions.first().and_then(|f| f.get("subresources"))
        } else {
            v.get("subresources")
        };
        let mut compiled = None;
        if !schema_collapsed
            && let Some(schema) = v.pointer("/schema/openAPIV3Schema").filter(|x| x.is_object())
        {
            compiled = check_schema(
                errs,
                schema,
                &p.child("schema"),
                status_enabled(subs),
                strict,
                require_pruned,
            );
        }
        if !subresources_collapsed {
            parts::subresources(errs, v.get("subresources"), &p.child("subresources"));
        }
        if !columns_collapsed {
            for (j, c) in v
                .get("additionalPrinterColumns")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                parts::column(errs, c, &p.child("additionalPrinterColumns").index(j));
            }
        }
        if !fields_collapsed {
            let fields = v
                .get("selectableFields")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            if compiled.is_none() && !fields.is_empty() {
                compiled = v
                    .pointer("/schema/openAPIV3Schema")
                    .filter(|x| x.is_object())
                    .map(Node::compile);
            }
            parts::selectable_fields(
                errs,
                fields,
                compiled.as_ref(),
                &p.child("selectableFields"),
                "may only be set when `version.schema.openAPIV3Schema` is not included",
            );
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
            vp,
            Value::Array(versions.to_vec()),
            "must have exactly one version marked as storage version",
        ));
    }
}

/// The collapsed (top-level) schema, subresources, columns and selectable fields.
fn top_level(errs: &mut Errs, versions: &[Value], strict: Strictness, require_pruned: bool) {
    let sp = FieldPath::new("spec");
    let first = versions.first();
    let mut compiled = None;
    if identical(versions, "schema")
        && let Some(schema) = first
            .and_then(|v| v.pointer("/schema/openAPIV3Schema"))
            .filter(|x| x.is_object())
    {
        let any_status = versions.iter().any(|v| status_enabled(v.get("subresources")));
        compiled = check_schema(
            errs,
            schema,
            &sp.child("validation"),
            any_status,
            strict,
            require_pruned,
        );
    }
    if identical(versions, "subresources") {
        parts::subresources(
            errs,
            first.and_then(|v| v.get("subresources")),
            &sp.child("subresources"),
        );
    }
    if identical(versions, "additionalPrinterColumns") {
        for (j, c) in first
            .and_then(|v| v.get("additionalPrinterColumns"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            parts::column(errs, c, &sp.child("additionalPrinterColumns").index(j));
        }
    }
    if identical(versions, "selectableFields") {
        let fields = first
            .and_then(|v| v.get("selectableFields"))
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        if compiled.is_none() && !fields.is_empty() && identical(versions, "schema") {
            compiled = first
                .and_then(|v| v.pointer("/schema/openAPIV3Schema"))
                .filter(|x| x.is_object())
                .map(Node::compile);
        }
        parts::selectable_fields(
            errs,
            fields,
            compiled.as_ref(),
            &sp.child("selectableFields"),
            "may only be set when validations.schema is included",
        );
    }
}

const ROOT_FIELDS_WITH_STATUS: &[&str] = &[
    "description",
    "type",
    "format",
    "title",
    "maximum",
    "exclusiveMaximum",
    "minimum",
    "exclusiveMinimum",
    "maxLength",
    "minLength",
    "pattern",
    "maxItems",
    "minItems",
    "uniqueItems",
    "multipleOf",
    "required",
    "items",
    "properties",
    "externalDocs",
    "example",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-validations",
];

fn zero(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::String(x) => x.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Number(n) => n.as_f64() == Some(0.0),
    }
}

/// `validateCustomResourceDefinitionValidation` for one schema at `base` (`...schema` or
/// `spec.validation`). Returns the compiled schema when it is valid enough to use.
fn check_schema(
    errs: &mut Errs,
    schema: &Value,
    base: &FieldPath,
    status: bool,
    strict: Strictness,
    require_pruned: bool,
) -> Option<Node> {
    let start = errs.len();
    let sp = base.child("openAPIV3Schema");
    if status && let Some(m) = schema.as_object() {
        let ty = m.get("type").and_then(Value::as_str).unwrap_or("");
        if !ty.is_empty() && ty != "object" {
            errs.push(FieldError::invalid(
                base.child("openAPIV3Schema.type"),
                ty,
                "only \"object\" is allowed as the type at the root of the schema if the status subresource is enabled",
            ));
        } else if m
            .iter()
            .any(|(k, v)| !zero(v) && !ROOT_FIELDS_WITH_STATUS.contains(&k.as_str()))
        {
            errs.push(FieldError::invalid(
                sp.clone(),
                schema.clone(),
                "only [Description Type Format Title Maximum ExclusiveMaximum Minimum ExclusiveMinimum MaxLength MinLength Pattern MaxItems MinItems UniqueItems MultipleOf Required Items Properties ExternalDocs Example XPreserveUnknownFields XValidations] fields are allowed at the root of the schema if the status subresource is enabled",
            ));
        }
    }
    if schema.get("nullable").and_then(Value::as_bool) == Some(true) {
        errs.push(FieldError::forbidden(
            base.child("openAPIV3Schema.nullable"),
            "nullable cannot be true at the root",
        ));
    }
    let unsupported = structural::unsupported(schema);
    let mut usable = None;
    if unsupported.is_none() {
        let st = structural::validate(schema, &sp);
        if !st.is_empty() {
            errs.extend(st);
        } else {
            let node = Node::compile(schema);
            let d = defaults_check::validate(&node, schema, &sp, require_pruned);
            if d.is_empty() {
                usable = Some(node);
            } else {
                errs.extend(d);
            }
        }
    }
    let found = schema_rules::validate(schema, &sp, strict, usable.as_ref());
    errs.extend(found.schema);
    errs.extend(found.cel);
    if errs.len() == start
        && let Some(msg) = unsupported
    {
        errs.push(FieldError::invalid(sp, "", msg));
    }
    if errs.len() == start { usable } else { None }
}

fn update_rules(errs: &mut Errs, spec: &Value, old_spec: &Value, immutable_names: bool) {
    let sp = FieldPath::new("spec");
    let mut immutable = |new: Option<&Value>, old: Option<&Value>, path: FieldPath| {
        let norm = |v: Option<&Value>| v.filter(|x| !x.is_null()).cloned();
        if norm(new) != norm(old) {
            errs.push(FieldError::invalid(
                path,
                new.cloned().unwrap_or(Value::Null),
                "field is immutable",
            ));
        }
    };
    if immutable_names {
        immutable(spec.get("scope"), old_spec.get("scope"), sp.child("scope"));
        immutable(
            spec.pointer("/names/kind"),
            old_spec.pointer("/names/kind"),
            sp.child("names").child("kind"),
        );
    }
    immutable(spec.get("group"), old_spec.get("group"), sp.child("group"));
    immutable(
        spec.pointer("/names/plural"),
        old_spec.pointer("/names/plural"),
        sp.child("names").child("plural"),
    );
}
