//! Service IP and node port allocation: a Service that needs a cluster IP gets one from the
//! service CIDR, NodePort and LoadBalancer ports get node ports, and a type change gives
//! back what the new type does not use — as upstream's service REST storage does. The
//! reservations themselves are written with the Service (see `reservations`).

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use krust_api::FieldError;
use rand::Rng;
use serde_json::{Value, json};

/// The ranges Services are allocated from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceRanges {
    /// Network address of the service CIDR.
    pub network: Ipv4Addr,
    /// Prefix length of the service CIDR.
    pub prefix: u8,
    /// Lowest node port.
    pub node_port_min: u16,
    /// Highest node port.
    pub node_port_max: u16,
}

impl Default for ServiceRanges {
    fn default() -> Self {
        Self {
            network: Ipv4Addr::new(10, 43, 0, 0),
            prefix: 16,
            node_port_min: 30000,
            node_port_max: 32767,
        }
    }
}

impl ServiceRanges {
    fn bounds(&self) -> (u32, u32) {
        let base = u32::from(self.network);
        let size = 1u64 << (32 - u32::from(self.prefix.min(32)));
        (base, base.saturating_add((size - 1) as u32))
    }

    /// Whether an IP is a usable address of the range (not its network or broadcast address).
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        let (lo, hi) = self.bounds();
        let v = u32::from(ip);
        v > lo && v < hi
    }

    /// The first address, kept for the `kubernetes` Service.
    pub fn kubernetes_ip(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.bounds().0.saturating_add(1))
    }

    /// The tenth address, the cluster DNS Service's (as k3s: 10.43.0.10), or the last
    /// usable one of a range smaller than that.
    pub fn dns_ip(&self) -> Ipv4Addr {
        let (first, last) = self.bounds();
        Ipv4Addr::from(first.saturating_add(10).min(last.saturating_sub(1)))
    }

    /// The CIDR as text.
    pub fn cidr(&self) -> String {
        format!("{}/{}", self.network, self.prefix)
    }
}

/// What is taken already.
#[derive(Debug, Default)]
pub struct Used {
    /// Cluster IPs.
    pub ips: BTreeSet<Ipv4Addr>,
    /// Node ports.
    pub ports: BTreeSet<u16>,
}

fn spec_str<'a>(svc: &'a Value, f: &str) -> Option<&'a str> {
    svc.get("spec")?.get(f)?.as_str()
}

fn needs_ip(ty: &str) -> bool {
    ty != "ExternalName"
}

fn needs_node_ports(svc: &Value, ty: &str) -> bool {
    match ty {
        "NodePort" => true,
        "LoadBalancer" => {
            svc.pointer("/spec/allocateLoadBalancerNodePorts")
                .and_then(Value::as_bool)
                != Some(false)
        }
        _ => false,
    }
}

/// Upstream drops the values a new type does not use when the client left them as they
/// were (`kubectl edit` of a NodePort Service into a ClusterIP one just works). Runs on
/// update before validation.
pub fn drop_type_dependent(svc: &mut Value, old: &Value) {
    let (ty, old_ty) = (
        spec_str(svc, "type").unwrap_or("ClusterIP").to_string(),
        spec_str(old, "type").unwrap_or("ClusterIP"),
    );
    if ty == old_ty {
        return;
    }
    let old_spec = old.get("spec").cloned().unwrap_or(Value::Null);
    let Some(spec) = svc.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    if !needs_ip(&ty) {
        for f in ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"] {
            if spec.get(f) == old_spec.get(f) {
                spec.remove(f);
            }
        }
    }
    if (ty == "ClusterIP" || ty == "ExternalName")
        && let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut)
    {
        for (i, p) in ports.iter_mut().enumerate() {
            let old_np = old_spec.pointer(&format!("/ports/{i}/nodePort"));
            if let Some(m) = p.as_object_mut()
                && m.get("nodePort") == old_np
            {
                m.remove("nodePort");
            }
        }
    }
    if ty != "LoadBalancer" {
        for f in [
            "healthCheckNodePort",
            "allocateLoadBalancerNodePorts",
            "loadBalancerClass",
        ] {
            if spec.get(f) == old_spec.get(f) {
                spec.remove(f);
            }
        }
    }
    if ty != "NodePort"
        && ty != "LoadBalancer"
        && spec.get("externalTrafficPolicy") == old_spec.get("externalTrafficPolicy")
    {
        spec.remove("externalTrafficPolicy");
    }
}

/// Fills in cluster IPs and node ports a Service needs. `old` is the stored version on
/// update (its own allocations are not "used"). Errors are field errors for a 422.
pub fn allocate(
    ranges: &ServiceRanges,
    svc: &mut Value,
    old: Option<&Value>,
    used: &Used,
) -> Result<(), Vec<FieldError>> {
    let ty = spec_str(svc, "type").unwrap_or("ClusterIP").to_string();
    let old_ips: BTreeSet<String> = old
        .and_then(|o| o.pointer("/spec/clusterIPs"))
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default();
    let old_ports: BTreeSet<u64> = old
        .and_then(|o| o.pointer("/spec/ports"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|p| p.get("nodePort").and_then(Value::as_u64))
                .collect()
        })
        .unwrap_or_default();
    let want_ports = needs_node_ports(svc, &ty);
    let mut errors = Vec::new();
    let mut rng = rand::rng();
    let Some(spec) = svc.get_mut("spec").and_then(Value::as_object_mut) else {
        return Ok(());
    };
    if needs_ip(&ty) {
        let given = spec
            .get("clusterIP")
            .and_then(Value::as_str)
            .or_else(|| {
                spec.get("clusterIPs")
                    .and_then(|a| a.get(0))
                    .and_then(Value::as_str)
            })
            .unwrap_or("")
            .to_string();
        let ip = if given == "None" {
            "None".to_string()
        } else if given.is_empty() {
            match random_ip(ranges, used, &mut rng) {
                Some(ip) => ip.to_string(),
                None => {
                    errors.push(FieldError::invalid(
                        "spec.clusterIPs",
                        "",
                        format!("failed to allocate a service IP: range {} is full", ranges.cidr()),
                    ));
                    String::new()
                }
            }
        } else if old_ips.contains(&given) {
            given
        } else {
            match given.parse::<Ipv4Addr>() {
                Ok(ip) if !ranges.contains(ip) => {
                    errors.push(FieldError::invalid(
                        "spec.clusterIPs[0]",
                        given.as_str(),
                        format!(
                            "failed to allocate IP {given}: the provided IP ({given}) is not in the valid range. The range of valid IPs is {}",
                            ranges.cidr()
                        ),
                    ));
                    given
                }
                Ok(ip) if used.ips.contains(&ip) => {
                    errors.push(FieldError::invalid(
                        "spec.clusterIPs[0]",
                        given.as_str(),
                        format!("failed to allocate IP {given}: provided IP is already allocated"),
                    ));
                    given
                }
                Ok(_) => given,
                // Validation reports malformed addresses.
                Err(_) => given,
            }
        };
        if !ip.is_empty() {
            spec.insert("clusterIP".into(), json!(ip));
            spec.insert("clusterIPs".into(), json!([ip]));
            spec.entry("ipFamilies").or_insert_with(|| json!(["IPv4"]));
            spec.entry("ipFamilyPolicy")
                .or_insert_with(|| json!("SingleStack"));
        }
    }

    let mut taken: BTreeSet<u16> = used.ports.clone();
    if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
        // Ports this Service keeps are not available to its other ports.
        for p in ports.iter() {
            if let Some(np) = p
                .get("nodePort")
                .and_then(Value::as_u64)
                .and_then(|n| u16::try_from(n).ok())
                && old_ports.contains(&u64::from(np))
            {
                taken.insert(np);
            }
        }
        for (i, p) in ports.iter_mut().enumerate() {
            let Some(m) = p.as_object_mut() else { continue };
            match m.get("nodePort").and_then(Value::as_u64).filter(|n| *n > 0) {
                Some(np) if old_ports.contains(&np) => {}
                Some(np) => {
                    let field = format!("spec.ports[{i}].nodePort");
                    match u16::try_from(np) {
                        Ok(p16) if (ranges.node_port_min..=ranges.node_port_max).contains(&p16) => {
                            if used.ports.contains(&p16) {
                                errors.push(FieldError::invalid(
                                    field,
                                    np,
                                    "provided port is already allocated",
                                ));
                            } else {
                                taken.insert(p16);
                            }
                        }
                        _ => errors.push(FieldError::invalid(
                            field,
                            np,
                            format!(
                                "provided port is not in the valid range. The range of valid ports is {}-{}",
                                ranges.node_port_min, ranges.node_port_max
                            ),
                        )),
                    }
                }
                None if want_ports => match random_port(ranges, &taken, &mut rng) {
                    Some(np) => {
                        taken.insert(np);
                        m.insert("nodePort".into(), json!(np));
                    }
                    None => errors.push(FieldError::invalid(
                        format!("spec.ports[{i}].nodePort"),
                        0,
                        "node port range is full",
                    )),
                },
                None => {}
            }
        }
    }
    let local = spec.get("externalTrafficPolicy").and_then(Value::as_str) == Some("Local");
    if ty == "LoadBalancer"
        && local
        && spec
            .get("healthCheckNodePort")
            .and_then(Value::as_u64)
            .unwrap_or(0)
            == 0
        && let Some(np) = random_port(ranges, &taken, &mut rng)
    {
        spec.insert("healthCheckNodePort".into(), json!(np));
    }
    if errors.is_empty() { Ok(()) } else { Err(errors) }
}

fn random_ip(ranges: &ServiceRanges, used: &Used, rng: &mut impl Rng) -> Option<Ipv4Addr> {
    let (lo, hi) = ranges.bounds();
    let first = lo.saturating_add(2); // .1 is the kubernetes Service's
    if first >= hi {
        return None;
    }
    let span = hi - first;
    let start = rng.random_range(0..span);
    (0..span)
        .map(|i| Ipv4Addr::from(first + (start + i) % span))
        .find(|ip| !used.ips.contains(ip))
}

fn random_port(ranges: &ServiceRanges, taken: &BTreeSet<u16>, rng: &mut impl Rng) -> Option<u16> {
    let (lo, hi) = (u32::from(ranges.node_port_min), u32::from(ranges.node_port_max));
    let span = hi - lo + 1;
    let start = rng.random_range(0..span);
    (0..span)
        .filter_map(|i| u16::try_from(lo + (start + i) % span).ok())
        .find(|p| !taken.contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(ty: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Service", "spec": {"type": ty, "ports": [{"port": 80, "protocol": "TCP"}]}})
    }

    #[test]
    fn allocates_ip_and_ports() {
        let r = ServiceRanges::default();
        let mut s = svc("NodePort");
        allocate(&r, &mut s, None, &Used::default()).unwrap();
        let ip: Ipv4Addr = s["spec"]["clusterIP"].as_str().unwrap().parse().unwrap();
        assert!(r.contains(ip) && ip != r.kubernetes_ip());
        assert_eq!(s["spec"]["clusterIPs"][0], s["spec"]["clusterIP"]);
        assert_eq!(s["spec"]["ipFamilies"], json!(["IPv4"]));
        let np = s["spec"]["ports"][0]["nodePort"].as_u64().unwrap();
        assert!((30000..=32767).contains(&np));
    }

    #[test]
    fn given_values_are_checked() {
        let r = ServiceRanges::default();
        let used = Used {
            ips: [Ipv4Addr::new(10, 43, 0, 7)].into(),
            ports: [30080].into(),
        };
        let mut taken_ip = svc("ClusterIP");
        taken_ip["spec"]["clusterIP"] = json!("10.43.0.7");
        let e = allocate(&r, &mut taken_ip, None, &used).unwrap_err();
        assert!(
            e[0].to_string().contains("provided IP is already allocated"),
            "{}",
            e[0]
        );
        let mut outside = svc("ClusterIP");
        outside["spec"]["clusterIP"] = json!("192.168.0.1");
        assert!(
            allocate(&r, &mut outside, None, &used).unwrap_err()[0]
                .to_string()
                .contains("not in the valid range")
        );
        let mut port = svc("NodePort");
        port["spec"]["ports"][0]["nodePort"] = json!(30080);
        assert!(
            allocate(&r, &mut port, None, &used).unwrap_err()[0]
                .to_string()
                .contains("already allocated")
        );
        let mut headless = svc("ClusterIP");
        headless["spec"]["clusterIP"] = json!("None");
        allocate(&r, &mut headless, None, &used).unwrap();
        assert_eq!(headless["spec"]["clusterIPs"], json!(["None"]));
        let mut ext = json!({"spec": {"type": "ExternalName", "externalName": "example.com"}});
        allocate(&r, &mut ext, None, &used).unwrap();
        assert!(ext["spec"].get("clusterIP").is_none());
    }

    #[test]
    fn type_change_releases_and_allocates() {
        let r = ServiceRanges::default();
        let mut old = svc("NodePort");
        allocate(&r, &mut old, None, &Used::default()).unwrap();
        let mut to_cluster = old.clone();
        to_cluster["spec"]["type"] = json!("ClusterIP");
        drop_type_dependent(&mut to_cluster, &old);
        allocate(&r, &mut to_cluster, Some(&old), &Used::default()).unwrap();
        assert!(to_cluster["spec"]["ports"][0].get("nodePort").is_none());
        assert_eq!(to_cluster["spec"]["clusterIP"], old["spec"]["clusterIP"]);
        let mut to_ext = old.clone();
        to_ext["spec"]["type"] = json!("ExternalName");
        to_ext["spec"]["externalName"] = json!("example.com");
        drop_type_dependent(&mut to_ext, &old);
        allocate(&r, &mut to_ext, Some(&old), &Used::default()).unwrap();
        assert!(to_ext["spec"].get("clusterIP").is_none());
    }
}
