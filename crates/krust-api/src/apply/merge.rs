//! Merging an applied configuration into an object, and removing a field set from one.
//!
//! Merge (upstream's typed `Merge` with "keep the right-hand side"): maps merge key by key,
//! associative lists item by item (by key or value), everything else — scalars, atomic maps
//! and lists — is replaced by the applied value. Removal takes out every member of a set
//! (a field, a map entry, a list item) with all it holds; maps and lists it empties are
//! dropped, as a typed Go object would omit them.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde_json::{Map, Value};

use super::path::PathElement;
use super::set::FieldSet;
use super::typed::{ListKind, Shape, Ty, item_elements};

/// Merges `rhs` (applied) into `lhs` (live); `None` only when both are absent.
pub(crate) fn merge(lhs: Option<&Value>, rhs: Option<&Value>, ty: Ty<'_>) -> Option<Value> {
    let (l, r) = match (lhs, rhs) {
        (None, None) => return None,
        (Some(l), None) => return Some(l.clone()),
        (None, Some(r)) => return Some(r.clone()),
        (Some(l), Some(r)) => (l, r),
    };
    // An explicit null on a granular map or list leaves the live one as it is, as upstream
    // merges "no items" into it; on anything atomic the null replaces the value.
    if r.is_null() {
        let granular = matches!(ty.shape(l), Ok(Shape::Map | Shape::List(..)));
        let empty = l.as_object().is_some_and(Map::is_empty) || l.as_array().is_some_and(Vec::is_empty);
        return Some(if granular && !empty { l.clone() } else { r.clone() });
    }
    match ty.shape(r) {
        Ok(Shape::Map) => match (l, r) {
            (Value::Object(lm), Value::Object(rm)) if !(lm.is_empty() && rm.is_empty()) => {
                Some(Value::Object(merge_maps(lm, rm, ty)))
            }
            _ => Some(r.clone()),
        },
        Ok(Shape::List(kind, item_ty)) => match (l, r) {
            (Value::Array(la), Value::Array(ra)) if !(la.is_empty() && ra.is_empty()) => {
                Some(merge_lists(la, ra, &kind, item_ty).unwrap_or_else(|| r.clone()))
            }
            _ => Some(r.clone()),
        },
        Err(_) | Ok(Shape::Leaf) => Some(r.clone()),
    }
}

/// Live keys keep their order; keys only the configuration has follow.
fn merge_maps(lm: &Map<String, Value>, rm: &Map<String, Value>, ty: Ty<'_>) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, lv) in lm {
        if let Some(v) = merge(Some(lv), rm.get(key), ty.field(key).0) {
            out.insert(key.clone(), v);
        }
    }
    for (key, rv) in rm {
        if !lm.contains_key(key) {
            out.insert(key.clone(), rv.clone());
        }
    }
    out
}

/// Merges associative lists item by item, ordering the result with upstream's two-cursor
/// walk: live items the configuration does not mention keep their places, items both have
/// follow the configuration's order, and items only the configuration has come where the
/// walk reaches them (after the live items that precede the next shared item). `None`
/// when an item cannot be identified (the configuration then replaces the list).
fn merge_lists(la: &[Value], ra: &[Value], kind: &ListKind<'_>, item_ty: Ty<'_>) -> Option<Value> {
    let lhs_pes = item_elements(kind, &item_ty, la)?;
    let rhs_pes = item_elements(kind, &item_ty, ra)?;
    // Live duplicates merge as "no live item" (upstream keeps none of their content).
    let mut observed_lhs: BTreeMap<&PathElement, Option<&Value>> = BTreeMap::new();
    for (pe, item) in lhs_pes.iter().zip(la) {
        observed_lhs
            .entry(pe)
            .and_modify(|seen| *seen = None)
            .or_insert(Some(item));
    }
    let observed_rhs: BTreeMap<&PathElement, &Value> = rhs_pes.iter().zip(ra).collect();
    let mut shared: VecDeque<&PathElement> = rhs_pes
        .iter()
        .filter(|pe| observed_lhs.contains_key(pe))
        .collect();
    let mut next_shared = shared.pop_front();
    let mut merged_rhs: BTreeSet<&PathElement> = BTreeSet::new();
    let mut out = Vec::with_capacity(la.len().max(ra.len()));
    let merge_item = |l: Option<&Value>, r: Option<&Value>| merge(l, r, item_ty);
    let (mut li, mut ri) = (0, 0);
    while li < lhs_pes.len() || ri < rhs_pes.len() {
        if let (Some(lpe), Some(rpe)) = (lhs_pes.get(li), rhs_pes.get(ri)) {
            if lpe == rpe {
                merged_rhs.insert(lpe);
                let l = observed_lhs.get(lpe).copied().flatten();
                out.extend(merge_item(l, observed_rhs.get(rpe).copied()));
                li += 1;
                ri += 1;
                next_shared = shared.pop_front();
                continue;
            }
            // A shared item out of the configuration's order waits for its turn.
            if observed_rhs.contains_key(lpe) && next_shared.is_some_and(|n| n != lpe) {
                li += 1;
                continue;
            }
        }
        if let (Some(lpe), Some(item)) = (lhs_pes.get(li), la.get(li)) {
            if !observed_rhs.contains_key(lpe) {
                out.extend(merge_item(Some(item), None));
                li += 1;
                continue;
            }
            if merged_rhs.contains(lpe) {
                li += 1;
            }
        }
        if let Some(rpe) = rhs_pes.get(ri) {
            merged_rhs.insert(rpe);
            let l = observed_lhs.get(rpe).copied().flatten();
            out.extend(merge_item(l, observed_rhs.get(rpe).copied()));
            ri += 1;
            if next_shared == Some(rpe) {
                next_shared = shared.pop_front();
            }
        }
    }
    Some(Value::Array(out))
}

/// `v` without the members of `set` (and what they hold); `None` when nothing is left.
pub(crate) fn remove(v: &Value, set: &FieldSet, ty: Ty<'_>) -> Option<Value> {
    match (ty.shape(v), v) {
        (Ok(Shape::Map), Value::Object(map)) if !map.is_empty() => {
            let mut out = Map::new();
            for (key, child) in map {
                let pe = PathElement::Field(key.clone());
                if set.has_member(&pe) {
                    continue;
                }
                let kept = match set.child(&pe) {
                    Some(below) => remove(child, below, ty.field(key).0),
                    None => Some(child.clone()),
                };
                if let Some(kept) = kept {
                    out.insert(key.clone(), kept);
                }
            }
            (!out.is_empty()).then_some(Value::Object(out))
        }
        (Ok(Shape::List(kind, item_ty)), Value::Array(items)) if !items.is_empty() => {
            let Some(elements) = item_elements(&kind, &item_ty, items) else {
                return Some(v.clone());
            };
            let mut out = Vec::with_capacity(items.len());
            for (item, pe) in items.iter().zip(&elements) {
                if set.has_member(pe) {
                    continue;
                }
                match set.child(pe) {
                    Some(below) => out.extend(remove(item, below, item_ty)),
                    None => out.push(item.clone()),
                }
            }
            (!out.is_empty()).then_some(Value::Array(out))
        }
        _ => Some(v.clone()),
    }
}
