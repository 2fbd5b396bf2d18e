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
    compare_filled(old, new, &Value::Null, ty, &|_| true)
}

/// Compares `old` with `new` as if both had been filled with the zero object `zero` (see
/// `zero::fill`) — without copying them — looking only at the top-level fields `visit`
/// accepts (the others' changes would be filtered out anyway: reset fields).
pub(crate) fn compare_filled(
    old: &Value,
    new: &Value,
    zero: &Value,
    ty: Ty<'_>,
    visit: &dyn Fn(&str) -> bool,
) -> Comparison {
    let mut w = Walker {
        out: Comparison::default(),
        visit,
    };
    let mut path = Vec::new();
    w.walk(Some(old), Some(new), (Some(zero), Some(zero)), ty, &mut path);
    w.out
}

struct Walker<'f> {
    out: Comparison,
    /// Which top-level fields are compared.
    visit: &'f dyn Fn(&str) -> bool,
}

/// The value as filled with the zero object: a missing or null value is the zero one.
fn filled<'v>(v: Option<&'v Value>, zero: Option<&'v Value>) -> Option<&'v Value> {
    match (v, zero) {
        (None | Some(Value::Null), Some(z)) if !z.is_null() => Some(z),
        _ => v,
    }
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

impl Walker<'_> {
    fn walk(
        &mut self,
        l: Option<&Value>,
        r: Option<&Value>,
        (lzero, rzero): (Option<&Value>, Option<&Value>),
        ty: Ty<'_>,
        path: &mut Vec<PathElement>,
    ) {
        let (l, r) = (filled(l, lzero), filled(r, rzero));
        let (l_real, r_real) = (l.filter(|v| !v.is_null()), r.filter(|v| !v.is_null()));
        if let (Some(lv), Some(rv)) = (l_real, r_real)
            && category(ty.shape(lv)) != category(ty.shape(rv))
        {
            // A map became a list or a scalar (or the reverse): what the old value held is
            // gone, and the field itself is modified.
            self.walk(l, Some(&Value::Null), (lzero, None), ty, path);
            self.out.modified.insert(path);
            return;
        }
        let shape = r_real.or(l_real).map_or(Ok(Shape::Leaf), |v| ty.shape(v));
        let granular = match shape {
            Ok(Shape::Map) => as_map(l).zip(as_map(r)).is_some_and(|(lm, rm)| {
                if is_empty(l) && is_empty(r) {
                    return false;
                }
                let zeros = (zero_field_of(l, lzero), zero_field_of(r, rzero));
                self.map_items(lm, rm, zeros, ty, path);
                true
            }),
            Ok(Shape::List(kind, item_ty)) => match (as_list(l), as_list(r)) {
                (Some(la), Some(ra)) if !(la.is_empty() && ra.is_empty()) => {
                    match (
                        item_elements(&kind, &item_ty, la),
                        item_elements(&kind, &item_ty, ra),
                    ) {
                        (Some(lp), Some(rp)) => {
                            self.list_items(la, &lp, ra, &rp, item_ty, path);
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
            leaf(l, r, path, &mut self.out);
        } else if l.is_none() {
            self.out.added.insert(path);
        } else if r.is_none() {
            self.out.removed.insert(path);
        }
    }

    fn map_items(
        &mut self,
        lm: Option<&Map<String, Value>>,
        rm: Option<&Map<String, Value>>,
        (lz, rz): (ZeroOf<'_>, ZeroOf<'_>),
        ty: Ty<'_>,
        path: &mut Vec<PathElement>,
    ) {
        // Keys of either side, then those only the zero maps have (which a filled copy
        // would hold).
        let maps = [lm, rm, lz, rz];
        let root = path.is_empty();
        for (i, m) in maps.iter().enumerate() {
            let Some(m) = m else { continue };
            for key in m.keys() {
                if maps[..i].iter().any(|e| e.is_some_and(|e| e.contains_key(key))) {
                    continue;
                }
                if root && !(self.visit)(key) {
                    continue;
                }
                path.push(PathElement::Field(key.clone()));
                self.walk(
                    lm.and_then(|m| m.get(key)),
                    rm.and_then(|m| m.get(key)),
                    (lz.and_then(|z| z.get(key)), rz.and_then(|z| z.get(key))),
                    ty.field(key).0,
                    path,
                );
                path.pop();
            }
        }
    }
}

/// The zero map below a value that is a map.
type ZeroOf<'v> = Option<&'v Map<String, Value>>;

fn zero_field_of<'v>(v: Option<&'v Value>, zero: Option<&'v Value>) -> ZeroOf<'v> {
    match (v, zero) {
        (Some(Value::Object(_)), Some(Value::Object(z))) => Some(z),
        _ => None,
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

impl Walker<'_> {
    #[allow(clippy::too_many_arguments)]
    fn list_items(
        &mut self,
        la: &[Value],
        lp: &[PathElement],
        ra: &[Value],
        rp: &[PathElement],
        item_ty: Ty<'_>,
        path: &mut Vec<PathElement>,
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
                ([] | [_], [] | [_]) => self.walk(
                    l.first().copied(),
                    r.first().copied(),
                    (None, None),
                    item_ty,
                    path,
                ),
                (_, _) if l.len() >= 2 && r.len() >= 2 => {
                    let same = l.len() == r.len() && l.iter().zip(&r).all(|(a, b)| equals(a, b));
                    if !same {
                        self.out.modified.insert(path);
                    }
                }
                (_, _) if l.len() >= 2 => {
                    if let Some(first) = r.first() {
                        self.walk(None, Some(first), (None, None), item_ty, path);
                    }
                    self.out.removed.insert(path);
                }
                (_, _) => {
                    if let Some(first) = l.first() {
                        self.walk(Some(first), None, (None, None), item_ty, path);
                    }
                    self.out.added.insert(path);
                }
            }
            path.pop();
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::tests::schemas;
    use super::super::typed::Ty;
    use super::super::zero::{fill, zero_object};
    use super::*;

    /// Comparing in place against the zero object gives what comparing filled copies gives.
    #[test]
    fn filled_comparison_matches_comparing_filled_copies() {
        let s = schemas();
        let ty = Ty::Root(s.named("Deployment"));
        let zero = zero_object(ty);
        let objects = [
            json!({}),
            json!({"metadata": {"name": "a"}}),
            json!({"metadata": {"name": "a"}, "spec": null}),
            json!({"metadata": {"name": "a"}, "spec": {"replicas": 1}}),
            json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "a"}]}}}}),
            json!({"spec": {"template": {"metadata": {"labels": {"a": "b"}}, "spec": null}}}),
            json!({"spec": {"template": null, "strategy": {"type": "Recreate"}}}),
            json!({"spec": {"template": "oops"}}),
            json!({"spec": [1, 2]}),
            json!({"status": {"replicas": 2}}),
            json!({"spec": {"template": {"spec": {"containers": []}}}, "status": null}),
        ];
        let same = |a: &Comparison, b: &Comparison| {
            a.added == b.added && a.modified == b.modified && a.removed == b.removed
        };
        for old in &objects {
            for new in &objects {
                let copies = compare(&fill(old, &zero), &fill(new, &zero), ty);
                let in_place = compare_filled(old, new, &zero, ty, &|_| true);
                assert!(
                    same(&copies, &in_place),
                    "{old} -> {new}: {copies:?} vs {in_place:?}"
                );
            }
        }
    }
}
