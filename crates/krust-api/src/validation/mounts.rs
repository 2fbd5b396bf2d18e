//! Volume mounts and devices of a container, and the path rules they share with volumes.

use std::collections::HashSet;

use serde_json::Value;

use super::containers::Volumes;
use super::util::{Errs, arr, enum_optional, flag, opt_s, s};
use crate::field_error::{FieldError, FieldPath};

/// A path that must be relative and free of `..` elements.
pub(crate) fn local_descending_path(errs: &mut Errs, p: &str, path: &FieldPath) {
    if p.starts_with('/') {
        errs.push(FieldError::invalid(path.clone(), p, "must be a relative path"));
    }
    no_backsteps(errs, p, path);
}

/// A path without `..` elements.
pub(crate) fn no_backsteps(errs: &mut Errs, p: &str, path: &FieldPath) {
    if p.split(['/', '\\']).any(|x| x == "..") {
        errs.push(FieldError::invalid(path.clone(), p, "must not contain '..'"));
    }
}

pub(crate) fn mounts(errs: &mut Errs, c: &Value, path: &FieldPath, vols: &Volumes) {
    let mp = path.child("volumeMounts");
    let devices: Vec<(&str, &str)> = arr(c, "volumeDevices")
        .iter()
        .map(|d| (s(d, "name"), s(d, "devicePath")))
        .collect();
    let mounts: Vec<(&str, &str)> = arr(c, "volumeMounts")
        .iter()
        .map(|m| (s(m, "name"), s(m, "mountPath")))
        .collect();
    let mut points = HashSet::new();
    let privileged = c.pointer("/securityContext/privileged").and_then(Value::as_bool) == Some(true);
    for (i, m) in arr(c, "volumeMounts").iter().enumerate() {
        let ip = mp.index(i);
        let (name, mount_path) = (s(m, "name"), s(m, "mountPath"));
        if name.is_empty() {
            errs.push(FieldError::required(ip.child("name"), ""));
        }
        if !vols.contains_key(name) {
            errs.push(FieldError::not_found(ip.child("name"), name));
        }
        if mount_path.is_empty() {
            errs.push(FieldError::required(ip.child("mountPath"), ""));
        }
        if !points.insert(mount_path) {
            errs.push(FieldError::invalid(
                ip.child("mountPath"),
                mount_path,
                "must be unique",
            ));
        }
        if devices.iter().any(|(n, _)| *n == name) {
            errs.push(FieldError::invalid(
                ip.child("name"),
                name,
                "must not already exist in volumeDevices",
            ));
        }
        if devices.iter().any(|(_, p)| *p == mount_path) {
            errs.push(FieldError::invalid(
                ip.child("mountPath"),
                mount_path,
                "must not already exist as a path in volumeDevices",
            ));
        }
        let sub = s(m, "subPath");
        let sub_expr = s(m, "subPathExpr");
        if vols.get(name).is_some_and(|v| v.1) {
            if !sub.is_empty() {
                errs.push(FieldError::invalid(
                    ip.child("subPath"),
                    sub,
                    "not allowed in image volume sources",
                ));
            }
            if !sub_expr.is_empty() {
                errs.push(FieldError::invalid(
                    ip.child("subPathExpr"),
                    sub_expr,
                    "not allowed in image volume sources",
                ));
            }
        }
        if !sub.is_empty() {
            local_descending_path(errs, sub, &mp.child("subPath"));
        }
        if !sub_expr.is_empty() {
            if !sub.is_empty() {
                errs.push(FieldError::invalid(
                    ip.child("subPathExpr"),
                    sub_expr,
                    "subPathExpr and subPath are mutually exclusive",
                ));
            }
            local_descending_path(errs, sub_expr, &mp.child("subPathExpr"));
        }
        if let Some(prop) = opt_s(m, "mountPropagation") {
            let pp = mp.child("mountPropagation");
            enum_optional(
                errs,
                m,
                "mountPropagation",
                &mp,
                &["Bidirectional", "HostToContainer", "None"],
            );
            if prop == "Bidirectional" && !privileged {
                errs.push(FieldError::forbidden(
                    pp,
                    "Bidirectional mount propagation is available only to privileged containers",
                ));
            }
        }
        match opt_s(m, "recursiveReadOnly") {
            None | Some("Disabled") => {}
            Some("Enabled" | "IfPossible") => {
                let rp = mp.child("recursiveReadOnly");
                if !flag(m, "readOnly") {
                    errs.push(FieldError::forbidden(
                        rp.clone(),
                        "may only be specified when readOnly is true",
                    ));
                }
                if opt_s(m, "mountPropagation").is_some_and(|p| p != "None") {
                    errs.push(FieldError::forbidden(
                        rp,
                        "may only be specified when mountPropagation is None or not specified",
                    ));
                }
            }
            Some(x) => errs.push(FieldError::not_supported(
                mp.child("recursiveReadOnly"),
                x,
                &["Disabled", "Enabled", "IfPossible"],
            )),
        }
    }
    let dp = path.child("volumeDevices");
    let mut dev_paths = HashSet::new();
    let mut dev_names = HashSet::new();
    for (i, (name, dev_path)) in devices.iter().enumerate() {
        let ip = dp.index(i);
        if name.is_empty() {
            errs.push(FieldError::required(ip.child("name"), ""));
        }
        if !dev_names.insert(*name) {
            errs.push(FieldError::invalid(ip.child("name"), *name, "must be unique"));
        }
        match vols.get(*name) {
            Some((false, _)) => errs.push(FieldError::invalid(
                ip.child("name"),
                *name,
                "can only use volume source type of PersistentVolumeClaim or Ephemeral for block mode",
            )),
            None => errs.push(FieldError::not_found(ip.child("name"), *name)),
            _ => {}
        }
        if dev_path.is_empty() {
            errs.push(FieldError::required(ip.child("devicePath"), ""));
        }
        if !dev_paths.insert(*dev_path) {
            errs.push(FieldError::invalid(
                ip.child("devicePath"),
                *dev_path,
                "must be unique",
            ));
        }
        if mounts.iter().any(|(n, _)| n == name) {
            errs.push(FieldError::invalid(
                ip.child("name"),
                *name,
                "must not already exist in volumeMounts",
            ));
        }
    }
}
