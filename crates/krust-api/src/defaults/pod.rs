//! Pod and pod template defaults: upstream's `SetDefaults_PodSpec`, `SetDefaults_Pod`,
//! `SetDefaults_Container`, probes, ports, env and volume sources.

use serde_json::{Value, json};

use super::util::{
    Obj, canonical_quantity, child, child_or_insert, is_unset, items, resource_list, set_default,
    set_default_nonzero, set_default_str, str_of,
};

/// Defaults of a whole Pod: the spec defaults plus those upstream applies only to Pods
/// (requests copied from limits, `enableServiceLinks`, host ports under host networking).
pub(crate) fn pod(obj: &mut Value) {
    let Some(spec) = obj.as_object_mut().and_then(|o| child(o, "spec")) else {
        return;
    };
    pod_spec(spec);
    for key in ["containers", "initContainers"] {
        for c in items(spec, key) {
            requests_from_limits(c);
        }
    }
    set_default(spec, "enableServiceLinks", true);
    if spec.get("hostNetwork").and_then(Value::as_bool) == Some(true) {
        for key in ["containers", "initContainers"] {
            for c in items(spec, key) {
                for p in items(c, "ports") {
                    if super::util::is_zero(p, "hostPort")
                        && let Some(cp) = p.get("containerPort").cloned()
                    {
                        p.insert("hostPort".into(), cp);
                    }
                }
            }
        }
    }
}

/// A pod template (`spec.template` of workloads): metadata shape and spec defaults. Upstream
/// prints `creationTimestamp: null` in template metadata, so it is set here too.
pub(crate) fn template(tpl: &mut Obj) {
    if let Some(meta) = child_or_insert(tpl, "metadata") {
        set_default(meta, "creationTimestamp", Value::Null);
    }
    if let Some(spec) = child(tpl, "spec") {
        pod_spec(spec);
    }
}

/// If a container sets limits but not the matching requests, requests default to limits.
fn requests_from_limits(c: &mut Obj) {
    let Some(limits) = c
        .get("resources")
        .and_then(|r| r.get("limits"))
        .and_then(Value::as_object)
    else {
        return;
    };
    let limits = limits.clone();
    let Some(res) = child_or_insert(c, "resources") else {
        return;
    };
    let Some(requests) = child_or_insert(res, "requests") else {
        return;
    };
    for (k, v) in limits {
        requests.entry(k).or_insert(v);
    }
}

/// `SetDefaults_PodSpec` and every defaulter reached from a PodSpec.
pub(crate) fn pod_spec(spec: &mut Obj) {
    set_default_str(spec, "dnsPolicy", "ClusterFirst");
    set_default_str(spec, "restartPolicy", "Always");
    set_default(spec, "securityContext", json!({}));
    set_default(spec, "terminationGracePeriodSeconds", 30);
    set_default_str(spec, "schedulerName", "default-scheduler");
    for key in ["containers", "initContainers", "ephemeralContainers"] {
        for c in items(spec, key) {
            container(c);
        }
    }
    for v in items(spec, "volumes") {
        volume(v);
    }
    resource_list(spec, "overhead");
    if let Some(res) = child(spec, "resources") {
        resource_list(res, "limits");
        resource_list(res, "requests");
    }
}

/// `SetDefaults_Container` plus ports, env, probes, lifecycle and resources.
fn container(c: &mut Obj) {
    if super::util::is_blank(c, "imagePullPolicy") {
        let policy = if image_tag(str_of(c, "image")) == "latest" {
            "Always"
        } else {
            "IfNotPresent"
        };
        c.insert("imagePullPolicy".into(), policy.into());
    }
    set_default_str(c, "terminationMessagePath", "/dev/termination-log");
    set_default_str(c, "terminationMessagePolicy", "File");
    if let Some(res) = child_or_insert(c, "resources") {
        resource_list(res, "limits");
        resource_list(res, "requests");
    }
    for p in items(c, "ports") {
        set_default_str(p, "protocol", "TCP");
    }
    for e in items(c, "env") {
        if let Some(from) = child(e, "valueFrom") {
            if let Some(f) = child(from, "fieldRef") {
                set_default_str(f, "apiVersion", "v1");
            }
            if let Some(r) = child(from, "resourceFieldRef")
                && let Some(d) = r.get_mut("divisor")
            {
                canonical_quantity(d, false);
            }
        }
    }
    for key in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = child(c, key) {
            probe(p);
        }
    }
    if let Some(lc) = child(c, "lifecycle") {
        for key in ["postStart", "preStop"] {
            if let Some(h) = child(lc, key) {
                handler(h);
            }
        }
    }
}

fn probe(p: &mut Obj) {
    set_default_nonzero(p, "timeoutSeconds", 1);
    set_default_nonzero(p, "periodSeconds", 10);
    set_default_nonzero(p, "successThreshold", 1);
    set_default_nonzero(p, "failureThreshold", 3);
    handler(p);
}

fn handler(h: &mut Obj) {
    if let Some(get) = child(h, "httpGet") {
        set_default_str(get, "path", "/");
        set_default_str(get, "scheme", "HTTP");
    }
}

/// The tag of an image reference as upstream's defaulting sees it: `latest` when neither a
/// tag nor a digest is given, `""` when the reference cannot be parsed or has only a digest.
pub fn image_tag(image: &str) -> &str {
    if image.is_empty() || image.trim() != image {
        return "";
    }
    let (name, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    let (repo, tag) = match name[last_slash..].rfind(':') {
        Some(i) => (&name[..last_slash + i], &name[last_slash + i + 1..]),
        None => (name, ""),
    };
    // Repository paths are lower case (the registry host may not be).
    let path = repo.split_once('/').map_or(repo, |(host, rest)| {
        if host.contains('.') || host.contains(':') || host == "localhost" {
            rest
        } else {
            repo
        }
    });
    if path.is_empty() || path.chars().any(|c| c.is_ascii_uppercase() || c.is_whitespace()) {
        return "";
    }
    match (tag, digest) {
        ("", None) => "latest",
        (t, _) => t,
    }
}

/// `SetDefaults_Volume` and the defaults of each volume source.
pub(crate) fn volume(v: &mut Obj) {
    const SOURCES: &[&str] = &[
        "hostPath",
        "emptyDir",
        "gcePersistentDisk",
        "awsElasticBlockStore",
        "gitRepo",
        "secret",
        "nfs",
        "iscsi",
        "glusterfs",
        "persistentVolumeClaim",
        "rbd",
        "flexVolume",
        "cinder",
        "cephfs",
        "flocker",
        "downwardAPI",
        "fc",
        "azureFile",
        "configMap",
        "vsphereVolume",
        "quobyte",
        "azureDisk",
        "photonPersistentDisk",
        "projected",
        "portworxVolume",
        "scaleIO",
        "storageos",
        "csi",
        "ephemeral",
        "image",
    ];
    if SOURCES.iter().all(|s| is_unset(v, s)) {
        v.insert("emptyDir".into(), json!({}));
    }
    volume_sources(v);
    if let Some(ed) = child(v, "emptyDir")
        && let Some(limit) = ed.get_mut("sizeLimit")
    {
        canonical_quantity(limit, false);
    }
    for key in ["secret", "configMap", "downwardAPI", "projected"] {
        if let Some(src) = child(v, key) {
            set_default(src, "defaultMode", 420);
        }
    }
    if let Some(d) = child(v, "downwardAPI") {
        downward_items(d);
    }
    if let Some(proj) = child(v, "projected") {
        for s in items(proj, "sources") {
            if let Some(t) = child(s, "serviceAccountToken") {
                set_default(t, "expirationSeconds", 3600);
            }
            if let Some(d) = child(s, "downwardAPI") {
                downward_items(d);
            }
        }
    }
    if let Some(img) = child(v, "image")
        && super::util::is_blank(img, "pullPolicy")
    {
        let p = if image_tag(str_of(img, "reference")) == "latest" {
            "Always"
        } else {
            "IfNotPresent"
        };
        img.insert("pullPolicy".into(), p.into());
    }
    if let Some(eph) = child(v, "ephemeral")
        && let Some(spec) = child(eph, "volumeClaimTemplate").and_then(|t| child(t, "spec"))
    {
        pvc_spec(spec);
    }
}

/// Downward API files: field selectors default to `apiVersion: v1`, divisors are canonical.
fn downward_items(d: &mut Obj) {
    for item in items(d, "items") {
        if let Some(f) = child(item, "fieldRef") {
            set_default_str(f, "apiVersion", "v1");
        }
        if let Some(divisor) = child(item, "resourceFieldRef").and_then(|r| r.get_mut("divisor")) {
            canonical_quantity(divisor, false);
        }
    }
}

/// Defaults of the volume sources a PersistentVolume shares with pod volumes.
pub(crate) fn volume_sources(v: &mut Obj) {
    if let Some(hp) = child(v, "hostPath") {
        set_default(hp, "type", "");
    }
    if let Some(i) = child(v, "iscsi") {
        set_default_str(i, "iscsiInterface", "default");
    }
    if let Some(r) = child(v, "rbd") {
        set_default_str(r, "pool", "rbd");
        set_default_str(r, "user", "admin");
        set_default_str(r, "keyring", "/etc/ceph/keyring");
    }
    if let Some(a) = child(v, "azureDisk") {
        set_default(a, "cachingMode", "ReadWrite");
        set_default(a, "fsType", "ext4");
        set_default(a, "readOnly", false);
        set_default(a, "kind", "Shared");
    }
    if let Some(s) = child(v, "scaleIO") {
        set_default_str(s, "storageMode", "ThinProvisioned");
        set_default_str(s, "fsType", "xfs");
    }
}

/// `SetDefaults_PersistentVolumeClaimSpec`.
pub(crate) fn pvc_spec(spec: &mut Obj) {
    set_default(spec, "volumeMode", "Filesystem");
    if let Some(res) = child(spec, "resources") {
        resource_list(res, "requests");
        resource_list(res, "limits");
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn image_tags() {
        assert_eq!(image_tag("nginx"), "latest");
        assert_eq!(image_tag("nginx:latest"), "latest");
        assert_eq!(image_tag("nginx:1.27"), "1.27");
        assert_eq!(image_tag("localhost:5000/nginx"), "latest");
        assert_eq!(image_tag("registry.k8s.io/pause:3.10"), "3.10");
        assert_eq!(image_tag("nginx@sha256:abcd"), "");
        assert_eq!(image_tag("nginx:latest@sha256:abcd"), "latest");
        assert_eq!(image_tag("NGINX"), "");
        assert_eq!(image_tag(""), "");
    }
}
