//! Objects every cluster starts with: the namespaces default, kube-system, kube-public and
//! kube-node-lease.

use krust_api::{ApiError, defaults};
use serde_json::json;

use crate::{meta, state::State};

/// Namespaces created at first start.
pub const SYSTEM_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];

/// Creates the system namespaces that do not exist yet.
pub async fn ensure_namespaces(state: &State) -> Result<(), ApiError> {
    let def = state
        .find("", "v1", "namespaces")
        .ok_or_else(|| ApiError::internal("namespaces not registered"))?;
    for ns in SYSTEM_NAMESPACES {
        let key = def.key(None, ns);
        if state.read(&key).await?.is_some() {
            continue;
        }
        let mut obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns,
            "labels": {"kubernetes.io/metadata.name": ns}}});
        meta::prepare_create(&def, None, &mut obj)?;
        defaults::apply("", "Namespace", &mut obj);
        defaults::prepare_create("", "Namespace", &mut obj);
        state.create(&key, &obj).await?;
        tracing::info!(namespace = ns, "created system namespace");
    }
    Ok(())
}
