//! GET of one object and LIST of a collection, with resourceVersion semantics and
//! consistent pagination.

use std::sync::Arc;

use base64::Engine;
use bytes::Bytes;
use krust_api::ApiError;
use krust_store::{RangeRequest, prefix_end};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Ctx;
use crate::{
    cache::{CachedObject, Filter},
    negotiate::Output,
    options::{ListOptions, RvMatch},
    render::{self, IncludeObject, ListMeta},
    respond::{self, Resp},
    state::{CACHE_WAIT, store_error},
};

/// GET of one object (also `/status`).
pub async fn get(ctx: Ctx) -> Result<Resp, ApiError> {
    match crate::options::parse_rv(ctx.query.get("resourceVersion"))? {
        None => ctx.consistent().await?,
        Some(0) => {}
        Some(rv) => ctx.state.cache.wait_for(rv, CACHE_WAIT).await?,
    }
    let cache = ctx.cache()?;
    let (obj, _) = cache.get(&ctx.key());
    let obj = obj.ok_or_else(|| ApiError::not_found(ctx.def.target(), ctx.name()))?;
    ctx.respond_stored(200, &obj.stored, obj.rv)
}

/// The state a `continue` token carries.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ContinueToken {
    /// Token format.
    pub v: u32,
    /// Revision every page is read at.
    pub rv: u64,
    /// The last key returned; the next page starts after it.
    pub start: String,
}

impl ContinueToken {
    /// Encodes as an opaque string.
    pub fn encode(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    /// Decodes; 400 when malformed.
    pub fn decode(s: &str) -> Result<Self, ApiError> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s.trim_end_matches('='))
            .map_err(|_| ApiError::bad_request("continue key is not valid: illegal base64 data"))?;
        let t: Self = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::bad_request(format!("continue key is not valid: {e}")))?;
        if t.v != 1 {
            return Err(ApiError::bad_request(
                "continue key is not valid: unsupported version",
            ));
        }
        Ok(t)
    }
}

/// Checks every field of a field selector is selectable on this kind and rewrites
/// aliases (e.g. `spec.host`) to the names objects are indexed under.
pub fn check_fields(ctx: &Ctx, opts: &mut ListOptions) -> Result<(), ApiError> {
    opts.fields = opts
        .fields
        .convert(&ctx.def.group, &ctx.def.kind)
        .map_err(ApiError::bad_request)?;
    Ok(())
}

/// The filter of a list or watch.
pub fn filter(ctx: &Ctx, opts: &ListOptions) -> Filter {
    Filter {
        namespace: ctx.namespace().map(str::to_string),
        labels: opts.labels.clone(),
        fields: opts.fields.clone(),
    }
}

/// Items of one page with the page's list metadata.
struct Listed {
    items: Vec<(Bytes, u64)>,
    meta: ListMeta,
}

/// LIST of a collection.
pub async fn list(ctx: Ctx, mut opts: ListOptions) -> Result<Resp, ApiError> {
    check_fields(&ctx, &mut opts)?;
    let output = ctx.output()?;
    let include = IncludeObject::parse(ctx.query.get("includeObject"))?;
    let filter = filter(&ctx, &opts);
    let listed = if let Some(token) = &opts.continue_token {
        let t = ContinueToken::decode(token)?;
        match from_store(&ctx, &filter, t.rv, Some(&t.start), opts.limit).await {
            Err(e) if e.code == 410 => return expired_continue(&ctx, &t).await,
            other => other?,
        }
    } else {
        let rv = opts.rv()?;
        let exact = opts.rv_match == Some(RvMatch::Exact)
            || (opts.rv_match.is_none() && opts.limit > 0 && matches!(rv, Some(n) if n > 0));
        match rv {
            Some(n) if exact => from_store(&ctx, &filter, n, None, opts.limit).await?,
            other => {
                match other {
                    None => ctx.consistent().await?,
                    Some(0) => {}
                    Some(n) => ctx.state.cache.wait_for(n, CACHE_WAIT).await?,
                }
                from_cache(&ctx, &filter, opts.limit)?
            }
        }
    };
    render_list(&ctx, output, include, listed)
}

fn from_cache(ctx: &Ctx, filter: &Filter, limit: usize) -> Result<Listed, ApiError> {
    let page = ctx.cache()?.list(filter, None, limit);
    let continue_token = page.next_key.map(|start| {
        ContinueToken {
            v: 1,
            rv: page.rv,
            start,
        }
        .encode()
    });
    let items = page
        .items
        .iter()
        .map(|o: &Arc<CachedObject>| (o.stored.clone(), o.rv))
        .collect();
    Ok(Listed {
        items,
        meta: ListMeta {
            resource_version: page.rv,
            continue_token,
            remaining: None,
        },
    })
}

async fn from_store(
    ctx: &Ctx,
    filter: &Filter,
    rv: u64,
    after: Option<&str>,
    limit: usize,
) -> Result<Listed, ApiError> {
    let cache = ctx.cache()?;
    let base = match filter.namespace.as_deref() {
        Some(ns) if ctx.storage.namespaced => ctx.storage.namespace_prefix(ns),
        _ => ctx.storage.storage_prefix(),
    };
    let end = prefix_end(&base);
    let mut start = match after {
        Some(k) if k.as_bytes() >= base.as_bytes() => format!("{k}\0"),
        _ => base.clone(),
    };
    let mut items = Vec::new();
    let mut next = None;
    let batch = if limit == 0 { 0 } else { limit.max(100) };
    loop {
        let resp = ctx
            .state
            .store
            .range(RangeRequest {
                start: start.clone(),
                end: end.clone(),
                revision: Some(rv),
                limit: Some(batch),
            })
            .await
            .map_err(store_error)?;
        let last_key = resp.kvs.last().map(|kv| kv.key.clone());
        for kv in &resp.kvs {
            let obj = cache_object_for(&cache, kv)?;
            if !obj.matches(filter) {
                continue;
            }
            if limit > 0 && items.len() == limit {
                next = Some(items_last_key(&items));
                break;
            }
            items.push((kv.key.clone(), kv.value.clone(), kv.mod_revision));
        }
        if next.is_some() || !resp.more {
            break;
        }
        match last_key {
            Some(k) => start = format!("{k}\0"),
            None => break,
        }
    }
    let continue_token = next.map(|start| ContinueToken { v: 1, rv, start }.encode());
    Ok(Listed {
        items: items.into_iter().map(|(_, v, r)| (v, r)).collect(),
        meta: ListMeta {
            resource_version: rv,
            continue_token,
            remaining: None,
        },
    })
}

fn items_last_key(items: &[(String, Bytes, u64)]) -> String {
    items.last().map(|(k, _, _)| k.clone()).unwrap_or_default()
}

fn cache_object_for(
    cache: &crate::cache::ResourceCache,
    kv: &krust_store::KeyValue,
) -> Result<CachedObject, ApiError> {
    cache
        .index(kv)
        .ok_or_else(|| ApiError::internal(format!("key {} is outside its resource", kv.key)))
}

async fn expired_continue(ctx: &Ctx, t: &ContinueToken) -> Result<Resp, ApiError> {
    let rv = ctx.state.store.current_revision().await.map_err(store_error)?;
    let fresh = ContinueToken {
        v: 1,
        rv,
        start: t.start.clone(),
    }
    .encode();
    let mut status = ApiError::gone(
        "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.",
    )
    .to_status();
    status["metadata"] = serde_json::json!({"continue": fresh});
    Ok(respond::json(410, &status))
}

fn render_list(ctx: &Ctx, output: Output, include: IncludeObject, listed: Listed) -> Result<Resp, ApiError> {
    match output {
        Output::Json if ctx.state.serves_stored_form(&ctx.def) => Ok(respond::bytes(
            200,
            respond::JSON,
            render::json_list_stored(&ctx.def, &listed.items, &listed.meta),
        )),
        Output::Json => {
            let items: Vec<Bytes> = listed
                .items
                .iter()
                .map(|(b, rv)| ctx.state.render_served(&ctx.def, b, *rv))
                .collect::<Result<_, _>>()?;
            Ok(respond::bytes(
                200,
                respond::JSON,
                render::json_list(&ctx.def, &items, &listed.meta),
            ))
        }
        other => {
            let values: Vec<Value> = listed
                .items
                .iter()
                .map(|(b, rv)| ctx.state.decode_served(&ctx.def, b, *rv))
                .collect::<Result<_, _>>()?;
            Ok(match other {
                Output::Table { beta } => {
                    let t = render::table(&ctx.def, &values, &listed.meta, include, beta, true);
                    respond::bytes(
                        200,
                        render::table_content_type(beta),
                        serde_json::to_vec(&t).unwrap_or_default(),
                    )
                }
                Output::Metadata { beta } => {
                    let l = render::metadata_list(&values, &listed.meta, beta);
                    respond::bytes(
                        200,
                        &render::metadata_content_type(beta, true),
                        serde_json::to_vec(&l).unwrap_or_default(),
                    )
                }
                _ => {
                    let list = serde_json::json!({
                        "kind": format!("{}List", ctx.def.kind),
                        "apiVersion": ctx.def.api_version(),
                        "metadata": {"resourceVersion": listed.meta.resource_version.to_string(),
                                     "continue": listed.meta.continue_token},
                        "items": values,
                    });
                    respond::bytes(200, "application/yaml", render::yaml(&list)?)
                }
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip() {
        let t = ContinueToken {
            v: 1,
            rv: 42,
            start: "/registry/core/pods/default/a".into(),
        };
        assert_eq!(ContinueToken::decode(&t.encode()).unwrap(), t);
        assert_eq!(ContinueToken::decode("!!!").unwrap_err().code, 400);
        assert_eq!(ContinueToken::decode("e30").unwrap_err().code, 400);
    }
}
