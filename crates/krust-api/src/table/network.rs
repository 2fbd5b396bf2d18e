//! Rows of Ingresses, IngressClasses, NetworkPolicies and EndpointSlices.

use jiff::Timestamp;
use serde_json::Value;

use super::Column;
use super::util::{age, at, list, list_with_more, load_balancer_ingress, name, s, text, text_or};
use crate::labels::format_label_selector;

pub(super) const INGRESS: &[Column] = &[
    Column::name(),
    Column::new(
        "Class",
        "string",
        "The IngressClass that implements this ingress.",
    ),
    Column::new("Hosts", "string", "Host names the rules match (* for any)."),
    Column::new(
        "Address",
        "string",
        "Addresses the load balancer serves the ingress on.",
    ),
    Column::new(
        "Ports",
        "string",
        "Ports the ingress listens on (443 when TLS is set).",
    ),
    Column::age(),
];

/// Up to three rule hosts, then `+ N more...`; `*` when no rule names a host.
fn hosts(ing: &Value) -> String {
    const MAX: usize = 3;
    let rules = list(ing, &["spec", "rules"]);
    let mut shown: Vec<&str> = Vec::new();
    let mut more = false;
    for rule in rules {
        if shown.len() == MAX {
            more = true;
        }
        let host = text(rule, &["host"]);
        if !more && !host.is_empty() {
            shown.push(host);
        }
    }
    if shown.is_empty() {
        return "*".to_string();
    }
    let joined = shown.join(",");
    if more {
        format!("{joined} + {} more...", rules.len().saturating_sub(MAX))
    } else {
        joined
    }
}

pub(super) fn ingress(ing: &Value, now: Timestamp) -> Vec<Value> {
    let ports = if list(ing, &["spec", "tls"]).is_empty() {
        "80"
    } else {
        "80, 443"
    };
    vec![
        name(ing),
        s(text_or(ing, &["spec", "ingressClassName"], "<none>")),
        s(hosts(ing)),
        s(load_balancer_ingress(list(
            ing,
            &["status", "loadBalancer", "ingress"],
        ))),
        s(ports),
        age(ing, now),
    ]
}

pub(super) const INGRESS_CLASS: &[Column] = &[
    Column::name(),
    Column::new(
        "Controller",
        "string",
        "The controller that implements ingresses of this class.",
    ),
    Column::new(
        "Parameters",
        "string",
        "The resource holding extra settings, as kind.group/name.",
    ),
    Column::age(),
];

pub(super) fn ingress_class(class: &Value, now: Timestamp) -> Vec<Value> {
    let parameters = match at(class, &["spec", "parameters"]).filter(|p| p.is_object()) {
        None => "<none>".to_string(),
        Some(p) => {
            let mut out = text(p, &["kind"]).to_string();
            if let Some(group) = at(p, &["apiGroup"]).and_then(Value::as_str) {
                out = format!("{out}.{group}");
            }
            format!("{out}/{}", text(p, &["name"]))
        }
    };
    vec![
        name(class),
        s(text(class, &["spec", "controller"])),
        s(parameters),
        age(class, now),
    ]
}

pub(super) const NETWORK_POLICY: &[Column] = &[
    Column::name(),
    Column::new(
        "Pod-Selector",
        "string",
        "Label selector of the pods the policy applies to.",
    ),
    Column::age(),
];

pub(super) fn network_policy(np: &Value, now: Timestamp) -> Vec<Value> {
    // The pod selector is a required struct upstream: absent means empty (all pods).
    let selector = at(np, &["spec", "podSelector"])
        .filter(|v| !v.is_null())
        .cloned()
        .unwrap_or(Value::Object(Default::default()));
    vec![name(np), s(format_label_selector(Some(&selector))), age(np, now)]
}

pub(super) const ENDPOINT_SLICE: &[Column] = &[
    Column::name(),
    Column::new("AddressType", "string", "IPv4, IPv6 or FQDN."),
    Column::new("Ports", "string", "The first few ports of the slice."),
    Column::new(
        "Endpoints",
        "string",
        "The first few endpoint addresses of the slice.",
    ),
    Column::age(),
];

pub(super) fn endpoint_slice(slice: &Value, now: Timestamp) -> Vec<Value> {
    const MAX: usize = 3;
    let ports_list = list(slice, &["ports"]);
    let ports: Vec<String> = ports_list
        .iter()
        .take(MAX)
        .map(|p| match at(p, &["port"]).and_then(Value::as_i64) {
            Some(n) => n.to_string(),
            None => match at(p, &["name"]).and_then(Value::as_str) {
                Some(n) => n.to_string(),
                None => "*".to_string(),
            },
        })
        .collect();
    let addresses: Vec<&str> = list(slice, &["endpoints"])
        .iter()
        .flat_map(|e| list(e, &["addresses"]))
        .filter_map(Value::as_str)
        .collect();
    let shown: Vec<String> = addresses.iter().take(MAX).map(|a| a.to_string()).collect();
    vec![
        name(slice),
        s(text(slice, &["addressType"])),
        s(list_with_more(&ports, ports_list.len(), MAX)),
        s(list_with_more(&shown, addresses.len(), MAX)),
        age(slice, now),
    ]
}
