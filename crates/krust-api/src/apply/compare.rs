//! What changed between two versions of an object, as three field sets (upstream's typed
//! `Compare`): fields added, modified and removed.
//!
//! Leaves (scalars, atomic maps and lists) are added, removed or modified by value. A map
//! or associative list, or an item of one, that appears or disappears is itself added or
//! removed in addition to what it holds — which is why Update entries show `".": {}` on
//! maps and list items a write created.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::path::PathElement;
use super::set::FieldSet;
use super::typed::{Shape, Ty, item_elements};
use super::value::equals;

/// The difference between an old and a new object.
#[derive(Debug, Clone, Default)]
pub(crate) struct Comparison {
    pub(crate) added: FieldSet,
    pub(crate) modified: FieldSet,
    pub(crate) removed: FieldSet,
}

impl Comparison {
    /// Keeps only what `filter` keeps of each set (reset fields).
    pub(crate) fn filtered(self, filter: impl Fn(FieldSet) -> FieldSet) -> Comparison {
        Comparison {
            added: filter(self.added),
            modified: filter(self.modified),
            removed: filter(self.removed),
        }
    }
}

/// Compares `old` with `new` under `ty`.
pub(crate) fn compare(old: &Value, new: &Value, ty: Ty<'_>) -> Comparison {
    let mut out = Comparison::default();
    let mut path = Vec::new();
    walk(Some(old), Some(new), ty, &mut path, &mut out);
    out
}

fn leaf(l: Option<&Value>, r: Option<&Value>, path: &[PathElement], out: &mut Comparison) {
    match (l, r) {
        (None, _) => out.added.insert(path),
        (_, None) => out.removed.insert(path),
        (Some(l), Some(r)) if !equals(l, r) => out.modified.insert(path),
        _ => {}
    }
}

fn is_empty(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::Object(m)) => m.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(_) => false,
    }
}

fn as_map(v: Option<&Value>) -> Option<Option<&Map<String, Value>>> {
    match v {
        None | Some(Value::Null) => Some(None),
        Some(Value::Object(m)) => Some(Some(m)),
        Some(_) => None,
    }
}

fn as_list(v: Option<&Value>) -> Option<&[Value]> {
    match v {
        None | Some(Value::Null) => Some(&[]),
        Some(Value::Array(a)) => Some(a),
        Some(_) => None,
    }
}

/// 0 for leaves (and values that do not fit), 1 for maps, 2 for associative lists.
fn category(shape: Result<Shape<'_>, String>) -> u8 {
    match shape {
        Ok(Shape::Map) => 1,
        Ok(Shape::List(..)) => 2,
        Ok(Shape::Leaf) | Err(_) => 0,
    }
}

fn walk(l: Option<&Value>, r: Option<&Value>, ty: Ty<'_>, path: &mut Vec<PathElement>, out: &mut Comparison) {
    let (l_real, r_real) = (l.filter(|v| !v.is_null()), r.filter(|v| !v.is_null()));
    if let (Some(lv), Some(rv)) = (l_real, r_real)
        && category(ty.shape(lv)) != category(ty.shape(rv))
    {
        // A map became a list or a scalar (or the reverse): what the old value held is
        // gone, and the field itself is modified.
        walk(l, Some(&Value::Null), ty, path, out);
        out.modified.insert(path);
        return;
    }
    let shape = r_real.or(l_real).map_or(Ok(Shape::Leaf), |v| ty.shape(v));
    let granular = match shape {
        Ok(Shape::Map) => as_map(l).zip(as_map(r)).is_some_and(|(lm, rm)| {
            if is_empty(l) && is_empty(r) {
                return false;
            }
            map_items(lm, rm, ty, path, out);
            true
        }),
        Ok(Shape::List(kind, item_ty)) => match (as_list(l), as_list(r)) {
            (Some(la), Some(ra)) if !(la.is_empty() && ra.is_empty()) => {
                match (
                    item_elements(&kind, &item_ty, la),
                    item_elements(&kind, &item_ty, ra),
                ) {
                    (Some(lp), Some(rp)) => {
                        list_items(la, &lp, ra, &rp, item_ty, path, out);
                        true
                    }
                    _ => false,
                }
            }
            _ => false,
        },
        Err(_) | Ok(Shape::Leaf) => false,
    };
    if !granular {
        leaf(l, r, path, out);
    } else if l.is_none() {
        out.added.insert(path);
    } else if r.is_none() {
        out.removed.insert(path);
    }
}

fn map_items(
    lm: Option<&Map<String, Value>>,
    rm: Option<&Map<String, Value>>,
    ty: Ty<'_>,
    path: &mut Vec<PathElement>,
    out: &mut Comparison,
) {
    let lkeys = lm.into_iter().flat_map(|m| m.keys());
    let rkeys = rm
        .into_iter()
        .flat_map(|m| m.keys())
        .filter(|k| !lm.is_some_and(|m| m.contains_key(*k)));
    for key in lkeys.chain(rkeys) {
        path.push(PathElement::Field(key.clone()));
        walk(
            lm.and_then(|m| m.get(key)),
            rm.and_then(|m| m.get(key)),
            ty.field(key).0,
            path,
            out,
        );
        path.pop();
    }
}

/// Items grouped by element; `order` collects each element once, in first-seen order
/// (old items first).
fn group<'v>(
    items: &'v [Value],
    elements: &[PathElement],
    order: &mut Vec<PathElement>,
    seen: &mut BTreeSet<PathElement>,
) -> BTreeMap<PathElement, Vec<&'v Value>> {
    let mut groups: BTreeMap<PathElement, Vec<&'v Value>> = BTreeMap::new();
    for (item, pe) in items.iter().zip(elements) {
        groups.entry(pe.clone()).or_default().push(item);
        if seen.insert(pe.clone()) {
            order.push(pe.clone());
        }
    }
    groups
}

#[allow(clippy::too_many_arguments)]
fn list_items(
    la: &[Value],
    lp: &[PathElement],
    ra: &[Value],
    rp: &[PathElement],
    item_ty: Ty<'_>,
    path: &mut Vec<PathElement>,
    out: &mut Comparison,
) {
    let mut order = Vec::new();
    let mut seen = BTreeSet::new();
    let lgroups = group(la, lp, &mut order, &mut seen);
    let rgroups = group(ra, rp, &mut order, &mut seen);
    for pe in order {
        let l = lgroups.get(&pe).cloned().unwrap_or_default();
        let r = rgroups.get(&pe).cloned().unwrap_or_default();
        path.push(pe);
        match (l.as_slice(), r.as_slice()) {
            ([], []) => {}
            ([] | [_], [] | [_]) => walk(l.first().copied(), r.first().copied(), item_ty, path, out),
            (_, _) if l.len() >= 2 && r.len() >= 2 => {
                let same = l.len() == r.len() && l.iter().zip(&r).all(|(a, b)| equals(a, b));
                if !same {
                    out.modified.insert(path);
                }
            }
            (_, _) if l.len() >= 2 => {
                if let Some(first) = r.first() {
                    walk(None, Some(first), item_ty, path, out);
                }
                out.removed.insert(path);
            }
            (_, _) => {
                if let Some(first) = l.first() {
                    walk(Some(first), None, item_ty, path, out);
                }
                out.added.insert(path);
            }
        }
        path.pop();
    }
}
