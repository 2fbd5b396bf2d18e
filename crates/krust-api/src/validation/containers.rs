//! Containers of a pod spec: names, images, ports, env, mounts, probes, lifecycle,
//! resources and security context.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::mounts::mounts;
use super::names;
use super::probes::{lifecycle_and_probes, security_context};
use super::resources;
use super::util::{Errs, arr, each_invalid, get, int, opt_s, s};
use crate::field_error::{FieldError, FieldPath};

/// The valid volumes of a pod, by name: whether each is claim-backed (usable as a block
/// device) and whether it is an image volume (no subPath).
pub(crate) type Volumes = HashMap<String, (bool, bool)>;

/// Where a container list is validated from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ctx<'a> {
    /// The pod's valid volumes.
    pub vols: &'a Volumes,
    /// `terminationGracePeriodSeconds`, for sleep handlers.
    pub grace: Option<i64>,
    /// The pod's restart policy.
    pub restart: &'a str,
    /// A Pod rather than a template.
    pub is_pod: bool,
}

const PULL_POLICIES: &[&str] = &["Always", "IfNotPresent", "Never"];
const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];
const ENV_FIELD_PATHS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];
/// Field paths upstream's downward API conversion knows for `v1`.
const CONVERTIBLE_FIELD_PATHS: &[&str] = &[
    "metadata.annotations",
    "metadata.labels",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.serviceAccountName",
    "spec.schedulerName",
    "status.phase",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];
const RESOURCE_FIELD_PATHS: &[&str] = &[
    "limits.cpu",
    "limits.ephemeral-storage",
    "limits.memory",
    "requests.cpu",
    "requests.ephemeral-storage",
    "requests.memory",
];

/// Regular containers: at least one, unique names, probes and lifecycle allowed.
pub(crate) fn containers(errs: &mut Errs, spec: &Value, path: &FieldPath, ctx: Ctx<'_>) {
    let p = path.child("containers");
    let list = arr(spec, "containers");
    if list.is_empty() {
        errs.push(FieldError::required(p.clone(), ""));
        return;
    }
    let mut seen = HashSet::new();
    for (i, c) in list.iter().enumerate() {
        let cp = p.index(i);
        common(errs, c, &cp, ctx);
        let name = s(c, "name");
        if !seen.insert(name) {
            errs.push(FieldError::duplicate(cp.child("name"), name));
        }
        lifecycle_and_probes(errs, c, &cp, ctx);
        if get(c, "restartPolicy").is_some() {
            errs.push(FieldError::forbidden(
                cp.child("restartPolicy"),
                "may not be set for non-init containers",
            ));
        }
    }
    host_port_conflicts(errs, list, &p);
}

/// Init containers: names unique with regular ones; probes only for sidecars.
pub(crate) fn init_containers(errs: &mut Errs, spec: &Value, path: &FieldPath, ctx: Ctx<'_>) {
    let p = path.child("initContainers");
    let mut seen: HashSet<&str> = arr(spec, "containers").iter().map(|c| s(c, "name")).collect();
    for (i, c) in arr(spec, "initContainers").iter().enumerate() {
        let cp = p.index(i);
        common(errs, c, &cp, ctx);
        let mut sidecar = false;
        if let Some(rp) = opt_s(c, "restartPolicy") {
            if rp == "Always" {
                sidecar = true;
            } else {
                errs.push(FieldError::not_supported(
                    cp.child("restartPolicy"),
                    rp,
                    &["Always"],
                ));
            }
        }
        let name = s(c, "name");
        if seen.contains(name) {
            errs.push(FieldError::duplicate(cp.child("name"), name));
        } else if !name.is_empty() {
            seen.insert(name);
        }
        host_port_conflicts(errs, std::slice::from_ref(c), &p);
        if sidecar {
            lifecycle_and_probes(errs, c, &cp, ctx);
        } else {
            for key in ["lifecycle", "livenessProbe", "readinessProbe", "startupProbe"] {
                if get(c, key).is_some() {
                    errs.push(FieldError::forbidden(
                        cp.child(key),
                        "may not be set for init containers without restartPolicy=Always",
                    ));
                }
            }
        }
    }
}

/// Ephemeral containers: common checks, unique names, an existing target, no fields
/// that would make the pod depend on them.
pub(crate) fn ephemeral_containers(errs: &mut Errs, spec: &Value, path: &FieldPath, ctx: Ctx<'_>) {
    let p = path.child("ephemeralContainers");
    let others: HashSet<&str> = ["containers", "initContainers"]
        .iter()
        .flat_map(|k| arr(spec, k))
        .map(|c| s(c, "name"))
        .collect();
    let mut all = others.clone();
    for (i, c) in arr(spec, "ephemeralContainers").iter().enumerate() {
        let cp = p.index(i);
        common(errs, c, &cp, ctx);
        let name = s(c, "name");
        if !all.insert(name) {
            errs.push(FieldError::duplicate(cp.child("name"), name));
        }
        let target = s(c, "targetContainerName");
        if !target.is_empty() && !others.contains(target) {
            errs.push(FieldError::not_found(cp.child("targetContainerName"), target));
        }
        for key in [
            "ports",
            "resources",
            "livenessProbe",
            "readinessProbe",
            "startupProbe",
            "lifecycle",
            "resizePolicy",
            "restartPolicy",
        ] {
            let set = match c.get(key) {
                None | Some(Value::Null) => false,
                Some(Value::Object(m)) => !m.is_empty(),
                Some(Value::Array(a)) => !a.is_empty(),
                Some(_) => true,
            };
            if set {
                errs.push(FieldError::forbidden(
                    cp.child(key),
                    "cannot be set for an Ephemeral Container",
                ));
            }
        }
        for (j, m) in arr(c, "volumeMounts").iter().enumerate() {
            for key in ["subPath", "subPathExpr"] {
                if !s(m, key).is_empty() {
                    errs.push(FieldError::forbidden(
                        cp.child("volumeMounts").index(j).child(key),
                        "cannot be set for an Ephemeral Container",
                    ));
                }
            }
        }
    }
}

fn host_port_conflicts(errs: &mut Errs, list: &[Value], path: &FieldPath) {
    let mut seen = HashSet::new();
    for (ci, c) in list.iter().enumerate() {
        for (pi, port) in arr(c, "ports").iter().enumerate() {
            let hp = int(port, "hostPort").unwrap_or(0);
            if hp == 0 {
                continue;
            }
            let key = format!("{}/{}/{hp}", s(port, "protocol"), s(port, "hostIP"));
            if !seen.insert(key.clone()) {
                errs.push(FieldError::duplicate(
                    path.index(ci).child("ports").index(pi).child("hostPort"),
                    key,
                ));
            }
        }
    }
}

fn common(errs: &mut Errs, c: &Value, path: &FieldPath, ctx: Ctx<'_>) {
    let name = s(c, "name");
    if name.is_empty() {
        errs.push(FieldError::required(path.child("name"), ""));
    } else {
        each_invalid(errs, path.child("name"), name, names::is_dns1123_label(name));
    }
    let image = s(c, "image");
    if image.is_empty() {
        errs.push(FieldError::required(path.child("image"), ""));
    } else if ctx.is_pod && image.trim() != image {
        errs.push(FieldError::invalid(
            path.child("image"),
            image,
            "must not have leading or trailing whitespace",
        ));
    }
    match s(c, "terminationMessagePolicy") {
        "File" | "FallbackToLogsOnError" => {}
        "" => errs.push(FieldError::required(path.child("terminationMessagePolicy"), "")),
        x => errs.push(FieldError::not_supported(
            path.child("terminationMessagePolicy"),
            x,
            &["File", "FallbackToLogsOnError"],
        )),
    }
    ports(errs, c, &path.child("ports"));
    env(errs, c, &path.child("env"));
    env_from(errs, c, &path.child("envFrom"));
    mounts(errs, c, path, ctx.vols);
    match s(c, "imagePullPolicy") {
        "" => errs.push(FieldError::required(path.child("imagePullPolicy"), "")),
        x if !PULL_POLICIES.contains(&x) => errs.push(FieldError::not_supported(
            path.child("imagePullPolicy"),
            x,
            PULL_POLICIES,
        )),
        _ => {}
    }
    if let Some(r) = get(c, "resources") {
        resources::requirements(errs, r, &path.child("resources"));
    }
    let rpp = path.child("resizePolicy");
    let mut seen_resources = HashSet::new();
    for (i, rp) in arr(c, "resizePolicy").iter().enumerate() {
        let name = s(rp, "resourceName");
        if !seen_resources.insert(name) {
            errs.push(FieldError::duplicate(rpp.index(i), name));
        }
        for (v, allowed) in [
            (name, ["cpu", "memory"]),
            (s(rp, "restartPolicy"), ["NotRequired", "RestartContainer"]),
        ] {
            if v.is_empty() {
                errs.push(FieldError::required(rpp.clone(), ""));
            } else if !allowed.contains(&v) {
                errs.push(FieldError::not_supported(rpp.clone(), v, &allowed));
            }
        }
        if ctx.restart == "Never" && s(rp, "restartPolicy") != "NotRequired" {
            errs.push(FieldError::invalid(
                rpp.clone(),
                s(rp, "restartPolicy"),
                "must be 'NotRequired' when `restartPolicy` is 'Never'",
            ));
        }
    }
    if let Some(sc) = get(c, "securityContext") {
        security_context(errs, sc, &path.child("securityContext"));
    }
}

fn ports(errs: &mut Errs, c: &Value, path: &FieldPath) {
    let mut seen = HashSet::new();
    for (i, p) in arr(c, "ports").iter().enumerate() {
        let ip = path.index(i);
        let name = s(p, "name");
        if !name.is_empty() {
            let msgs = names::is_valid_port_name(name);
            if !msgs.is_empty() {
                each_invalid(errs, ip.child("name"), name, msgs);
            } else if !seen.insert(name) {
                errs.push(FieldError::duplicate(ip.child("name"), name));
            }
        }
        match int(p, "containerPort").unwrap_or(0) {
            0 => errs.push(FieldError::required(ip.child("containerPort"), "")),
            n => {
                for m in names::is_valid_port_num(n) {
                    errs.push(FieldError::invalid(ip.child("containerPort"), n, m));
                }
            }
        }
        let hp = int(p, "hostPort").unwrap_or(0);
        if hp != 0 {
            for m in names::is_valid_port_num(hp) {
                errs.push(FieldError::invalid(ip.child("hostPort"), hp, m));
            }
        }
        protocol(errs, p, &ip);
    }
}

/// A port protocol: required, TCP/UDP/SCTP.
pub(crate) fn protocol(errs: &mut Errs, p: &Value, path: &FieldPath) {
    match s(p, "protocol") {
        "" => errs.push(FieldError::required(path.child("protocol"), "")),
        x if !PROTOCOLS.contains(&x) => {
            errs.push(FieldError::not_supported(path.child("protocol"), x, PROTOCOLS))
        }
        _ => {}
    }
}

fn env(errs: &mut Errs, c: &Value, path: &FieldPath) {
    for (i, e) in arr(c, "env").iter().enumerate() {
        let ip = path.index(i);
        let name = s(e, "name");
        if name.is_empty() {
            errs.push(FieldError::required(ip.child("name"), ""));
        } else {
            each_invalid(errs, ip.child("name"), name, names::is_env_var_name(name));
        }
        let Some(from) = get(e, "valueFrom") else { continue };
        let fp = ip.child("valueFrom");
        let mut sources = 0;
        if let Some(f) = get(from, "fieldRef") {
            sources += 1;
            field_ref(errs, f, &fp.child("fieldRef"), ENV_FIELD_PATHS);
        }
        if let Some(r) = get(from, "resourceFieldRef") {
            sources += 1;
            let rp = fp.child("resourceFieldRef");
            let res = s(r, "resource");
            if res.is_empty() {
                errs.push(FieldError::required(rp.child("resource"), ""));
            } else if !RESOURCE_FIELD_PATHS.contains(&res)
                && !res.starts_with("requests.hugepages-")
                && !res.starts_with("limits.hugepages-")
            {
                errs.push(FieldError::not_supported(
                    rp.child("resource"),
                    res,
                    RESOURCE_FIELD_PATHS,
                ));
            }
        }
        for key in ["configMapKeyRef", "secretKeyRef"] {
            if let Some(r) = get(from, key) {
                sources += 1;
                let rp = fp.child(key);
                let n = s(r, "name");
                each_invalid(errs, rp.child("name"), n, names::is_dns1123_subdomain(n));
                let k = s(r, "key");
                if k.is_empty() {
                    errs.push(FieldError::required(rp.child("key"), ""));
                } else {
                    each_invalid(errs, rp.child("key"), k, names::is_config_map_key(k));
                }
            }
        }
        if sources == 0 {
            errs.push(FieldError::invalid(
                fp,
                "",
                "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
            ));
        } else if !s(e, "value").is_empty() {
            errs.push(FieldError::invalid(
                fp,
                "",
                "may not be specified when `value` is not empty",
            ));
        } else if sources > 1 {
            errs.push(FieldError::invalid(
                fp,
                "",
                "may not have more than one field specified at a time",
            ));
        }
    }
}

/// A downward API `fieldRef`, against the expressions allowed where it is used.
pub(crate) fn field_ref(errs: &mut Errs, f: &Value, path: &FieldPath, allowed: &[&str]) {
    let version = s(f, "apiVersion");
    if version.is_empty() {
        errs.push(FieldError::required(path.child("apiVersion"), ""));
        return;
    }
    let fp = s(f, "fieldPath");
    if fp.is_empty() {
        errs.push(FieldError::required(path.child("fieldPath"), ""));
        return;
    }
    let (base, subscript) = match fp.split_once("['") {
        Some((b, rest)) if rest.ends_with("']") => (b, Some(&rest[..rest.len() - 2])),
        _ => (fp, None),
    };
    if version != "v1" {
        errs.push(FieldError::invalid(
            path.child("fieldPath"),
            fp,
            format!("error converting fieldPath: unsupported pod version: {version}"),
        ));
        return;
    }
    if !CONVERTIBLE_FIELD_PATHS.contains(&base) || (subscript.is_some() && !base.starts_with("metadata.")) {
        errs.push(FieldError::invalid(
            path.child("fieldPath"),
            fp,
            format!("error converting fieldPath: field label not supported: {fp}"),
        ));
        return;
    }
    match (base, subscript) {
        ("metadata.annotations", Some(k)) => each_invalid(
            errs,
            path.clone(),
            &k.to_lowercase(),
            names::is_qualified_name(&k.to_lowercase()),
        ),
        ("metadata.labels", Some(k)) => each_invalid(errs, path.clone(), k, names::is_qualified_name(k)),
        (_, Some(_)) => errs.push(FieldError::invalid(
            path.clone(),
            base,
            "does not support subscript",
        )),
        (_, None) => {
            if !allowed.contains(&base) {
                let mut sorted = allowed.to_vec();
                sorted.sort_unstable();
                errs.push(FieldError::not_supported(path.child("fieldPath"), base, &sorted));
            }
        }
    }
}

fn env_from(errs: &mut Errs, c: &Value, path: &FieldPath) {
    for (i, e) in arr(c, "envFrom").iter().enumerate() {
        let ip = path.index(i);
        let prefix = s(e, "prefix");
        if !prefix.is_empty() {
            each_invalid(errs, ip.child("prefix"), prefix, names::is_env_var_name(prefix));
        }
        let mut sources = 0;
        for key in ["configMapRef", "secretRef"] {
            if let Some(r) = get(e, key) {
                sources += 1;
                let n = s(r, "name");
                if n.is_empty() {
                    errs.push(FieldError::required(ip.child(key).child("name"), ""));
                } else {
                    each_invalid(
                        errs,
                        ip.child(key).child("name"),
                        n,
                        names::validate_name(names::NameRule::DnsSubdomain, n, true),
                    );
                }
            }
        }
        if sources == 0 {
            errs.push(FieldError::invalid(
                path.clone(),
                "",
                "must specify one of: `configMapRef` or `secretRef`",
            ));
        } else if sources > 1 {
            errs.push(FieldError::invalid(
                path.clone(),
                "",
                "may not have more than one field specified at a time",
            ));
        }
    }
}
