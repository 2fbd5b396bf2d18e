//! Server-side apply and field ownership (`metadata.managedFields`), as Kubernetes 1.33
//! does it (sigs.k8s.io/structured-merge-diff and the apiserver's field manager).
//!
//! Every write records who owns which fields:
//! - [`apply`] handles `PATCH` with `application/apply-patch+yaml`: the applied
//!   configuration is merged into the live object (maps by key, associative lists by item
//!   key, sets by value, everything atomic replaced), the manager's Apply entry becomes
//!   exactly the configuration's fields, fields it applied before and no longer applies are
//!   removed unless another manager owns them, and fields another manager owns with a
//!   different value are conflicts (an error listing all of them) unless `force` moves
//!   them to the applier.
//! - [`record_update`] handles every other write (create, update, patch, subresources): the
//!   fields the write set or changed become the writer's, under an Update entry, and are
//!   taken from everybody else without conflict.
//!
//! Field sets are stored as FieldsV1 (`{"f:spec":{"f:replicas":{}}}`); see [`FieldSet`].
//! Types come from the kind's OpenAPI schema ([`SchemaNode`]); without one, maps merge
//! field by field and lists are atomic (upstream's "deduced" type), with `metadata` always
//! typed as ObjectMeta.
//!
//! Bookkeeping as upstream: entries are one per (manager, Apply, subresource) and per
//! (manager, Update, apiVersion, subresource); server-owned metadata (`name`, `namespace`,
//! `uid`, `resourceVersion`, `generation`, `creationTimestamp`, `selfLink`,
//! `managedFields`) and `apiVersion`/`kind` are never owned; managers left owning nothing
//! disappear; more than ten Update entries fold into `ancient-changes`; an object with no
//! managedFields at all gets them only when created or first applied to (then a
//! `before-first-apply` Update entry takes everything already there).
//!
//! From client-side to server-side apply, as Kubernetes 1.33 and kubectl 1.33 do it:
//! 1. An apply by the manager `kubectl` whose conflicts are all on fields that the
//!    `kubectl.kubernetes.io/last-applied-configuration` annotation lists with the value
//!    the object still has is forced (those fields were applied client-side by the same
//!    user, as `kubectl-client-side-apply`); any other conflict still fails.
//! 2. After an apply by `kubectl` to an object carrying the annotation, the annotation is
//!    rewritten to the applied configuration (Go's JSON encoding plus a newline), or
//!    dropped if it would exceed the annotation size limit.
//! 3. kubectl then applies the annotation alone as `kubectl-last-applied`, and sends a JSON
//!    patch replacing `metadata.managedFields` in which the Update entries owning the
//!    annotation are folded into its Apply entry ([`upgrade_managed_fields`] computes the
//!    same list). [`record_update`] keeps managedFields that a request sets, which is what
//!    makes that patch work: the caller must hand it the patched object with them.
//!
//! Deliberate differences: fields the schema does not declare are accepted (typed as
//! "deduced"; the write pipeline's unknown-field handling decides about them) where
//! upstream answers 500 "field not declared in schema"; stored managedFields that do not
//! decode count as none instead of failing every apply; an apply stamps `time` on an entry
//! whose fields changed even when the object did not; maps and lists a removal empties
//! are dropped rather than left `null`.
//!
//! Not modelled: conversion of field sets between API versions (every set is read as
//! paths of the version written now), the `scale` subresource's mapping of
//! `.spec.replicas`, unions, and schema changes of list types.

use serde_json::{Map, Value, json};

use crate::schema::SchemaNode;

mod compare;
mod conflict;
mod created;
mod fields_of;
mod last_applied;
mod managed;
mod merge;
mod path;
mod set;
mod typed;
mod updater;
mod value;
mod zero;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests_lists;
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests_more;

pub use conflict::{Conflict, Conflicts};
pub use created::CreationMemo;
pub use last_applied::{LAST_APPLIED, upgrade_managed_fields};
pub use managed::Operation;
pub use path::{Path, PathElement};
pub use set::FieldSet;
pub use updater::ResetFields;

use managed::{Entry, ManagerKey, Managers};
use typed::Ty;
use updater::ConflictSets;

/// Deepest object accepted (JSON parsing already stops at 128).
pub const MAX_DEPTH: usize = 200;

/// The manager kubectl uses for `apply --server-side`, the only one the client-side apply
/// migration helps.
const KUBECTL: &str = "kubectl";
/// Owner of what an object held before its first apply, when it had no managedFields.
const BEFORE_FIRST_APPLY: &str = "before-first-apply";

/// What an apply needs besides the objects.
#[derive(Debug, Clone, Copy)]
pub struct ApplyContext<'a> {
    /// `fieldManager` (required for apply; the caller answers 400 when it is missing).
    pub manager: &'a str,
    /// The version applied in (`apps/v1`); the configuration must say the same.
    pub api_version: &'a str,
    /// The kind applied (`Deployment`); the configuration must say the same.
    pub kind: &'a str,
    /// `Some("status")` for an apply to `/status`.
    pub subresource: Option<&'a str>,
    /// `force=true`: take conflicting fields instead of failing.
    pub force: bool,
    /// The time recorded in the entry, RFC 3339 in seconds (`2024-05-01T10:00:00Z`).
    pub now: &'a str,
    /// The schema of the whole object; `None` for untyped objects.
    pub schema: Option<SchemaNode<'a>>,
    /// What the server resets on this write (see [`ResetFields::for_write`]).
    pub reset: ResetFields,
}

/// What recording a non-apply write needs.
#[derive(Debug, Clone, Copy)]
pub struct UpdateContext<'a> {
    /// `fieldManager`, or the default the caller derives from the user agent (`kubectl-edit`,
    /// `kube-controller-manager`); empty is recorded as `unknown`.
    pub manager: &'a str,
    /// The version of the request (`apps/v1`).
    pub api_version: &'a str,
    /// `Some("status")` for a write to `/status`.
    pub subresource: Option<&'a str>,
    /// The time recorded in the entry, RFC 3339 in seconds.
    pub now: &'a str,
    /// The schema of the whole object; `None` for untyped objects.
    pub schema: Option<SchemaNode<'a>>,
    /// What the server resets on this write.
    pub reset: ResetFields,
    /// A memo of creations' field sets and the name of the schema it belongs to; only
    /// for schemas that never change while the memo lives (see [`CreationMemo`]).
    pub creations: Option<(&'a CreationMemo, &'a str)>,
}

/// Why an apply failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// Fields owned by other managers with other values: answer 409 `Conflict` with this
    /// message and one `FieldManagerConflict` cause per conflict
    /// (`Conflict::cause_message`, field `Conflict::field`).
    #[error("{0}")]
    Conflicts(Conflicts),
    /// The request itself is wrong (another apiVersion or kind than the URL's, managedFields
    /// set, not an object): answer 400 with this message, as upstream.
    #[error("{0}")]
    BadRequest(String),
    /// The configuration does not fit the kind's schema (a map where a list belongs, a list
    /// item without its key, duplicate items), with upstream's message. Upstream 1.33
    /// answers 500 with it; 400 is the better answer (kubernetes#139255).
    #[error("{0}")]
    Invalid(String),
}

/// Applies `applied` (the decoded apply-patch body) to `live` (`None`: the object does not
/// exist and is created) for `ctx.manager`. Returns the new object with its
/// `metadata.managedFields` updated; `live` is untouched. Defaulting, validation, reset of
/// status and the name/namespace checks stay with the caller.
pub fn apply(live: Option<&Value>, applied: &Value, ctx: &ApplyContext<'_>) -> Result<Value, ApplyError> {
    if too_deep(applied) {
        return Err(ApplyError::BadRequest(format!(
            "apply configuration is nested more than {MAX_DEPTH} levels deep"
        )));
    }
    let Some(config) = applied.as_object() else {
        return Err(ApplyError::BadRequest(
            "apply configuration must be an object".into(),
        ));
    };
    let text = |key: &str| config.get(key).and_then(Value::as_str).unwrap_or_default();
    let (api_version, kind) = (text("apiVersion"), text("kind"));
    if api_version != ctx.api_version || kind != ctx.kind {
        return Err(ApplyError::BadRequest(format!(
            "invalid object type: {}",
            gvk(api_version, kind)
        )));
    }
    if managed_fields_of(applied).is_some_and(|m| !m.is_null()) {
        return Err(ApplyError::BadRequest(
            "metadata.managedFields must be nil".into(),
        ));
    }
    let ty = Ty::Root(ctx.schema);
    fields_of::validate(applied, ty).map_err(|e| {
        ApplyError::Invalid(format!(
            "failed to create typed patch object ({}): {e}",
            describe(applied, api_version, kind)
        ))
    })?;
    let mut live_obj = match live {
        Some(l) if too_deep(l) => {
            return Err(ApplyError::Invalid(format!(
                "stored object is nested more than {MAX_DEPTH} levels deep"
            )));
        }
        Some(l) => l.clone(),
        None => json!({}),
    };
    let mut managers: Managers = take_managed_fields(&mut live_obj)
        .and_then(|raw| managed::decode(&raw).ok())
        .unwrap_or_default();
    let key = ManagerKey::apply(ctx.manager, ctx.subresource);
    let original = managers.get(&key).cloned();
    if managers.is_empty() && live.is_some() {
        let before = ManagerKey::update(BEFORE_FIRST_APPLY, ctx.api_version, ctx.subresource);
        let zero = zero::zero_object(ty);
        record(
            &zero,
            &live_obj,
            ty,
            &mut managers,
            &before,
            ctx.api_version,
            ctx.now,
            ctx.reset,
        );
    }
    let attempt = |managers: &mut Managers, force: bool| {
        attempt_apply(
            &live_obj,
            applied,
            ty,
            ctx,
            managers,
            &key,
            original.as_ref(),
            force,
        )
    };
    let mut new = match attempt(&mut managers, ctx.force) {
        Ok(new) => new,
        Err(conflicts) if ctx.manager == KUBECTL => {
            let Some(allowed) = last_applied::allowed_conflicts(&live_obj, ty, ctx.api_version) else {
                return Err(conflict_error(conflicts));
            };
            let remaining: ConflictSets = conflicts
                .into_iter()
                .map(|(k, set)| (k, set.difference(&allowed)))
                .filter(|(_, set)| !set.is_empty())
                .collect();
            if !remaining.is_empty() {
                return Err(conflict_error(remaining));
            }
            attempt(&mut managers, true).map_err(conflict_error)?
        }
        Err(conflicts) => return Err(conflict_error(conflicts)),
    };
    if ctx.manager == KUBECTL && last_applied::has_annotation(&new) {
        last_applied::sync_annotation(&mut new, applied);
    }
    set_managed_fields(&mut new, managed::encode(&managers));
    Ok(new)
}

/// One run of the apply: the merge and ownership change, then the applier's bookkeeping
/// (server-owned metadata stripped, time set when the object or its fields changed).
#[allow(clippy::too_many_arguments)]
fn attempt_apply(
    live: &Value,
    config: &Value,
    ty: Ty<'_>,
    ctx: &ApplyContext<'_>,
    managers: &mut Managers,
    key: &ManagerKey,
    original: Option<&Entry>,
    force: bool,
) -> Result<Value, ConflictSets> {
    let new = updater::apply(live, config, ty, ctx.reset, managers, key, ctx.api_version, force)?;
    managed::strip(managers, key);
    let changed = !value::equals(live, &new);
    if let Some(entry) = managers.get_mut(key) {
        // Upstream stamps only a changed object; a new or changed entry is stamped too so
        // that every entry says when it was last written.
        let entry_changed = original.is_none_or(|o| o.set != entry.set || o.time.is_none());
        if changed || entry_changed {
            entry.time = Some(ctx.now.to_owned());
        }
    }
    Ok(new)
}

fn conflict_error(sets: ConflictSets) -> ApplyError {
    ApplyError::Conflicts(Conflicts::from_sets(sets))
}

/// Records a non-apply write from `old` (`None` for a create) to `new` by `ctx.manager`,
/// setting `new`'s `metadata.managedFields`.
///
/// managedFields the request itself carries are kept (that is how kubectl's migration
/// from client-side apply rewrites them), `[]` or `[{}]` clear them, and a request
/// without them keeps the stored ones; writes to a subresource always start from the
/// stored ones. An object stored without managedFields stays without them on update, as
/// upstream. Never fails: a value it cannot handle keeps the stored managedFields.
pub fn record_update(old: Option<&Value>, new: &mut Value, ctx: &UpdateContext<'_>) {
    let old_raw = old.and_then(managed_fields_of).cloned();
    let new_raw = take_managed_fields(new);
    if too_deep(new) || old.is_some_and(too_deep) || !new.is_object() {
        set_managed_fields(new, old_raw);
        return;
    }
    let decode_old = || {
        old_raw
            .as_ref()
            .and_then(|raw| managed::decode(raw).ok())
            .unwrap_or_default()
    };
    let mut managers = match &new_raw {
        _ if ctx.subresource.is_some() => decode_old(),
        Some(raw) if managed::is_reset(raw) => Managers::new(),
        Some(raw) => match managed::decode(raw) {
            Ok(decoded) if !decoded.is_empty() => decoded,
            _ => decode_old(),
        },
        None => decode_old(),
    };
    let creating = old.is_none_or(|o| {
        o.pointer("/metadata/uid")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
    });
    if managers.is_empty() && !creating {
        return;
    }
    // A plain creation: its field set depends on the object's shape only.
    let memo = match ctx.creations {
        Some((memo, schema)) if creating && managers.is_empty() && ctx.subresource.is_none() => {
            created::key(schema, ctx.reset, new).map(|key| (memo, key))
        }
        _ => None,
    };
    let key = ManagerKey::update(ctx.manager, ctx.api_version, ctx.subresource);
    if let Some((memo, shape)) = &memo
        && let Some(fields) = memo.get(shape)
    {
        let managed = (!fields.is_null()).then(|| {
            let entry = managed::encode_entry(&key, ctx.api_version, Some(ctx.now), fields);
            Value::Array(vec![entry])
        });
        set_managed_fields(new, managed);
        return;
    }
    let ty = Ty::Root(ctx.schema);
    let old_obj = match old {
        Some(o) => {
            let mut o = o.clone();
            take_managed_fields(&mut o);
            o
        }
        None => zero::zero_object(ty),
    };
    record(
        &old_obj,
        new,
        ty,
        &mut managers,
        &key,
        ctx.api_version,
        ctx.now,
        ctx.reset,
    );
    managed::cap_update_managers(&mut managers);
    if let Some((memo, shape)) = memo {
        match managers.get(&key) {
            Some(entry) if managers.len() == 1 => memo.insert(shape, entry.set.to_fields_v1()),
            None if managers.is_empty() => memo.insert(shape, Value::Null),
            _ => {}
        }
    }
    set_managed_fields(new, managed::encode(&managers));
}

/// An Update by `key`: changed fields move to it, removed ones leave everybody.
#[allow(clippy::too_many_arguments)]
fn record(
    old: &Value,
    new: &Value,
    ty: Ty<'_>,
    managers: &mut Managers,
    key: &ManagerKey,
    version: &str,
    now: &str,
    reset: ResetFields,
) {
    let Ok(cmp) = updater::update(old, new, ty, reset, managers, None, true) else {
        return;
    };
    let set = cmp.modified.union(&cmp.added);
    if !set.is_empty() {
        let entry = managers.entry(key.clone()).or_insert_with(|| Entry {
            set: FieldSet::new(),
            api_version: version.to_owned(),
            time: None,
        });
        entry.set = entry.set.union(&set);
        entry.api_version = version.to_owned();
        entry.time = Some(now.to_owned());
    }
    managed::strip(managers, key);
}

/// The fields `obj` sets under `schema`, as an applier of `obj` would own them (before
/// server-owned metadata is stripped).
pub fn object_fields(obj: &Value, schema: Option<SchemaNode<'_>>) -> FieldSet {
    fields_of::field_set(obj, Ty::Root(schema))
}

fn managed_fields_of(obj: &Value) -> Option<&Value> {
    obj.get("metadata")?.get("managedFields")
}

fn take_managed_fields(obj: &mut Value) -> Option<Value> {
    obj.get_mut("metadata")?.as_object_mut()?.remove("managedFields")
}

fn set_managed_fields(obj: &mut Value, managed: Option<Value>) {
    let Some(root) = obj.as_object_mut() else {
        return;
    };
    match managed {
        Some(list) => {
            let meta = root
                .entry("metadata")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Some(meta) = meta.as_object_mut() {
                meta.insert("managedFields".into(), list);
            }
        }
        None => {
            if let Some(meta) = root.get_mut("metadata").and_then(Value::as_object_mut) {
                meta.remove("managedFields");
            }
        }
    }
}

/// Go's text of a group/version/kind: `apps/v1, Kind=Deployment`, `/v1, Kind=Pod`.
fn gvk(api_version: &str, kind: &str) -> String {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    format!("{group}/{version}, Kind={kind}")
}

/// `namespace/name; apps/v1, Kind=Deployment`, as upstream names an object in errors.
fn describe(obj: &Value, api_version: &str, kind: &str) -> String {
    let meta = |key: &str| {
        obj.get("metadata")
            .and_then(|m| m.get(key))
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    format!(
        "{}/{}; {}",
        meta("namespace"),
        meta("name"),
        gvk(api_version, kind)
    )
}

/// True when `value` nests deeper than `MAX_DEPTH`, checked without recursion.
/// `metadata.managedFields` is left out: field sets are as deep as the object plus a few
/// levels, and their decoding has its own bound.
fn too_deep(value: &Value) -> bool {
    let mut pending = vec![(value, 1usize)];
    while let Some((value, depth)) = pending.pop() {
        if depth > MAX_DEPTH {
            return true;
        }
        match value {
            Value::Object(map) => pending.extend(
                map.iter()
                    .filter(|(key, _)| !(depth == 2 && key.as_str() == "managedFields"))
                    .map(|(_, v)| (v, depth + 1)),
            ),
            Value::Array(items) => pending.extend(items.iter().map(|v| (v, depth + 1))),
            _ => {}
        }
    }
    false
}
