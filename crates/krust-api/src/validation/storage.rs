//! Storage: PersistentVolume, PersistentVolumeClaim (core) and StorageClass.

use serde_json::Value;

use super::meta::validate_label_selector;
use super::names;
use super::resources;
use super::scheduling::node_selector;
use super::util::{Errs, diff_text, each_invalid, entries, get, immutable, opt_s, quantity, s, strs};
use super::volumes::host_path;
use crate::field_error::{FieldError, FieldPath};

const ACCESS_MODES: &[&str] = &[
    "ReadOnlyMany",
    "ReadWriteMany",
    "ReadWriteOnce",
    "ReadWriteOncePod",
];
const VOLUME_MODES: &[&str] = &["Block", "Filesystem"];
const PV_SOURCES: &[&str] = &[
    "hostPath",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "glusterfs",
    "flocker",
    "nfs",
    "rbd",
    "quobyte",
    "cephfs",
    "iscsi",
    "cinder",
    "fc",
    "flexVolume",
    "azureFile",
    "vsphereVolume",
    "photonPersistentDisk",
    "portworxVolume",
    "azureDisk",
    "scaleIO",
    "local",
    "storageos",
    "csi",
];

fn or_null(v: Option<&Value>) -> &Value {
    static NULL: Value = Value::Null;
    v.unwrap_or(&NULL)
}

fn access_modes(errs: &mut Errs, spec: &Value, path: &FieldPath, required_msg: &str) {
    let modes = strs(spec, "accessModes");
    if modes.is_empty() {
        errs.push(FieldError::required(path.child("accessModes"), required_msg));
    }
    for m in &modes {
        if !ACCESS_MODES.contains(m) {
            errs.push(FieldError::not_supported(
                path.child("accessModes"),
                *m,
                ACCESS_MODES,
            ));
        }
    }
    if modes.contains(&"ReadWriteOncePod")
        && modes
            .iter()
            .any(|m| *m != "ReadWriteOncePod" && ACCESS_MODES.contains(m))
    {
        errs.push(FieldError::forbidden(
            path.child("accessModes"),
            "may not use ReadWriteOncePod with other access modes",
        ));
    }
}

fn class_name(errs: &mut Errs, spec: &Value, path: &FieldPath) {
    if let Some(c) = opt_s(spec, "storageClassName").filter(|c| !c.is_empty()) {
        each_invalid(
            errs,
            path.child("storageClassName"),
            c,
            names::is_dns1123_subdomain(c),
        );
    }
}

/// `ValidatePersistentVolume(Update)`.
pub(crate) fn persistent_volume(errs: &mut Errs, obj: &Value, old: Option<&Value>) {
    let spec = or_null(get(obj, "spec"));
    let sp = FieldPath::new("spec");
    access_modes(errs, spec, &sp, "");
    let cap = entries(spec, "capacity");
    if cap.is_empty() {
        errs.push(FieldError::required(sp.child("capacity"), ""));
    }
    if cap.len() != 1 || cap.iter().all(|(k, _)| k.as_str() != "storage") {
        errs.push(FieldError::not_supported(
            sp.child("capacity"),
            spec.get("capacity").cloned().unwrap_or(Value::Null),
            &["storage"],
        ));
    }
    for (k, v) in cap {
        if let Some(q) = quantity(errs, v, sp.child("capacity").key(k)) {
            resources::positive(errs, &q, &sp.child("capacity").key(k));
        }
    }
    if let Some(p) = opt_s(spec, "persistentVolumeReclaimPolicy").filter(|p| !p.is_empty())
        && !["Delete", "Recycle", "Retain"].contains(&p)
    {
        errs.push(FieldError::not_supported(
            sp.child("persistentVolumeReclaimPolicy"),
            p,
            &["Delete", "Recycle", "Retain"],
        ));
    }
    let has_affinity = match spec.pointer("/nodeAffinity/required").filter(|v| !v.is_null()) {
        Some(req) => {
            node_selector(errs, req, &sp.child("nodeAffinity").child("required"));
            true
        }
        None => false,
    };
    let mut count = 0;
    for kind in PV_SOURCES {
        let Some(src) = get(spec, kind) else { continue };
        let p = sp.child(kind);
        if count > 0 {
            errs.push(FieldError::forbidden(
                p,
                "may not specify more than 1 volume type",
            ));
            continue;
        }
        count += 1;
        match *kind {
            "hostPath" => host_path(errs, src, &p),
            "local" => {
                if s(src, "path").is_empty() {
                    errs.push(FieldError::required(p.child("path"), ""));
                }
                if !has_affinity {
                    errs.push(FieldError::required(
                        sp.child("nodeAffinity"),
                        "Local volume requires node affinity",
                    ));
                }
            }
            "nfs" => {
                for key in ["server", "path"] {
                    if s(src, key).is_empty() {
                        errs.push(FieldError::required(p.child(key), ""));
                    }
                }
                if !s(src, "path").starts_with('/') {
                    errs.push(FieldError::invalid(
                        p.child("path"),
                        s(src, "path"),
                        "must be an absolute path",
                    ));
                }
            }
            "csi" => {
                if s(src, "driver").is_empty() {
                    errs.push(FieldError::required(p.child("driver"), ""));
                }
                if s(src, "volumeHandle").is_empty() {
                    errs.push(FieldError::required(p.child("volumeHandle"), ""));
                }
            }
            _ => {}
        }
    }
    if count == 0 {
        errs.push(FieldError::required(sp.clone(), "must specify a volume type"));
    }
    class_name(errs, spec, &sp);
    if let Some(m) = opt_s(spec, "volumeMode")
        && !VOLUME_MODES.contains(&m)
    {
        errs.push(FieldError::not_supported(sp.child("volumeMode"), m, VOLUME_MODES));
    }
    if let Some(old) = old {
        let old_spec = or_null(get(old, "spec"));
        let source = |v: &Value| -> Value {
            PV_SOURCES
                .iter()
                .filter_map(|k| get(v, k).map(|x| ((*k).to_string(), x.clone())))
                .collect()
        };
        let (mut a, b) = (source(spec), source(old_spec));
        // A CSI volume may gain a controllerExpandSecretRef.
        if old_spec.pointer("/csi/controllerExpandSecretRef").is_none()
            && let Some(csi) = a.get_mut("csi").and_then(Value::as_object_mut)
        {
            csi.remove("controllerExpandSecretRef");
        }
        if a != b {
            errs.push(FieldError::forbidden(
                sp.child("persistentvolumesource"),
                format!(
                    "spec.persistentvolumesource is immutable after creation\n{}",
                    diff_text(&b, &a, "spec")
                ),
            ));
        }
        immutable(
            errs,
            spec.get("volumeMode"),
            old_spec.get("volumeMode"),
            FieldPath::new("volumeMode"),
        );
        if let Some(old_aff) = get(old_spec, "nodeAffinity")
            && get(spec, "nodeAffinity") != Some(old_aff)
        {
            errs.push(FieldError::invalid(
                FieldPath::new("nodeAffinity"),
                spec.get("nodeAffinity").cloned().unwrap_or(Value::Null),
                "field is immutable, except for updating from beta label to GA",
            ));
        }
    }
}

/// `ValidatePersistentVolumeClaimSpec` at `path`.
pub(crate) fn claim_spec(errs: &mut Errs, spec: &Value, path: &FieldPath) {
    access_modes(errs, spec, path, "at least 1 access mode is required");
    if let Some(sel) = get(spec, "selector") {
        errs.extend(validate_label_selector(sel, &path.child("selector")));
    }
    let sp = path.child("resources").key("storage");
    match spec
        .pointer("/resources/requests/storage")
        .filter(|v| !v.is_null())
    {
        None => errs.push(FieldError::required(sp, "")),
        Some(v) => {
            if let Some(q) = quantity(errs, v, sp.clone())
                && resources::positive(errs, &q, &sp)
            {
                resources::quantity_value(errs, "storage", &q, &sp);
            }
        }
    }
    class_name(errs, spec, path);
    if let Some(m) = opt_s(spec, "volumeMode")
        && !VOLUME_MODES.contains(&m)
    {
        errs.push(FieldError::not_supported(
            path.child("volumeMode"),
            m,
            VOLUME_MODES,
        ));
    }
    for key in ["dataSource", "dataSourceRef"] {
        let Some(ds) = get(spec, key) else { continue };
        let p = path.child(key);
        if s(ds, "name").is_empty() {
            errs.push(FieldError::required(p.child("name"), ""));
        }
        if s(ds, "kind").is_empty() {
            errs.push(FieldError::required(p.child("kind"), ""));
        }
        let group = s(ds, "apiGroup");
        if group.is_empty() && s(ds, "kind") != "PersistentVolumeClaim" {
            errs.push(FieldError::invalid(
                p.clone(),
                s(ds, "kind"),
                "must be 'PersistentVolumeClaim' when referencing the default apiGroup",
            ));
        }
        if !group.is_empty() {
            each_invalid(
                errs,
                p.child("apiGroup"),
                group,
                names::is_dns1123_subdomain(group),
            );
        }
    }
}

/// `ValidatePersistentVolumeClaim(Update)`: only storage requests of bound claims (and
/// the volume name, once) may change.
pub(crate) fn persistent_volume_claim(errs: &mut Errs, obj: &Value, old: Option<&Value>) {
    let spec = or_null(get(obj, "spec"));
    let sp = FieldPath::new("spec");
    claim_spec(errs, spec, &sp);
    let Some(old) = old else { return };
    let old_spec = or_null(get(old, "spec"));
    let mut a = spec.clone();
    let mut b = old_spec.clone();
    if s(old_spec, "volumeName").is_empty()
        && let (Some(ao), Some(bo)) = (a.as_object(), b.as_object_mut())
    {
        match ao.get("volumeName") {
            Some(v) => bo.insert("volumeName".into(), v.clone()),
            None => bo.remove("volumeName"),
        };
    }
    if old_spec.get("storageClassName").is_none_or(Value::is_null)
        && let (Some(ao), Some(bo)) = (a.as_object(), b.as_object_mut())
        && let Some(v) = ao.get("storageClassName")
    {
        bo.insert("storageClassName".into(), v.clone());
    }
    let bound = obj.pointer("/status/phase").and_then(Value::as_str) == Some("Bound");
    if bound {
        let old_storage = old_spec.pointer("/resources/requests/storage").cloned();
        if let (Some(req), Some(v)) = (
            a.pointer_mut("/resources/requests")
                .and_then(Value::as_object_mut),
            old_storage,
        ) {
            req.insert("storage".into(), v);
        }
        if let (Some(ao), Some(v)) = (a.as_object_mut(), old_spec.get("volumeAttributesClassName")) {
            ao.insert("volumeAttributesClassName".into(), v.clone());
        }
    }
    if a != b {
        errs.push(FieldError::forbidden(
            sp.clone(),
            format!(
                "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims\n{}",
                diff_text(&b, &a, "spec")
            ),
        ));
    }
    let q = |v: &Value| {
        v.pointer("/resources/requests/storage")
            .and_then(|q| crate::quantity::Quantity::from_json(q).ok())
    };
    let status_cap = old
        .pointer("/status/capacity/storage")
        .and_then(|q| crate::quantity::Quantity::from_json(q).ok());
    if let (Some(new), Some(prev)) = (q(spec), q(old_spec))
        && new < prev
        && status_cap.is_some_and(|c| new <= c)
    {
        errs.push(FieldError::forbidden(
            sp.child("resources").child("requests").child("storage"),
            "field can not be less than status.capacity",
        ));
    }
    immutable(
        errs,
        spec.get("volumeMode"),
        old_spec.get("volumeMode"),
        FieldPath::new("volumeMode"),
    );
}

/// `ValidateStorageClass(Update)`.
pub(crate) fn storage_class(errs: &mut Errs, obj: &Value, old: Option<&Value>) {
    let provisioner = s(obj, "provisioner");
    if provisioner.is_empty() {
        errs.push(FieldError::required(FieldPath::new("provisioner"), ""));
    } else {
        let lower = provisioner.to_lowercase();
        each_invalid(
            errs,
            FieldPath::new("provisioner"),
            &lower,
            names::is_qualified_name(&lower),
        );
    }
    let params = entries(obj, "parameters");
    let size: usize = params
        .iter()
        .map(|(k, v)| k.len() + v.as_str().map_or(0, str::len))
        .sum();
    if params.len() > 512 {
        errs.push(FieldError::too_long(FieldPath::new("parameters"), 512));
    }
    if size > 256 * 1024 {
        errs.push(FieldError::too_long(FieldPath::new("parameters"), 256 * 1024));
    }
    for (k, _) in &params {
        if k.is_empty() {
            errs.push(FieldError::invalid(
                FieldPath::new("parameters"),
                k.as_str(),
                "field can not be empty.",
            ));
        }
    }
    if let Some(p) = opt_s(obj, "reclaimPolicy")
        && p != "Delete"
        && p != "Retain"
    {
        errs.push(FieldError::not_supported(
            FieldPath::new("reclaimPolicy"),
            p,
            &["Delete", "Retain"],
        ));
    }
    match opt_s(obj, "volumeBindingMode") {
        None => errs.push(FieldError::required(FieldPath::new("volumeBindingMode"), "")),
        Some(m) if m != "Immediate" && m != "WaitForFirstConsumer" => errs.push(FieldError::not_supported(
            FieldPath::new("volumeBindingMode"),
            m,
            &["Immediate", "WaitForFirstConsumer"],
        )),
        _ => {}
    }
    let Some(old) = old else { return };
    if obj.get("parameters") != old.get("parameters") {
        errs.push(FieldError::forbidden(
            FieldPath::new("parameters"),
            "updates to parameters are forbidden.",
        ));
    }
    if provisioner != s(old, "provisioner") {
        errs.push(FieldError::forbidden(
            FieldPath::new("provisioner"),
            "updates to provisioner are forbidden.",
        ));
    }
    if s(obj, "reclaimPolicy") != s(old, "reclaimPolicy") {
        errs.push(FieldError::forbidden(
            FieldPath::new("reclaimPolicy"),
            "updates to reclaimPolicy are forbidden.",
        ));
    }
    immutable(
        errs,
        obj.get("volumeBindingMode"),
        old.get("volumeBindingMode"),
        FieldPath::new("volumeBindingMode"),
    );
}
