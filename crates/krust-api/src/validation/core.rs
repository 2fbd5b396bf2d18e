//! Core kinds: ConfigMap, Secret, Namespace.

use base64::Engine;
use serde_json::Value;

use super::names;
use super::util::{Errs, each_invalid, entries, get, immutable, obj, s, strs};
use crate::field_error::{FieldError, FieldPath};

/// Total size of a ConfigMap's or Secret's data.
pub const MAX_DATA_SIZE: usize = 1024 * 1024;
fn immutable_data(errs: &mut Errs, obj_v: &Value, old: Option<&Value>, keys: &[&str]) {
    let Some(old) = old else { return };
    if old.get("immutable").and_then(Value::as_bool) != Some(true) {
        return;
    }
    const MSG: &str = "field is immutable when `immutable` is set";
    if obj_v.get("immutable").and_then(Value::as_bool) != Some(true) {
        errs.push(FieldError::forbidden(FieldPath::new("immutable"), MSG));
    }
    for key in keys {
        let norm = |v: &Value| {
            get(v, key)
                .filter(|d| d.as_object().is_none_or(|m| !m.is_empty()))
                .cloned()
        };
        if norm(obj_v) != norm(old) {
            errs.push(FieldError::forbidden(FieldPath::new(key), MSG));
        }
    }
}

/// `ValidateConfigMap(Update)`.
pub(crate) fn config_map(errs: &mut Errs, obj_v: &Value, old: Option<&Value>) {
    immutable_data(errs, obj_v, old, &["data", "binaryData"]);
    let mut size = 0;
    let binary = obj(obj_v, "binaryData");
    for (k, v) in entries(obj_v, "data") {
        each_invalid(
            errs,
            FieldPath::new("data").key(k),
            k,
            names::is_config_map_key(k),
        );
        if binary.is_some_and(|b| b.contains_key(k)) {
            errs.push(FieldError::invalid(
                FieldPath::new("data").key(k),
                k.as_str(),
                "duplicate of key present in binaryData",
            ));
        }
        size += v.as_str().map_or(0, str::len);
    }
    for (k, v) in entries(obj_v, "binaryData") {
        each_invalid(
            errs,
            FieldPath::new("binaryData").key(k),
            k,
            names::is_config_map_key(k),
        );
        size += v.as_str().map_or(0, |b| decoded_len(b).unwrap_or(b.len()));
    }
    if size > MAX_DATA_SIZE {
        errs.push(FieldError::too_long("", MAX_DATA_SIZE));
    }
}

fn decoded_len(b64: &str) -> Option<usize> {
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .ok()
        .map(|d| d.len())
}

/// `ValidateSecret(Update)`; data values must be base64 (the JSON form of bytes).
pub(crate) fn secret(errs: &mut Errs, obj_v: &Value, old: Option<&Value>) {
    if let Some(old) = old {
        immutable(errs, obj_v.get("type"), old.get("type"), FieldPath::new("type"));
    }
    immutable_data(errs, obj_v, old, &["data"]);
    let dp = FieldPath::new("data");
    let engine = base64::engine::general_purpose::STANDARD;
    let mut size = 0;
    let mut data = std::collections::HashMap::new();
    for (k, v) in entries(obj_v, "data") {
        each_invalid(errs, dp.key(k), k, names::is_config_map_key(k));
        match engine.decode(v.as_str().unwrap_or("")) {
            Ok(bytes) => {
                size += bytes.len();
                data.insert(k.as_str(), bytes);
            }
            Err(e) => errs.push(FieldError::invalid(
                dp.key(k),
                "<secret contents redacted>",
                format!("illegal base64 data: {e}"),
            )),
        }
    }
    if size > MAX_DATA_SIZE {
        errs.push(FieldError::too_long(dp.clone(), MAX_DATA_SIZE));
    }
    let require = |errs: &mut Errs, key: &str| {
        if !data.contains_key(key) {
            errs.push(FieldError::required(dp.key(key), ""));
            return false;
        }
        true
    };
    match s(obj_v, "type") {
        "kubernetes.io/service-account-token" => {
            let name = obj_v
                .pointer("/metadata/annotations")
                .and_then(|a| a.get("kubernetes.io/service-account.name"))
                .and_then(Value::as_str)
                .unwrap_or("");
            if name.is_empty() {
                errs.push(FieldError::required(
                    FieldPath::new("metadata")
                        .child("annotations")
                        .key("kubernetes.io/service-account.name"),
                    "",
                ));
            }
        }
        t @ ("kubernetes.io/dockercfg" | "kubernetes.io/dockerconfigjson") => {
            let key = if t == "kubernetes.io/dockercfg" {
                ".dockercfg"
            } else {
                ".dockerconfigjson"
            };
            if require(errs, key) {
                let parsed = data
                    .get(key)
                    .and_then(|b| serde_json::from_slice::<Value>(b).ok());
                if !parsed.is_some_and(|v| v.is_object()) {
                    errs.push(FieldError::invalid(
                        dp.key(key),
                        "<secret contents redacted>",
                        "invalid character looking for beginning of value",
                    ));
                }
            }
        }
        "kubernetes.io/basic-auth" if !data.contains_key("username") && !data.contains_key("password") => {
            require(errs, "username");
            require(errs, "password");
        }
        "kubernetes.io/ssh-auth" if data.get("ssh-privatekey").is_none_or(Vec::is_empty) => {
            errs.push(FieldError::required(dp.key("ssh-privatekey"), ""));
        }
        "kubernetes.io/tls" => {
            require(errs, "tls.crt");
            require(errs, "tls.key");
        }
        _ => {}
    }
}

/// `ValidateNamespace`: finalizer names in `spec.finalizers`.
pub(crate) fn namespace(errs: &mut Errs, obj_v: &Value) {
    let fp = FieldPath::new("spec").child("finalizers");
    for f in obj_v
        .get("spec")
        .map(|s| strs(s, "finalizers"))
        .unwrap_or_default()
    {
        each_invalid(errs, fp.clone(), f, names::is_qualified_name(f));
        if !f.contains('/') && !["kubernetes", "orphan", "foregroundDeletion"].contains(&f) {
            errs.push(FieldError::invalid(
                fp.clone(),
                f,
                "name is neither a standard finalizer name nor is it fully qualified",
            ));
        }
    }
}
