//! The ownership algorithm itself (structured-merge-diff's `Updater`): how a write moves
//! field ownership between managers, when an apply conflicts, and which fields an applier
//! stops applying are removed.

use serde_json::{Value, json};

use super::compare::{Comparison, compare_filled};
use super::fields_of::{ensure_named, field_set};
use super::managed::{Entry, ManagerKey, Managers};
use super::merge::{merge, remove};
use super::path::PathElement;
use super::set::FieldSet;
use super::typed::Ty;
use super::zero::zero_object;

/// Fields the server resets on a write, which therefore nobody owns through it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResetFields {
    /// Nothing is reset (kinds without a status subresource, e.g. ConfigMap, or a CRD
    /// without `subresources.status`).
    None,
    /// `status` is reset: a write to the main resource of a kind with a status
    /// subresource (Deployment, Pod, …) never owns status.
    #[default]
    Status,
    /// Only `status` is taken: a write to the `status` subresource owns status only.
    AllButStatus,
}

impl ResetFields {
    /// The usual choice: `AllButStatus` for `/status`, else `Status` when the kind has a
    /// status subresource, else `None`.
    pub fn for_write(subresource: Option<&str>, has_status_subresource: bool) -> Self {
        match subresource {
            Some("status") => ResetFields::AllButStatus,
            _ if has_status_subresource => ResetFields::Status,
            _ => ResetFields::None,
        }
    }

    /// Whether changes under the top-level field can survive the reset (a cheap
    /// pre-filter: the others need not be compared at all).
    pub(crate) fn visits(self, field: &str) -> bool {
        match self {
            ResetFields::None => true,
            ResetFields::Status => field != "status",
            ResetFields::AllButStatus => field == "status",
        }
    }

    /// Applies the reset to a field set.
    pub(crate) fn filter(self, set: FieldSet) -> FieldSet {
        let status = PathElement::field("status");
        match self {
            ResetFields::None => set,
            ResetFields::Status => {
                let mut reset = FieldSet::new();
                reset.insert(&[status]);
                set.recursive_difference(&reset)
            }
            ResetFields::AllButStatus => set.only_under(&status),
        }
    }
}

/// Fields in conflict, per manager.
pub(crate) type ConflictSets = Vec<(ManagerKey, FieldSet)>;

/// Records the change from `old` to `new` against every manager except `workflow`: the
/// others lose changed fields (unless that is a conflict and `force` is off, which fails)
/// and removed fields. Returns the comparison, reset fields excluded.
pub(crate) fn update(
    old: &Value,
    new: &Value,
    ty: Ty<'_>,
    reset: ResetFields,
    managers: &mut Managers,
    workflow: Option<&ManagerKey>,
    force: bool,
) -> Result<Comparison, ConflictSets> {
    let zero = zero_object(ty);
    let cmp = compare_filled(old, new, &zero, ty, &|field| reset.visits(field)).filtered(|s| reset.filter(s));
    let changed = cmp.modified.union(&cmp.added);
    let conflicts: ConflictSets = managers
        .iter()
        .filter(|(key, _)| Some(*key) != workflow)
        .filter_map(|(key, entry)| {
            let overlap = entry.set.intersection(&changed);
            (!overlap.is_empty()).then(|| (key.clone(), overlap))
        })
        .collect();
    if !force && !conflicts.is_empty() {
        return Err(conflicts);
    }
    for (key, overlap) in &conflicts {
        if let Some(entry) = managers.get_mut(key) {
            entry.set = entry.set.difference(overlap);
        }
    }
    if !cmp.removed.is_empty() {
        for (key, entry) in managers.iter_mut() {
            if Some(key) != workflow {
                entry.set = entry.set.difference(&cmp.removed);
            }
        }
    }
    managers.retain(|_, entry| !entry.set.is_empty());
    Ok(cmp)
}

/// Applies `config` to `live` for the manager `key`: merges it in, records that the
/// manager now owns exactly the configuration's fields, removes what it no longer applies
/// (unless someone else owns it) and takes the changed fields from the others. On
/// conflict `managers` already holds the applier's new set, as upstream's map does.
#[allow(clippy::too_many_arguments)]
pub(crate) fn apply(
    live: &Value,
    config: &Value,
    ty: Ty<'_>,
    reset: ResetFields,
    managers: &mut Managers,
    key: &ManagerKey,
    version: &str,
    force: bool,
) -> Result<Value, ConflictSets> {
    let merged = merge(Some(live), Some(config), ty).unwrap_or_else(|| config.clone());
    let previous = managers.get(key).cloned();
    let set = reset.filter(field_set(config, ty));
    managers.insert(
        key.clone(),
        Entry {
            set,
            api_version: version.to_owned(),
            time: previous.as_ref().and_then(|e| e.time.clone()),
        },
    );
    let last = previous.map(|e| e.set).filter(|s| !s.is_empty());
    let new = match last {
        Some(last) => prune(&merged, managers, &last, ty),
        None => merged,
    };
    update(live, &new, ty, reset, managers, Some(key), force)?;
    Ok(new)
}

fn removed(v: &Value, set: &FieldSet, ty: Ty<'_>) -> Value {
    remove(v, set, ty).unwrap_or_else(|| json!({}))
}

/// Removes the fields the applier applied last time and not this time, unless a manager
/// (another applier, an updater, or the applier's new configuration) owns them.
fn prune(merged: &Value, managers: &Managers, last: &FieldSet, ty: Ty<'_>) -> Value {
    let last = ensure_named(last, ty);
    let pruned = removed(merged, &last, ty);
    // Add back whatever somebody owns.
    let owned = managers
        .values()
        .fold(FieldSet::new(), |acc, e| acc.union(&e.set));
    let merged_set = ensure_named(&field_set(merged, ty), ty);
    let pruned_set = ensure_named(&field_set(&pruned, ty), ty);
    let keep = pruned_set.union(&ensure_named(&owned, ty));
    let pruned = removed(merged, &merged_set.difference(&keep), ty);
    // Only what the applier owned may go; anything else that went comes back.
    let pruned_set = ensure_named(&field_set(&pruned, ty), ty);
    removed(
        merged,
        &merged_set.difference(&pruned_set).intersection(&last),
        ty,
    )
}
