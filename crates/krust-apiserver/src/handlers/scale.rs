//! The `/scale` subresource: an `autoscaling/v1` Scale view of a workload's replicas.

use bytes::Bytes;
use krust_api::{ApiError, FieldError, Target, labels::Selector, patch as kpatch};
use serde_json::{Value, json};

use super::{
    Ctx,
    write::{Updated, guaranteed_update, parse_patch},
};
use crate::{
    body,
    meta::{self, meta_str},
    negotiate::{BodyFormat, body_format},
    options::{WriteOptions, parse_rv},
    state::CACHE_WAIT,
    stored,
};

const SCALE_TARGET: Target<'static> = Target {
    group: "autoscaling",
    resource: "scale",
    kind: "Scale",
};

fn selector_string(obj: &Value) -> String {
    match obj.pointer("/spec/selector") {
        Some(sel @ Value::Object(m))
            if m.contains_key("matchLabels") || m.contains_key("matchExpressions") =>
        {
            Selector::from_label_selector(sel)
                .map(|s| s.to_string())
                .unwrap_or_default()
        }
        Some(Value::Object(m)) => {
            let mut pairs: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect();
            pairs.sort();
            pairs.join(",")
        }
        _ => String::new(),
    }
}

/// Where the replicas live: upstream's fixed fields for built-in workloads, the CRD's
/// declared paths for custom ones.
struct Paths {
    spec: String,
    status: String,
    selector: Option<String>,
}

/// `.spec.replicas` → `/spec/replicas`.
fn pointer(path: &str) -> String {
    path.trim_start_matches('.')
        .split('.')
        .fold(String::new(), |acc, p| format!("{acc}/{p}"))
}

fn paths(ctx: &Ctx) -> Paths {
    match ctx.def.custom.as_ref().and_then(|c| c.scale.as_ref()) {
        Some(s) => Paths {
            spec: pointer(&s.spec_replicas),
            status: pointer(&s.status_replicas),
            selector: s.label_selector.as_deref().map(pointer),
        },
        None => Paths {
            spec: "/spec/replicas".into(),
            status: "/status/replicas".into(),
            selector: None,
        },
    }
}

/// The Scale of a workload (storage object with resourceVersion set).
fn to_scale(p: &Paths, obj: &Value) -> Value {
    let meta = obj.get("metadata").cloned().unwrap_or_else(|| json!({}));
    let mut m = serde_json::Map::new();
    for f in ["name", "namespace", "uid", "resourceVersion", "creationTimestamp"] {
        if let Some(v) = meta.get(f) {
            m.insert(f.into(), v.clone());
        }
    }
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": m,
                "spec": {"replicas": obj.pointer(&p.spec).and_then(Value::as_i64).unwrap_or(0)},
        "status": {
            "replicas": obj.pointer(&p.status).and_then(Value::as_i64).unwrap_or(0),
            "selector": match &p.selector {
                Some(sel) => obj.pointer(sel).and_then(Value::as_str).unwrap_or("").to_string(),
                None => selector_string(obj),
            },
        },
    })
}

fn respond_scale(ctx: &Ctx, obj: &Value) -> Result<crate::respond::Resp, ApiError> {
    let mut scale_def = ctx.def.clone();
    scale_def.group = "autoscaling".into();
    scale_def.version = "v1".into();
    scale_def.kind = "Scale".into();
    ctx.respond_value_as(&scale_def, 200, &to_scale(&paths(ctx), obj))
}

/// GET `/scale`.
pub async fn get(ctx: Ctx) -> Result<crate::respond::Resp, ApiError> {
    match parse_rv(ctx.query.get("resourceVersion"))? {
        None => ctx.consistent().await?,
        Some(0) => {}
        Some(rv) => ctx.state.cache.wait_for(rv, CACHE_WAIT).await?,
    }
    let (obj, _) = ctx.cache()?.get(&ctx.key());
    let obj = obj.ok_or_else(|| ApiError::not_found(ctx.def.target(), ctx.name()))?;
    let v = stored::decode(&obj.stored, obj.rv).map_err(|e| ApiError::internal(e.to_string()))?;
    respond_scale(&ctx, &v)
}

fn replicas_of(scale: &Value, name: &str) -> Result<i64, ApiError> {
    match scale.pointer("/spec/replicas") {
        None | Some(Value::Null) => Ok(0),
        Some(v) => match v.as_i64() {
            Some(n) if (0..=i64::from(i32::MAX)).contains(&n) => Ok(n),
            Some(n) => Err(ApiError::invalid(
                SCALE_TARGET,
                name,
                &[FieldError::invalid(
                    "spec.replicas",
                    n,
                    "must be greater than or equal to 0",
                )],
            )),
            None => Err(ApiError::bad_request(format!(
                "Scale in version \"v1\" cannot be handled as a Scale: json: cannot unmarshal {} into Go struct field ScaleSpec.spec.replicas of type int32",
                if v.is_string() { "string" } else { "value" }
            ))),
        },
    }
}

/// Sets the value at a JSON pointer, creating objects on the way.
fn set_path(obj: &mut Value, pointer: &str, v: Value) {
    let parts: Vec<&str> = pointer.trim_start_matches('/').split('/').collect();
    let Some((last, parents)) = parts.split_last() else {
        return;
    };
    let mut cur = obj;
    for p in parents {
        let Some(m) = cur.as_object_mut() else { return };
        cur = m.entry(p.to_string()).or_insert_with(|| json!({}));
    }
    if let Some(m) = cur.as_object_mut() {
        m.insert(last.to_string(), v);
    }
}

fn set_replicas(ctx: &Ctx, cur: &Value, replicas: i64) -> Result<Value, ApiError> {
    let mut new = cur.clone();
    set_path(&mut new, &paths(ctx).spec, Value::from(replicas));
    meta::prepare_update(&ctx.storage, cur, &mut new)?;
    super::apply::record(ctx, Some(cur), &mut new);
    let errors = krust_api::validation::validate(&ctx.storage.group, &ctx.storage.kind, &new, Some(cur));
    if !errors.is_empty() {
        return Err(ApiError::invalid(ctx.def.target(), ctx.name(), &errors));
    }
    Ok(new)
}

fn finish(ctx: &Ctx, u: Updated) -> Result<crate::respond::Resp, ApiError> {
    let v = match u {
        Updated::Written(mut v, rv) | Updated::Unchanged(mut v, rv) | Updated::Deleted(mut v, rv) => {
            stored::set_resource_version(&mut v, rv);
            v
        }
        Updated::DryRun(v) => v,
    };
    respond_scale(ctx, &v)
}

/// PUT `/scale`.
pub async fn update(ctx: Ctx, body: Bytes) -> Result<crate::respond::Resp, ApiError> {
    let opts = WriteOptions::parse(&ctx.query)?;
    let format = body_format(ctx.content_type.as_deref())
        .ok_or_else(|| ApiError::unsupported_media_type(ctx.content_type.as_deref().unwrap_or("")))?;
    let scale = body::decode_object(&body, format)?.value;
    let replicas = replicas_of(&scale, ctx.name())?;
    let precondition = parse_rv(meta_str(&scale, "resourceVersion"))?;
    let key = ctx.key();
    let u = guaranteed_update(&ctx, &key, opts.dry_run, precondition.is_some(), |cur| {
        if precondition.is_some_and(|p| p != cur.rv) {
            return Err(ApiError::stale(ctx.def.target(), ctx.name()));
        }
        set_replicas(&ctx, &cur.value, replicas)
    })
    .await?;
    finish(&ctx, u)
}

/// PATCH `/scale`.
pub async fn patch(ctx: Ctx, body: Bytes) -> Result<crate::respond::Resp, ApiError> {
    let opts = WriteOptions::parse(&ctx.query)?;
    let format = body_format(ctx.content_type.as_deref())
        .ok_or_else(|| ApiError::unsupported_media_type(ctx.content_type.as_deref().unwrap_or("")))?;
    let (doc, _) = parse_patch(format, &body)?;
    let key = ctx.key();
    let schemas = ctx.state.schemas.clone();
    let explicit_rv = doc.pointer("/metadata/resourceVersion").is_some();
    let u = guaranteed_update(&ctx, &key, opts.dry_run, explicit_rv, |cur| {
        let scale = to_scale(&paths(&ctx), &cur.value);
        let patched = match format {
            BodyFormat::JsonPatch => kpatch::json_patch(&scale, &doc),
            BodyFormat::MergePatch => kpatch::merge_patch(&scale, &doc),
            BodyFormat::StrategicMergePatch => {
                kpatch::strategic_merge(&scale, &doc, schemas.named("io.k8s.api.autoscaling.v1.Scale"))
            }
            _ => {
                return Err(ApiError::unsupported_media_type(
                    ctx.content_type.as_deref().unwrap_or(""),
                ));
            }
        }
        .map_err(|e| match e {
            kpatch::PatchError::Malformed(m) => ApiError::bad_request(m),
            kpatch::PatchError::Inapplicable(m) => ApiError::new(422, "Invalid", m),
        })?;
        if let Some(rv) = meta_str(&patched, "resourceVersion")
            && parse_rv(Some(rv))? != Some(cur.rv)
        {
            return Err(ApiError::stale(ctx.def.target(), ctx.name()));
        }
        let replicas = replicas_of(&patched, ctx.name())?;
        set_replicas(&ctx, &cur.value, replicas)
    })
    .await?;
    finish(&ctx, u)
}
