//! The field set of an object under its type (upstream's `ToFieldSet`), the check that an
//! applied configuration fits its type, and "named fields are members" (used by pruning).

use std::collections::BTreeSet;

use serde_json::Value;

use super::path::PathElement;
use super::set::FieldSet;
use super::typed::{Shape, Ty, item_element, item_elements};

/// The fields `v` sets: every leaf, every list item, every undeclared map entry (labels,
/// annotations, data, deduced maps) and every empty or null map value. Declared struct
/// fields with children are not members themselves; their leaves are.
pub(crate) fn field_set(v: &Value, ty: Ty<'_>) -> FieldSet {
    let mut set = FieldSet::new();
    let mut path = Vec::new();
    walk(v, ty, &mut path, &mut set);
    set
}

fn walk(v: &Value, ty: Ty<'_>, path: &mut Vec<PathElement>, set: &mut FieldSet) {
    match ty.shape(v) {
        Err(_) | Ok(Shape::Leaf) => set.insert(path),
        Ok(Shape::Map) => {
            let Value::Object(map) = v else {
                set.insert(path);
                return;
            };
            for (key, child) in map {
                let (child_ty, named) = ty.field(key);
                path.push(PathElement::Field(key.clone()));
                walk(child, child_ty, path, set);
                let empty_map = child.as_object().is_some_and(|m| m.is_empty());
                if child.is_null() || empty_map || !named {
                    set.insert(path);
                }
                path.pop();
            }
        }
        Ok(Shape::List(kind, item_ty)) => {
            let items = v.as_array().map(Vec::as_slice).unwrap_or_default();
            let Some(elements) = item_elements(&kind, &item_ty, items) else {
                set.insert(path);
                return;
            };
            // A duplicated item is owned as a whole: its parts cannot be told apart.
            let mut seen = BTreeSet::new();
            let mut duplicated = BTreeSet::new();
            for pe in &elements {
                if !seen.insert(pe) {
                    duplicated.insert(pe);
                }
            }
            for pe in &duplicated {
                path.push((*pe).clone());
                set.insert(path);
                path.pop();
            }
            for (item, pe) in items.iter().zip(&elements) {
                if duplicated.contains(pe) {
                    continue;
                }
                path.push(pe.clone());
                walk(item, item_ty, path, set);
                set.insert(path);
                path.pop();
            }
        }
    }
}

/// Checks that an applied configuration fits its type: maps where maps belong, lists
/// where lists belong, every associative item identifiable and unique. Errors carry the
/// path where they occur, in upstream's wording where it has one.
pub(crate) fn validate(v: &Value, ty: Ty<'_>) -> Result<(), String> {
    let mut errors = Vec::new();
    check(v, ty, &mut String::new(), &mut errors);
    match errors.as_slice() {
        [] => Ok(()),
        [one] => Err(one.clone()),
        many => Err(format!("errors:\n  {}", many.join("\n  "))),
    }
}

fn at(path: &str, message: impl std::fmt::Display) -> String {
    if path.is_empty() {
        message.to_string()
    } else {
        format!("{path}: {message}")
    }
}

fn check(v: &Value, ty: Ty<'_>, path: &mut String, errors: &mut Vec<String>) {
    let shape = match ty.shape(v) {
        Ok(shape) => shape,
        Err(message) => {
            errors.push(at(path, message));
            return;
        }
    };
    let len = path.len();
    match (shape, v) {
        (Shape::Map, Value::Object(map)) => {
            for (key, child) in map {
                path.push('.');
                path.push_str(key);
                check(child, ty.field(key).0, path, errors);
                path.truncate(len);
            }
        }
        (Shape::List(kind, item_ty), Value::Array(items)) => {
            let mut seen = BTreeSet::new();
            for (i, item) in items.iter().enumerate() {
                match item_element(&kind, &item_ty, item) {
                    Err(message) => errors.push(at(path, format!("element {i}: {message}"))),
                    Ok(pe) => {
                        if seen.contains(&pe) {
                            errors.push(at(path, format!("duplicate entries for key {pe}")));
                            continue;
                        }
                        path.push_str(&pe.to_string());
                        check(item, item_ty, path, errors);
                        path.truncate(len);
                        seen.insert(pe);
                    }
                }
            }
        }
        _ => {}
    }
}

/// `set` with every declared struct field that has paths below it made a member too, so
/// that removing such a set removes the field itself (upstream's
/// `EnsureNamedFieldsAreMembers`, which pruning relies on).
pub(crate) fn ensure_named(set: &FieldSet, ty: Ty<'_>) -> FieldSet {
    let mut members: BTreeSet<PathElement> = set.members().cloned().collect();
    let mut children = std::collections::BTreeMap::new();
    for (pe, child) in set.children() {
        let child_ty = match pe {
            PathElement::Field(name) => {
                if ty.is_named(name) {
                    members.insert(pe.clone());
                }
                ty.field(name).0
            }
            PathElement::Key(_) => ty.item(),
            PathElement::Value(_) | PathElement::Index(_) => Ty::Atomic,
        };
        children.insert(pe.clone(), ensure_named(child, child_ty));
    }
    FieldSet::from_parts(members, children)
}
