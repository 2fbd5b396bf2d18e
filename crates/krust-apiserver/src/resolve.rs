//! Finding where a Service reference (webhooks, APIServices) is served: the API server has
//! no service proxy of its own, so it reaches a ready endpoint of the Service directly, as
//! upstream does with `--enable-aggregator-routing`.

use serde_json::Value;

use crate::state::State;

/// Why a Service reference cannot be reached, with upstream's wording and condition reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unresolved {
    /// `ServiceNotFound`, `ServicePortError` or `MissingEndpoints`.
    pub reason: &'static str,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for Unresolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

fn cached(state: &State, plural: &str, ns: &str, name: &str) -> Option<Value> {
    let def = state.find("", "v1", plural)?;
    let obj = state
        .cache
        .resource(&def.storage_prefix())?
        .get(&def.key(Some(ns), name))
        .0?;
    serde_json::from_slice(&obj.stored).ok()
}

/// The host and port behind `port` of Service `ns/name`: a ready endpoint address and
/// the matching endpoint port, or an ExternalName Service's name.
pub fn service_endpoint(state: &State, ns: &str, name: &str, port: u16) -> Result<(String, u16), Unresolved> {
    let svc = cached(state, "services", ns, name).ok_or_else(|| Unresolved {
        reason: "ServiceNotFound",
        message: format!("service/{name} in {ns:?} is not present"),
    })?;
    if svc.pointer("/spec/type").and_then(Value::as_str) == Some("ExternalName") {
        let host = svc
            .pointer("/spec/externalName")
            .and_then(Value::as_str)
            .unwrap_or_default();
        return Ok((host.to_string(), port));
    }
    let svc_port = svc
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .and_then(|ports| {
            ports
                .iter()
                .find(|p| p.get("port").and_then(Value::as_u64) == Some(u64::from(port)))
        })
        .ok_or_else(|| Unresolved {
            reason: "ServicePortError",
            message: format!("service/{name} in {ns:?} is not listening on port {port}"),
        })?;
    let port_name = svc_port.get("name").and_then(Value::as_str).unwrap_or("");
    let no_endpoints = || Unresolved {
        reason: "MissingEndpoints",
        message: format!(
            "endpoints for service/{name} in {ns:?} have no addresses with port name {port_name:?}"
        ),
    };
    let ep = cached(state, "endpoints", ns, name).ok_or_else(no_endpoints)?;
    for subset in ep
        .get("subsets")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        let Some(ip) = subset.pointer("/addresses/0/ip").and_then(Value::as_str) else {
            continue;
        };
        let target = subset
            .get("ports")
            .and_then(Value::as_array)
            .and_then(|ports| {
                ports
                    .iter()
                    .find(|p| p.get("name").and_then(Value::as_str).unwrap_or("") == port_name)
            })
            .and_then(|p| p.get("port").and_then(Value::as_u64))
            .and_then(|p| u16::try_from(p).ok());
        if let Some(target) = target {
            return Ok((ip.to_string(), target));
        }
    }
    Err(no_endpoints())
}
