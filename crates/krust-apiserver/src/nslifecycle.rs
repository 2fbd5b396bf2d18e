//! Finishes the deletion of namespaces: once a namespace is marked for deletion, every
//! object in it is deleted, then the `kubernetes` finalizer is removed and the namespace
//! itself goes away.
//!
//! Upstream runs this in the controller manager; krust runs it beside the API server until
//! the controller manager exists, going through the same store operations as handlers.

use std::sync::Arc;
use std::time::Duration;

use krust_api::{ApiError, registry::ResourceDef};
use krust_store::{RangeRequest, prefix_end};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::{
    meta,
    state::{State, Written, decode_kv, store_error},
};

const RESYNC: Duration = Duration::from_secs(2);

/// Runs until shutdown, looking for terminating namespaces.
pub async fn run(state: Arc<State>, shutdown: CancellationToken) {
    loop {
        if let Err(e) = sweep(&state).await {
            tracing::warn!(error = %e, "namespace cleanup failed; will retry");
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(RESYNC) => {}
        }
    }
}

async fn sweep(state: &State) -> Result<(), ApiError> {
    let Some(ns_def) = state.find("", "v1", "namespaces") else {
        return Ok(());
    };
    let Some(cache) = state.cache.resource(&ns_def.storage_prefix()) else {
        return Ok(());
    };
    let page = cache.list(&Default::default(), None, 0);
    for ns in page.items {
        let v: Value = serde_json::from_slice(&ns.stored).unwrap_or(Value::Null);
        if v.pointer("/metadata/deletionTimestamp")
            .is_some_and(|t| !t.is_null())
        {
            finish(state, &ns_def, &ns.name).await?;
        }
    }
    Ok(())
}

/// Namespaced storage resources (each once).
fn namespaced(state: &State) -> Vec<ResourceDef> {
    let reg = state.registry.read();
    reg.all()
        .iter()
        .filter(|r| r.namespaced && r.is_storage_version() && !r.ephemeral)
        .cloned()
        .collect()
}

async fn finish(state: &State, ns_def: &ResourceDef, ns: &str) -> Result<(), ApiError> {
    let mut remaining = 0usize;
    for def in namespaced(state) {
        let prefix = def.namespace_prefix(ns);
        let resp = state
            .store
            .range(RangeRequest {
                start: prefix.clone(),
                end: prefix_end(&prefix),
                revision: None,
                limit: None,
            })
            .await
            .map_err(store_error)?;
        for kv in resp.kvs {
            let cur = decode_kv(&kv)?;
            if delete_content(state, &kv.key, cur.value, cur.rv).await? {
                remaining += 1;
            }
        }
    }
    if remaining > 0 {
        return Ok(());
    }
    let key = ns_def.key(None, ns);
    let Some(cur) = state.read(&key).await? else {
        return Ok(());
    };
    let mut obj = cur.value.clone();
    if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
        spec.insert("finalizers".into(), json!([]));
    }
    if meta::ready_to_delete(&obj) {
        let _ = state.remove(&key, cur.rv, &cur.value).await?;
        tracing::info!(namespace = ns, "namespace deleted");
    } else if obj != cur.value {
        let _ = state.replace(&key, cur.rv, &cur.value, &obj).await?;
    }
    Ok(())
}

/// Deletes one object of a terminating namespace; true if it is still there afterwards
/// (finalizers or a pod's grace period pending).
async fn delete_content(state: &State, key: &str, mut obj: Value, rv: u64) -> Result<bool, ApiError> {
    let has_finalizers = obj
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .is_some_and(|f| !f.is_empty());
    let bound_pod = obj.get("kind").and_then(Value::as_str) == Some("Pod")
        && obj
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .is_some_and(|n| !n.is_empty())
        && !matches!(
            obj.pointer("/status/phase").and_then(Value::as_str),
            Some("Succeeded" | "Failed")
        );
    if !has_finalizers && !bound_pod {
        return Ok(!matches!(state.remove(key, rv, &obj).await?, Written::Ok(_)));
    }
    if obj
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|t| !t.is_null())
    {
        return Ok(true);
    }
    let grace = if bound_pod {
        obj.pointer("/spec/terminationGracePeriodSeconds")
            .and_then(Value::as_i64)
            .unwrap_or(30)
    } else {
        0
    };
    let before = obj.clone();
    if let Some(m) = meta::meta_mut(&mut obj) {
        let now = jiff::Timestamp::now();
        let when = now
            .checked_add(jiff::SignedDuration::from_secs(grace))
            .unwrap_or(now);
        m.insert(
            "deletionTimestamp".into(),
            Value::String(when.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()),
        );
        m.insert("deletionGracePeriodSeconds".into(), Value::from(grace));
    }
    let _ = state.replace(key, rv, &before, &obj).await?;
    Ok(true)
}
