//! The entry point of every request: authentication, routing, body limits, gzip, and the
//! fixed endpoints (version, health, discovery, OpenAPI).

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, header};
use http_body_util::{BodyExt, Limited};
use hyper::body::{Body as _, Incoming};
use krust_api::ApiError;
use serde_json::json;

use crate::{
    authn::{self, User},
    body::MAX_BODY,
    discovery,
    handlers::{self, Ctx},
    negotiate::{self, Discovery},
    openapi::Docs,
    options::Query,
    respond::{self, Resp},
    route::{self, HealthCheck, Route},
    state::State,
    version,
};

/// What we know about the connection a request came on.
#[derive(Debug, Clone, Default)]
pub struct ConnInfo {
    /// The user of a verified client certificate, if any.
    pub cert_user: Option<User>,
}

const GZIP_MIN: usize = 128 * 1024;

/// Serves one request.
pub async fn serve(state: Arc<State>, conn: Arc<ConnInfo>, req: Request<Incoming>) -> Resp {
    let wants_gzip = req
        .headers()
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let mut resp = match route_request(state, conn, req).await {
        Ok(r) => r,
        Err(e) => respond::error(&e),
    };
    tracing::debug!(%method, %path, status = resp.status().as_u16(), "request");
    if wants_gzip {
        resp = maybe_gzip(resp).await;
    }
    resp
}

async fn maybe_gzip(resp: Resp) -> Resp {
    let exact = resp.body().size_hint().exact();
    match exact {
        Some(n) if n as usize >= GZIP_MIN => {}
        _ => return resp,
    }
    let (mut parts, body) = resp.into_parts();
    let bytes = match body.collect().await {
        Ok(c) => c.to_bytes(),
        Err(never) => match never {},
    };
    let mut enc =
        flate2::write::GzEncoder::new(Vec::with_capacity(bytes.len() / 4), flate2::Compression::fast());
    if enc.write_all(&bytes).is_err() {
        return http::Response::from_parts(parts, respond::full(bytes));
    }
    match enc.finish() {
        Ok(z) => {
            parts
                .headers
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            parts.headers.remove(header::CONTENT_LENGTH);
            http::Response::from_parts(parts, respond::full(z))
        }
        Err(_) => http::Response::from_parts(parts, respond::full(bytes)),
    }
}

/// A verified client certificate wins; otherwise a bearer token (as upstream's union of
/// authenticators: the first that succeeds decides).
fn authenticate(state: &State, conn: &ConnInfo, headers: &HeaderMap) -> Option<User> {
    if let Some(user) = &conn.cert_user {
        return Some(user.clone());
    }
    let auth = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    authn::bearer(auth).and_then(|token| state.authn.authenticate_token(token))
}

async fn read_body(body: Incoming) -> Result<Bytes, ApiError> {
    match Limited::new(body, MAX_BODY).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(ApiError::too_large(format!(
            "the request body is too large: the limit is {MAX_BODY} bytes (3 MiB)"
        ))),
        Err(e) => Err(ApiError::bad_request(format!(
            "error reading the request body: {e}"
        ))),
    }
}

async fn route_request(
    state: Arc<State>,
    conn: Arc<ConnInfo>,
    req: Request<Incoming>,
) -> Result<Resp, ApiError> {
    let route = route::parse(req.uri().path());
    match route {
        Route::Health(check) => return Ok(health(&state, check)),
        Route::Version => return Ok(respond::json(200, &version::info(&state.build))),
        // Public by design: a joining agent checks it against the hash in its join token.
        Route::CaCerts => {
            if let Some(pem) = &state.cacerts_pem {
                return Ok(respond::bytes(200, "text/plain; charset=utf-8", pem.clone()));
            }
        }
        _ => {}
    }
    let Some(user) = authenticate(&state, &conn, req.headers()) else {
        return Err(ApiError::unauthorized());
    };
    if let Some(remote) = aggregated_target(req.uri().path()).and_then(|(g, v)| state.aggregator.remote(g, v))
    {
        let method = req.method().clone();
        let path_and_query = req
            .uri()
            .path_and_query()
            .map_or_else(|| req.uri().path().to_string(), |p| p.as_str().to_string());
        let headers = req.headers().clone();
        let body = read_body(req.into_body()).await?;
        return crate::aggregator::proxy::forward(
            &state,
            &remote,
            method,
            &path_and_query,
            &headers,
            body,
            &user,
        )
        .await;
    }
    let accept = negotiate::parse_accept(req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()));
    let method = req.method().clone();
    let is_read = method == Method::GET || method == Method::HEAD;
    match route {
        Route::Resource(path) => {
            let def = state
                .find(&path.group, &path.version, &path.plural)
                .ok_or_else(|| {
                    ApiError::path_not_found("the server could not find the requested resource")
                })?;
            let storage = state.storage_def(&def);
            let query = Query::parse(req.uri().query());
            let content_type = req
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let user_agent = req
                .headers()
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            let body = if is_read {
                None
            } else {
                Some(read_body(req.into_body()).await?)
            };
            let ctx = Ctx {
                state,
                def,
                storage,
                path,
                query,
                accept,
                content_type,
                user,
                user_agent,
            };
            handlers::handle(ctx, method, body).await
        }
        _ if !is_read => Err(ApiError::method_not_allowed(
            "the server does not allow this method on the requested resource",
        )),
        Route::CoreVersions => Ok(match negotiate::choose_discovery(&accept) {
            Discovery::Legacy => respond::json(200, &discovery::core_versions(&state.server_address)),
            v => aggregated(&state, true, v),
        }),
        Route::Groups => Ok(match negotiate::choose_discovery(&accept) {
            Discovery::Legacy => {
                let mut list = discovery::group_list(&state.registry.read());
                if let Some(groups) = list.get_mut("groups").and_then(|g| g.as_array_mut()) {
                    for (g, versions) in state.aggregator.groups() {
                        groups.retain(|local| local["name"] != g.as_str());
                        groups.push(discovery::group_json(&g, &versions));
                    }
                }
                respond::json(200, &list)
            }
            v => aggregated(&state, false, v),
        }),
        Route::Group(g) => remote_group(&state, &g)
            .or_else(|| discovery::group(&state.registry.read(), &g))
            .map(|v| respond::json(200, &v))
            .ok_or_else(|| ApiError::path_not_found("the server could not find the requested resource")),
        Route::GroupVersion(g, v) => discovery::resource_list(&state.registry.read(), &g, &v)
            .map(|doc| respond::json(200, &doc))
            .ok_or_else(|| ApiError::path_not_found("the server could not find the requested resource")),
        Route::OpenApiV2 => {
            let doc = state.openapi.v2(&openapi_docs(&state));
            let if_none_match = req
                .headers()
                .get(header::IF_NONE_MATCH)
                .and_then(|v| v.to_str().ok());
            doc.respond(&accept, if_none_match)
        }
        Route::OpenApiV3Root => Ok(respond::bytes(
            200,
            respond::JSON,
            openapi_docs(&state).root.clone(),
        )),
        Route::OpenApiV3(p) => {
            let docs = openapi_docs(&state);
            let doc = docs
                .by_path
                .get(&p)
                .ok_or_else(|| ApiError::path_not_found(format!("no OpenAPI document for {p}")))?;
            let etag = format!("\"{}\"", doc.hash);
            let hashed = Query::parse(req.uri().query()).get("hash").is_some();
            let matches = req
                .headers()
                .get(header::IF_NONE_MATCH)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v == etag);
            let mut r = if matches {
                respond::bytes(304, respond::JSON, Bytes::new())
            } else {
                respond::bytes(200, respond::JSON, doc.body.clone())
            };
            if let Ok(v) = HeaderValue::from_str(&etag) {
                r.headers_mut().insert(header::ETAG, v);
            }
            if hashed {
                r.headers_mut().insert(
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, immutable"),
                );
                r.headers_mut().insert(
                    header::EXPIRES,
                    HeaderValue::from_static("Thu, 31 Dec 2037 23:59:59 GMT"),
                );
            } else {
                r.headers_mut().insert(
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("no-cache, private"),
                );
            }
            Ok(r)
        }
        Route::NotFound | Route::CaCerts => Err(ApiError::path_not_found(format!(
            "the server could not find the requested resource (path {})",
            req.uri().path()
        ))),
        Route::Health(_) | Route::Version => Err(ApiError::internal("unreachable route")),
    }
}

/// `(group, version)` of an `/apis/<group>/<version>[/...]` path.
fn aggregated_target(path: &str) -> Option<(&str, &str)> {
    let mut parts = path.strip_prefix("/apis/")?.split('/');
    let group = parts.next().filter(|g| !g.is_empty())?;
    let version = parts.next().filter(|v| !v.is_empty())?;
    Some((group, version))
}

/// `/apis/<group>` of a group served by another server.
fn remote_group(state: &State, group: &str) -> Option<serde_json::Value> {
    let (_, versions) = state.aggregator.groups().into_iter().find(|(g, _)| g == group)?;
    let mut v = discovery::group_json(group, &versions);
    if let Some(m) = v.as_object_mut() {
        m.insert("kind".into(), "APIGroup".into());
        m.insert("apiVersion".into(), "v1".into());
    }
    Some(v)
}

fn aggregated(state: &State, core: bool, v: Discovery) -> Resp {
    let mut doc = discovery::aggregated(&state.registry.read(), core, v);
    if !core && let Some(items) = doc.get_mut("items").and_then(|i| i.as_array_mut()) {
        for remote in crate::aggregator::aggregated_items(&state.aggregator) {
            items.retain(|local| local["metadata"]["name"] != remote["metadata"]["name"]);
            items.push(remote);
        }
    }
    respond::bytes(
        200,
        discovery::aggregated_content_type(v),
        serde_json::to_vec(&doc).unwrap_or_default(),
    )
}

fn openapi_docs(state: &State) -> Arc<Docs> {
    let resources = state.registry.read().all().to_vec();
    let custom: Vec<((String, String, String), Arc<serde_json::Value>)> = state
        .crd_schemas
        .read()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if custom.is_empty() {
        return state.openapi.get(&state.schemas, &state.gvk_schema, &resources);
    }
    // Custom kinds' schemas join the built-in ones for this build.
    let mut gvk = state.gvk_schema.clone();
    let extra = custom.into_iter().map(|((g, v, k), schema)| {
        let name = crate::crds::schema_name(&g, &v, &k);
        gvk.insert((g, v, k), name.clone());
        (name, (*schema).clone())
    });
    let schemas = state.schemas.with_extra(extra.collect::<Vec<_>>());
    state.openapi.get(&schemas, &gvk, &resources)
}

fn health(state: &State, check: HealthCheck) -> Resp {
    let ready = state.ready.load(Ordering::Acquire);
    match check {
        HealthCheck::Livez | HealthCheck::Healthz => respond::bytes(200, "text/plain; charset=utf-8", "ok"),
        HealthCheck::Readyz if ready => respond::bytes(200, "text/plain; charset=utf-8", "ok"),
        HealthCheck::Readyz => {
            let mut r = respond::json(
                500,
                &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "the API server is starting", "reason": "InternalError", "code": 500}),
            );
            r.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            r
        }
    }
}
