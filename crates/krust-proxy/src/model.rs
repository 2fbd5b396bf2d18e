//! Which service ports this node must program, and which endpoints each may send to.
//!
//! This is the only place that reads API objects; everything after it (names, text) works
//! on the plain [`ServicePort`] values built here. The selection rules follow upstream
//! kube-proxy: ready endpoints first, serving-and-terminating ones only when nothing is
//! ready, and the `Local` traffic policies narrowed to endpoints on this node.

use std::{
    collections::{BTreeMap, BTreeSet},
    net::Ipv4Addr,
};

use k8s_openapi::api::{core::v1::Service, discovery::v1::EndpointSlice};

use crate::{ProxyConfig, names::PortKey};

/// Services with this label belong to another proxy implementation.
const PROXY_NAME_LABEL: &str = "service.kubernetes.io/service-proxy-name";
/// The label that ties an EndpointSlice to its Service.
const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
/// Upstream's default `sessionAffinityConfig.clientIP.timeoutSeconds` (3 hours).
const DEFAULT_AFFINITY_SECONDS: u32 = 10_800;
/// The API's upper bound for the affinity timeout (one day).
const MAX_AFFINITY_SECONDS: u32 = 86_400;

/// A transport protocol a Service port may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    /// The API spelling (`TCP` when unset); `None` for anything else.
    fn from_api(value: Option<&str>) -> Option<Self> {
        match value.unwrap_or("TCP") {
            "TCP" => Some(Self::Tcp),
            "UDP" => Some(Self::Udp),
            "SCTP" => Some(Self::Sctp),
            _ => None,
        }
    }

    /// The nft keyword, also used in chain names.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Tcp => "tcp",
            Self::Udp => "udp",
            Self::Sctp => "sctp",
        }
    }
}

/// One backend address of a service port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Endpoint {
    pub(crate) ip: Ipv4Addr,
    pub(crate) port: u16,
    /// Runs on this node (`nodeName` equals [`ProxyConfig::node_name`]).
    pub(crate) local: bool,
}

/// One port of one Service, with everything the rules need already decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ServicePort {
    pub(crate) namespace: String,
    pub(crate) name: String,
    /// The port's name, "" when unnamed.
    pub(crate) port_name: String,
    pub(crate) protocol: Protocol,
    pub(crate) cluster_ip: Ipv4Addr,
    pub(crate) port: u16,
    /// Set only for NodePort and LoadBalancer services.
    pub(crate) node_port: Option<u16>,
    /// Load-balancer ingress IPs and `spec.externalIPs`, sorted, without duplicates.
    pub(crate) external_ips: Vec<Ipv4Addr>,
    /// `internalTrafficPolicy: Local`.
    pub(crate) internal_local: bool,
    /// `externalTrafficPolicy: Local` on a service that accepts external traffic.
    pub(crate) external_local: bool,
    /// ClientIP affinity timeout in seconds; `None` without affinity.
    pub(crate) affinity_seconds: Option<u32>,
    /// Endpoints for `Cluster` policy: ready ones, else serving+terminating ones.
    pub(crate) cluster_endpoints: Vec<Endpoint>,
    /// Endpoints for `Local` policy: the same rule applied to this node's endpoints only.
    pub(crate) local_endpoints: Vec<Endpoint>,
}

impl ServicePort {
    pub(crate) fn key(&self) -> PortKey<'_> {
        PortKey {
            namespace: &self.namespace,
            name: &self.name,
            protocol: self.protocol.as_str(),
            port_name: &self.port_name,
        }
    }

    /// Reachable by NodePort, load-balancer or external IP, not only by cluster IP.
    pub(crate) fn externally_accessible(&self) -> bool {
        self.node_port.is_some() || !self.external_ips.is_empty()
    }

    /// Some endpoint anywhere can take traffic; otherwise clients are rejected.
    pub(crate) fn has_endpoints(&self) -> bool {
        // Local endpoints are a subset of the same candidates, so this covers them.
        !self.cluster_endpoints.is_empty()
    }
}

/// Every service port to program, in a stable order (namespace, name, then spec order).
pub(crate) fn service_ports(
    cfg: &ProxyConfig,
    services: &[&Service],
    slices: &[&EndpointSlice],
) -> Vec<ServicePort> {
    let slices = index_slices(slices);
    let mut services: Vec<&Service> = services.to_vec();
    services.sort_by(|a, b| {
        (&a.metadata.namespace, &a.metadata.name).cmp(&(&b.metadata.namespace, &b.metadata.name))
    });
    let mut out = Vec::new();
    for svc in services {
        let namespace = svc.metadata.namespace.as_deref().unwrap_or_default();
        let name = svc.metadata.name.as_deref().unwrap_or_default();
        let own_slices = slices
            .get(&(namespace, name))
            .map(Vec::as_slice)
            .unwrap_or_default();
        out.extend(ports_of(cfg, svc, own_slices));
    }
    out
}

/// IPv4 slices grouped by (namespace, service name), each group sorted by slice name.
fn index_slices<'a>(slices: &[&'a EndpointSlice]) -> BTreeMap<(&'a str, &'a str), Vec<&'a EndpointSlice>> {
    let mut index: BTreeMap<(&str, &str), Vec<&EndpointSlice>> = BTreeMap::new();
    for slice in slices.iter().copied().filter(|s| s.address_type == "IPv4") {
        let Some(service) = slice
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(SERVICE_NAME_LABEL))
        else {
            continue;
        };
        let namespace = slice.metadata.namespace.as_deref().unwrap_or_default();
        index
            .entry((namespace, service.as_str()))
            .or_default()
            .push(slice);
    }
    for group in index.values_mut() {
        group.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    }
    index
}

/// The service ports of one Service, or none when this proxy must leave it alone.
fn ports_of(cfg: &ProxyConfig, svc: &Service, slices: &[&EndpointSlice]) -> Vec<ServicePort> {
    let Some(spec) = svc.spec.as_ref() else {
        return Vec::new();
    };
    let labelled_for_other_proxy = svc
        .metadata
        .labels
        .as_ref()
        .is_some_and(|l| l.contains_key(PROXY_NAME_LABEL));
    let service_type = spec.type_.as_deref().unwrap_or("ClusterIP");
    if labelled_for_other_proxy || service_type == "ExternalName" {
        return Vec::new();
    }
    // Headless ("None"), unallocated and IPv6-only services all fail to parse here.
    let Some(cluster_ip) = spec
        .cluster_ips
        .iter()
        .flatten()
        .chain(spec.cluster_ip.as_ref())
        .find_map(|ip| ip.parse::<Ipv4Addr>().ok())
    else {
        return Vec::new();
    };
    if cfg.excluded_ips.contains(&cluster_ip) {
        return Vec::new();
    }

    let has_node_ports = matches!(service_type, "NodePort" | "LoadBalancer");
    let mut external_ips: BTreeSet<Ipv4Addr> = spec
        .external_ips
        .iter()
        .flatten()
        .filter_map(|ip| ip.parse().ok())
        .collect();
    if service_type == "LoadBalancer" {
        let ingress = svc
            .status
            .as_ref()
            .and_then(|s| s.load_balancer.as_ref())
            .and_then(|lb| lb.ingress.as_ref());
        // ipMode "Proxy" means the load balancer rewrites the destination itself.
        external_ips.extend(
            ingress
                .into_iter()
                .flatten()
                .filter(|i| i.ip_mode.as_deref() != Some("Proxy"))
                .filter_map(|i| i.ip.as_deref()?.parse::<Ipv4Addr>().ok()),
        );
    }
    let affinity_seconds = (spec.session_affinity.as_deref() == Some("ClientIP")).then(|| {
        spec.session_affinity_config
            .as_ref()
            .and_then(|c| c.client_ip.as_ref())
            .and_then(|c| c.timeout_seconds)
            .and_then(|t| u32::try_from(t).ok())
            .filter(|t| (1..=MAX_AFFINITY_SECONDS).contains(t))
            .unwrap_or(DEFAULT_AFFINITY_SECONDS)
    });
    let internal_local = spec.internal_traffic_policy.as_deref() == Some("Local");
    let external_policy_local = spec.external_traffic_policy.as_deref() == Some("Local");

    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for port in spec.ports.iter().flatten() {
        let (Some(protocol), Ok(number)) = (
            Protocol::from_api(port.protocol.as_deref()),
            u16::try_from(port.port),
        ) else {
            continue;
        };
        if number == 0 || !seen.insert((protocol, number)) {
            continue;
        }
        let node_port = port
            .node_port
            .filter(|_| has_node_ports)
            .and_then(|p| u16::try_from(p).ok())
            .filter(|p| *p != 0);
        let port_name = port.name.clone().unwrap_or_default();
        let candidates = candidates(cfg, slices, &port_name, protocol);
        let mut sp = ServicePort {
            namespace: svc.metadata.namespace.clone().unwrap_or_default(),
            name: svc.metadata.name.clone().unwrap_or_default(),
            port_name,
            protocol,
            cluster_ip,
            port: number,
            node_port,
            external_ips: external_ips.iter().copied().collect(),
            internal_local,
            external_local: false,
            affinity_seconds,
            cluster_endpoints: usable(candidates.iter()),
            local_endpoints: usable(candidates.iter().filter(|c| c.endpoint.local)),
        };
        sp.external_local = external_policy_local && sp.externally_accessible();
        out.push(sp);
    }
    out
}

/// An endpoint with the conditions that decide whether it may be used.
#[derive(Clone, Copy, Debug)]
struct Candidate {
    endpoint: Endpoint,
    ready: bool,
    serving_terminating: bool,
}

/// All endpoints the slices list for one service port, each address:port once, sorted.
fn candidates(
    cfg: &ProxyConfig,
    slices: &[&EndpointSlice],
    port_name: &str,
    protocol: Protocol,
) -> Vec<Candidate> {
    let mut found: BTreeMap<(Ipv4Addr, u16), Candidate> = BTreeMap::new();
    for slice in slices {
        let target = slice.ports.iter().flatten().find(|p| {
            p.name.as_deref().unwrap_or_default() == port_name
                && Protocol::from_api(p.protocol.as_deref()) == Some(protocol)
        });
        let Some(port) = target
            .and_then(|p| p.port)
            .and_then(|p| u16::try_from(p).ok())
            .filter(|p| *p != 0)
        else {
            continue;
        };
        for ep in &slice.endpoints {
            // Like upstream, only the first address counts: the rest are duplicates by API contract.
            let Some(ip) = ep.addresses.first().and_then(|a| a.parse::<Ipv4Addr>().ok()) else {
                continue;
            };
            let conditions = ep.conditions.as_ref();
            let ready = conditions.and_then(|c| c.ready).unwrap_or(true);
            let serving = conditions.and_then(|c| c.serving).unwrap_or(true);
            let terminating = conditions.and_then(|c| c.terminating).unwrap_or(false);
            let local = !cfg.node_name.is_empty() && ep.node_name.as_deref() == Some(cfg.node_name.as_str());
            let candidate = Candidate {
                endpoint: Endpoint { ip, port, local },
                ready,
                serving_terminating: serving && terminating,
            };
            // An address listed twice (e.g. mid-migration between slices) counts once, at its best.
            found
                .entry((ip, port))
                .and_modify(|c| {
                    c.ready |= candidate.ready;
                    c.serving_terminating |= candidate.serving_terminating;
                    c.endpoint.local |= candidate.endpoint.local;
                })
                .or_insert(candidate);
        }
    }
    found.into_values().collect()
}

/// Ready endpoints; when none is ready, the serving-and-terminating ones, so connections
/// during a rolling update still land somewhere (upstream's terminating fallback).
fn usable<'a>(candidates: impl Iterator<Item = &'a Candidate> + Clone) -> Vec<Endpoint> {
    let ready: Vec<Endpoint> = candidates
        .clone()
        .filter(|c| c.ready)
        .map(|c| c.endpoint)
        .collect();
    if !ready.is_empty() {
        return ready;
    }
    candidates
        .filter(|c| c.serving_terminating)
        .map(|c| c.endpoint)
        .collect()
}

#[cfg(test)]
mod tests;
