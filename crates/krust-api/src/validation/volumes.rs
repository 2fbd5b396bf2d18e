//! Pod volumes (`ValidateVolumes`): unique DNS-label names, exactly one source, and the
//! checks of the sources people use (hostPath, emptyDir, secret, configMap, claims,
//! downward API, projected, NFS, CSI, ephemeral, image).

use std::collections::HashSet;

use serde_json::Value;

use super::containers::{Volumes, field_ref};
use super::mounts::{local_descending_path, no_backsteps};
use super::names;
use super::util::{Errs, arr, each_invalid, get, int, quantity, s};
use crate::field_error::{FieldError, FieldPath};

/// Volume sources in the order upstream checks them (the first one set counts, later ones
/// are "more than 1 volume type").
const SOURCES: &[&str] = &[
    "emptyDir",
    "hostPath",
    "gitRepo",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "flocker",
    "persistentVolumeClaim",
    "rbd",
    "cinder",
    "cephfs",
    "quobyte",
    "downwardAPI",
    "fc",
    "flexVolume",
    "configMap",
    "azureFile",
    "vsphereVolume",
    "photonPersistentDisk",
    "portworxVolume",
    "azureDisk",
    "storageos",
    "projected",
    "scaleIO",
    "csi",
    "ephemeral",
    "image",
];

const HOST_PATH_TYPES: &[&str] = &[
    "",
    "BlockDevice",
    "CharDevice",
    "Directory",
    "DirectoryOrCreate",
    "File",
    "FileOrCreate",
    "Socket",
];

const FILE_MODE_MSG: &str = "must be a number between 0 and 0777 (octal), both inclusive";
const VOLUME_FIELD_PATHS: &[&str] = &[
    "metadata.annotations",
    "metadata.labels",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
];

/// Validates `spec.volumes`, returning the volumes that are valid (mounts of others are
/// reported as not found, as upstream does). `extra` names claim templates that count as
/// volumes (a StatefulSet's `volumeClaimTemplates`).
pub(crate) fn volumes(errs: &mut Errs, spec: &Value, path: &FieldPath, extra: &[&str]) -> Volumes {
    let mut vols = Volumes::new();
    for name in extra {
        vols.insert((*name).to_string(), (true, false));
    }
    let mut seen = HashSet::new();
    let vp = path.child("volumes");
    for (i, v) in arr(spec, "volumes").iter().enumerate() {
        let ip = vp.index(i);
        let mut el = Errs::new();
        source(&mut el, v, &ip);
        let name = s(v, "name");
        if name.is_empty() {
            el.push(FieldError::required(ip.child("name"), ""));
        } else {
            each_invalid(&mut el, ip.child("name"), name, names::is_dns1123_label(name));
        }
        if seen.contains(name) {
            el.push(FieldError::duplicate(ip.child("name"), name));
        }
        if el.is_empty() {
            seen.insert(name);
            let claim = get(v, "persistentVolumeClaim").is_some() || get(v, "ephemeral").is_some();
            vols.insert(name.to_string(), (claim, get(v, "image").is_some()));
        } else {
            errs.append(&mut el);
        }
    }
    vols
}

fn mode(errs: &mut Errs, v: &Value, key: &str, path: &FieldPath) {
    if let Some(m) = int(v, key)
        && !(0..=0o777).contains(&m)
    {
        errs.push(FieldError::invalid(path.child(key), m, FILE_MODE_MSG));
    }
}

fn key_to_paths(errs: &mut Errs, v: &Value, path: &FieldPath) {
    for (i, kp) in arr(v, "items").iter().enumerate() {
        let ip = path.child("items").index(i);
        if s(kp, "key").is_empty() {
            errs.push(FieldError::required(ip.child("key"), ""));
        }
        let p = s(kp, "path");
        if p.is_empty() {
            errs.push(FieldError::required(ip.child("path"), ""));
        }
        local_non_reserved_path(errs, p, &ip.child("path"));
        mode(errs, kp, "mode", &ip);
    }
}

/// `ValidateLocalNonReservedPath`.
fn local_non_reserved_path(errs: &mut Errs, p: &str, path: &FieldPath) {
    local_descending_path(errs, p, path);
    if p.starts_with("..") && !p.starts_with("../") {
        errs.push(FieldError::invalid(path.clone(), p, "must not start with '..'"));
    }
}

fn required_str(errs: &mut Errs, v: &Value, key: &str, path: &FieldPath) {
    if s(v, key).is_empty() {
        errs.push(FieldError::required(path.child(key), ""));
    }
}

fn source(errs: &mut Errs, v: &Value, path: &FieldPath) {
    let mut count = 0;
    for kind in SOURCES {
        let Some(src) = get(v, kind) else { continue };
        let p = path.child(kind);
        if count > 0 {
            errs.push(FieldError::forbidden(
                p,
                "may not specify more than 1 volume type",
            ));
            continue;
        }
        count += 1;
        match *kind {
            "emptyDir" => {
                if let Some(limit) = get(src, "sizeLimit")
                    && quantity(errs, limit, p.child("sizeLimit")).is_some_and(|q| q.is_negative())
                {
                    errs.push(FieldError::forbidden(
                        p.child("sizeLimit"),
                        "SizeLimit field must be a valid resource quantity",
                    ));
                }
            }
            "hostPath" => host_path(errs, src, &p),
            "secret" => {
                required_str(errs, src, "secretName", &p);
                mode(errs, src, "defaultMode", &p);
                key_to_paths(errs, src, &p);
            }
            "configMap" => {
                required_str(errs, src, "name", &p);
                mode(errs, src, "defaultMode", &p);
                key_to_paths(errs, src, &p);
            }
            "persistentVolumeClaim" => required_str(errs, src, "claimName", &p),
            "nfs" => {
                required_str(errs, src, "server", &p);
                required_str(errs, src, "path", &p);
                let np = s(src, "path");
                if !np.starts_with('/') {
                    errs.push(FieldError::invalid(
                        p.child("path"),
                        np,
                        "must be an absolute path",
                    ));
                }
            }
            "downwardAPI" => {
                mode(errs, src, "defaultMode", &p);
                for f in arr(src, "items") {
                    downward_file(errs, f, &p);
                }
            }
            "projected" => {
                mode(errs, src, "defaultMode", &p);
                projected(errs, src, &p);
            }
            "csi" => {
                let d = s(src, "driver");
                if d.is_empty() {
                    errs.push(FieldError::required(p.child("driver"), ""));
                }
                if d.len() > 63 {
                    errs.push(FieldError::too_long(p.child("driver"), 63));
                }
                each_invalid(
                    errs,
                    p.child("driver"),
                    d,
                    names::is_dns1123_subdomain(&d.to_lowercase()),
                );
            }
            "ephemeral" if get(src, "volumeClaimTemplate").is_none() => {
                errs.push(FieldError::required(p.child("volumeClaimTemplate"), ""));
            }
            "gitRepo" => {
                required_str(errs, src, "repository", &p);
                local_descending_path(errs, s(src, "directory"), &p.child("directory"));
            }
            _ => {}
        }
    }
    if count == 0 {
        errs.push(FieldError::required(path.clone(), "must specify a volume type"));
    }
}

/// A hostPath source (pods and PersistentVolumes).
pub(crate) fn host_path(errs: &mut Errs, src: &Value, p: &FieldPath) {
    let hp = s(src, "path");
    if hp.is_empty() {
        errs.push(FieldError::required(p.child("path"), ""));
        return;
    }
    no_backsteps(errs, hp, &p.child("path"));
    if let Some(t) = src.get("type").and_then(Value::as_str)
        && !HOST_PATH_TYPES.contains(&t)
    {
        errs.push(FieldError::not_supported(p.child("type"), t, HOST_PATH_TYPES));
    }
}

fn downward_file(errs: &mut Errs, f: &Value, path: &FieldPath) {
    let p = s(f, "path");
    if p.is_empty() {
        errs.push(FieldError::required(path.child("path"), ""));
    }
    local_non_reserved_path(errs, p, &path.child("path"));
    match (get(f, "fieldRef"), get(f, "resourceFieldRef")) {
        (Some(fr), rf) => {
            field_ref(errs, fr, &path.child("fieldRef"), VOLUME_FIELD_PATHS);
            if rf.is_some() {
                errs.push(FieldError::invalid(
                    path.clone(),
                    "resource",
                    "fieldRef and resourceFieldRef can not be specified simultaneously",
                ));
            }
        }
        (None, Some(rf)) => {
            if s(rf, "containerName").is_empty() {
                errs.push(FieldError::required(
                    path.child("resourceFieldRef").child("containerName"),
                    "",
                ));
            }
        }
        (None, None) => errs.push(FieldError::required(
            path.clone(),
            "one of fieldRef and resourceFieldRef is required",
        )),
    }
    mode(errs, f, "mode", path);
}

fn projected(errs: &mut Errs, src: &Value, path: &FieldPath) {
    let mut paths = HashSet::new();
    for (i, source) in arr(src, "sources").iter().enumerate() {
        let sp = path.child("sources").index(i);
        let mut n = 0;
        for kind in ["secret", "configMap"] {
            let Some(x) = get(source, kind) else { continue };
            n += 1;
            let p = sp.child(kind);
            required_str(errs, x, "name", &p);
            key_to_paths(errs, x, &p);
            for kp in arr(x, "items") {
                let item = s(kp, "path");
                if !item.is_empty() && !paths.insert(item.to_string()) {
                    errs.push(FieldError::invalid(
                        path.clone(),
                        s(x, "name"),
                        "conflicting duplicate paths",
                    ));
                }
            }
        }
        if let Some(d) = get(source, "downwardAPI") {
            n += 1;
            for f in arr(d, "items") {
                downward_file(errs, f, &sp.child("downwardAPI"));
                let item = s(f, "path");
                if !item.is_empty() && !paths.insert(item.to_string()) {
                    errs.push(FieldError::invalid(
                        path.clone(),
                        item,
                        "conflicting duplicate paths",
                    ));
                }
            }
        }
        if let Some(t) = get(source, "serviceAccountToken") {
            n += 1;
            let tp = sp.child("serviceAccountToken");
            let exp = int(t, "expirationSeconds").unwrap_or(0);
            if exp < 600 {
                errs.push(FieldError::invalid(
                    tp.child("expirationSeconds"),
                    exp,
                    "may not specify a duration less than 10 minutes",
                ));
            }
            if exp > 1 << 32 {
                errs.push(FieldError::invalid(
                    tp.child("expirationSeconds"),
                    exp,
                    "may not specify a duration larger than 2^32 seconds",
                ));
            }
            let tpath = s(t, "path");
            if tpath.is_empty() {
                errs.push(FieldError::required(path.child("path"), ""));
            } else {
                local_non_reserved_path(errs, tpath, &path.child("path"));
            }
        }
        if get(source, "clusterTrustBundle").is_some() {
            n += 1;
        }
        if n > 1 {
            errs.push(FieldError::forbidden(
                sp,
                "may not specify more than 1 volume type per source",
            ));
        }
    }
}
