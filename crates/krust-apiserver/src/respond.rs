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

/// A body relaying `incoming` (another server's answer) frame by frame. A task does the
/// reading, so that the client going away (the body dropped) ends the request upstream
/// too; a transport error ends the body early, as the connection would.
pub fn relayed(mut incoming: hyper::body::Incoming) -> Body {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<http_body::Frame<Bytes>, Infallible>>(16);
    tokio::spawn(async move {
        while let Some(Ok(frame)) = incoming.frame().await {
            if let Ok(data) = frame.into_data()
                && tx.send(Ok(http_body::Frame::data(data))).await.is_err()
            {
                return;
            }
        }
    });
    let frames = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|f| (f, rx)) });
    http_body_util::StreamBody::new(frames).boxed()
}

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
