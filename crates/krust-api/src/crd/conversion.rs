//! `spec.conversion` of a CRD: strategy `None` or `Webhook`, and the webhook's client
//! config (an https URL without user, query or fragment, or a service reference) and review
//! versions, with upstream's internal field paths (`spec.conversion.webhookClientConfig`).

use serde_json::Value;

use crate::field_error::{FieldError, FieldPath};
use crate::validation::names;

type Errs = Vec<FieldError>;

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

fn strs(v: Option<&Value>) -> Vec<&str> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// True when a conversion webhook's review versions include one this server speaks.
pub(crate) fn has_known_review_version(conversion: Option<&Value>) -> bool {
    let versions = strs(conversion.and_then(|c| c.pointer("/webhook/conversionReviewVersions")));
    versions.is_empty() || versions.iter().any(|v| matches!(*v, "v1" | "v1beta1"))
}

/// `spec.conversion`: strategy None or Webhook, and the webhook's client config.
pub(crate) fn conversion(errs: &mut Errs, conv: Option<&Value>, require_known: bool) {
    let Some(conv) = conv.filter(|c| !c.is_null()) else {
        return;
    };
    let path = FieldPath::new("spec").child("conversion");
    let strategy = s(conv, "strategy");
    match strategy {
        "" => errs.push(FieldError::required(path.child("strategy"), "")),
        "None" | "Webhook" => {}
        other => errs.push(FieldError::not_supported(
            path.child("strategy"),
            other,
            &["None", "Webhook"],
        )),
    }
    let cc = conv.pointer("/webhook/clientConfig").filter(|c| !c.is_null());
    let review = conv
        .pointer("/webhook/conversionReviewVersions")
        .and_then(Value::as_array);
    let cc_path = path.child("webhookClientConfig");
    if strategy != "Webhook" {
        if cc.is_some() {
            errs.push(FieldError::forbidden(
                cc_path,
                "should not be set when strategy is not set to Webhook",
            ));
        }
        if review.is_some_and(|r| !r.is_empty()) {
            errs.push(FieldError::forbidden(
                path.child("conversionReviewVersions"),
                "should not be set when strategy is not set to Webhook",
            ));
        }
        return;
    }
    match cc {
        None => errs.push(FieldError::required(
            cc_path,
            "required when strategy is set to Webhook",
        )),
        Some(cc) => {
            let url = cc.get("url").and_then(Value::as_str);
            let service = cc.get("service").filter(|x| !x.is_null());
            match (url, service) {
                (Some(u), None) => webhook_url(errs, &cc_path.child("url"), u),
                (None, Some(svc)) => webhook_service(errs, &cc_path.child("service"), svc),
                _ => errs.push(FieldError::required(
                    cc_path,
                    "exactly one of url or service is required",
                )),
            }
        }
    }
    let rp = path.child("conversionReviewVersions");
    let versions = strs(conv.pointer("/webhook/conversionReviewVersions"));
    if versions.is_empty() {
        errs.push(FieldError::required(rp, ""));
        return;
    }
    let mut seen = Vec::new();
    for (i, v) in versions.iter().enumerate() {
        if seen.contains(v) {
            errs.push(FieldError::invalid(rp.index(i), *v, "duplicate version"));
            continue;
        }
        seen.push(*v);
        for m in names::is_dns1035_label(v) {
            errs.push(FieldError::invalid(rp.index(i), *v, m));
        }
    }
    if require_known && !versions.iter().any(|v| matches!(*v, "v1" | "v1beta1")) {
        let value = Value::from(versions.iter().map(|v| Value::from(*v)).collect::<Vec<_>>());
        errs.push(FieldError::invalid(
            rp,
            value,
            "must include at least one of v1, v1beta1",
        ));
    }
}

fn webhook_url(errs: &mut Errs, path: &FieldPath, url: &str) {
    const FORM: &str = "; desired format: https://host[/path]";
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    if scheme != "https" {
        errs.push(FieldError::invalid(
            path.clone(),
            scheme,
            format!("'https' is the only allowed URL scheme{FORM}"),
        ));
    }
    let (before_fragment, fragment) = rest.split_once('#').unwrap_or((rest, ""));
    let (before_query, query) = before_fragment.split_once('?').unwrap_or((before_fragment, ""));
    let authority = if scheme.is_empty() {
        ""
    } else {
        before_query.split('/').next().unwrap_or("")
    };
    let (user, host) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    if host.is_empty() {
        errs.push(FieldError::invalid(
            path.clone(),
            host,
            format!("host must be specified{FORM}"),
        ));
    }
    if let Some(u) = user {
        errs.push(FieldError::invalid(
            path.clone(),
            u,
            "user information is not permitted in the URL",
        ));
    }
    if !fragment.is_empty() {
        errs.push(FieldError::invalid(
            path.clone(),
            fragment,
            "fragments are not permitted in the URL",
        ));
    }
    if !query.is_empty() {
        errs.push(FieldError::invalid(
            path.clone(),
            query,
            "query parameters are not permitted in the URL",
        ));
    }
}

fn webhook_service(errs: &mut Errs, path: &FieldPath, svc: &Value) {
    if s(svc, "name").is_empty() {
        errs.push(FieldError::required(
            path.child("name"),
            "service name is required",
        ));
    }
    if s(svc, "namespace").is_empty() {
        errs.push(FieldError::required(
            path.child("namespace"),
            "service namespace is required",
        ));
    }
    let port = svc.get("port").and_then(Value::as_i64).unwrap_or(443);
    let m = names::is_valid_port_num(port);
    if !m.is_empty() {
        errs.push(FieldError::invalid(
            path.child("port"),
            port,
            format!("port is not valid: {}", m.join(", ")),
        ));
    }
    let p = s(svc, "path");
    if p.is_empty() || p == "/" {
        return;
    }
    let pp = path.child("path");
    if p == "//" {
        errs.push(FieldError::invalid(pp, p, "segment[0] may not be empty"));
        return;
    }
    if !p.starts_with('/') {
        errs.push(FieldError::invalid(pp.clone(), p, "must start with a '/'"));
    }
    let trimmed = p.strip_prefix('/').unwrap_or(p);
    let trimmed = trimmed.strip_suffix('/').unwrap_or(trimmed);
    for (i, step) in trimmed.split('/').enumerate() {
        if step.is_empty() {
            errs.push(FieldError::invalid(
                pp.clone(),
                p,
                format!("segment[{i}] may not be empty"),
            ));
            continue;
        }
        for m in names::is_dns1123_subdomain(step) {
            errs.push(FieldError::invalid(pp.clone(), p, format!("segment[{i}]: {m}")));
        }
    }
}
