//! Field ownership on every write and server-side apply (`PATCH` with
//! `application/apply-patch+yaml`): the glue between the write pipeline and
//! `krust_api::apply`, which holds the algorithm.

use bytes::Bytes;
use krust_api::ApiError;
use krust_api::apply::{self as ssa, ApplyContext, ApplyError, ResetFields, UpdateContext};
use krust_api::schema::SchemaNode;
use krust_api::status::{Cause, StatusDetails};
use serde_json::Value;

use super::Ctx;
use super::write::{self, Part, check_object, guaranteed_update, parse_patch};
use crate::meta::{self, meta_str};
use crate::negotiate::BodyFormat;
use crate::options::WriteOptions;
use crate::respond::Resp;

/// Runs `f` with the schema that types the kind's fields for ownership: the built-in
/// kind's OpenAPI schema or the custom kind's structural schema (`None`: untyped, maps
/// merge by field and lists are atomic). Objects are typed in the version they are held
/// in, so a kind served in another version than it is stored in is left untyped.
fn with_schema<R>(ctx: &Ctx, f: impl FnOnce(Option<SchemaNode<'_>>) -> R) -> R {
    if !ctx.def.is_storage_version() {
        return f(None);
    }
    if ctx.def.custom.is_some() {
        let key = (
            ctx.def.group.clone(),
            ctx.def.version.clone(),
            ctx.def.kind.clone(),
        );
        let schema = ctx.state.crd_schemas.read().get(&key).cloned();
        return match schema {
            Some(s) => f(Some(ctx.state.schemas.inline(&s))),
            None => f(None),
        };
    }
    f(ctx.state.schema_of(&ctx.def))
}

fn reset(ctx: &Ctx) -> ResetFields {
    ResetFields::for_write(
        ctx.path.subresource.as_deref(),
        ctx.storage.has_subresource("status"),
    )
}

/// Records a non-apply write (create, update, patch, `/status`) from `old` to `new` in
/// `new`'s `metadata.managedFields`, owned by the request's field manager.
pub(super) fn record(ctx: &Ctx, old: Option<&Value>, new: &mut Value) {
    let manager = ctx.field_manager();
    let api_version = ctx.def.api_version();
    let now = meta::now_rfc3339();
    // Custom kinds' schemas change with their CRD, so only built-in kinds are memoised.
    let built_in = ctx.def.custom.is_none() && ctx.def.is_storage_version();
    let schema_name = ctx
        .state
        .gvk_schema
        .get(&(
            ctx.def.group.clone(),
            ctx.def.version.clone(),
            ctx.def.kind.clone(),
        ))
        .filter(|_| built_in);
    with_schema(ctx, |schema| {
        let uctx = UpdateContext {
            manager: &manager,
            api_version: &api_version,
            subresource: ctx.path.subresource.as_deref(),
            now: &now,
            schema,
            reset: reset(ctx),
            creations: schema_name.map(|name| (&ctx.state.creations, name.as_str())),
        };
        ssa::record_update(old, new, &uctx);
    });
}

/// Upstream's answer to an apply conflict: 409 `Conflict`, one `FieldManagerConflict`
/// cause per field, the message naming the other managers.
fn apply_error(e: ApplyError) -> ApiError {
    match e {
        ApplyError::Conflicts(conflicts) => {
            let mut err = ApiError::new(409, "Conflict", conflicts.to_string());
            err.details = Some(Box::new(StatusDetails {
                causes: conflicts
                    .0
                    .iter()
                    .map(|c| Cause {
                        reason: "FieldManagerConflict".into(),
                        message: c.cause_message(),
                        field: c.field.clone(),
                    })
                    .collect(),
                ..Default::default()
            }));
            err
        }
        ApplyError::BadRequest(m) | ApplyError::Invalid(m) => ApiError::bad_request(m),
    }
}

/// Merges the applied configuration into `live` (served version; `None` creates).
fn run_apply(ctx: &Ctx, live: Option<&Value>, config: &Value, manager: &str) -> Result<Value, ApiError> {
    let api_version = ctx.def.api_version();
    let now = meta::now_rfc3339();
    let force = ctx.query.get("force") == Some("true");
    with_schema(ctx, |schema| {
        let actx = ApplyContext {
            manager,
            api_version: &api_version,
            kind: &ctx.def.kind,
            subresource: ctx.path.subresource.as_deref(),
            force,
            now: &now,
            schema,
            reset: reset(ctx),
        };
        ssa::apply(live, config, &actx).map_err(apply_error)
    })
}

/// Checks that the configuration names the object of the URL; a configuration without a
/// name (kube-rs' status applies) gets the URL's, as upstream.
fn check_identity(ctx: &Ctx, config: &mut Value) -> Result<(), ApiError> {
    match meta_str(config, "name") {
        Some(n) if n == ctx.name() => {}
        None | Some("") => {
            if let Some(m) = meta::meta_mut(config) {
                m.insert("name".into(), Value::String(ctx.name().to_string()));
            }
        }
        Some(n) => {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({n}) does not match the name on the URL ({})",
                ctx.name()
            )));
        }
    }
    if let (Some(ns), Some(body_ns)) = (ctx.namespace(), meta_str(config, "namespace"))
        && !body_ns.is_empty()
        && body_ns != ns
    {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    Ok(())
}

/// `PATCH` with `application/apply-patch+yaml`: apply to the live object, or create it.
pub(super) async fn server_side_apply(ctx: Ctx, body: Bytes, opts: WriteOptions) -> Result<Resp, ApiError> {
    let Some(manager) = opts.field_manager.clone() else {
        return Err(ApiError::bad_request(
            "PATCH with application/apply-patch+yaml requires a fieldManager parameter",
        ));
    };
    if ctx.path.subresource.as_deref().is_some_and(|s| s != "status") {
        return Err(ApiError::unsupported_media_type("application/apply-patch+yaml"));
    }
    let (mut config, duplicates) = parse_patch(BodyFormat::ApplyPatch, &body)?;
    check_identity(&ctx, &mut config)?;
    // Unknown and duplicate fields per fieldValidation, checked on a copy: the copy gets
    // filled in and defaulted, which must not make the applier own the defaults.
    let mut checked = config.clone();
    let warnings = check_object(&ctx, &mut checked, duplicates, opts.field_validation)?;
    if let Some(compiled) = ctx.state.crd_compiled(&ctx.def) {
        // Fields a custom kind's schema prunes are never stored, so never owned.
        let _ = compiled.prune(&mut config);
    }
    let part = Part::of(&ctx);
    let key = ctx.key();
    let explicit_rv = config.pointer("/metadata/resourceVersion").is_some();
    for _ in 0..4 {
        let result = guaranteed_update(&ctx, &key, opts.dry_run, explicit_rv, |cur| {
            let served = ctx.state.to_served(&ctx.def, cur.value.clone());
            let mut applied = run_apply(&ctx, Some(&served), &config, &manager)?;
            if let Some(rv) = meta_str(&applied, "resourceVersion")
                && crate::options::parse_rv(Some(rv))? != Some(cur.rv)
            {
                return Err(ApiError::stale(ctx.def.target(), ctx.name()));
            }
            // Custom kinds: prune and default the merged object as any write.
            check_object(
                &ctx,
                &mut applied,
                Vec::new(),
                crate::options::FieldValidation::Ignore,
            )?;
            let incoming = ctx.state.to_storage(&ctx.def, applied);
            write::merge_update(&ctx, part, &cur.value, incoming, false)
        })
        .await;
        match result {
            Err(e) if e.code == 404 && part == Part::Main && !explicit_rv => {
                let mut created = run_apply(&ctx, None, &config, &manager)?;
                check_object(
                    &ctx,
                    &mut created,
                    Vec::new(),
                    crate::options::FieldValidation::Ignore,
                )?;
                match write::create_object(&ctx, created, &opts, warnings.clone(), false).await {
                    // Created by somebody else meanwhile: apply to theirs.
                    Err(e) if e.code == 409 && e.reason == "AlreadyExists" => continue,
                    other => return other,
                }
            }
            other => return write::respond_updated(&ctx, other?, &warnings),
        }
    }
    Err(ApiError::conflict(
        ctx.def.target(),
        ctx.name(),
        "the object was created and deleted concurrently; please retry",
    ))
}
