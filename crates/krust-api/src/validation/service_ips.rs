//! Cluster IPs and IP families of Services: their consistency, and what may change once
//! allocated.

use std::collections::HashSet;

use serde_json::Value;

use super::names;
use super::service::is_headless;
use super::util::{Errs, each_invalid, int, opt_s, s, strs};
use crate::field_error::{FieldError, FieldPath};

/// `ValidateServiceClusterIPsRelatedFields`.
pub(crate) fn cluster_ips(errs: &mut Errs, spec: &Value, sp: &FieldPath) {
    let ip = s(spec, "clusterIP");
    let ips = strs(spec, "clusterIPs");
    let ips_path = sp.child("clusterIPs");
    if !ip.is_empty() {
        if ips.is_empty() {
            errs.push(FieldError::required(ips_path.clone(), ""));
        } else if ips[0] != ip {
            errs.push(FieldError::invalid(
                ips_path.clone(),
                Value::from(ips.clone()),
                "first value must match `clusterIP`",
            ));
        }
    } else if !ips.is_empty() {
        errs.push(FieldError::invalid(
            ips_path.clone(),
            Value::from(ips.clone()),
            "must be empty when `clusterIP` is not specified",
        ));
    }
    let families = strs(spec, "ipFamilies");
    let mut seen = HashSet::new();
    for (i, f) in families.iter().enumerate() {
        if *f != "IPv4" && *f != "IPv6" {
            errs.push(FieldError::not_supported(
                sp.child("ipFamilies").index(i),
                *f,
                &["IPv4", "IPv6"],
            ));
        }
        if !seen.insert(*f) {
            errs.push(FieldError::duplicate(sp.child("ipFamilies").index(i), *f));
        }
    }
    if let Some(p) = opt_s(spec, "ipFamilyPolicy") {
        let allowed = ["PreferDualStack", "RequireDualStack", "SingleStack"];
        if !allowed.contains(&p) {
            errs.push(FieldError::not_supported(sp.child("ipFamilyPolicy"), p, &allowed));
        }
    }
    let mut invalid = false;
    for (i, a) in ips.iter().enumerate() {
        if i == 0 && *a == "None" {
            if ips.len() > 1 {
                invalid = true;
                errs.push(FieldError::invalid(
                    ips_path.clone(),
                    Value::from(ips.clone()),
                    "'None' must be the first and only value",
                ));
            }
            continue;
        }
        let msgs = names::is_valid_ip(a);
        invalid |= !msgs.is_empty();
        each_invalid(errs, ips_path.index(i), a, msgs);
    }
    if ips.len() > 2 {
        errs.push(FieldError::invalid(
            ips_path.clone(),
            Value::from(ips.clone()),
            "may only hold up to 2 values",
        ));
    }
    if invalid {
        return;
    }
    let v6 = |a: &str| names::parse_ip_sloppy(a).is_some_and(|x| x.is_ipv6());
    if ips.len() > 1 && v6(ips[0]) == v6(ips[1]) {
        errs.push(FieldError::invalid(
            ips_path.clone(),
            Value::from(ips.clone()),
            "may specify no more than one IP for each IP family",
        ));
    }
    if !is_headless(spec) {
        for (i, (a, f)) in ips.iter().zip(families.iter()).enumerate() {
            if *f == "IPv4" && v6(a) {
                errs.push(FieldError::invalid(
                    ips_path.index(i),
                    *a,
                    format!("expected an IPv4 value as indicated by `ipFamilies[{i}]`"),
                ));
            }
            if *f == "IPv6" && !v6(a) {
                errs.push(FieldError::invalid(
                    ips_path.index(i),
                    *a,
                    format!("expected an IPv6 value as indicated by `ipFamilies[{i}]`"),
                ));
            }
        }
    }
}

/// The cluster IP, IP family, load balancer class and health check port update rules.
pub(crate) fn service_update(errs: &mut Errs, spec: &Value, old: &Value, sp: &FieldPath) {
    if s(spec, "type") == "ExternalName" || s(old, "type") == "ExternalName" {
        return;
    }
    let (new_h, old_h) = (is_headless(spec), is_headless(old));
    let (ips, old_ips) = (strs(spec, "clusterIPs"), strs(old, "clusterIPs"));
    let ips_v = Value::from(ips.clone());
    let changed = || {
        FieldError::invalid(
            sp.child("clusterIPs").index(0),
            ips_v.clone(),
            "may not change once set",
        )
    };
    if !(new_h && old_h) {
        if ips.len() == old_ips.len() {
            for (i, (a, b)) in old_ips.iter().zip(ips.iter()).enumerate() {
                if a != b {
                    errs.push(FieldError::invalid(
                        sp.child("clusterIPs").index(i),
                        ips_v.clone(),
                        "may not change once set",
                    ));
                }
            }
        } else if old_ips.len() > ips.len() {
            if ips.is_empty() {
                errs.push(FieldError::invalid(
                    sp.child("clusterIPs").index(0),
                    ips_v.clone(),
                    "primary clusterIP can not be unset",
                ));
            } else if ips[0] != old_ips[0] {
                errs.push(changed());
            }
            if ips.len() == 1 && s(spec, "ipFamilyPolicy") != "SingleStack" {
                errs.push(FieldError::invalid(
                    sp.child("ipFamilyPolicy"),
                    spec.get("ipFamilyPolicy").cloned().unwrap_or(Value::Null),
                    "must be set to 'SingleStack' when releasing the secondary clusterIP",
                ));
            }
        } else if !old_ips.is_empty() && ips[0] != old_ips[0] {
            errs.push(changed());
        }
    }
    if new_h == old_h && !new_h {
        let (f, old_f) = (strs(spec, "ipFamilies"), strs(old, "ipFamilies"));
        let fp = sp.child("ipFamilies").index(0);
        let changed = |errs: &mut Errs, v: Value| {
            errs.push(FieldError::invalid(fp.clone(), v, "may not change once set"))
        };
        if f.len() == old_f.len() {
            for (a, b) in old_f.iter().zip(f.iter()) {
                if a != b {
                    changed(errs, Value::from(f.clone()));
                }
            }
        } else if old_f.len() > f.len() {
            if ips.is_empty() {
                errs.push(FieldError::invalid(
                    fp.clone(),
                    Value::from(f.clone()),
                    "primary ipFamily can not be unset",
                ));
            }
            if !f.is_empty() && f[0] != old_f[0] {
                changed(errs, ips_v.clone());
            }
            if f.len() == 1 && s(spec, "ipFamilyPolicy") != "SingleStack" {
                errs.push(FieldError::invalid(
                    sp.child("ipFamilyPolicy"),
                    spec.get("ipFamilyPolicy").cloned().unwrap_or(Value::Null),
                    "must be set to 'SingleStack' when releasing the secondary ipFamily",
                ));
            }
        } else if !old_f.is_empty() && !f.is_empty() && f[0] != old_f[0] {
            changed(errs, ips_v.clone());
        }
    }
    if s(old, "type") == "LoadBalancer" && s(spec, "type") == "LoadBalancer" {
        immutable_lb_class(errs, spec, old, sp);
    }
    let needs_hc = |x: &Value| s(x, "type") == "LoadBalancer" && s(x, "externalTrafficPolicy") == "Local";
    if needs_hc(old) && needs_hc(spec) && int(spec, "healthCheckNodePort") != int(old, "healthCheckNodePort")
    {
        errs.push(FieldError::forbidden(
            sp.child("healthCheckNodePort"),
            "field is immutable",
        ));
    }
}

fn immutable_lb_class(errs: &mut Errs, spec: &Value, old: &Value, sp: &FieldPath) {
    if opt_s(spec, "loadBalancerClass") != opt_s(old, "loadBalancerClass") {
        errs.push(FieldError::invalid(
            sp.child("loadBalancerClass"),
            spec.get("loadBalancerClass").cloned().unwrap_or(Value::Null),
            "may not change once set",
        ));
    }
}
