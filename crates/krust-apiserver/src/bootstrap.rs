//! Objects every cluster starts with: the namespaces default, kube-system, kube-public and
//! kube-node-lease, and the two system PriorityClasses that system pods refer to.

use krust_api::{ApiError, defaults};
use serde_json::{Value, json};

use crate::{meta, state::State};

/// Namespaces created at first start.
pub const SYSTEM_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];

fn system_objects() -> Vec<(&'static str, &'static str, Value)> {
    let mut out: Vec<(&str, &str, Value)> = SYSTEM_NAMESPACES
        .iter()
        .map(|ns| {
            (
                "",
                "namespaces",
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns,
                    "labels": {"kubernetes.io/metadata.name": ns}}}),
            )
        })
        .collect();
    for (name, value, what) in [
        (
            "system-node-critical",
            2_000_001_000,
            "pods a node cannot do without",
        ),
        (
            "system-cluster-critical",
            2_000_000_000,
            "pods the cluster cannot do without; they may move to other nodes",
        ),
    ] {
        out.push((
            "scheduling.k8s.io",
            "priorityclasses",
            json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                "metadata": {"name": name}, "value": value, "globalDefault": false,
                "description": format!("Priority of {what}.")}),
        ));
    }
    out
}

/// Creates the system objects that do not exist yet (never touching ones that do).
pub async fn ensure_system_objects(state: &State) -> Result<(), ApiError> {
    for (group, plural, mut obj) in system_objects() {
        let def = state
            .find(group, "v1", plural)
            .ok_or_else(|| ApiError::internal(format!("{plural} not registered")))?;
        let name = meta::meta_str(&obj, "name").unwrap_or("").to_string();
        let key = def.key(None, &name);
        if state.read(&key).await?.is_some() {
            continue;
        }
        meta::prepare_create(&def, None, &mut obj)?;
        defaults::apply(&def.group, &def.kind, &mut obj);
        defaults::prepare_create(&def.group, &def.kind, &mut obj);
        state.create(&key, &obj).await?;
        tracing::info!(kind = %def.kind, %name, "created system object");
    }
    Ok(())
}
