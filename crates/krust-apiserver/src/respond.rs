//! Building HTTP responses: bodies, Status errors, content types.

use std::convert::Infallible;

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use krust_api::ApiError;
use serde_json::Value;

/// The body type of every response.
pub type Body = BoxBody<Bytes, Infallible>;

/// A response.
pub type Resp = Response<Body>;

/// JSON content type.
pub const JSON: &str = "application/json";

/// A complete body.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed()
}

/// A response with a body and a content type.
pub fn bytes(code: u16, content_type: &str, body: impl Into<Bytes>) -> Resp {
    let mut r = Response::new(full(body));
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = HeaderValue::from_str(content_type) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    r
}

/// A JSON response.
pub fn json(code: u16, v: &Value) -> Resp {
    bytes(code, JSON, serde_json::to_vec(v).unwrap_or_default())
}

/// A `Status` error response.
pub fn error(e: &ApiError) -> Resp {
    let mut r = json(e.code, &e.to_status());
    if let Some(secs) = e.details.as_ref().and_then(|d| d.retry_after_seconds)
        && let Ok(v) = HeaderValue::from_str(&secs.to_string())
    {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

/// Adds `Warning: 299 - "<text>"` headers, as upstream does for field validation warnings.
pub fn add_warnings(r: &mut Resp, warnings: &[String]) {
    for w in warnings {
        let text = w.replace('\\', "\\\\").replace('"', "\\\"");
        if let Ok(v) = HeaderValue::from_str(&format!("299 - \"{text}\"")) {
            r.headers_mut().append(header::WARNING, v);
        }
    }
}
