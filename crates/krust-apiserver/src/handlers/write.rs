//! Create, update (including `/status` and `/finalize`), patch and pod binding.
//!
//! Every write runs the same pipeline: decode → check against the schema (unknown and
//! duplicate fields per `fieldValidation`, wrong types) → convert to the storage version →
//! server-managed metadata → defaults → validation → a compare-on-revision transaction.

use bytes::Bytes;
use krust_api::{ApiError, FieldError, defaults, patch as kpatch, validation};
use serde_json::{Map, Value, json};

use super::{Ctx, apply};
use crate::{
    admission,
    body::{self, Decoded},
    meta::{self, meta_str},
    negotiate::{BodyFormat, body_format},
    options::{FieldValidation, WriteOptions, parse_rv},
    respond::{self, Resp},
    schemacheck, services,
    state::{Created, Current, Written},
    stored,
    webhooks::{self, Operation},
};

/// Which part of an object a write may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The main resource: everything but status (when there is a status subresource).
    Main,
    /// `/status`: only status.
    Status,
    /// `/finalize` (namespaces): only `spec.finalizers`.
    Finalize,
    /// `/approval` (CertificateSigningRequests): only `status.conditions`, where the
    /// Approved or Denied decision lives; the certificate itself is the signer's (`/status`).
    Approval,
}

impl Part {
    pub(super) fn of(ctx: &Ctx) -> Self {
        match ctx.path.subresource.as_deref() {
            Some("status") => Self::Status,
            Some("finalize") => Self::Finalize,
            Some("approval") => Self::Approval,
            _ => Self::Main,
        }
    }
}

fn format_of(ctx: &Ctx) -> Result<BodyFormat, ApiError> {
    let ct = ctx.content_type.as_deref();
    body_format(ct).ok_or_else(|| ApiError::unsupported_media_type(ct.unwrap_or("")))
}

fn qualified_kind(ctx: &Ctx) -> String {
    ctx.def.kind.clone()
}

/// Checks apiVersion/kind and the schema, applying `fieldValidation`. Returns warnings.
pub fn check_object(
    ctx: &Ctx,
    obj: &mut Value,
    duplicates: Vec<String>,
    fv: FieldValidation,
) -> Result<Vec<String>, ApiError> {
    let Some(map) = obj.as_object_mut() else {
        return Err(ApiError::bad_request(format!(
            "{} in version {:?} cannot be handled as a {}: the body must be a JSON object",
            ctx.def.kind, ctx.def.version, ctx.def.kind
        )));
    };
    let expected_av = ctx.def.api_version();
    match map.get("apiVersion").and_then(Value::as_str) {
        None | Some("") => {
            map.insert("apiVersion".into(), Value::String(expected_av.clone()));
        }
        Some(av) if av == expected_av => {}
        Some(av) => {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({av}) does not match the expected API version ({expected_av})"
            )));
        }
    }
    match map.get("kind").and_then(Value::as_str) {
        None | Some("") => {
            map.insert("kind".into(), Value::String(ctx.def.kind.clone()));
        }
        Some(k) if k == ctx.def.kind => {}
        Some(k) => {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({k}) does not match the expected kind ({}) of {}",
                ctx.def.kind,
                ctx.def.target().qualified_resource()
            )));
        }
    }
    let kind = qualified_kind(ctx);
    let prefix = format!(
        "{kind} in version {:?} cannot be handled as a {kind}",
        ctx.def.version
    );
    let findings = match ctx.state.crd_compiled(&ctx.def) {
        // Custom resources: upstream's structural pruning, then schema defaults; wrong
        // types surface as 422s from validation, as upstream.
        Some(compiled) => {
            let unknown = compiled
                .prune(obj)
                .map_err(|e| ApiError::bad_request(format!("{prefix}: {}", e.0)))?;
            compiled.default(obj);
            schemacheck::Findings {
                unknown,
                type_errors: Vec::new(),
            }
        }
        None => match ctx.state.schema_of(&ctx.def) {
            Some(root) => schemacheck::check(root, obj),
            None => schemacheck::Findings::default(),
        },
    };
    if let Some(first) = findings.type_errors.first() {
        return Err(ApiError::bad_request(format!("{prefix}: {first}")));
    }
    let mut problems: Vec<String> = findings
        .unknown
        .iter()
        .map(|f| format!("unknown field {f:?}"))
        .collect();
    problems.extend(duplicates.iter().map(|d| format!("duplicate field {d:?}")));
    match fv {
        FieldValidation::Strict if !problems.is_empty() => Err(ApiError::bad_request(format!(
            "{prefix}: strict decoding error: {}",
            problems.join(", ")
        ))),
        FieldValidation::Warn => Ok(problems),
        _ => Ok(Vec::new()),
    }
}

fn invalid(ctx: &Ctx, name: &str, errors: &[FieldError]) -> ApiError {
    ApiError::invalid(ctx.def.target(), name, errors)
}

/// Validates the object as the client sees it: in the served group/version (an
/// events.k8s.io Event is checked by events.k8s.io's rules, with its field names), though
/// it is stored in another.
fn validate(ctx: &Ctx, obj: &Value, old: Option<&Value>) -> Result<(), ApiError> {
    let mut errors = if ctx.def.is_storage_version() {
        validation::validate(&ctx.storage.group, &ctx.storage.kind, obj, old)
    } else {
        let served = ctx.state.to_served(&ctx.def, obj.clone());
        let old_served = old.map(|o| ctx.state.to_served(&ctx.def, o.clone()));
        validation::validate(&ctx.def.group, &ctx.def.kind, &served, old_served.as_ref())
    };
    if let Some(compiled) = ctx.state.crd_compiled(&ctx.def) {
        let served = ctx.state.to_served(&ctx.def, obj.clone());
        let old_served = old.map(|o| ctx.state.to_served(&ctx.def, o.clone()));
        errors.extend(match (ctx.path.subresource.as_deref(), &old_served) {
            (Some("status"), Some(o)) => compiled.validate_status(&served, o),
            _ => compiled.validate(&served, old_served.as_ref()),
        });
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(invalid(ctx, meta_str(obj, "name").unwrap_or(""), &errors))
    }
}

fn respond_written(
    ctx: &Ctx,
    code: u16,
    mut obj: Value,
    rv: Option<u64>,
    warnings: &[String],
) -> Result<Resp, ApiError> {
    if let Some(rv) = rv {
        stored::set_resource_version(&mut obj, rv);
    }
    let served = ctx.state.to_served(&ctx.def, obj);
    let mut r = ctx.respond_value(code, &served)?;
    respond::add_warnings(&mut r, warnings);
    Ok(r)
}

/// POST to a collection.
pub async fn create(ctx: Ctx, body: Bytes) -> Result<Resp, ApiError> {
    let opts = WriteOptions::parse(&ctx.query)?;
    let format = format_of(&ctx)?;
    if !matches!(format, BodyFormat::Json | BodyFormat::Yaml | BodyFormat::Protobuf) {
        return Err(ApiError::unsupported_media_type(
            ctx.content_type.as_deref().unwrap_or(""),
        ));
    }
    let Decoded {
        value: mut obj,
        duplicates,
    } = body::decode_object(&body, format)?;
    let warnings = check_object(&ctx, &mut obj, duplicates, opts.field_validation)?;
    match ctx.def.kind.as_str() {
        "SelfSubjectAccessReview" => return self_subject_access_review(&ctx, obj),
        "SelfSubjectRulesReview" => return self_subject_rules_review(&ctx, obj),
        "SelfSubjectReview" => return self_subject_review(&ctx, obj),
        "Binding" => {
            let name = meta_str(&obj, "name").unwrap_or("").to_string();
            return bind_pod(&ctx, &name, obj, opts.dry_run).await;
        }
        "CertificateSigningRequest" if ctx.storage.group == "certificates.k8s.io" => {
            set_requester(&ctx, &mut obj);
        }
        _ => {}
    }
    create_object(&ctx, obj, &opts, warnings, true).await
}

/// A CertificateSigningRequest records who asked, as upstream's strategy does: approvers
/// decide on `spec.username`/`spec.groups`, so they come from the authenticated user and
/// never from the body.
fn set_requester(ctx: &Ctx, obj: &mut Value) {
    let Some(spec) = obj
        .as_object_mut()
        .map(|m| m.entry("spec").or_insert_with(|| json!({})))
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    spec.insert("username".into(), json!(ctx.user.name));
    spec.insert("groups".into(), json!(ctx.user.groups));
    if ctx.user.uid.is_empty() {
        spec.remove("uid");
    } else {
        spec.insert("uid".into(), json!(ctx.user.uid));
    }
    spec.remove("extra");
}

/// The create pipeline after decoding and the schema check (shared with create-by-apply,
/// whose object already carries its managedFields: then `record` is false).
pub(super) async fn create_object(
    ctx: &Ctx,
    obj: Value,
    opts: &WriteOptions,
    warnings: Vec<String>,
    record: bool,
) -> Result<Resp, ApiError> {
    if let Some(c) = &ctx.def.custom
        && crd_terminating(ctx, &c.crd)
    {
        return Err(ApiError::method_not_allowed(format!(
            "create not allowed while custom resource definition {} is terminating",
            c.crd
        )));
    }
    let mut obj = ctx.state.to_storage(&ctx.def, obj);
    meta::prepare_create(&ctx.storage, ctx.namespace(), &mut obj)?;
    let (g, k) = (ctx.storage.group.clone(), ctx.storage.kind.clone());
    defaults::apply(&g, &k, &mut obj);
    defaults::prepare_create(&g, &k, &mut obj);
    admission::admit_create(&ctx.state, &g, &k, &mut obj)?;
    let name = meta_str(&obj, "name").unwrap_or("").to_string();
    if name.is_empty() {
        return Err(invalid(
            ctx,
            "",
            &[FieldError::required(
                "metadata.name",
                "name or generateName is required",
            )],
        ));
    }
    ctx.check_namespace_open().await?;
    let key = ctx.storage.key(ctx.namespace(), &name);
    let mut warnings = warnings;
    warnings.extend(mutate(ctx, Operation::Create, &name, &mut obj, None, opts.dry_run).await?);
    if record {
        apply::record(ctx, None, &mut obj);
    }
    admission::admit_create_after_recording(&ctx.state, &g, &k, &mut obj).await;
    let unallocated = obj;
    // A Service's cluster IP or node port can be taken by a concurrent create between
    // choosing it and writing: then choose again.
    for _ in 0..8 {
        let mut obj = unallocated.clone();
        allocate(ctx, &mut obj, None).await?;
        validate(ctx, &obj, None)?;
        warnings
            .extend(admit_validating(ctx, Operation::Create, &name, Some(&obj), None, opts.dry_run).await?);
        if opts.dry_run {
            if ctx.state.read(&key).await?.is_some() {
                return Err(ApiError::already_exists(ctx.def.target(), &name));
            }
            return respond_written(ctx, 201, obj, None, &warnings);
        }
        match ctx.state.create(&key, &obj).await? {
            Created::Ok(rv) => return respond_written(ctx, 201, obj, Some(rv), &warnings),
            Created::Exists => return Err(ApiError::already_exists(ctx.def.target(), &name)),
            Created::Taken => continue,
        }
    }
    Err(ApiError::conflict(
        ctx.def.target(),
        &name,
        "could not reserve a free service IP or node port; please retry",
    ))
}

fn attributes<'a>(ctx: &'a Ctx, op: Operation, name: &'a str, dry_run: bool) -> webhooks::Attributes<'a> {
    webhooks::Attributes {
        def: &ctx.def,
        subresource: ctx.path.subresource.as_deref(),
        operation: op,
        namespace: ctx.namespace(),
        name,
        user: &ctx.user,
        dry_run,
    }
}

/// Mutating admission webhooks on a storage-version object (they see the served version).
/// Returns their warnings.
pub async fn mutate(
    ctx: &Ctx,
    op: Operation,
    name: &str,
    obj: &mut Value,
    old: Option<&Value>,
    dry_run: bool,
) -> Result<Vec<String>, ApiError> {
    let mut served = ctx.state.to_served(&ctx.def, obj.clone());
    let old_served = old.map(|o| ctx.state.to_served(&ctx.def, o.clone()));
    let warnings = webhooks::mutate(
        &ctx.state,
        &attributes(ctx, op, name, dry_run),
        &mut served,
        old_served.as_ref(),
    )
    .await?;
    *obj = ctx.state.to_storage(&ctx.def, served);
    Ok(warnings)
}

/// Validating admission webhooks (objects in the storage version).
pub async fn admit_validating(
    ctx: &Ctx,
    op: Operation,
    name: &str,
    obj: Option<&Value>,
    old: Option<&Value>,
    dry_run: bool,
) -> Result<Vec<String>, ApiError> {
    let served = obj.map(|o| ctx.state.to_served(&ctx.def, o.clone()));
    let old_served = old.map(|o| ctx.state.to_served(&ctx.def, o.clone()));
    webhooks::validate(
        &ctx.state,
        &attributes(ctx, op, name, dry_run),
        served.as_ref(),
        old_served.as_ref(),
    )
    .await
}

/// Allocates what the object needs from shared ranges (a Service's cluster IP and node
/// ports); `old` is the stored object on update.
async fn allocate(ctx: &Ctx, obj: &mut Value, old: Option<&Value>) -> Result<(), ApiError> {
    if !(ctx.storage.group.is_empty() && ctx.storage.kind == "Service") {
        return Ok(());
    }
    let used = ctx.state.used_service_values().await?;
    services::allocate(&ctx.state.service_ranges, obj, old, &used)
        .map_err(|errors| invalid(ctx, meta_str(obj, "name").unwrap_or(""), &errors))
}

/// The result of a read-modify-write loop.
pub enum Updated {
    /// Stored at a new revision.
    Written(Value, u64),
    /// Nothing changed; the current object.
    Unchanged(Value, u64),
    /// The update removed the last finalizer of an object being deleted: it is gone.
    Deleted(Value, u64),
    /// Dry run: what would have been stored.
    DryRun(Value),
}

/// Reads, modifies and writes an object until the write wins the race. `f` gets the
/// current object (storage version, with resourceVersion) and returns the new one, or an
/// error. With `precondition`, a lost race is a 409 instead of a retry.
pub async fn guaranteed_update<F>(
    ctx: &Ctx,
    key: &str,
    dry_run: bool,
    precondition: bool,
    mut f: F,
) -> Result<Updated, ApiError>
where
    F: FnMut(&Current) -> Result<Value, ApiError>,
{
    for _ in 0..16 {
        let Some(cur) = ctx.state.read(key).await? else {
            return Err(ApiError::not_found(ctx.def.target(), ctx.name()));
        };
        let mut new = f(&cur)?;
        allocate(ctx, &mut new, Some(&cur.value)).await?;
        if new != cur.value {
            let name = ctx.name().to_string();
            let before = new.clone();
            mutate(ctx, Operation::Update, &name, &mut new, Some(&cur.value), dry_run).await?;
            if new != before {
                validate(ctx, &new, Some(&cur.value))?;
            }
            admit_validating(
                ctx,
                Operation::Update,
                &name,
                Some(&new),
                Some(&cur.value),
                dry_run,
            )
            .await?;
        }
        stored::set_resource_version(&mut new, cur.rv);
        if new == cur.value {
            return Ok(Updated::Unchanged(cur.value, cur.rv));
        }
        if dry_run {
            return Ok(Updated::DryRun(new));
        }
        if meta::ready_to_delete(&new) {
            match ctx.state.remove(key, cur.rv, &cur.value).await? {
                Written::Ok(rv) => return Ok(Updated::Deleted(new, rv)),
                Written::Conflict if precondition => {
                    return Err(ApiError::stale(ctx.def.target(), ctx.name()));
                }
                Written::Conflict | Written::Taken => continue,
            }
        }
        match ctx.state.replace(key, cur.rv, &cur.value, &new).await? {
            Written::Ok(rv) => return Ok(Updated::Written(new, rv)),
            Written::Conflict if precondition => return Err(ApiError::stale(ctx.def.target(), ctx.name())),
            // Lost a race (or a reservation): read again and redo.
            Written::Conflict | Written::Taken => continue,
        }
    }
    Err(ApiError::conflict(
        ctx.def.target(),
        ctx.name(),
        "too many concurrent updates; please retry",
    ))
}

/// Builds the new stored object from the current one and the client's version.
/// With `record`, the write's fields become its manager's (not for applies, which did
/// their own bookkeeping).
pub(super) fn merge_update(
    ctx: &Ctx,
    part: Part,
    cur: &Value,
    incoming: Value,
    record: bool,
) -> Result<Value, ApiError> {
    let has_status = ctx.storage.has_subresource("status");
    let applied_managed_fields = if record {
        None
    } else {
        incoming.pointer("/metadata/managedFields").cloned()
    };
    let mut new = match part {
        Part::Main => {
            let mut n = incoming;
            if has_status {
                set_top(&mut n, "status", cur.get("status").cloned());
            }
            n
        }
        Part::Status => {
            let mut n = cur.clone();
            set_top(&mut n, "status", incoming.get("status").cloned());
            n
        }
        Part::Approval => {
            let mut n = cur.clone();
            let conditions = incoming.pointer("/status/conditions").cloned();
            if let Some(status) = n
                .as_object_mut()
                .map(|m| m.entry("status").or_insert_with(|| json!({})))
                .and_then(Value::as_object_mut)
            {
                match conditions {
                    Some(c) => status.insert("conditions".into(), c),
                    None => status.remove("conditions"),
                };
            }
            n
        }
        Part::Finalize => {
            let mut n = cur.clone();
            let finalizers = incoming.pointer("/spec/finalizers").cloned().unwrap_or(json!([]));
            if let Some(spec) = n
                .as_object_mut()
                .map(|m| m.entry("spec").or_insert_with(|| json!({})))
                && let Some(s) = spec.as_object_mut()
            {
                s.insert("finalizers".into(), finalizers);
            }
            n
        }
    };
    if part == Part::Main && ctx.storage.group.is_empty() && ctx.storage.kind == "Service" {
        services::drop_type_dependent(&mut new, cur);
    }
    defaults::apply(&ctx.storage.group, &ctx.storage.kind, &mut new);
    if part == Part::Main {
        // Keeps what the server allocated (cluster IPs, node ports, ...) when a client
        // leaves it out.
        defaults::prepare_update(&ctx.storage.group, &ctx.storage.kind, &mut new, cur);
    }
    meta::prepare_update(&ctx.storage, cur, &mut new)?;
    if record {
        apply::record(ctx, Some(cur), &mut new);
    } else if part != Part::Main
        && let Some(m) = meta::meta_mut(&mut new)
    {
        // An apply to a subresource did its bookkeeping on the whole object.
        match applied_managed_fields {
            Some(f) => m.insert("managedFields".into(), f),
            None => m.remove("managedFields"),
        };
    }
    validate(ctx, &new, Some(cur))?;
    Ok(new)
}

fn set_top(obj: &mut Value, key: &str, v: Option<Value>) {
    if let Some(m) = obj.as_object_mut() {
        match v {
            Some(v) => {
                m.insert(key.to_string(), v);
            }
            None => {
                m.remove(key);
            }
        }
    }
}

pub(super) fn respond_updated(ctx: &Ctx, u: Updated, warnings: &[String]) -> Result<Resp, ApiError> {
    match u {
        Updated::Written(v, rv) | Updated::Unchanged(v, rv) | Updated::Deleted(v, rv) => {
            respond_written(ctx, 200, v, Some(rv), warnings)
        }
        Updated::DryRun(v) => respond_written(ctx, 200, v, None, warnings),
    }
}

/// PUT of an object (or its `/status` or `/finalize`).
pub async fn update(ctx: Ctx, body: Bytes) -> Result<Resp, ApiError> {
    let opts = WriteOptions::parse(&ctx.query)?;
    let format = format_of(&ctx)?;
    if !matches!(format, BodyFormat::Json | BodyFormat::Yaml | BodyFormat::Protobuf) {
        return Err(ApiError::unsupported_media_type(
            ctx.content_type.as_deref().unwrap_or(""),
        ));
    }
    let Decoded {
        value: mut obj,
        duplicates,
    } = body::decode_object(&body, format)?;
    let warnings = check_object(&ctx, &mut obj, duplicates, opts.field_validation)?;
    let name = ctx.name().to_string();
    match meta_str(&obj, "name") {
        Some(n) if !n.is_empty() && n != name => {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({n}) does not match the name on the URL ({name})"
            )));
        }
        _ => {
            if let Some(m) = meta::meta_mut(&mut obj) {
                m.insert("name".into(), Value::String(name.clone()));
            }
        }
    }
    if let (Some(ns), Some(body_ns)) = (ctx.namespace(), meta_str(&obj, "namespace"))
        && !body_ns.is_empty()
        && body_ns != ns
    {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    let precondition = parse_rv(meta_str(&obj, "resourceVersion"))?;
    let obj = ctx.state.to_storage(&ctx.def, obj);
    let part = Part::of(&ctx);
    let key = ctx.key();
    let result = guaranteed_update(&ctx, &key, opts.dry_run, precondition.is_some(), |cur| {
        if let Some(p) = precondition
            && p != cur.rv
        {
            return Err(ApiError::stale(ctx.def.target(), ctx.name()));
        }
        merge_update(&ctx, part, &cur.value, obj.clone(), true)
    })
    .await;
    match result {
        Err(e) if e.code == 404 && part == Part::Main && creates_on_update(&ctx) => {
            // Like upstream for these kinds, PUT of a missing object creates it.
            let mut created = ctx.state.to_served(&ctx.def, obj);
            if let Some(m) = meta::meta_mut(&mut created) {
                m.remove("resourceVersion");
            }
            let body = Bytes::from(serde_json::to_vec(&created).unwrap_or_default());
            let mut ctx = ctx;
            ctx.content_type = Some("application/json".into());
            create(ctx, body).await
        }
        other => respond_updated(&ctx, other?, &warnings),
    }
}

fn creates_on_update(ctx: &Ctx) -> bool {
    matches!(
        (ctx.storage.group.as_str(), ctx.storage.kind.as_str()),
        ("", "Endpoints" | "Event" | "Node") | ("coordination.k8s.io", "Lease")
    )
}

fn patch_error(ctx: &Ctx, e: kpatch::PatchError) -> ApiError {
    match e {
        kpatch::PatchError::Malformed(m) => ApiError::bad_request(m),
        kpatch::PatchError::Inapplicable(m) => {
            let mut err = ApiError::new(422, "Invalid", m);
            err.details = Some(Box::new(krust_api::status::StatusDetails {
                name: ctx.name().to_string(),
                group: ctx.def.group.clone(),
                kind: ctx.def.kind.clone(),
                ..Default::default()
            }));
            err
        }
    }
}

/// Applies a patch document of a given format to a served object.
pub fn apply_patch(ctx: &Ctx, format: BodyFormat, cur: &Value, patch: &Value) -> Result<Value, ApiError> {
    match format {
        BodyFormat::JsonPatch => kpatch::json_patch(cur, patch).map_err(|e| patch_error(ctx, e)),
        BodyFormat::MergePatch => kpatch::merge_patch(cur, patch).map_err(|e| patch_error(ctx, e)),
        BodyFormat::StrategicMergePatch => {
            // Custom resources have no patch strategies: upstream refuses SMP for them.
            let schema = ctx.state.schema_of(&ctx.def).filter(|_| ctx.def.custom.is_none());
            if schema.is_none() {
                return Err(ApiError::new(
                    415,
                    "UnsupportedMediaType",
                    "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
                ));
            }
            kpatch::strategic_merge(cur, patch, schema).map_err(|e| patch_error(ctx, e))
        }
        _ => Err(ApiError::unsupported_media_type(
            ctx.content_type.as_deref().unwrap_or(""),
        )),
    }
}

/// Parses a patch body and checks its shape for the patch type.
pub fn parse_patch(format: BodyFormat, body: &[u8]) -> Result<(Value, Vec<String>), ApiError> {
    let d = match format {
        BodyFormat::ApplyPatch => body::parse_yaml(body)?,
        _ => body::parse_json(body)?,
    };
    match (format, &d.value) {
        (BodyFormat::JsonPatch, Value::Array(_)) => {}
        (BodyFormat::JsonPatch, _) => {
            return Err(ApiError::bad_request(
                "the JSON patch must be a JSON array of operations",
            ));
        }
        (_, Value::Object(_)) => {}
        _ => return Err(ApiError::bad_request("the patch must be a JSON object")),
    }
    Ok((d.value, d.duplicates))
}

/// PATCH of an object (or its `/status`).
pub async fn patch(ctx: Ctx, body: Bytes) -> Result<Resp, ApiError> {
    let opts = WriteOptions::parse(&ctx.query)?;
    let format = format_of(&ctx)?;
    if matches!(format, BodyFormat::Json | BodyFormat::Yaml | BodyFormat::Protobuf) {
        return Err(ApiError::unsupported_media_type(
            ctx.content_type.as_deref().unwrap_or(""),
        ));
    }
    if format == BodyFormat::ApplyPatch {
        return apply::server_side_apply(ctx, body, opts).await;
    }
    if ctx.query.get("force").is_some() {
        return Err(ApiError::bad_request(
            "force may not be specified for non-apply patch",
        ));
    }
    let (patch_doc, duplicates) = parse_patch(format, &body)?;
    let part = Part::of(&ctx);
    let key = ctx.key();
    let mut warnings = Vec::new();
    let explicit_rv = patch_doc.pointer("/metadata/resourceVersion").is_some();
    let result = guaranteed_update(&ctx, &key, opts.dry_run, explicit_rv, |cur| {
        let served = ctx.state.to_served(&ctx.def, cur.value.clone());
        let mut patched = apply_patch(&ctx, format, &served, &patch_doc)?;
        warnings = check_object(&ctx, &mut patched, duplicates.clone(), opts.field_validation)?;
        if let Some(rv) = meta_str(&patched, "resourceVersion")
            && parse_rv(Some(rv))? != Some(cur.rv)
        {
            return Err(ApiError::stale(ctx.def.target(), ctx.name()));
        }
        let incoming = ctx.state.to_storage(&ctx.def, patched);
        merge_update(&ctx, part, &cur.value, incoming, true)
    })
    .await?;
    respond_updated(&ctx, result, &warnings)
}

/// POST `pods/<name>/binding`.
pub async fn bind(ctx: Ctx, body: Bytes) -> Result<Resp, ApiError> {
    let opts = WriteOptions::parse(&ctx.query)?;
    let format = format_of(&ctx)?;
    let Decoded { value: obj, .. } = body::decode_object(&body, format)?;
    let name = ctx.name().to_string();
    bind_pod(&ctx, &name, obj, opts.dry_run).await
}

async fn bind_pod(ctx: &Ctx, pod: &str, binding: Value, dry_run: bool) -> Result<Resp, ApiError> {
    let pods = ctx
        .state
        .find("", "v1", "pods")
        .ok_or_else(|| ApiError::internal("pods not registered"))?;
    let node = binding
        .pointer("/target/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if node.is_empty() {
        return Err(ApiError::invalid(
            krust_api::Target {
                group: "",
                resource: "bindings",
                kind: "Binding",
            },
            pod,
            &[FieldError::required("target.name", "")],
        ));
    }
    let key = pods.key(ctx.namespace(), pod);
    let pod_ctx = Ctx {
        state: ctx.state.clone(),
        def: pods.clone(),
        storage: pods.clone(),
        path: crate::route::ResourcePath {
            name: Some(pod.to_string()),
            ..ctx.path.clone()
        },
        query: ctx.query.clone(),
        accept: ctx.accept.clone(),
        content_type: None,
        user: ctx.user.clone(),
        user_agent: ctx.user_agent.clone(),
    };
    let annotations = binding
        .pointer("/metadata/annotations")
        .and_then(Value::as_object)
        .cloned();
    guaranteed_update(&pod_ctx, &key, dry_run, false, |cur| {
        let mut new = cur.value.clone();
        if new
            .pointer("/metadata/deletionTimestamp")
            .is_some_and(|t| !t.is_null())
        {
            return Err(ApiError::conflict(
                pods.target(),
                pod,
                &format!("pod {pod} is being deleted, cannot be assigned to a host"),
            ));
        }
        if let Some(existing) = new
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
        {
            return Err(ApiError::conflict(
                pods.target(),
                pod,
                &format!("pod {pod} is already assigned to node {existing:?}"),
            ));
        }
        if let Some(spec) = new.get_mut("spec").and_then(Value::as_object_mut) {
            spec.insert("nodeName".into(), Value::String(node.clone()));
        }
        if let (Some(extra), Some(meta)) = (&annotations, meta::meta_mut(&mut new)) {
            let a = meta
                .entry("annotations")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Some(a) = a.as_object_mut() {
                a.extend(extra.clone());
            }
        }
        set_scheduled_condition(&mut new);
        Ok(new)
    })
    .await?;
    Ok(respond::json(
        201,
        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
    ))
}

fn set_scheduled_condition(pod: &mut Value) {
    let Some(obj) = pod.as_object_mut() else { return };
    let status = obj.entry("status").or_insert_with(|| json!({}));
    let Some(status) = status.as_object_mut() else {
        return;
    };
    let conds = status.entry("conditions").or_insert_with(|| json!([]));
    let Some(conds) = conds.as_array_mut() else { return };
    conds.retain(|c| c.get("type").and_then(Value::as_str) != Some("PodScheduled"));
    conds.push(json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": meta::now_rfc3339()}));
}

fn self_subject_access_review(ctx: &Ctx, mut obj: Value) -> Result<Resp, ApiError> {
    // Until RBAC arrives every authenticated user may do everything.
    if let Some(m) = obj.as_object_mut() {
        m.insert("status".into(), json!({"allowed": true, "reason": "authorization is not enforced yet: every authenticated user is allowed"}));
        let meta = m.entry("metadata").or_insert_with(|| json!({}));
        if let Some(meta) = meta.as_object_mut() {
            meta.insert("creationTimestamp".into(), Value::Null);
        }
    }
    ctx.respond_value(201, &obj)
}

/// Until RBAC arrives, every authenticated user may do everything: say so in rules form
/// (`kubectl auth can-i --list`).
fn self_subject_rules_review(ctx: &Ctx, mut obj: Value) -> Result<Resp, ApiError> {
    if let Some(m) = obj.as_object_mut() {
        m.insert(
            "status".into(),
            json!({
                "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
                "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
                "incomplete": false,
            }),
        );
    }
    ctx.respond_value(201, &obj)
}

/// Who the caller is, as the server sees it (`kubectl auth whoami`).
fn self_subject_review(ctx: &Ctx, mut obj: Value) -> Result<Resp, ApiError> {
    if let Some(m) = obj.as_object_mut() {
        let mut info = json!({"username": ctx.user.name, "groups": ctx.user.groups});
        if !ctx.user.uid.is_empty() {
            info["uid"] = json!(ctx.user.uid);
        }
        m.insert("status".into(), json!({"userInfo": info}));
        m.insert(
            "metadata".into(),
            json!({"creationTimestamp": meta::now_rfc3339()}),
        );
    }
    ctx.respond_value(201, &obj)
}

/// Whether the CRD serving this resource is being deleted.
fn crd_terminating(ctx: &Ctx, crd: &str) -> bool {
    let Some(def) = ctx
        .state
        .find("apiextensions.k8s.io", "v1", "customresourcedefinitions")
    else {
        return false;
    };
    let Some(cache) = ctx.state.cache.resource(&def.storage_prefix()) else {
        return false;
    };
    cache
        .get(&def.key(None, crd))
        .0
        .and_then(|o| serde_json::from_slice::<Value>(&o.stored).ok())
        .is_some_and(|v| {
            v.pointer("/metadata/deletionTimestamp")
                .is_some_and(|t| !t.is_null())
        })
}
