//! Strategic merge of lists, and the element order of the result.
//!
//! Lists with the `merge` strategy merge element-wise: objects by their merge key (patch
//! elements update the stored one with the same key or are added; `$patch: delete` removes
//! it; a `$patch: replace` element makes the patch's elements the whole list), primitives as
//! a set union. The order then follows upstream: elements named by the patch (or by
//! `$setElementOrder/<f>`, which wins) keep that relative order, elements only the server
//! has keep theirs, and the two are interleaved using the stored order as the tie-breaker.
//! Without `$setElementOrder`, new patch elements therefore come first, as upstream does.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::directive::{self, Directive, PATCH};
use super::strategic::{FieldMeta, merge_map};
use super::{PatchError, inapplicable, malformed};
use crate::schema::SchemaNode;

/// Identity of a list element: its merge-key value for lists of objects, the value itself
/// for primitives, serialized so it can be hashed (equal JSON gives equal identities).
fn ident(item: &Value, key: Option<&str>) -> Option<String> {
    match key {
        Some(key) => item.as_object()?.get(key).map(Value::to_string),
        None => Some(item.to_string()),
    }
}

fn no_merge_key(field: &str, key: &str) -> PatchError {
    malformed(format!(
        "an element of list {field:?} does not contain declared merge key: {key}"
    ))
}

/// What a list holds, judged from its non-null elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Elements {
    Objects,
    Primitives,
}

/// All non-null elements must share one JSON type; lists of lists are not supported.
fn elements(original: &[Value], patch: &[Value], field: &str) -> Result<Elements, PatchError> {
    let mut seen: Option<std::mem::Discriminant<Value>> = None;
    let mut objects = false;
    for item in original.iter().chain(patch).filter(|v| !v.is_null()) {
        if item.is_array() {
            return Err(inapplicable(format!(
                "lists of lists are not supported ({field})"
            )));
        }
        let kind = std::mem::discriminant(item);
        if seen.is_some_and(|s| s != kind) {
            return Err(inapplicable(format!(
                "the elements of list {field:?} are not all of the same type"
            )));
        }
        seen = Some(kind);
        objects = item.is_object();
    }
    Ok(if objects {
        Elements::Objects
    } else {
        Elements::Primitives
    })
}

/// Merges a patch list into a stored list of a field with the `merge` strategy.
pub(super) fn merge_list(
    original: Vec<Value>,
    patch: Vec<Value>,
    meta: &FieldMeta<'_>,
) -> Result<Vec<Value>, PatchError> {
    if original.is_empty() && patch.is_empty() {
        return Ok(original);
    }
    if elements(&original, &patch, meta.name)? == Elements::Objects {
        return merge_objects(original, patch, meta);
    }
    let wanted: Vec<_> = patch.iter().map(|v| ident(v, None)).collect();
    let stored: Vec<_> = original.iter().map(|v| ident(v, None)).collect();
    let mut seen = std::collections::HashSet::new();
    let union: Vec<Value> = original
        .into_iter()
        .chain(patch)
        .filter(|v| seen.insert(v.to_string()))
        .collect();
    reorder(union, &wanted, &stored, None, meta.name)
}

fn merge_objects(
    original: Vec<Value>,
    patch: Vec<Value>,
    meta: &FieldMeta<'_>,
) -> Result<Vec<Value>, PatchError> {
    let field = meta.name;
    let Some(key) = meta.merge_key else {
        return Err(inapplicable(format!(
            "cannot merge list {field:?}: its schema declares no merge key"
        )));
    };
    let mut base = original;
    let mut items = Vec::with_capacity(patch.len());
    let mut replace = false;
    for item in patch {
        let Value::Object(map) = item else {
            return Err(malformed(format!(
                "list {field:?} mixes objects and other values"
            )));
        };
        match map.get(PATCH).map(directive::parse).transpose()? {
            None => items.push(map),
            Some(Directive::Delete) => {
                let target = map.get(key).ok_or_else(|| no_merge_key(field, key))?;
                base.retain(|stored| stored.get(key) != Some(target));
            }
            Some(Directive::Replace) => replace = true,
            Some(Directive::Merge) => {}
        }
    }
    if replace {
        base = items
            .into_iter()
            .map(|m| directive::strip_map(m).map(Value::Object))
            .collect::<Result<_, _>>()?;
        items = Vec::new();
    }
    let wanted = items
        .iter()
        .map(|m| {
            m.get(key)
                .map(Value::to_string)
                .ok_or_else(|| no_merge_key(field, key))
        })
        .map(|r| r.map(Some))
        .collect::<Result<Vec<_>, _>>()?;
    let stored: Vec<_> = base.iter().map(|v| ident(v, Some(key))).collect();
    let merged = merge_by_key(base, items, key, meta.items(), field)?;
    reorder(merged, &wanted, &stored, Some(key), field)
}

/// Merges each patch element into the stored element with the same key, or appends it.
fn merge_by_key(
    mut base: Vec<Value>,
    items: Vec<Map<String, Value>>,
    key: &str,
    schema: Option<SchemaNode<'_>>,
    field: &str,
) -> Result<Vec<Value>, PatchError> {
    let mut index: HashMap<String, usize> = HashMap::new();
    for (i, stored) in base.iter().enumerate() {
        if let Some(id) = ident(stored, Some(key)) {
            index.entry(id).or_insert(i);
        }
    }
    for item in items {
        let id = item
            .get(key)
            .map(Value::to_string)
            .ok_or_else(|| no_merge_key(field, key))?;
        match index.get(&id).and_then(|&i| base.get_mut(i)) {
            Some(slot) => {
                let Value::Object(current) = std::mem::take(slot) else {
                    return Err(inapplicable(format!("list {field:?} holds a non-object element")));
                };
                *slot = Value::Object(merge_map(current, item, schema)?);
            }
            None => {
                if let Some(value) = directive::strip(Value::Object(item))? {
                    index.insert(id, base.len());
                    base.push(value);
                }
            }
        }
    }
    Ok(base)
}

/// `$setElementOrder/<field>` with the patch's `<field>` (if any): merges the list, then
/// orders it as the directive says, server-only elements interleaved by stored order.
pub(super) fn set_element_order(
    original: &mut Map<String, Value>,
    order: Value,
    patch_list: Option<Value>,
    meta: FieldMeta<'_>,
) -> Result<(), PatchError> {
    let field = meta.name;
    let Value::Array(order) = order else {
        return Err(malformed(format!(
            "invalid patch format of $setElementOrder/{field}: expected a list"
        )));
    };
    let patch_list = match patch_list {
        None => None,
        Some(Value::Null) => {
            original.remove(field);
            return Ok(());
        }
        Some(Value::Array(items)) => Some(items),
        Some(_) => {
            return Err(malformed(format!(
                "invalid patch format of $setElementOrder/{field}: {field} is not a list"
            )));
        }
    };
    let key = meta.merge_key;
    if let Some(items) = &patch_list {
        check_patch_order(items, &order, key, field)?;
    }
    let stored_list = match original.get_mut(field) {
        Some(Value::Array(items)) => Some(std::mem::take(items)),
        _ => None,
    };
    let stored: Vec<_> = stored_list.iter().flatten().map(|v| ident(v, key)).collect();
    let merged = match (stored_list, patch_list) {
        (None, None) => return Ok(()),
        (Some(stored), None) => stored,
        (Some(stored), Some(patch)) if meta.merge => merge_list(stored, patch, &meta)?,
        (_, Some(patch)) => directive::strip_list(patch)?,
    };
    let unordered = key.is_none() && merged.iter().any(|v| v.is_object() || v.is_array());
    let ordered = if unordered {
        // Objects without a merge key have no identity to order by.
        merged
    } else {
        let wanted = order
            .iter()
            .map(|o| match key {
                Some(_) if !o.is_object() => Err(malformed(format!(
                    "invalid patch format of $setElementOrder/{field}: elements must be objects"
                ))),
                _ => Ok(ident(o, key)),
            })
            .collect::<Result<Vec<_>, _>>()?;
        reorder(merged, &wanted, &stored, key, field)?
    };
    original.insert(field.to_string(), Value::Array(ordered));
    Ok(())
}

/// The patch list must name its elements in the same relative order as the directive and
/// may not name elements the directive leaves out (deletions and markers aside).
fn check_patch_order(
    items: &[Value],
    order: &[Value],
    key: Option<&str>,
    field: &str,
) -> Result<(), PatchError> {
    if items.is_empty() || order.is_empty() {
        return Ok(());
    }
    let mut remaining = order.iter();
    for item in items {
        if key.is_some() && !item.is_object() {
            return Err(malformed(format!(
                "list {field:?} mixes objects and other values"
            )));
        }
        if item.get(PATCH).is_some() {
            continue;
        }
        let wanted = match key {
            Some(key) => Some(item.get(key).ok_or_else(|| no_merge_key(field, key))?),
            None => None,
        };
        let found = remaining.any(|o| match (key, wanted) {
            (Some(key), Some(w)) => o.get(key) == Some(w),
            _ => o == item,
        });
        if !found {
            return Err(malformed(format!(
                "the order of list {field:?} in the patch doesn't match its $setElementOrder list"
            )));
        }
    }
    Ok(())
}

/// Orders `merged`: elements whose identity is in `wanted` come in that order, the others
/// in `stored` order, and the two runs interleave by their positions in `stored`.
fn reorder(
    merged: Vec<Value>,
    wanted: &[Option<String>],
    stored: &[Option<String>],
    key: Option<&str>,
    field: &str,
) -> Result<Vec<Value>, PatchError> {
    let wanted_pos = first_positions(wanted);
    let stored_pos = first_positions(stored);
    let mut named = Vec::new();
    let mut server_only = Vec::new();
    for item in merged {
        let id = match (ident(&item, key), key) {
            (Some(id), _) => id,
            (None, Some(key)) => {
                return Err(inapplicable(format!(
                    "an element of list {field:?} does not contain declared merge key: {key}"
                )));
            }
            (None, None) => item.to_string(),
        };
        let at = stored_pos.get(id.as_str()).copied();
        match wanted_pos.get(id.as_str()) {
            Some(&rank) => named.push((rank, at, item)),
            None => server_only.push((at.unwrap_or(usize::MAX), at, item)),
        }
    }
    named.sort_by_key(|(rank, _, _)| *rank);
    server_only.sort_by_key(|(rank, _, _)| *rank);

    let mut out = Vec::with_capacity(named.len() + server_only.len());
    let mut left = server_only.into_iter().peekable();
    let mut right = named.into_iter().peekable();
    loop {
        // A server-only element goes first only when both are stored and it was earlier;
        // patch elements new to the list therefore win ties.
        let take_left = match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (Some((_, Some(l), _)), Some((_, Some(r), _))) => l < r,
            _ => false,
        };
        let next = if take_left { left.next() } else { right.next() };
        if let Some((_, _, item)) = next {
            out.push(item);
        }
    }
    Ok(out)
}

fn first_positions(ids: &[Option<String>]) -> HashMap<&str, usize> {
    let mut pos = HashMap::new();
    for (i, id) in ids.iter().enumerate() {
        if let Some(id) = id {
            pos.entry(id.as_str()).or_insert(i);
        }
    }
    pos
}
