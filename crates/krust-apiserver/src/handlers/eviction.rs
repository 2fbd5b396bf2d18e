//! The `pods/<name>/eviction` subresource (policy/v1 Eviction): delete a pod only if no
//! PodDisruptionBudget forbids it, as `kubectl drain` expects — 429 while the budget allows
//! no disruption, and a recorded disruption (the budget's `disruptedPods`) when it does.

use bytes::Bytes;
use krust_api::{ApiError, labels::Selector, status::Cause};
use serde_json::{Value, json};

use super::{
    Ctx,
    delete::{DeleteOptions, Outcome, delete_one},
};
use crate::{
    body, meta,
    negotiate::body_format,
    respond::{self, Resp},
    state::Written,
};

fn terminal_or_pending(pod: &Value) -> bool {
    matches!(
        pod.pointer("/status/phase").and_then(Value::as_str),
        Some("Succeeded" | "Failed" | "Pending")
    ) || pod
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|t| !t.is_null())
}

/// The budgets whose selector matches the pod.
fn matching_budgets(ctx: &Ctx, pod: &Value) -> Vec<(String, Value)> {
    let Some(def) = ctx.state.find("policy", "v1", "poddisruptionbudgets") else {
        return Vec::new();
    };
    let Some(cache) = ctx.state.cache.resource(&def.storage_prefix()) else {
        return Vec::new();
    };
    let filter = crate::cache::Filter {
        namespace: ctx.namespace().map(str::to_string),
        ..Default::default()
    };
    let labels = pod.pointer("/metadata/labels").and_then(Value::as_object);
    cache
        .list(&filter, None, 0)
        .items
        .iter()
        .filter_map(|o| {
            let v: Value = serde_json::from_slice(&o.stored).ok()?;
            let sel =
                Selector::from_label_selector(v.pointer("/spec/selector").unwrap_or(&Value::Null)).ok()?;
            sel.matches(labels).then(|| (o.key.clone(), v))
        })
        .collect()
}

fn too_many(pdb: &Value, message: &str) -> ApiError {
    // No Retry-After (as upstream): client-go would otherwise retry by itself for minutes,
    // while kubectl drain has its own retry loop and timeout.
    let mut e = ApiError::too_many_requests(
        "Cannot evict pod as it would violate the pod's disruption budget.",
        0,
    );
    let name = meta::meta_str(pdb, "name").unwrap_or("");
    if let Some(d) = e.details.as_mut() {
        d.causes.push(Cause {
            reason: "DisruptionBudget".into(),
            message: format!("The disruption budget {name} {message}"),
            field: String::new(),
        });
    }
    e
}

/// Takes one disruption from a budget; Err(429) when none is allowed.
async fn consume(ctx: &Ctx, key: &str, pod: &str) -> Result<(), ApiError> {
    for _ in 0..5 {
        let Some(cur) = ctx.state.read(key).await? else {
            return Ok(());
        };
        let pdb = &cur.value;
        let allowed = pdb
            .pointer("/status/disruptionsAllowed")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        let generation = pdb
            .pointer("/metadata/generation")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        let observed = pdb
            .pointer("/status/observedGeneration")
            .and_then(Value::as_i64)
            .unwrap_or(-1);
        if observed < generation {
            return Err(too_many(pdb, "is still being processed by the server"));
        }
        if allowed <= 0 {
            let healthy = pdb
                .pointer("/status/currentHealthy")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            let desired = pdb
                .pointer("/status/desiredHealthy")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            return Err(too_many(
                pdb,
                &format!("needs {desired} healthy pods and has {healthy} currently"),
            ));
        }
        let mut new = pdb.clone();
        if let Some(status) = new.get_mut("status").and_then(Value::as_object_mut) {
            status.insert("disruptionsAllowed".into(), json!(allowed - 1));
            let disrupted = status.entry("disruptedPods").or_insert_with(|| json!({}));
            if let Some(d) = disrupted.as_object_mut() {
                d.insert(pod.to_string(), json!(meta::now_rfc3339()));
            }
        }
        match ctx.state.replace(key, cur.rv, &cur.value, &new).await? {
            Written::Ok(_) => return Ok(()),
            Written::Conflict | Written::Taken => continue,
        }
    }
    Err(ApiError::too_many_requests(
        "too many concurrent evictions; try again",
        1,
    ))
}

/// POST `pods/<name>/eviction`.
pub async fn evict(ctx: Ctx, body: Bytes) -> Result<Resp, ApiError> {
    let format = body_format(ctx.content_type.as_deref())
        .ok_or_else(|| ApiError::unsupported_media_type(ctx.content_type.as_deref().unwrap_or("")))?;
    let eviction = body::decode_object(&body, format)?.value;
    if let Some(n) = meta::meta_str(&eviction, "name").filter(|n| !n.is_empty() && *n != ctx.name()) {
        return Err(ApiError::bad_request(format!(
            "name in URL does not match name in Eviction object ({n})"
        )));
    }
    let opts = match eviction.get("deleteOptions").filter(|v| !v.is_null()) {
        Some(v) => DeleteOptions::from_value(v)?,
        None => DeleteOptions::default(),
    };
    let key = ctx.key();
    let pod = ctx
        .state
        .read(&key)
        .await?
        .ok_or_else(|| ApiError::not_found(ctx.def.target(), ctx.name()))?;
    if !terminal_or_pending(&pod.value) {
        let budgets = matching_budgets(&ctx, &pod.value);
        if budgets.len() > 1 {
            return Err(ApiError::internal(
                "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
            ));
        }
        if let Some((pdb_key, _)) = budgets.first()
            && !opts.dry_run
        {
            consume(&ctx, pdb_key, ctx.name()).await?;
        }
    }
    match delete_one(&ctx, &key, ctx.name(), &opts).await? {
        Outcome::Deleted(..) | Outcome::Pending(..) => Ok(respond::json(
            201,
            &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
        )),
    }
}
