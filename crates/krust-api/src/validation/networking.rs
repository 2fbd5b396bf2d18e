//! `networking.k8s.io/v1` (Ingress, IngressClass, NetworkPolicy) and `discovery.k8s.io/v1`
//! EndpointSlice.

use std::collections::HashSet;

use serde_json::Value;

use super::containers::protocol;
use super::meta::validate_label_selector;
use super::names;
use super::service::non_special_ip;
use super::util::{Errs, arr, each_invalid, get, immutable, int, opt_s, s, strs};
use crate::field_error::{FieldError, FieldPath};

fn or_null(v: Option<&Value>) -> &Value {
    static NULL: Value = Value::Null;
    v.unwrap_or(&NULL)
}

fn host(errs: &mut Errs, h: &str, path: &FieldPath) {
    if h.contains('*') {
        each_invalid(errs, path.clone(), h, names::is_wildcard_dns1123_subdomain(h));
    } else {
        each_invalid(errs, path.clone(), h, names::is_dns1123_subdomain(h));
    }
}

fn backend(errs: &mut Errs, b: &Value, path: &FieldPath) {
    match (get(b, "resource"), get(b, "service")) {
        (Some(_), Some(_)) => errs.push(FieldError::invalid(
            path.clone(),
            "",
            "cannot set both resource and service backends",
        )),
        (Some(r), None) => {
            let rp = path.child("resource");
            if s(r, "kind").is_empty() {
                errs.push(FieldError::required(rp.child("kind"), "kind is required"));
            }
            if s(r, "name").is_empty() {
                errs.push(FieldError::required(rp.child("name"), "name is required"));
            }
        }
        (None, Some(svc)) => {
            let sp = path.child("service");
            let name = s(svc, "name");
            if name.is_empty() {
                errs.push(FieldError::required(sp.child("name"), ""));
            } else {
                each_invalid(errs, sp.child("name"), name, names::is_dns1035_label(name));
            }
            let port = or_null(get(svc, "port"));
            let pname = s(port, "name");
            let pnum = int(port, "number").unwrap_or(0);
            match (pname.is_empty(), pnum == 0) {
                (false, false) => errs.push(FieldError::invalid(
                    path.clone(),
                    "",
                    "cannot set both port name & port number",
                )),
                (false, true) => each_invalid(
                    errs,
                    sp.child("port").child("name"),
                    pname,
                    names::is_valid_port_name(pname),
                ),
                (true, false) => {
                    for m in names::is_valid_port_num(pnum) {
                        errs.push(FieldError::invalid(sp.child("port").child("number"), pnum, m));
                    }
                }
                (true, true) => errs.push(FieldError::required(
                    path.clone(),
                    "port name or number is required",
                )),
            }
        }
        (None, None) => errs.push(FieldError::invalid(
            path.clone(),
            "",
            "resource or service backend is required",
        )),
    }
}

fn http_path(errs: &mut Errs, p: &Value, path: &FieldPath) {
    let value = s(p, "path");
    match opt_s(p, "pathType") {
        None => errs.push(FieldError::required(
            path.child("pathType"),
            "pathType must be specified",
        )),
        Some("Exact" | "Prefix") => {
            if !value.starts_with('/') {
                errs.push(FieldError::invalid(
                    path.child("path"),
                    value,
                    "must be an absolute path",
                ));
            }
            if !value.is_empty() {
                for seq in ["//", "/./", "/../", "%2f", "%2F"] {
                    if value.contains(seq) {
                        errs.push(FieldError::invalid(
                            path.child("path"),
                            value,
                            format!("must not contain '{seq}'"),
                        ));
                    }
                }
                for suffix in ["/..", "/."] {
                    if value.ends_with(suffix) {
                        errs.push(FieldError::invalid(
                            path.child("path"),
                            value,
                            format!("cannot end with '{suffix}'"),
                        ));
                    }
                }
            }
        }
        Some("ImplementationSpecific") => {
            if !value.is_empty() && !value.starts_with('/') {
                errs.push(FieldError::invalid(
                    path.child("path"),
                    value,
                    "must be an absolute path",
                ));
            }
        }
        Some(x) => errs.push(FieldError::not_supported(
            path.child("pathType"),
            x,
            &["Exact", "ImplementationSpecific", "Prefix"],
        )),
    }
    match get(p, "backend") {
        Some(b) => backend(errs, b, &path.child("backend")),
        None => errs.push(FieldError::invalid(
            path.child("backend"),
            "",
            "resource or service backend is required",
        )),
    }
}

/// `ValidateIngressCreate/Update`.
pub(crate) fn ingress(errs: &mut Errs, obj: &Value) {
    let spec = or_null(get(obj, "spec"));
    let sp = FieldPath::new("spec");
    let rules = arr(spec, "rules");
    if rules.is_empty() && get(spec, "defaultBackend").is_none() {
        errs.push(FieldError::invalid(
            sp.clone(),
            Value::Array(Vec::new()),
            "either `defaultBackend` or `rules` must be specified",
        ));
    }
    if let Some(b) = get(spec, "defaultBackend") {
        backend(errs, b, &sp.child("defaultBackend"));
    }
    for (i, r) in rules.iter().enumerate() {
        let rp = sp.child("rules").index(i);
        let h = s(r, "host");
        if !h.is_empty() {
            if names::parse_ip_sloppy(h).is_some() {
                errs.push(FieldError::invalid(
                    rp.child("host"),
                    h,
                    "must be a DNS name, not an IP address",
                ));
            }
            host(errs, h, &rp.child("host"));
        }
        if let Some(http) = get(r, "http") {
            let hp = rp.child("http");
            let paths = arr(http, "paths");
            if paths.is_empty() {
                errs.push(FieldError::required(hp.child("paths"), ""));
            }
            for (j, p) in paths.iter().enumerate() {
                http_path(errs, p, &hp.child("paths").index(j));
            }
        }
    }
    for (i, t) in arr(spec, "tls").iter().enumerate() {
        for (j, h) in strs(t, "hosts").iter().enumerate() {
            host(errs, h, &sp.child("tls").index(i).child("hosts").index(j));
        }
    }
    if let Some(c) = opt_s(spec, "ingressClassName") {
        each_invalid(
            errs,
            sp.child("ingressClassName"),
            c,
            names::is_dns1123_subdomain(c),
        );
    }
}

/// `ValidateIngressClass(Update)`: the controller is required and immutable.
pub(crate) fn ingress_class(errs: &mut Errs, obj: &Value, old: Option<&Value>) {
    let spec = or_null(get(obj, "spec"));
    let sp = FieldPath::new("spec");
    let controller = s(spec, "controller");
    if controller.is_empty() {
        errs.push(FieldError::required(sp.child("controller"), ""));
    } else if controller.len() > 250 {
        errs.push(FieldError::too_long(sp.child("controller"), 250));
    } else {
        match controller.split_once('/') {
            Some((host, rest)) if !host.is_empty() && !rest.is_empty() => {
                each_invalid(
                    errs,
                    sp.child("controller"),
                    host,
                    names::is_dns1123_subdomain(host),
                );
            }
            _ => errs.push(FieldError::invalid(
                sp.child("controller"),
                controller,
                "must be a domain-prefixed path (such as \"acme.io/foo\")",
            )),
        }
    }
    if let Some(p) = get(spec, "parameters") {
        let pp = sp.child("parameters");
        if s(p, "kind").is_empty() {
            errs.push(FieldError::required(pp.child("kind"), "kind is required"));
        }
        if s(p, "name").is_empty() {
            errs.push(FieldError::required(pp.child("name"), "name is required"));
        }
        match opt_s(p, "scope") {
            Some("Namespace") if s(p, "namespace").is_empty() => errs.push(FieldError::required(
                pp.child("namespace"),
                "`parameters.scope` is set to 'Namespace'",
            )),
            Some("Cluster") if !s(p, "namespace").is_empty() => errs.push(FieldError::forbidden(
                pp.child("namespace"),
                "`parameters.scope` is set to 'Cluster'",
            )),
            Some(x) if x != "Namespace" && x != "Cluster" => errs.push(FieldError::not_supported(
                pp.child("scope"),
                x,
                &["Cluster", "Namespace"],
            )),
            _ => {}
        }
    }
    if let Some(old) = old {
        let oc = old.pointer("/spec/controller");
        immutable(errs, spec.get("controller"), oc, sp.child("controller"));
    }
}

fn policy_port(errs: &mut Errs, p: &Value, path: &FieldPath) {
    if let Some(proto) = opt_s(p, "protocol")
        && !["SCTP", "TCP", "UDP"].contains(&proto)
    {
        errs.push(FieldError::not_supported(
            path.child("protocol"),
            proto,
            &["SCTP", "TCP", "UDP"],
        ));
    }
    match p.get("port") {
        Some(Value::String(name)) => {
            each_invalid(errs, path.child("port"), name, names::is_valid_port_name(name));
            if get(p, "endPort").is_some() {
                errs.push(FieldError::invalid(
                    path.child("endPort"),
                    p.get("endPort").cloned().unwrap_or(Value::Null),
                    "may not be specified when `port` is non-numeric",
                ));
            }
        }
        Some(Value::Number(n)) => {
            let port = n.as_i64().unwrap_or(0);
            for m in names::is_valid_port_num(port) {
                errs.push(FieldError::invalid(path.child("port"), port, m));
            }
            if let Some(end) = int(p, "endPort") {
                if end < port {
                    errs.push(FieldError::invalid(
                        path.child("endPort"),
                        end,
                        "must be greater than or equal to `port`",
                    ));
                }
                for m in names::is_valid_port_num(end) {
                    errs.push(FieldError::invalid(path.child("endPort"), end, m));
                }
            }
        }
        _ => {
            if get(p, "endPort").is_some() {
                errs.push(FieldError::invalid(
                    path.child("endPort"),
                    p.get("endPort").cloned().unwrap_or(Value::Null),
                    "may not be specified when `port` is not specified",
                ));
            }
        }
    }
}

fn peer(errs: &mut Errs, p: &Value, path: &FieldPath) {
    let mut n = 0;
    for key in ["podSelector", "namespaceSelector"] {
        if let Some(sel) = get(p, key) {
            n += 1;
            errs.extend(validate_label_selector(sel, &path.child(key)));
        }
    }
    if let Some(b) = get(p, "ipBlock") {
        n += 1;
        let bp = path.child("ipBlock");
        let cidr = s(b, "cidr");
        if cidr.is_empty() {
            errs.push(FieldError::required(bp.child("cidr"), ""));
        } else {
            each_invalid(errs, bp.child("cidr"), cidr, names::is_valid_cidr(cidr));
        }
        let outer = names::parse_cidr(cidr);
        for (i, ex) in strs(b, "except").iter().enumerate() {
            let ep = bp.child("except").index(i);
            let msgs = names::is_valid_cidr(ex);
            if !msgs.is_empty() {
                each_invalid(errs, ep, ex, msgs);
                continue;
            }
            if let (Some((oip, obits)), Some((eip, ebits))) = (outer, names::parse_cidr(ex))
                && (!cidr_contains(oip, obits, eip) || ebits <= obits)
            {
                errs.push(FieldError::invalid(ep, *ex, "must be a strict subset of `cidr`"));
            }
        }
    }
    if n == 0 {
        errs.push(FieldError::required(path.clone(), "must specify a peer"));
    } else if n > 1 && get(p, "ipBlock").is_some() {
        errs.push(FieldError::forbidden(
            path.clone(),
            "may not specify both ipBlock and another peer",
        ));
    }
}

fn cidr_contains(net: std::net::IpAddr, bits: u8, ip: std::net::IpAddr) -> bool {
    let to_u128 = |a: std::net::IpAddr| match a {
        std::net::IpAddr::V4(v) => (u128::from(u32::from(v)), 32u32),
        std::net::IpAddr::V6(v) => (u128::from(v), 128u32),
    };
    let ((n, nw), (i, iw)) = (to_u128(net), to_u128(ip));
    if nw != iw {
        return false;
    }
    let shift = nw - u32::from(bits);
    shift >= 128 || (n >> shift) == (i >> shift)
}

/// `ValidateNetworkPolicy`.
pub(crate) fn network_policy(errs: &mut Errs, obj: &Value) {
    let spec = or_null(get(obj, "spec"));
    let sp = FieldPath::new("spec");
    if let Some(sel) = get(spec, "podSelector") {
        errs.extend(validate_label_selector(sel, &sp.child("podSelector")));
    }
    for (dir, peers) in [("ingress", "from"), ("egress", "to")] {
        for (i, rule) in arr(spec, dir).iter().enumerate() {
            let rp = sp.child(dir).index(i);
            for (j, p) in arr(rule, "ports").iter().enumerate() {
                policy_port(errs, p, &rp.child("ports").index(j));
            }
            for (j, p) in arr(rule, peers).iter().enumerate() {
                peer(errs, p, &rp.child(peers).index(j));
            }
        }
    }
    let types = strs(spec, "policyTypes");
    for (i, t) in types.iter().enumerate() {
        if *t != "Ingress" && *t != "Egress" {
            errs.push(FieldError::not_supported(
                sp.child("policyTypes").index(i),
                *t,
                &["Ingress", "Egress"],
            ));
        }
    }
    if types.len() > 2 {
        errs.push(FieldError::invalid(
            sp.child("policyTypes"),
            Value::from(types.clone()),
            "may not specify more than two policyTypes",
        ));
    }
}

/// `ValidateEndpointSlice(Create|Update)`.
pub(crate) fn endpoint_slice(errs: &mut Errs, obj: &Value, old: Option<&Value>) {
    let at = s(obj, "addressType");
    let types = ["FQDN", "IPv4", "IPv6"];
    if let Some(old) = old {
        immutable(
            errs,
            obj.get("addressType"),
            old.get("addressType"),
            FieldPath::new("addressType"),
        );
    }
    if !types.contains(&at) {
        errs.push(FieldError::not_supported(
            FieldPath::new("addressType"),
            at,
            &types,
        ));
    }
    let ep = FieldPath::new("endpoints");
    let endpoints = arr(obj, "endpoints");
    if endpoints.len() > 1000 {
        errs.push(FieldError::too_many(ep.clone(), endpoints.len(), 1000));
    }
    for (i, e) in endpoints.iter().enumerate() {
        let ip = ep.index(i);
        let ap = ip.child("addresses");
        let addrs = strs(e, "addresses");
        if addrs.is_empty() {
            errs.push(FieldError::required(
                ap.clone(),
                "must contain at least 1 address",
            ));
        } else if addrs.len() > 100 {
            errs.push(FieldError::too_many(ap.clone(), addrs.len(), 100));
        }
        for (j, a) in addrs.iter().enumerate() {
            let p = ap.index(j);
            match at {
                "IPv4" | "IPv6" => {
                    let want_v6 = at == "IPv6";
                    match names::parse_ip_sloppy(a) {
                        Some(x) if x.is_ipv6() == want_v6 => non_special_ip(errs, a, &p),
                        _ => errs.push(FieldError::invalid(
                            p,
                            *a,
                            format!("must be a valid {at} address"),
                        )),
                    }
                }
                _ => each_invalid(errs, p, a, names::is_dns1123_subdomain(a)),
            }
        }
        if let Some(n) = opt_s(e, "nodeName") {
            each_invalid(errs, ip.child("nodeName"), n, names::is_dns1123_subdomain(n));
        }
        if let Some(h) = opt_s(e, "hostname") {
            each_invalid(errs, ip.child("hostname"), h, names::is_dns1123_label(h));
        }
    }
    let pp = FieldPath::new("ports");
    let mut seen = HashSet::new();
    for (i, p) in arr(obj, "ports").iter().enumerate() {
        let ip = pp.index(i);
        let name = s(p, "name");
        if !name.is_empty() {
            each_invalid(errs, ip.child("name"), name, names::is_dns1123_label(name));
        }
        if !seen.insert(name) {
            errs.push(FieldError::duplicate(ip.child("name"), name));
        }
        if get(p, "protocol").is_some() {
            protocol(errs, p, &ip);
        } else {
            errs.push(FieldError::required(ip.child("protocol"), ""));
        }
        if let Some(port) = int(p, "port")
            && !(0..=65535).contains(&port)
        {
            errs.push(FieldError::invalid(
                ip.child("port"),
                port,
                names::inclusive_range_error(0, 65535),
            ));
        }
        if let Some(ap) = opt_s(p, "appProtocol") {
            each_invalid(errs, ip.child("appProtocol"), ap, names::is_qualified_name(ap));
        }
    }
}
