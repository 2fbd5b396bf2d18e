//! Services (`ValidateService`, `ValidateServiceUpdate`) and the IP rules endpoints share.

use std::collections::HashSet;

use serde_json::Value;

use super::containers::protocol;
use super::meta;
use super::names;
use super::probes::port_num_or_name;
use super::service_ips::{cluster_ips, service_update};
use super::util::{Errs, arr, each_invalid, get, int, opt_s, s, strs};
use crate::field_error::{FieldError, FieldPath};

/// The node port range the server allocates from by default.
pub const NODE_PORT_RANGE: (i64, i64) = (30000, 32767);

const SERVICE_TYPES: &[&str] = &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];

/// A headless Service has the single cluster IP `None`.
pub(crate) fn is_headless(spec: &Value) -> bool {
    let ips = strs(spec, "clusterIPs");
    ips.len() == 1 && ips[0] == "None" || (ips.is_empty() && s(spec, "clusterIP") == "None")
}

/// `ValidateService` plus, on update, the cluster IP, IP family, load balancer class and
/// health check port rules.
pub(crate) fn service(errs: &mut Errs, obj_v: &Value, old: Option<&Value>) {
    let empty = Value::Null;
    let spec = get(obj_v, "spec").unwrap_or(&empty);
    let sp = FieldPath::new("spec");
    let ty = s(spec, "type");
    let headless = is_headless(spec);
    if let Some(old) = old {
        service_update(errs, spec, get(old, "spec").unwrap_or(&empty), &sp);
    }
    let ports = arr(spec, "ports");
    if ports.is_empty() && !headless && ty != "ExternalName" {
        errs.push(FieldError::required(sp.child("ports"), ""));
    }
    match ty {
        "LoadBalancer" | "NodePort" if headless => errs.push(FieldError::invalid(
            sp.child("clusterIPs").index(0),
            "None",
            format!("may not be set to 'None' for {ty} services"),
        )),
        "ExternalName" => {
            if !strs(spec, "clusterIPs").is_empty() || !s(spec, "clusterIP").is_empty() {
                errs.push(FieldError::forbidden(
                    sp.child("clusterIPs"),
                    "may not be set for ExternalName services",
                ));
            }
            if !arr(spec, "ipFamilies").is_empty() {
                errs.push(FieldError::forbidden(
                    sp.child("ipFamilies"),
                    "may not be set for ExternalName services",
                ));
            }
            if get(spec, "ipFamilyPolicy").is_some() {
                errs.push(FieldError::forbidden(
                    sp.child("ipFamilyPolicy"),
                    "may not be set for ExternalName services",
                ));
            }
            let cname = s(spec, "externalName");
            let cname = cname.strip_suffix('.').unwrap_or(cname);
            if cname.is_empty() {
                errs.push(FieldError::required(sp.child("externalName"), ""));
            } else {
                each_invalid(
                    errs,
                    sp.child("externalName"),
                    cname,
                    names::is_dns1123_subdomain(cname),
                );
            }
        }
        _ => {}
    }
    let mut port_names = HashSet::new();
    for (i, p) in ports.iter().enumerate() {
        let pp = sp.child("ports").index(i);
        let name = s(p, "name");
        if ports.len() > 1 && name.is_empty() {
            errs.push(FieldError::required(pp.child("name"), ""));
        } else if !name.is_empty() {
            each_invalid(errs, pp.child("name"), name, names::is_dns1123_label(name));
            if !port_names.insert(name) {
                errs.push(FieldError::duplicate(pp.child("name"), name));
            }
        }
        let port = int(p, "port").unwrap_or(0);
        for m in names::is_valid_port_num(port) {
            errs.push(FieldError::invalid(pp.child("port"), port, m));
        }
        protocol(errs, p, &pp);
        port_num_or_name(errs, p.get("targetPort"), &pp.child("targetPort"));
        if let Some(ap) = opt_s(p, "appProtocol") {
            each_invalid(errs, pp.child("appProtocol"), ap, names::is_qualified_name(ap));
        }
        let np = int(p, "nodePort").unwrap_or(0);
        if np != 0 {
            if ty == "ClusterIP" {
                errs.push(FieldError::forbidden(
                    pp.child("nodePort"),
                    "may not be used when `type` is 'ClusterIP'",
                ));
            } else if !(NODE_PORT_RANGE.0..=NODE_PORT_RANGE.1).contains(&np) {
                errs.push(FieldError::invalid(
                    pp.child("nodePort"),
                    np,
                    format!(
                        "provided port is not in the valid range. The range of valid ports is {}-{}",
                        NODE_PORT_RANGE.0, NODE_PORT_RANGE.1
                    ),
                ));
            }
        }
    }
    if let Some(sel) = get(spec, "selector") {
        errs.extend(meta::validate_labels(sel, &sp.child("selector")));
    }
    match s(spec, "sessionAffinity") {
        "" => errs.push(FieldError::required(sp.child("sessionAffinity"), "")),
        "ClientIP" => {
            let t = spec
                .pointer("/sessionAffinityConfig/clientIP/timeoutSeconds")
                .and_then(Value::as_i64);
            match t {
                None => errs.push(FieldError::required(
                    sp.child("sessionAffinityConfig")
                        .child("clientIP")
                        .child("timeoutSeconds"),
                    "when session affinity type is ClientIP",
                )),
                Some(t) if t <= 0 || t > 86400 => errs.push(FieldError::invalid(
                    sp.child("sessionAffinityConfig")
                        .child("clientIP")
                        .child("timeoutSeconds"),
                    t,
                    "must be greater than 0 and less than 86400",
                )),
                _ => {}
            }
        }
        "None" => {
            if get(spec, "sessionAffinityConfig").is_some() {
                errs.push(FieldError::forbidden(
                    sp.child("sessionAffinityConfig"),
                    "must not be set when session affinity is None",
                ));
            }
        }
        x => errs.push(FieldError::not_supported(
            sp.child("sessionAffinity"),
            x,
            &["ClientIP", "None"],
        )),
    }
    if ty != "ExternalName" {
        cluster_ips(errs, spec, &sp);
    }
    for (i, ip) in strs(spec, "externalIPs").iter().enumerate() {
        let p = sp.child("externalIPs").index(i);
        let msgs = names::is_valid_ip(ip);
        if msgs.is_empty() {
            non_special_ip(errs, ip, &p);
        } else {
            each_invalid(errs, p, ip, msgs);
        }
    }
    match ty {
        "" => errs.push(FieldError::required(sp.child("type"), "")),
        x if !SERVICE_TYPES.contains(&x) => {
            errs.push(FieldError::not_supported(sp.child("type"), x, SERVICE_TYPES))
        }
        _ => {}
    }
    let mut node_ports = HashSet::new();
    let mut seen_ports = HashSet::new();
    for (i, p) in ports.iter().enumerate() {
        let np = int(p, "nodePort").unwrap_or(0);
        if np != 0 && !node_ports.insert((s(p, "protocol"), np)) {
            errs.push(FieldError::duplicate(
                sp.child("ports").index(i).child("nodePort"),
                np,
            ));
        }
        let key = (s(p, "protocol"), int(p, "port").unwrap_or(0));
        if !seen_ports.insert(key) {
            errs.push(FieldError::duplicate(
                sp.child("ports").index(i),
                serde_json::json!({"port": key.1, "protocol": key.0}),
            ));
        }
    }
    let ranges = strs(spec, "loadBalancerSourceRanges");
    if !ranges.is_empty() {
        let rp = sp.child("LoadBalancerSourceRanges");
        if ty != "LoadBalancer" {
            errs.push(FieldError::forbidden(
                rp.clone(),
                "may only be used when `type` is 'LoadBalancer'",
            ));
        }
        for (i, r) in ranges.iter().enumerate() {
            let r = r.trim();
            each_invalid(errs, rp.index(i), r, names::is_valid_cidr(r));
        }
    }
    if get(spec, "allocateLoadBalancerNodePorts").is_some() && ty != "LoadBalancer" {
        errs.push(FieldError::forbidden(
            sp.child("allocateLoadBalancerNodePorts"),
            "may only be used when `type` is 'LoadBalancer'",
        ));
    }
    if ty == "LoadBalancer" && get(spec, "allocateLoadBalancerNodePorts").is_none() {
        errs.push(FieldError::required(
            FieldPath::new("allocateLoadBalancerNodePorts"),
            "",
        ));
    }
    match (ty == "LoadBalancer", opt_s(spec, "loadBalancerClass")) {
        (true, Some(c)) => each_invalid(
            errs,
            sp.child("loadBalancerClass"),
            c,
            names::is_qualified_name(c),
        ),
        (false, Some(_)) => errs.push(FieldError::forbidden(
            sp.child("loadBalancerClass"),
            "may only be used when `type` is 'LoadBalancer'",
        )),
        _ => {}
    }
    traffic_policies(errs, spec, &sp, ty);
}

fn traffic_policies(errs: &mut Errs, spec: &Value, sp: &FieldPath, ty: &str) {
    let external = ty == "LoadBalancer"
        || ty == "NodePort"
        || (ty == "ClusterIP" && !arr(spec, "externalIPs").is_empty());
    let etp = s(spec, "externalTrafficPolicy");
    if !external {
        if !etp.is_empty() {
            errs.push(FieldError::invalid(
                sp.child("externalTrafficPolicy"),
                etp,
                "may only be set for externally-accessible services",
            ));
        }
    } else if etp.is_empty() {
        errs.push(FieldError::required(sp.child("externalTrafficPolicy"), ""));
    } else if etp != "Cluster" && etp != "Local" {
        errs.push(FieldError::not_supported(
            sp.child("externalTrafficPolicy"),
            etp,
            &["Cluster", "Local"],
        ));
    }
    let hc = int(spec, "healthCheckNodePort").unwrap_or(0);
    if ty == "LoadBalancer" && etp == "Local" {
        if hc != 0 {
            for m in names::is_valid_port_num(hc) {
                errs.push(FieldError::invalid(sp.child("healthCheckNodePort"), hc, m));
            }
        }
    } else if hc != 0 {
        errs.push(FieldError::invalid(
            sp.child("healthCheckNodePort"),
            hc,
            "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
        ));
    }
    match opt_s(spec, "internalTrafficPolicy") {
        None if matches!(ty, "NodePort" | "LoadBalancer" | "ClusterIP") => {
            errs.push(FieldError::required(sp.child("internalTrafficPolicy"), ""))
        }
        Some(x) if x != "Cluster" && x != "Local" => errs.push(FieldError::not_supported(
            sp.child("internalTrafficPolicy"),
            x,
            &["Cluster", "Local"],
        )),
        _ => {}
    }
    if let Some(td) = opt_s(spec, "trafficDistribution")
        && td != "PreferClose"
    {
        errs.push(FieldError::not_supported(
            sp.child("trafficDistribution"),
            td,
            &["PreferClose"],
        ));
    }
}

/// Endpoint-ish IPs may not be unspecified, loopback or link-local.
pub(crate) fn non_special_ip(errs: &mut Errs, ip: &str, path: &FieldPath) {
    let Some(addr) = names::parse_ip_sloppy(ip) else {
        errs.push(FieldError::invalid(
            path.clone(),
            ip,
            "must be a valid IP address",
        ));
        return;
    };
    if addr.is_unspecified() {
        errs.push(FieldError::invalid(
            path.clone(),
            ip,
            format!("may not be unspecified ({ip})"),
        ));
    }
    if addr.is_loopback() {
        errs.push(FieldError::invalid(
            path.clone(),
            ip,
            "may not be in the loopback range (127.0.0.0/8, ::1/128)",
        ));
    }
    let link_local = match addr {
        std::net::IpAddr::V4(a) => a.is_link_local(),
        std::net::IpAddr::V6(a) => a.segments()[0] & 0xffc0 == 0xfe80,
    };
    if link_local {
        errs.push(FieldError::invalid(
            path.clone(),
            ip,
            "may not be in the link-local range (169.254.0.0/16, fe80::/10)",
        ));
    }
    let ll_multicast = match addr {
        std::net::IpAddr::V4(a) => a.octets()[..3] == [224, 0, 0],
        std::net::IpAddr::V6(a) => a.segments()[0] & 0xff0f == 0xff02,
    };
    if ll_multicast {
        errs.push(FieldError::invalid(
            path.clone(),
            ip,
            "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)",
        ));
    }
}
