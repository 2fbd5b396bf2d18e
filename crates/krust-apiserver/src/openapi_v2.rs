//! OpenAPI v2 (Swagger 2.0) at `/openapi/v2`, in JSON and in gnostic protobuf.
//!
//! kubectl 1.27 and 1.28 download it (protobuf) before `apply`, `edit`, `diff` and
//! `explain` and give up when it is missing; every kubectl version reads it to compute
//! strategic merge patches when OpenAPI v3 cannot. The document is derived from the v3
//! documents (`swagger`), encoded once (`gnostic`) and kept as bytes; it is rebuilt only
//! when the v3 documents it came from are. Upstream serves no other path for it since 1.14
//! (`/swagger.json` and `/swagger-2.0.0.pb-v1` are gone), so neither does krust.

mod gnostic;
mod pb;
mod swagger;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderValue, header};
use krust_api::ApiError;
use parking_lot::Mutex;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::{negotiate::MediaType, openapi::Docs, respond};

/// The protobuf media type kubectl asks for, and the one upstream answers with.
const PROTO_ASKED: &str = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";
const PROTO: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

/// One representation of the document.
#[derive(Debug, Clone)]
pub struct Repr {
    /// The bytes served.
    pub body: Bytes,
    /// Quoted strong ETag of exactly these bytes.
    pub etag: String,
}

impl Repr {
    fn new(body: Vec<u8>) -> Self {
        let digest = Sha256::digest(&body);
        let hex: String = digest.iter().map(|b| format!("{b:02X}")).collect();
        Self {
            body: Bytes::from(body),
            etag: format!("\"{hex}\""),
        }
    }
}

/// The built document in both representations.
#[derive(Debug, Clone)]
pub struct Doc {
    /// `application/json`.
    pub json: Repr,
    /// gnostic `openapi.v2.Document`.
    pub proto: Repr,
}

impl Doc {
    /// Builds the document from the v3 documents.
    pub fn build(v3: &Docs) -> Self {
        let started = Instant::now();
        let mut paths: Vec<&String> = v3.by_path.keys().collect();
        paths.sort();
        let parsed: Vec<Value> = paths
            .iter()
            .filter_map(|p| v3.by_path.get(*p))
            .filter_map(|d| serde_json::from_slice(&d.body).ok())
            .collect();
        let swagger = swagger::build(&parsed, crate::version::GIT_VERSION);
        drop(parsed);
        let json = Repr::new(serde_json::to_vec(&swagger).unwrap_or_default());
        let proto = Repr::new(gnostic::document(&swagger));
        tracing::debug!(
            json_bytes = json.body.len(),
            proto_bytes = proto.body.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "built the OpenAPI v2 document"
        );
        Self { json, proto }
    }

    /// The representation an `Accept` list asks for, as upstream's handler picks it: the
    /// first acceptable entry wins, JSON for `*/*` or no header, none (406) otherwise.
    fn negotiate(&self, accept: &[MediaType]) -> Option<(&Repr, &'static str)> {
        if accept.is_empty() {
            return Some((&self.json, respond::JSON));
        }
        accept.iter().find_map(|m| match m.essence.as_str() {
            "application/json" | "application/*" | "*/*" => Some((&self.json, respond::JSON)),
            PROTO | PROTO_ASKED => Some((&self.proto, PROTO)),
            _ => None,
        })
    }

    /// The response to a GET: the chosen representation with its ETag, or 304 when the
    /// client's `If-None-Match` already names it.
    pub fn respond(
        &self,
        accept: &[MediaType],
        if_none_match: Option<&str>,
    ) -> Result<respond::Resp, ApiError> {
        let (repr, content_type) = self.negotiate(accept).ok_or_else(|| {
            ApiError::not_acceptable(format!(
                "only application/json and {PROTO} are served at /openapi/v2"
            ))
        })?;
        let fresh = if_none_match.is_some_and(|h| {
            h.split(',')
                .map(|t| t.trim().trim_start_matches("W/"))
                .any(|t| t == "*" || t == repr.etag)
        });
        let mut r = if fresh {
            respond::bytes(304, content_type, Bytes::new())
        } else {
            respond::bytes(200, content_type, repr.body.clone())
        };
        if let Ok(v) = HeaderValue::from_str(&repr.etag) {
            r.headers_mut().insert(header::ETAG, v);
        }
        r.headers_mut()
            .insert(header::VARY, HeaderValue::from_static("Accept"));
        Ok(r)
    }
}

/// The built document and the v3 documents it was derived from.
#[derive(Default)]
pub struct Cache {
    slot: Mutex<Option<(Arc<Docs>, Arc<Doc>)>>,
}

impl Cache {
    /// The document for these v3 documents, building it on first use. Concurrent first
    /// requests wait for one build instead of each doing their own.
    pub fn get(&self, v3: &Arc<Docs>) -> Arc<Doc> {
        let mut slot = self.slot.lock();
        if let Some((source, doc)) = slot.as_ref()
            && Arc::ptr_eq(source, v3)
        {
            return doc.clone();
        }
        let doc = Arc::new(Doc::build(v3));
        *slot = Some((v3.clone(), doc.clone()));
        doc
    }
}
