//! Kubernetes `Status` errors: every failure a client can cause ends up as one of these, with
//! the HTTP code, reason and message that upstream would send, so kubectl prints
//! `Error from server (Reason): message` exactly as users know it.

use serde_json::{Map, Value, json};

use crate::field_error::{self, FieldError};

/// A failed API request, rendered as a `Status` object.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{reason} ({code}): {message}")]
pub struct ApiError {
    /// HTTP status code, also `Status.code`.
    pub code: u16,
    /// Machine-readable `Status.reason` (`NotFound`, `Invalid`, ...).
    pub reason: &'static str,
    /// Human-readable sentence that says what to fix.
    pub message: String,
    /// `Status.details`, when the error is about a named object (boxed: errors travel in
    /// `Result`s on every path, so they are kept small).
    pub details: Option<Box<StatusDetails>>,
}

/// `Status.details`: which object, and per-field causes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatusDetails {
    /// Object name.
    pub name: String,
    /// API group of the object.
    pub group: String,
    /// Kind, or resource plural where upstream uses it.
    pub kind: String,
    /// UID, for successful deletes.
    pub uid: Option<String>,
    /// Individual causes (reason, message, field).
    pub causes: Vec<Cause>,
    /// Seconds a client should wait before retrying.
    pub retry_after_seconds: Option<u32>,
}

/// One `StatusCause`.
#[derive(Debug, Clone, PartialEq)]
pub struct Cause {
    /// e.g. `FieldValueInvalid`.
    pub reason: String,
    /// What is wrong.
    pub message: String,
    /// Which field.
    pub field: String,
}

/// Identifies the resource an error is about, for messages like `deployments.apps "x"`.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// API group ("" for core).
    pub group: &'a str,
    /// Resource plural (`deployments`).
    pub resource: &'a str,
    /// Kind (`Deployment`).
    pub kind: &'a str,
}

impl Target<'_> {
    /// `deployments.apps` or `pods`.
    pub fn qualified_resource(&self) -> String {
        qualify(self.resource, self.group)
    }
    /// `Deployment.apps` or `Pod`.
    pub fn qualified_kind(&self) -> String {
        qualify(self.kind, self.group)
    }
}

fn qualify(name: &str, group: &str) -> String {
    if group.is_empty() {
        name.to_string()
    } else {
        format!("{name}.{group}")
    }
}

impl ApiError {
    /// An error without details.
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    fn about(code: u16, reason: &'static str, message: String, t: Target<'_>, name: &str) -> Self {
        Self {
            code,
            reason,
            message,
            details: Some(Box::new(StatusDetails {
                name: name.to_string(),
                group: t.group.to_string(),
                kind: t.resource.to_string(),
                ..Default::default()
            })),
        }
    }

    /// 400: the request itself is wrong.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }
    /// 401: no valid credentials.
    pub fn unauthorized() -> Self {
        Self::new(401, "Unauthorized", "Unauthorized")
    }
    /// 403: authenticated but not allowed.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, "Forbidden", message)
    }
    /// 404 for a named object.
    pub fn not_found(t: Target<'_>, name: &str) -> Self {
        let msg = format!("{} \"{name}\" not found", t.qualified_resource());
        Self::about(404, "NotFound", msg, t, name)
    }
    /// 404 for a path that names nothing we serve.
    pub fn path_not_found(message: impl Into<String>) -> Self {
        Self::new(404, "NotFound", message)
    }
    /// 405: the verb is not supported on this resource.
    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(405, "MethodNotAllowed", message)
    }
    /// 406: none of the accepted media types can be produced.
    pub fn not_acceptable(message: impl Into<String>) -> Self {
        Self::new(406, "NotAcceptable", message)
    }
    /// 409: create of a name that exists.
    pub fn already_exists(t: Target<'_>, name: &str) -> Self {
        let msg = format!("{} \"{name}\" already exists", t.qualified_resource());
        Self::about(409, "AlreadyExists", msg, t, name)
    }
    /// 409: optimistic concurrency failure or another conflicting state.
    pub fn conflict(t: Target<'_>, name: &str, why: &str) -> Self {
        let msg = format!(
            "Operation cannot be fulfilled on {} \"{name}\": {why}",
            t.qualified_resource()
        );
        Self::about(409, "Conflict", msg, t, name)
    }
    /// 409 for an update with a stale `resourceVersion`.
    pub fn stale(t: Target<'_>, name: &str) -> Self {
        Self::conflict(
            t,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }
    /// 410: the requested resourceVersion is compacted away.
    pub fn gone(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }
    /// 410 for a watch from a compacted resourceVersion.
    pub fn too_old(requested: u64, oldest: u64) -> Self {
        Self::gone(format!("too old resource version: {requested} ({oldest})"))
    }
    /// 413: body larger than allowed.
    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(413, "RequestEntityTooLarge", message)
    }
    /// 415: a content type we cannot decode.
    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf (got {content_type:?})"
            ),
        )
    }
    /// 422: the object fails validation; one cause per bad field.
    pub fn invalid(t: Target<'_>, name: &str, errors: &[FieldError]) -> Self {
        let msg = format!(
            "{} \"{name}\" is invalid: {}",
            t.qualified_kind(),
            field_error::join(errors)
        );
        let causes = errors
            .iter()
            .map(|e| Cause {
                reason: e.kind.reason().to_string(),
                message: e.body(),
                field: e.field.clone(),
            })
            .collect();
        Self {
            code: 422,
            reason: "Invalid",
            message: msg,
            details: Some(Box::new(StatusDetails {
                name: name.to_string(),
                group: t.group.to_string(),
                kind: t.kind.to_string(),
                causes,
                ..Default::default()
            })),
        }
    }
    /// 429: too many requests.
    pub fn too_many_requests(message: impl Into<String>, retry_after: u32) -> Self {
        let mut e = Self::new(429, "TooManyRequests", message);
        e.details = Some(Box::new(StatusDetails {
            retry_after_seconds: (retry_after > 0).then_some(retry_after),
            ..Default::default()
        }));
        e
    }
    /// 500: a fault of ours, never of the client.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(
            500,
            "InternalError",
            format!("Internal error occurred: {}", message.into()),
        )
    }
    /// 503: not ready yet.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(503, "ServiceUnavailable", message)
    }
    /// 504: waited too long (e.g. for a future resourceVersion).
    pub fn timeout(message: impl Into<String>, retry_after: u32) -> Self {
        let mut e = Self::new(504, "Timeout", message);
        e.details = Some(Box::new(StatusDetails {
            retry_after_seconds: Some(retry_after),
            ..Default::default()
        }));
        e
    }

    /// The `Status` object for the response body.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let (Some(d), Some(obj)) = (&self.details, status.as_object_mut()) {
            obj.insert("details".into(), details_json(d));
        }
        status
    }
}

fn details_json(d: &StatusDetails) -> Value {
    let mut m = Map::new();
    if !d.name.is_empty() {
        m.insert("name".into(), d.name.clone().into());
    }
    if !d.group.is_empty() {
        m.insert("group".into(), d.group.clone().into());
    }
    if !d.kind.is_empty() {
        m.insert("kind".into(), d.kind.clone().into());
    }
    if let Some(uid) = &d.uid {
        m.insert("uid".into(), uid.clone().into());
    }
    if !d.causes.is_empty() {
        let causes = d
            .causes
            .iter()
            .map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field}))
            .collect();
        m.insert("causes".into(), Value::Array(causes));
    }
    if let Some(r) = d.retry_after_seconds {
        m.insert("retryAfterSeconds".into(), r.into());
    }
    Value::Object(m)
}

/// A `Status` of success, as answered by deletes that completed.
pub fn success_status(details: &StatusDetails) -> Value {
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": details_json(details),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEPLOY: Target<'static> = Target {
        group: "apps",
        resource: "deployments",
        kind: "Deployment",
    };

    #[test]
    fn not_found_message() {
        let e = ApiError::not_found(DEPLOY, "x");
        let s = e.to_status();
        assert_eq!(s["message"], "deployments.apps \"x\" not found");
        assert_eq!(s["code"], 404);
        assert_eq!(s["details"]["kind"], "deployments");
    }

    #[test]
    fn invalid_has_causes() {
        let errs = [FieldError::invalid(
            "spec.replicas",
            -1,
            "must be greater than or equal to 0",
        )];
        let s = ApiError::invalid(DEPLOY, "x", &errs).to_status();
        assert_eq!(s["reason"], "Invalid");
        assert_eq!(s["code"], 422);
        assert_eq!(
            s["message"],
            "Deployment.apps \"x\" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0"
        );
        assert_eq!(s["details"]["causes"][0]["field"], "spec.replicas");
        assert_eq!(s["details"]["causes"][0]["reason"], "FieldValueInvalid");
    }
}
