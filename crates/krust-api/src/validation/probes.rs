//! Probes, lifecycle handlers and security contexts of containers.

use serde_json::Value;

use super::containers::Ctx;
use super::mounts::local_descending_path;
use super::names;
use super::util::{Errs, arr, each_invalid, enum_optional, flag, get, int, nonneg, opt_s, s, strs};
use crate::field_error::{FieldError, FieldPath};

/// Probes and lifecycle hooks (regular containers and sidecars).
pub(crate) fn lifecycle_and_probes(errs: &mut Errs, c: &Value, path: &FieldPath, ctx: Ctx<'_>) {
    if let Some(lc) = get(c, "lifecycle") {
        for key in ["postStart", "preStop"] {
            if let Some(h) = get(lc, key) {
                handler(
                    errs,
                    h,
                    &path.child("lifecycle").child(key),
                    &["exec", "httpGet", "tcpSocket", "sleep"],
                    ctx,
                );
            }
        }
    }
    for key in ["livenessProbe", "readinessProbe", "startupProbe"] {
        let Some(p) = get(c, key) else { continue };
        let pp = path.child(key);
        handler(errs, p, &pp, &["exec", "httpGet", "tcpSocket", "grpc"], ctx);
        for f in [
            "initialDelaySeconds",
            "timeoutSeconds",
            "periodSeconds",
            "successThreshold",
            "failureThreshold",
        ] {
            nonneg(errs, p, f, &pp);
        }
        if let Some(t) = int(p, "terminationGracePeriodSeconds") {
            if key == "readinessProbe" {
                errs.push(FieldError::invalid(
                    pp.child("terminationGracePeriodSeconds"),
                    t,
                    "must not be set for readinessProbes",
                ));
            } else if t <= 0 {
                errs.push(FieldError::invalid(
                    pp.child("terminationGracePeriodSeconds"),
                    t,
                    "must be greater than 0",
                ));
            }
        }
        if key != "readinessProbe" {
            let st = int(p, "successThreshold").unwrap_or(0);
            if st != 1 {
                errs.push(FieldError::invalid(pp.child("successThreshold"), st, "must be 1"));
            }
        }
    }
}

fn handler(errs: &mut Errs, h: &Value, path: &FieldPath, kinds: &[&str], ctx: Ctx<'_>) {
    let mut n = 0;
    for kind in kinds {
        let Some(a) = get(h, kind) else { continue };
        let p = path.child(kind);
        if n > 0 {
            errs.push(FieldError::forbidden(
                p,
                "may not specify more than 1 handler type",
            ));
            continue;
        }
        n += 1;
        match *kind {
            "exec" => {
                if strs(a, "command").is_empty() {
                    errs.push(FieldError::required(p.child("command"), ""));
                }
            }
            "httpGet" => {
                if s(a, "path").is_empty() {
                    errs.push(FieldError::required(p.child("path"), ""));
                }
                port_num_or_name(errs, a.get("port"), &p.child("port"));
                let scheme = s(a, "scheme");
                if scheme != "HTTP" && scheme != "HTTPS" {
                    errs.push(FieldError::not_supported(
                        p.child("scheme"),
                        scheme,
                        &["HTTP", "HTTPS"],
                    ));
                }
                for hd in arr(a, "httpHeaders") {
                    let name = s(hd, "name");
                    each_invalid(
                        errs,
                        p.child("httpHeaders"),
                        name,
                        names::is_http_header_name(name),
                    );
                }
            }
            "tcpSocket" | "grpc" => port_num_or_name(errs, a.get("port"), &p.child("port")),
            _ => {
                let secs = int(a, "seconds").unwrap_or(0);
                if let Some(g) = ctx.grace
                    && (secs < 0 || secs > g)
                {
                    errs.push(FieldError::invalid(
                        p,
                        secs,
                        format!("must be non-negative and less than terminationGracePeriodSeconds ({g})"),
                    ));
                }
            }
        }
    }
    if n == 0 {
        errs.push(FieldError::required(path.clone(), "must specify a handler type"));
    }
}

/// `ValidatePortNumOrName` on an int-or-string.
pub(crate) fn port_num_or_name(errs: &mut Errs, v: Option<&Value>, path: &FieldPath) {
    match v {
        Some(Value::String(name)) => each_invalid(errs, path.clone(), name, names::is_valid_port_name(name)),
        other => {
            let n = other.and_then(Value::as_i64).unwrap_or(0);
            for m in names::is_valid_port_num(n) {
                errs.push(FieldError::invalid(path.clone(), n, m));
            }
        }
    }
}

/// Container and pod security context checks shared by both.
pub(crate) fn security_context(errs: &mut Errs, sc: &Value, path: &FieldPath) {
    for key in ["runAsUser", "runAsGroup"] {
        if let Some(id) = int(sc, key)
            && !(0..=i64::from(i32::MAX)).contains(&id)
        {
            errs.push(FieldError::invalid(
                path.child(key),
                id,
                names::inclusive_range_error(0, i64::from(i32::MAX)),
            ));
        }
    }
    enum_optional(errs, sc, "procMount", path, &["Default", "Unmasked"]);
    if let Some(sp) = get(sc, "seccompProfile") {
        let pp = path.child("seccompProfile");
        match s(sp, "type") {
            "" => errs.push(FieldError::required(
                pp.child("type"),
                "type is required when seccompProfile is set",
            )),
            "Localhost" => match opt_s(sp, "localhostProfile") {
                None => errs.push(FieldError::required(
                    pp.child("localhostProfile"),
                    "must be set when seccomp type is Localhost",
                )),
                Some(lp) => local_descending_path(errs, lp, &pp.child("localhostProfile")),
            },
            "RuntimeDefault" | "Unconfined" => {
                if get(sp, "localhostProfile").is_some() {
                    errs.push(FieldError::invalid(
                        pp.child("localhostProfile"),
                        sp.clone(),
                        "can only be set when seccomp type is Localhost",
                    ));
                }
            }
            x => errs.push(FieldError::not_supported(
                pp.child("type"),
                x,
                &["Localhost", "RuntimeDefault", "Unconfined"],
            )),
        }
    }
    if sc.get("allowPrivilegeEscalation").and_then(Value::as_bool) == Some(false) {
        if flag(sc, "privileged") {
            errs.push(FieldError::invalid(
                path.clone(),
                sc.clone(),
                "cannot set `allowPrivilegeEscalation` to false and `privileged` to true",
            ));
        }
        if sc
            .pointer("/capabilities/add")
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|c| c == "CAP_SYS_ADMIN"))
        {
            errs.push(FieldError::invalid(
                path.clone(),
                sc.clone(),
                "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN",
            ));
        }
    }
}
