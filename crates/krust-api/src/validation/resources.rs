//! Resource names and quantities: container requirements, quotas, limit ranges, claims.

use serde_json::Value;

use super::names;
use super::util::{Errs, NEGATIVE, each_invalid, entries, quantity};
use crate::field_error::{FieldError, FieldPath};
use crate::quantity::Quantity;

const STANDARD_CONTAINER: &[&str] = &["cpu", "memory", "ephemeral-storage"];
const INTEGER_RESOURCES: &[&str] = &[
    "pods",
    "services",
    "replicationcontrollers",
    "resourcequotas",
    "secrets",
    "configmaps",
    "persistentvolumeclaims",
    "services.nodeports",
    "services.loadbalancers",
];
const STANDARD_QUOTA: &[&str] = &[
    "cpu",
    "memory",
    "ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.storage",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "pods",
    "services",
    "replicationcontrollers",
    "resourcequotas",
    "secrets",
    "configmaps",
    "persistentvolumeclaims",
    "services.nodeports",
    "services.loadbalancers",
];

fn is_hugepages(name: &str) -> bool {
    name.starts_with("hugepages-")
}

fn is_quota_hugepages(name: &str) -> bool {
    is_hugepages(name) || name.starts_with("requests.hugepages-") || name.starts_with("limits.hugepages-")
}

/// Native resources: unqualified, or under a `kubernetes.io/` domain.
pub(crate) fn is_native(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

/// Extended resources (`example.com/gpu`): qualified, not native, not `requests.`.
pub(crate) fn is_extended(name: &str) -> bool {
    !is_native(name)
        && !name.starts_with("requests.")
        && names::is_qualified_name(&format!("requests.{name}")).is_empty()
}

fn is_standard(name: &str) -> bool {
    STANDARD_QUOTA.contains(&name) || name == "storage" || is_quota_hugepages(name)
}

/// Resources that may be requested below their limit.
pub(crate) fn overcommit_allowed(name: &str) -> bool {
    is_native(name) && !is_hugepages(name)
}

fn is_integer_resource(name: &str) -> bool {
    INTEGER_RESOURCES.contains(&name) || is_extended(name)
}

/// `validateResourceName`.
pub(crate) fn resource_name(errs: &mut Errs, name: &str, path: &FieldPath) -> bool {
    let before = errs.len();
    each_invalid(errs, path.clone(), name, names::is_qualified_name(name));
    if errs.len() != before {
        return false;
    }
    if !name.contains('/') && !is_standard(name) {
        errs.push(FieldError::invalid(
            path.clone(),
            name,
            "must be a standard resource type or fully qualified",
        ));
        return false;
    }
    true
}

/// `validateContainerResourceName`.
pub(crate) fn container_resource_name(errs: &mut Errs, name: &str, path: &FieldPath) {
    resource_name(errs, name, path);
    if !name.contains('/') {
        if !STANDARD_CONTAINER.contains(&name) && !is_hugepages(name) {
            errs.push(FieldError::invalid(
                path.clone(),
                name,
                "must be a standard resource for containers",
            ));
        }
    } else if !is_native(name) && !is_extended(name) {
        errs.push(FieldError::invalid(
            path.clone(),
            name,
            "doesn't follow extended resource name standard",
        ));
    }
}

/// `ValidateResourceQuotaResourceName`.
pub(crate) fn quota_resource_name(errs: &mut Errs, name: &str, path: &FieldPath) {
    resource_name(errs, name, path);
    if !name.contains('/') && !STANDARD_QUOTA.contains(&name) && !is_quota_hugepages(name) {
        errs.push(FieldError::invalid(
            path.clone(),
            name,
            "must be a standard resource for quota",
        ));
    }
}

/// `ValidateResourceQuantityValue`: non-negative, and whole for countable resources.
pub(crate) fn quantity_value(errs: &mut Errs, name: &str, q: &Quantity, path: &FieldPath) {
    if q.is_negative() {
        errs.push(FieldError::invalid(path.clone(), q.canonical(), NEGATIVE));
    }
    if is_integer_resource(name) && q.milli_value() % 1000 != 0 {
        errs.push(FieldError::invalid(
            path.clone(),
            q.canonical(),
            "must be an integer",
        ));
    }
}

/// Quantity must be strictly positive (`ValidatePositiveQuantityValue`).
pub(crate) fn positive(errs: &mut Errs, q: &Quantity, path: &FieldPath) -> bool {
    if *q <= Quantity::ZERO {
        errs.push(FieldError::invalid(
            path.clone(),
            q.canonical(),
            "must be greater than zero",
        ));
        return false;
    }
    true
}

/// A map of resource name to quantity, parsed; malformed entries are reported.
pub(crate) fn parse_list(errs: &mut Errs, v: &Value, key: &str, path: &FieldPath) -> Vec<(String, Quantity)> {
    entries(v, key)
        .into_iter()
        .filter_map(|(k, q)| quantity(errs, q, path.key(k)).map(|q| (k.clone(), q)))
        .collect()
}

/// `ValidateContainerResourceRequirements`: names, quantities, requests within limits,
/// equal for resources that cannot be overcommitted.
pub(crate) fn requirements(errs: &mut Errs, res: &Value, path: &FieldPath) {
    let lim_path = path.child("limits");
    let req_path = path.child("requests");
    let limits = parse_list(errs, res, "limits", &lim_path);
    let requests = parse_list(errs, res, "requests", &req_path);
    let mut cpu_mem = false;
    let mut huge = false;
    for (name, q) in &limits {
        let p = lim_path.key(name);
        container_resource_name(errs, name, &p);
        quantity_value(errs, name, q, &p);
        huge |= is_hugepages(name);
        cpu_mem |= name == "cpu" || name == "memory";
    }
    for (name, q) in &requests {
        let p = req_path.key(name);
        container_resource_name(errs, name, &p);
        quantity_value(errs, name, q, &p);
        match limits.iter().find(|(n, _)| n == name) {
            Some((_, limit)) => {
                if q != limit && !overcommit_allowed(name) {
                    errs.push(FieldError::invalid(
                        req_path.clone(),
                        q.canonical(),
                        format!("must be equal to {name} limit of {}", limit.canonical()),
                    ));
                } else if q > limit {
                    errs.push(FieldError::invalid(
                        req_path.clone(),
                        q.canonical(),
                        format!(
                            "must be less than or equal to {name} limit of {}",
                            limit.canonical()
                        ),
                    ));
                }
            }
            None if !overcommit_allowed(name) => errs.push(FieldError::required(
                lim_path.clone(),
                "Limit must be set for non overcommitable resources",
            )),
            None => {}
        }
        huge |= is_hugepages(name);
        cpu_mem |= name == "cpu" || name == "memory";
    }
    if huge && !cpu_mem {
        errs.push(FieldError::forbidden(
            path.clone(),
            "HugePages require cpu or memory",
        ));
    }
}
