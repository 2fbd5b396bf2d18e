//! Values that must be unique across objects — a Service's cluster IPs and node ports — are
//! reserved with keys in the store, written in the same transaction as the object: two
//! concurrent creates can never get the same IP, even across several API servers.

use std::collections::BTreeSet;

use serde_json::Value;

/// The reservation keys an object holds.
pub fn of(obj: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    if obj.get("kind").and_then(Value::as_str) != Some("Service")
        || obj.get("apiVersion").and_then(Value::as_str) != Some("v1")
    {
        return out;
    }
    let spec = obj.get("spec");
    if let Some(ips) = spec.and_then(|s| s.get("clusterIPs")).and_then(Value::as_array) {
        for ip in ips
            .iter()
            .filter_map(Value::as_str)
            .filter(|ip| !ip.is_empty() && *ip != "None")
        {
            out.insert(ip_key(ip));
        }
    }
    if let Some(ports) = spec.and_then(|s| s.get("ports")).and_then(Value::as_array) {
        for p in ports {
            if let Some(np) = p.get("nodePort").and_then(Value::as_u64).filter(|n| *n > 0) {
                out.insert(port_key(np));
            }
        }
    }
    if let Some(hc) = spec
        .and_then(|s| s.get("healthCheckNodePort"))
        .and_then(Value::as_u64)
        .filter(|n| *n > 0)
    {
        out.insert(port_key(hc));
    }
    out
}

/// Prefix of cluster IP reservations (reservation keys lie outside every resource's prefix,
/// so they are never cached or listed as objects).
pub const IP_PREFIX: &str = "/registry/ranges/serviceips/";
/// Prefix of node port reservations.
pub const PORT_PREFIX: &str = "/registry/ranges/servicenodeports/";

/// The key reserving a cluster IP.
pub fn ip_key(ip: &str) -> String {
    format!("{IP_PREFIX}{ip}")
}

/// The key reserving a node port (one port number serves every protocol of one Service,
/// and no other Service).
pub fn port_key(port: u64) -> String {
    format!("{PORT_PREFIX}{port}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn service_reservations() {
        let svc = json!({"apiVersion": "v1", "kind": "Service", "spec": {"clusterIPs": ["10.43.0.10"],
            "ports": [{"port": 80, "nodePort": 30080}, {"port": 53, "protocol": "UDP", "nodePort": 30053}],
            "healthCheckNodePort": 31000}});
        let r = of(&svc);
        assert!(r.contains("/registry/ranges/serviceips/10.43.0.10"));
        assert!(r.contains("/registry/ranges/servicenodeports/30080"));
        assert!(r.contains("/registry/ranges/servicenodeports/30053"));
        assert!(r.contains("/registry/ranges/servicenodeports/31000"));
        assert!(
            of(&json!({"apiVersion": "v1", "kind": "Service", "spec": {"clusterIPs": ["None"]}})).is_empty()
        );
        assert!(of(&json!({"apiVersion": "v1", "kind": "ConfigMap"})).is_empty());
    }
}
