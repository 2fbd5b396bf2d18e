//! Handlers of resource requests: the request context shared by all verbs, and dispatch
//! from method + path + query to the verb.

mod apply;
mod delete;
mod eviction;
mod log;
mod read;
mod scale;
mod watch;
mod write;

use std::sync::Arc;

use bytes::Bytes;
use http::Method;
use krust_api::{ApiError, registry::ResourceDef};
use serde_json::Value;

use crate::{
    authn::User,
    cache::ResourceCache,
    negotiate::{self, MediaType, Output},
    options::{ListOptions, Query},
    render,
    respond::{self, Resp},
    route::ResourcePath,
    state::{CACHE_WAIT, State},
};

/// Everything a verb handler needs about one request.
pub struct Ctx {
    /// Shared state.
    pub state: Arc<State>,
    /// The resource as served at this path.
    pub def: ResourceDef,
    /// The resource as stored.
    pub storage: ResourceDef,
    /// The parsed path.
    pub path: ResourcePath,
    /// Query parameters.
    pub query: Query,
    /// Parsed `Accept`.
    pub accept: Vec<MediaType>,
    /// `Content-Type`, as sent.
    pub content_type: Option<String>,
    /// Who is asking.
    pub user: User,
    /// `User-Agent`, for the default field manager.
    pub user_agent: String,
}

impl Ctx {
    /// The field manager of a write: `fieldManager`, else the user agent's first part (as
    /// upstream: `kubectl/v1.33.1 (linux/amd64)` → `kubectl`).
    pub fn field_manager(&self) -> String {
        match self.query.get("fieldManager").filter(|m| !m.is_empty()) {
            Some(m) => m.to_string(),
            None => {
                let prefix = self.user_agent.split('/').next().unwrap_or("").trim();
                prefix.chars().take(128).collect()
            }
        }
    }

    /// Object name from the path ("" for collections).
    pub fn name(&self) -> &str {
        self.path.name.as_deref().unwrap_or("")
    }

    /// Namespace from the path, for namespaced resources.
    pub fn namespace(&self) -> Option<&str> {
        if self.def.namespaced {
            self.path.namespace.as_deref()
        } else {
            None
        }
    }

    /// Store key of the named object.
    pub fn key(&self) -> String {
        self.storage.key(self.namespace(), self.name())
    }

    /// The watch cache of this resource.
    pub fn cache(&self) -> Result<Arc<ResourceCache>, ApiError> {
        self.state
            .cache
            .resource(&self.storage.storage_prefix())
            .ok_or_else(|| ApiError::internal(format!("no cache for {}", self.def.plural)))
    }

    /// The response representation the client asked for.
    pub fn output(&self) -> Result<Output, ApiError> {
        negotiate::choose_output(&self.accept).ok_or_else(|| {
            ApiError::not_acceptable(
                "only the following media types are accepted: application/json, application/yaml, application/json;as=Table;v=v1;g=meta.k8s.io",
            )
        })
    }

    /// Waits until the cache reflects the store as of now (a consistent read).
    pub async fn consistent(&self) -> Result<(), ApiError> {
        let rv = self
            .state
            .store
            .current_revision()
            .await
            .map_err(crate::state::store_error)?;
        self.state.cache.wait_for(rv, CACHE_WAIT).await
    }

    /// Responds with one object given as served-version JSON bytes.
    pub fn respond_json(&self, code: u16, json: Bytes) -> Result<Resp, ApiError> {
        match self.output()? {
            Output::Json => Ok(respond::bytes(code, respond::JSON, json)),
            _ => {
                let v: Value =
                    serde_json::from_slice(&json).map_err(|e| ApiError::internal(e.to_string()))?;
                self.respond_value(code, &v)
            }
        }
    }

    /// Responds with one object given as a served-version value.
    pub fn respond_value(&self, code: u16, v: &Value) -> Result<Resp, ApiError> {
        self.respond_value_as(&self.def, code, v)
    }

    /// Responds with an object of another kind than the path's resource (e.g. a Scale),
    /// so that Tables use that kind's columns.
    pub fn respond_value_as(&self, def: &ResourceDef, code: u16, v: &Value) -> Result<Resp, ApiError> {
        Ok(match self.output()? {
            Output::Json => respond::json(code, v),
            Output::Yaml => respond::bytes(code, "application/yaml", render::yaml(v)?),
            Output::Table { beta } => {
                let include = render::IncludeObject::parse(self.query.get("includeObject"))?;
                let rv = v
                    .pointer("/metadata/resourceVersion")
                    .and_then(Value::as_str)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                let meta = render::ListMeta {
                    resource_version: rv,
                    ..Default::default()
                };
                let t = render::table(def, std::slice::from_ref(v), &meta, include, beta, true);
                respond::bytes(
                    code,
                    render::table_content_type(beta),
                    serde_json::to_vec(&t).unwrap_or_default(),
                )
            }
            Output::Metadata { beta } => {
                let m = render::partial_metadata(v, beta);
                respond::bytes(
                    code,
                    &render::metadata_content_type(beta, false),
                    serde_json::to_vec(&m).unwrap_or_default(),
                )
            }
        })
    }

    /// Responds with a stored object (storage-version bytes at `rv`).
    pub fn respond_stored(&self, code: u16, stored_bytes: &[u8], rv: u64) -> Result<Resp, ApiError> {
        let json = self.state.render_served(&self.def, stored_bytes, rv)?;
        self.respond_json(code, json)
    }

    /// Checks the namespace of a new object exists and is not terminating.
    pub async fn check_namespace_open(&self) -> Result<(), ApiError> {
        let Some(ns) = self.namespace() else { return Ok(()) };
        let ns_def = self
            .state
            .find("", "v1", "namespaces")
            .ok_or_else(|| ApiError::internal("namespaces not registered"))?;
        let key = ns_def.key(None, ns);
        let cached = self
            .state
            .cache
            .resource(&ns_def.storage_prefix())
            .and_then(|c| c.get(&key).0);
        let terminating = match cached {
            Some(o) => {
                let v: Value = serde_json::from_slice(&o.stored).unwrap_or(Value::Null);
                v.pointer("/metadata/deletionTimestamp")
                    .is_some_and(|t| !t.is_null())
            }
            None => match self.state.read(&key).await? {
                Some(cur) => cur
                    .value
                    .pointer("/metadata/deletionTimestamp")
                    .is_some_and(|t| !t.is_null()),
                None => return Err(ApiError::not_found(ns_def.target(), ns)),
            },
        };
        if terminating {
            return Err(ApiError::forbidden(format!(
                "{} \"{}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                self.def.target().qualified_resource(),
                self.name()
            )));
        }
        Ok(())
    }
}

/// Runs a resource request.
pub async fn handle(ctx: Ctx, method: Method, body: Option<Bytes>) -> Result<Resp, ApiError> {
    let has_name = ctx.path.name.is_some();
    let sub = ctx.path.subresource.clone();
    if ctx.def.namespaced && ctx.path.namespace.is_none() && has_name {
        return Err(ApiError::path_not_found(
            "the server could not find the requested resource",
        ));
    }
    if !ctx.def.namespaced && ctx.path.namespace.is_some() {
        return Err(ApiError::path_not_found(
            "the server could not find the requested resource",
        ));
    }
    let verb_ok = |v: &str| ctx.def.verbs.contains(&v);
    let not_allowed = || {
        ApiError::method_not_allowed(
            "the server does not allow this method on the requested resource".to_string(),
        )
    };
    match (&method, has_name, sub.as_deref()) {
        (&Method::GET, false, None) => {
            let opts = ListOptions::parse(&ctx.query)?;
            if opts.watch || ctx.path.watch_prefix {
                if !verb_ok("watch") {
                    return Err(not_allowed());
                }
                watch::watch(ctx, opts).await
            } else {
                if !verb_ok("list") {
                    return Err(not_allowed());
                }
                read::list(ctx, opts).await
            }
        }
        (&Method::GET, true, None) => {
            if ctx.path.watch_prefix || ctx.query.flag("watch")? {
                let mut opts = ListOptions::parse(&ctx.query)?;
                opts.fields =
                    krust_api::fields::FieldSelector::parse(&format!("metadata.name={}", ctx.name()))
                        .map_err(ApiError::bad_request)?;
                return watch::watch(ctx, opts).await;
            }
            if !verb_ok("get") {
                return Err(not_allowed());
            }
            read::get(ctx).await
        }
        (&Method::POST, false, None) => {
            if !verb_ok("create") {
                return Err(not_allowed());
            }
            write::create(ctx, body.unwrap_or_default()).await
        }
        (&Method::PUT, true, None) => write::update(ctx, body.unwrap_or_default()).await,
        (&Method::PATCH, true, None) => write::patch(ctx, body.unwrap_or_default()).await,
        (&Method::DELETE, true, None) => delete::delete(ctx, body.unwrap_or_default()).await,
        (&Method::DELETE, false, None) => {
            if !verb_ok("deletecollection") {
                return Err(not_allowed());
            }
            delete::delete_collection(ctx, body.unwrap_or_default()).await
        }
        (_, true, Some(s)) if ctx.def.has_subresource(s) => match (s, &method) {
            ("scale", &Method::GET) => scale::get(ctx).await,
            ("scale", &Method::PUT) => scale::update(ctx, body.unwrap_or_default()).await,
            ("scale", &Method::PATCH) => scale::patch(ctx, body.unwrap_or_default()).await,
            ("status" | "approval", &Method::GET) => read::get(ctx).await,
            ("status" | "finalize" | "approval", &Method::PUT) => {
                write::update(ctx, body.unwrap_or_default()).await
            }
            ("status" | "approval", &Method::PATCH) => write::patch(ctx, body.unwrap_or_default()).await,
            ("binding", &Method::POST) => write::bind(ctx, body.unwrap_or_default()).await,
            ("eviction", &Method::POST) => eviction::evict(ctx, body.unwrap_or_default()).await,
            ("log", &Method::GET) => log::get(ctx).await,
            _ => Err(not_allowed()),
        },
        (_, true, Some(_)) => Err(ApiError::path_not_found(
            "the server could not find the requested resource",
        )),
        _ => Err(not_allowed()),
    }
}
