//! DELETE of one object and of a collection: preconditions, finalizers, propagation
//! policy and graceful deletion of pods, as upstream's generic store does.

use bytes::Bytes;
use krust_api::{ApiError, status::StatusDetails};
use serde_json::{Map, Value, json};

use super::{Ctx, read};
use crate::{
    body,
    meta::{self, meta_str},
    options::{ListOptions, parse_dry_run},
    respond::{self, Resp},
    state::Written,
    stored,
};

/// Namespaces that can never be deleted.
const PROTECTED_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public"];

/// Parsed `DeleteOptions` (body and query).
#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    /// `gracePeriodSeconds`.
    pub grace: Option<i64>,
    /// `propagationPolicy` (or the deprecated `orphanDependents`).
    pub propagation: Option<String>,
    /// `preconditions.uid`.
    pub uid: Option<String>,
    /// `preconditions.resourceVersion`.
    pub resource_version: Option<String>,
    /// `dryRun=All`.
    pub dry_run: bool,
    /// True when `orphanDependents=false` was given explicitly.
    pub explicit_cascade: bool,
}

impl DeleteOptions {
    /// Reads the fields of a `DeleteOptions` object (also found inside an Eviction).
    pub fn from_value(v: &Value) -> Result<Self, ApiError> {
        let mut o = Self::default();
        if !v.is_object() {
            return Err(ApiError::bad_request("DeleteOptions must be a JSON object"));
        }
        o.grace = v.get("gracePeriodSeconds").and_then(Value::as_i64);
        o.propagation = v
            .get("propagationPolicy")
            .and_then(Value::as_str)
            .map(str::to_string);
        o.uid = v
            .pointer("/preconditions/uid")
            .and_then(Value::as_str)
            .map(str::to_string);
        o.resource_version = v
            .pointer("/preconditions/resourceVersion")
            .and_then(Value::as_str)
            .map(str::to_string);
        o.dry_run = v
            .get("dryRun")
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|x| x == "All"));
        match v.get("orphanDependents").and_then(Value::as_bool) {
            Some(true) => o.propagation = o.propagation.or(Some("Orphan".into())),
            Some(false) => o.explicit_cascade = true,
            None => {}
        }
        Ok(o)
    }

    fn parse(ctx: &Ctx, body: &[u8]) -> Result<Self, ApiError> {
        let mut o = Self::default();
        if !body.iter().all(u8::is_ascii_whitespace) {
            let format = crate::negotiate::body_format(ctx.content_type.as_deref())
                .ok_or_else(|| ApiError::unsupported_media_type(ctx.content_type.as_deref().unwrap_or("")))?;
            o = Self::from_value(&body::decode_object(body, format)?.value)?;
        }
        if let Some(g) = ctx.query.int("gracePeriodSeconds")? {
            o.grace = Some(g);
        }
        if let Some(p) = ctx.query.get("propagationPolicy").filter(|p| !p.is_empty()) {
            o.propagation = Some(p.to_string());
        }
        if ctx.query.get("orphanDependents").is_some() {
            if ctx.query.flag("orphanDependents")? {
                o.propagation = o.propagation.or(Some("Orphan".into()));
            } else {
                o.explicit_cascade = true;
            }
        }
        o.dry_run |= parse_dry_run(&ctx.query)?;
        if let Some(p) = &o.propagation
            && !matches!(p.as_str(), "Orphan" | "Background" | "Foreground")
        {
            return Err(ApiError::invalid(
                krust_api::Target {
                    group: "",
                    resource: "deleteoptions",
                    kind: "DeleteOptions",
                },
                "",
                &[krust_api::FieldError::not_supported(
                    "propagationPolicy",
                    p.as_str(),
                    &["Foreground", "Background", "Orphan"],
                )],
            ));
        }
        if o.grace.is_some_and(|g| g < 0) {
            o.grace = Some(1);
        }
        Ok(o)
    }
}

/// What a delete did.
pub(super) enum Outcome {
    /// Removed from the store (at this revision).
    Deleted(Value, u64),
    /// Marked (finalizers or grace period pending).
    Pending(Value, u64),
}

fn returns_object(ctx: &Ctx) -> bool {
    matches!(
        (ctx.storage.group.as_str(), ctx.storage.kind.as_str()),
        ("", "Pod" | "Service" | "Namespace")
    )
}

/// DELETE of one object.
pub async fn delete(ctx: Ctx, body: Bytes) -> Result<Resp, ApiError> {
    let opts = DeleteOptions::parse(&ctx, &body)?;
    let key = ctx.key();
    let name = ctx.name().to_string();
    if ctx.storage.kind == "Namespace"
        && ctx.storage.group.is_empty()
        && PROTECTED_NAMESPACES.contains(&name.as_str())
    {
        return Err(ApiError::forbidden(format!(
            "namespaces \"{name}\" is forbidden: this namespace may not be deleted"
        )));
    }
    let outcome = delete_one(&ctx, &key, &name, &opts).await?;
    respond_outcome(&ctx, outcome, &opts)
}

fn respond_outcome(ctx: &Ctx, outcome: Outcome, opts: &DeleteOptions) -> Result<Resp, ApiError> {
    match outcome {
        Outcome::Pending(v, rv) => {
            let code = if opts.explicit_cascade { 202 } else { 200 };
            let mut v = v;
            stored::set_resource_version(&mut v, rv);
            ctx.respond_value(code, &ctx.state.to_served(&ctx.def, v))
        }
        Outcome::Deleted(v, rv) => {
            if returns_object(ctx) {
                let mut v = v;
                stored::set_resource_version(&mut v, rv);
                return ctx.respond_value(200, &ctx.state.to_served(&ctx.def, v));
            }
            let details = StatusDetails {
                name: meta_str(&v, "name").unwrap_or("").to_string(),
                group: ctx.def.group.clone(),
                kind: ctx.def.plural.clone(),
                uid: meta_str(&v, "uid").map(str::to_string),
                ..Default::default()
            };
            Ok(respond::json(200, &krust_api::status::success_status(&details)))
        }
    }
}

fn grace_for_pod(obj: &Value, requested: Option<i64>) -> i64 {
    let bound = obj
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .is_some_and(|n| !n.is_empty());
    let finished = matches!(
        obj.pointer("/status/phase").and_then(Value::as_str),
        Some("Succeeded" | "Failed")
    );
    if !bound || finished {
        return 0;
    }
    requested.unwrap_or_else(|| {
        obj.pointer("/spec/terminationGracePeriodSeconds")
            .and_then(Value::as_i64)
            .unwrap_or(30)
    })
}

pub(super) async fn delete_one(
    ctx: &Ctx,
    key: &str,
    name: &str,
    opts: &DeleteOptions,
) -> Result<Outcome, ApiError> {
    let is_pod = ctx.storage.group.is_empty() && ctx.storage.kind == "Pod";
    let is_ns = ctx.storage.group.is_empty() && ctx.storage.kind == "Namespace";
    for _ in 0..16 {
        let Some(cur) = ctx.state.read(key).await? else {
            return Err(ApiError::not_found(ctx.def.target(), name));
        };
        if let Some(uid) = &opts.uid {
            let actual = meta_str(&cur.value, "uid").unwrap_or("");
            if uid != actual {
                return Err(ApiError::conflict(
                    ctx.def.target(),
                    name,
                    &format!("Precondition failed: UID in precondition: {uid}, UID in object meta: {actual}"),
                ));
            }
        }
        if let Some(rv) = &opts.resource_version
            && *rv != cur.rv.to_string()
        {
            return Err(ApiError::conflict(
                ctx.def.target(),
                name,
                &format!(
                    "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                    cur.rv
                ),
            ));
        }
        if !ctx.def.ephemeral {
            super::write::admit_validating(
                ctx,
                crate::webhooks::Operation::Delete,
                name,
                None,
                Some(&cur.value),
                opts.dry_run,
            )
            .await?;
        }
        let mut obj = cur.value.clone();
        let already_deleting = obj
            .pointer("/metadata/deletionTimestamp")
            .is_some_and(|t| !t.is_null());
        let grace = if is_pod {
            grace_for_pod(&obj, opts.grace)
        } else {
            0
        };
        let mut finalizers: Vec<Value> = obj
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let policy_finalizer = match opts.propagation.as_deref() {
            Some("Foreground") => Some("foregroundDeletion"),
            Some("Orphan") => Some("orphan"),
            _ => None,
        };
        if let Some(f) = policy_finalizer
            && !already_deleting
            && !finalizers.iter().any(|x| x == f)
        {
            finalizers.push(Value::String(f.into()));
        }
        let ns_finalizers = is_ns
            && obj
                .pointer("/spec/finalizers")
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty());
        let pending = !finalizers.is_empty() || grace > 0 || ns_finalizers;
        if pending {
            if already_deleting {
                // Shorten a pending grace period; otherwise nothing more to do.
                let cur_grace = obj
                    .pointer("/metadata/deletionGracePeriodSeconds")
                    .and_then(Value::as_i64);
                let shorter = is_pod && cur_grace.is_some_and(|g| grace < g);
                if !shorter || opts.dry_run {
                    return Ok(Outcome::Pending(cur.value, cur.rv));
                }
            }
            let meta =
                meta::meta_mut(&mut obj).ok_or_else(|| ApiError::internal("object without metadata"))?;
            let now = jiff::Timestamp::now();
            let when = now
                .checked_add(jiff::SignedDuration::from_secs(grace))
                .unwrap_or(now);
            meta.insert(
                "deletionTimestamp".into(),
                Value::String(when.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()),
            );
            meta.insert("deletionGracePeriodSeconds".into(), Value::from(grace));
            if !finalizers.is_empty() {
                meta.insert("finalizers".into(), Value::Array(finalizers));
            }
            if let Some(g) = meta.get("generation").and_then(Value::as_i64)
                && !already_deleting
            {
                meta.insert("generation".into(), Value::from(g + 1));
            }
            if is_ns && let Some(m) = obj.as_object_mut() {
                let status = m.entry("status").or_insert_with(|| Value::Object(Map::new()));
                if let Some(s) = status.as_object_mut() {
                    s.insert("phase".into(), json!("Terminating"));
                }
            }
            if opts.dry_run {
                return Ok(Outcome::Pending(obj, cur.rv));
            }
            match ctx.state.replace(key, cur.rv, &cur.value, &obj).await? {
                Written::Ok(rv) => return Ok(Outcome::Pending(obj, rv)),
                Written::Conflict | Written::Taken => continue,
            }
        }
        if opts.dry_run {
            return Ok(Outcome::Deleted(cur.value, cur.rv));
        }
        match ctx.state.remove(key, cur.rv, &cur.value).await? {
            Written::Ok(rv) => return Ok(Outcome::Deleted(cur.value, rv)),
            Written::Conflict | Written::Taken => continue,
        }
    }
    Err(ApiError::conflict(
        ctx.def.target(),
        name,
        "too many concurrent updates; please retry",
    ))
}

/// DELETE of a collection: every object matching the selectors.
pub async fn delete_collection(ctx: Ctx, body: Bytes) -> Result<Resp, ApiError> {
    let opts = DeleteOptions::parse(&ctx, &body)?;
    let mut list = ListOptions::parse(&ctx.query)?;
    read::check_fields(&ctx, &mut list)?;
    ctx.consistent().await?;
    let filter = read::filter(&ctx, &list);
    let page = ctx.cache()?.list(&filter, None, 0);
    let mut items = Vec::new();
    for obj in page.items {
        let ns = (!obj.namespace.is_empty()).then_some(obj.namespace.as_str());
        if ctx.storage.kind == "Namespace" && PROTECTED_NAMESPACES.contains(&obj.name.as_str()) {
            continue;
        }
        let key = ctx.storage.key(ns, &obj.name);
        match delete_one(&ctx, &key, &obj.name, &opts).await {
            Ok(Outcome::Deleted(v, rv) | Outcome::Pending(v, rv)) => {
                let mut v = v;
                stored::set_resource_version(&mut v, rv);
                items.push(ctx.state.to_served(&ctx.def, v));
            }
            Err(e) if e.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    let rv = ctx.state.cache.revision();
    let list = json!({
        "kind": format!("{}List", ctx.def.kind),
        "apiVersion": ctx.def.api_version(),
        "metadata": {"resourceVersion": rv.to_string()},
        "items": items,
    });
    Ok(respond::json(200, &list))
}
