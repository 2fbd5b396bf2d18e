//! Moving from client-side apply (`kubectl apply`, which keeps the
//! `kubectl.kubernetes.io/last-applied-configuration` annotation and writes as the Update
//! manager `kubectl-client-side-apply`) to server-side apply, as Kubernetes 1.33 does it.
//!
//! Server side (this module, used by `apply`), only for the manager named `kubectl`:
//! - *last-applied manager*: an apply whose conflicts are all on fields the annotation
//!   lists with the value the object still has is forced — those fields were the same
//!   user's, applied client-side;
//! - *last-applied updater*: after a successful apply to an object that has the
//!   annotation, the annotation is rewritten to the applied configuration, so a later
//!   client-side apply computes the right diff.
//!
//! Client side, kubectl 1.33 then (1) applies the annotation alone as the manager
//! `kubectl-last-applied`, so it survives, and (2) sends a JSON patch replacing
//! `metadata.managedFields` in which the Update entries owning the annotation are merged
//! into its Apply entry (`upgrade_managed_fields`, client-go's `csaupgrade`); `record_update`
//! keeps managedFields a request sets, which is what makes that patch take effect.

use serde_json::Value;

use super::compare::compare;
use super::fields_of::{field_set, validate};
use super::path::PathElement;
use super::set::FieldSet;
use super::typed::Ty;
use super::value::go_json;

/// The annotation client-side apply keeps its last configuration in.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Upstream's limit on the total size of an object's annotations.
const ANNOTATIONS_LIMIT: usize = 256 * 1024;

fn annotation(obj: &Value) -> Option<&str> {
    obj.get("metadata")?
        .get("annotations")?
        .get(LAST_APPLIED)?
        .as_str()
        .filter(|s| !s.is_empty())
}

/// The fields an apply by `kubectl` may take over without conflict: those of the
/// last-applied configuration whose value the live object still has. `None` when the
/// object has no usable annotation (absent, not JSON, another version, malformed).
pub(crate) fn allowed_conflicts(live: &Value, ty: Ty<'_>, api_version: &str) -> Option<FieldSet> {
    let last: Value = serde_json::from_str(annotation(live)?).ok()?;
    if last.get("apiVersion").and_then(Value::as_str) != Some(api_version) {
        return None;
    }
    validate(&last, ty).ok()?;
    let cmp = compare(&last, live, ty);
    Some(
        field_set(&last, ty)
            .difference(&cmp.modified)
            .difference(&cmp.added)
            .difference(&cmp.removed),
    )
}

/// After an apply by `kubectl`, rewrites an existing annotation to the applied
/// configuration (without the annotation itself), as Go's encoder writes it; drops it
/// when that would push the annotations past their size limit.
pub(crate) fn sync_annotation(obj: &mut Value, config: &Value) {
    if annotation(obj).is_none() {
        return;
    }
    let mut applied = config.clone();
    if let Some(annotations) = applied
        .get_mut("metadata")
        .and_then(|m| m.get_mut("annotations"))
        .and_then(Value::as_object_mut)
    {
        annotations.remove(LAST_APPLIED);
    }
    let text = format!("{}\n", go_json(&applied));
    let Some(annotations) = obj
        .get_mut("metadata")
        .and_then(|m| m.get_mut("annotations"))
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    annotations.insert(LAST_APPLIED.into(), Value::String(text));
    let size: usize = annotations
        .iter()
        .map(|(k, v)| k.len() + v.as_str().map_or(0, str::len))
        .sum();
    if size > ANNOTATIONS_LIMIT {
        annotations.remove(LAST_APPLIED);
    }
}

fn annotation_path() -> [PathElement; 3] {
    [
        PathElement::field("metadata"),
        PathElement::field("annotations"),
        PathElement::field(LAST_APPLIED),
    ]
}

fn entry_set(entry: &Value) -> Option<FieldSet> {
    FieldSet::from_fields_v1(entry.get("fieldsV1").unwrap_or(&Value::Null)).ok()
}

fn text<'v>(entry: &'v Value, key: &str) -> &'v str {
    entry.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// kubectl's managedFields migration after its first server-side apply (client-go's
/// `csaupgrade`): every Update manager owning the last-applied annotation (the managers
/// that applied client-side) is folded into `ssa_manager`'s Apply entry (which is created
/// from the newest such entry if missing), and their Update entries go. Returns the new
/// list, or `None` when nothing changes. Useful to model kubectl; the server only needs
/// `record_update` to accept the result.
pub fn upgrade_managed_fields(managed_fields: &Value, ssa_manager: &str) -> Option<Value> {
    let entries = managed_fields.as_array()?;
    let path = annotation_path();
    let mut csa_managers: Vec<String> = Vec::new();
    for entry in entries {
        if text(entry, "operation") == "Update"
            && entry_set(entry).is_some_and(|s| s.has(&path))
            && !csa_managers.iter().any(|m| m == text(entry, "manager"))
        {
            csa_managers.push(text(entry, "manager").to_owned());
        }
    }
    let mut list = entries.clone();
    for csa in &csa_managers {
        list = upgrade_one(&list, csa, ssa_manager)?;
    }
    (list != *entries).then_some(Value::Array(list))
}

/// Folds one client-side manager into the server-side one (main resource only).
fn upgrade_one(entries: &[Value], csa: &str, ssa: &str) -> Option<Vec<Value>> {
    let is = |e: &Value, manager: &str, op: &str| {
        text(e, "manager") == manager && text(e, "operation") == op && text(e, "subresource").is_empty()
    };
    let mut list = entries.to_vec();
    let target = match list.iter().position(|e| is(e, ssa, "Apply")) {
        Some(i) => i,
        None => {
            let i = list.iter().position(|e| is(e, csa, "Update"))?;
            let entry = list.get_mut(i)?.as_object_mut()?;
            entry.insert("operation".into(), Value::from("Apply"));
            entry.insert("manager".into(), Value::from(ssa));
            i
        }
    };
    let target_version = text(list.get(target)?, "apiVersion").to_owned();
    let mut combined = entry_set(list.get(target)?)?;
    if let Some(csa_entry) = list
        .iter()
        .find(|e| is(e, csa, "Update") && text(e, "apiVersion") == target_version)
    {
        combined = combined.union(&entry_set(csa_entry)?);
    }
    if let Some(Value::Object(entry)) = list.get_mut(target) {
        entry.insert("fieldsV1".into(), combined.to_fields_v1());
    }
    list.retain(|e| !is(e, csa, "Update"));
    Some(list)
}

/// True when `obj` has the last-applied annotation with content.
pub(crate) fn has_annotation(obj: &Value) -> bool {
    annotation(obj).is_some()
}
