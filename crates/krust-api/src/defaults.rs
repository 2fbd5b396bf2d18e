//! Defaulting of built-in kinds, as upstream's `SetDefaults_*` functions do.

use serde_json::Value;

/// Fills in the defaults upstream applies to an object of `group`/`kind` on every write.
pub fn apply(group: &str, kind: &str, obj: &mut Value) {
    let _ = (group, kind, obj);
}

/// Sets what a freshly created object starts with (e.g. a Pod's `status.phase: Pending`),
/// after `apply`. Status sent by the client on create is replaced by this.
pub fn prepare_create(group: &str, kind: &str, obj: &mut Value) {
    let _ = (group, kind, obj);
}
