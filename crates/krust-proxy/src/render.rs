//! The nftables script: one table that is deleted and rebuilt in a single `nft -f` run.
//!
//! The table has the shape of upstream kube-proxy's nftables mode. Dispatch is by verdict
//! maps keyed on `daddr . l4proto . dport` (one lookup however many services exist), so
//! per-packet cost does not grow with the cluster. Per service port there is a policy chain
//! (`service-…` for all endpoints, `local-…` for this node's) that picks an endpoint at
//! random (see [`dispatch`] for why a cascade and not a `numgen` vmap), an `external-…` chain for NodePort and load-balancer traffic, and one
//! `endpoint-…` chain per endpoint that DNATs. Ports without usable endpoints are
//! rejected (or dropped, for `Local` policies) by filter chains that run before NAT.

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt::Write as _,
    net::Ipv4Addr,
};

use k8s_openapi::api::{core::v1::Service, discovery::v1::EndpointSlice};

use crate::{
    ProxyConfig,
    config::Cidr,
    model::{self, Endpoint, Protocol, ServicePort},
    names,
};

/// The packet-mark bit that asks `masquerading` to SNAT a connection (upstream's default).
const MASQ_MARK: &str = "0x4000";

/// Chains and maps that do not depend on the services: hooks, dispatch, masquerade, reject.
/// Filter chains sit at -110, before DNAT (-100), so they see the service address.
const FIXED: &str = "\
\tchain filter-input {
\t\ttype filter hook input priority -110; policy accept;
\t\tct state new jump endpoints-check
\t}
\tchain filter-forward {
\t\ttype filter hook forward priority -110; policy accept;
\t\tct state new jump endpoints-check
\t}
\tchain filter-output {
\t\ttype filter hook output priority -110; policy accept;
\t\tct state new jump endpoints-check
\t}
\tchain endpoints-check {
\t\tip daddr . meta l4proto . th dport vmap @no-endpoint-services
\t\tfib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @no-endpoint-nodeports
\t}
\tchain reject-chain {
\t\treject
\t}
\tchain nat-prerouting {
\t\ttype nat hook prerouting priority dstnat; policy accept;
\t\tjump services
\t}
\tchain nat-output {
\t\ttype nat hook output priority -100; policy accept;
\t\tjump services
\t}
\tchain nat-postrouting {
\t\ttype nat hook postrouting priority srcnat; policy accept;
\t\tjump masquerading
\t}
\tchain services {
\t\tip daddr . meta l4proto . th dport vmap @service-ips
\t\tfib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports
\t}
";

/// Renders the complete script for `services` and `slices` as seen from `cfg.node_name`.
///
/// Pure and deterministic: equal input (in any order) gives byte-equal text, which is what
/// lets the sync loop skip `nft` when nothing changed. The script first creates the table
/// (so the delete cannot fail), deletes it, and recreates it; nft runs all three in one
/// kernel transaction, so traffic sees either the old table or the new one.
pub fn ruleset(cfg: &ProxyConfig, services: &[Service], slices: &[EndpointSlice]) -> String {
    let services: Vec<&Service> = services.iter().collect();
    let slices: Vec<&EndpointSlice> = slices.iter().collect();
    ruleset_of(cfg, &services, &slices)
}

/// [`ruleset`] over borrowed objects, so the sync loop can render straight from its caches.
pub(crate) fn ruleset_of(cfg: &ProxyConfig, services: &[&Service], slices: &[&EndpointSlice]) -> String {
    let cidr = Cidr::parse(&cfg.cluster_cidr);
    let mut table = Table::default();
    for port in model::service_ports(cfg, services, slices) {
        table.add(&port, cidr);
    }
    table.render(&cfg.table)
}

type IpKey = (Ipv4Addr, Protocol, u16);
type PortOnlyKey = (Protocol, u16);

/// Everything that varies with the services, collected before writing.
#[derive(Default)]
struct Table {
    /// Cluster, load-balancer and external IPs → the chain that handles them.
    service_ips: BTreeMap<IpKey, String>,
    /// NodePorts on any local address → the service's external chain.
    service_nodeports: BTreeMap<PortOnlyKey, String>,
    /// Service addresses without usable endpoints → reject or drop.
    no_endpoint_services: BTreeMap<IpKey, String>,
    /// NodePorts without usable endpoints → reject or drop.
    no_endpoint_nodeports: BTreeMap<PortOnlyKey, String>,
    /// `set …` declarations for ClientIP affinity.
    sets: Vec<String>,
    /// Per-service chains: name and rules.
    chains: Vec<(String, Vec<String>)>,
}

impl Table {
    /// Adds one service port, deciding like upstream which addresses go where.
    fn add(&mut self, sp: &ServicePort, cidr: Option<Cidr>) {
        let key = sp.key();
        let proto = sp.protocol.as_str();
        let cluster_chain = names::cluster_chain(&key);
        let local_chain = names::local_chain(&key);
        let external_chain = names::external_chain(&key);

        let has_any = sp.has_endpoints();
        let has_local = !sp.local_endpoints.is_empty();
        // External traffic with Local policy still short-circuits pod and host traffic to
        // the cluster chain, so that chain exists whenever the service is reachable at all.
        let uses_cluster = has_any && (!sp.internal_local || sp.externally_accessible());
        let uses_local = has_local && (sp.internal_local || sp.external_local);
        let uses_external = has_any && sp.externally_accessible();
        let has_internal = has_any && (!sp.internal_local || has_local);
        let has_external = has_any && (!sp.external_local || has_local);
        let internal_chain = if sp.internal_local {
            &local_chain
        } else {
            &cluster_chain
        };
        let external_policy_chain = if sp.external_local {
            &local_chain
        } else {
            &cluster_chain
        };
        // Nothing anywhere: refuse fast. Endpoints exist but none here for a Local policy:
        // drop, as upstream does, since rejecting would look like a closed port.
        let unusable = if has_any { "drop" } else { "goto reject-chain" };

        let vip = (sp.cluster_ip, sp.protocol, sp.port);
        if has_internal {
            insert(&mut self.service_ips, vip, format!("goto {internal_chain}"));
        } else {
            insert(&mut self.no_endpoint_services, vip, unusable.to_owned());
        }
        for ip in &sp.external_ips {
            let key = (*ip, sp.protocol, sp.port);
            if uses_external {
                insert(&mut self.service_ips, key, format!("goto {external_chain}"));
            }
            if !has_external {
                insert(&mut self.no_endpoint_services, key, unusable.to_owned());
            }
        }
        if let Some(node_port) = sp.node_port {
            let key = (sp.protocol, node_port);
            if uses_external {
                insert(&mut self.service_nodeports, key, format!("goto {external_chain}"));
            }
            if !has_external {
                insert(&mut self.no_endpoint_nodeports, key, unusable.to_owned());
            }
        }

        // Cluster-IP traffic from outside the pod network (the host itself, or a router
        // pointing the service range at this node) is masqueraded so replies come back here.
        let from_outside = cidr.map(|c| format!("ip saddr != {c} ")).unwrap_or_default();
        let masq_internal = format!(
            "ip daddr {} {proto} dport {} {from_outside}jump mark-for-masquerade",
            sp.cluster_ip, sp.port
        );
        if uses_cluster {
            let mut rules = Vec::new();
            if has_internal && !sp.internal_local {
                rules.push(masq_internal.clone());
            }
            rules.extend(dispatch(sp, &sp.cluster_endpoints));
            self.chains.push((cluster_chain.clone(), rules));
        }
        if uses_local {
            let mut rules = Vec::new();
            if has_internal && sp.internal_local {
                rules.push(masq_internal);
            }
            rules.extend(dispatch(sp, &sp.local_endpoints));
            self.chains.push((local_chain.clone(), rules));
        }
        if uses_external {
            let mut rules = Vec::new();
            if sp.external_local {
                // Keep the client's address for traffic from outside; pods and the host
                // itself are treated as if they went out and back in: any endpoint will do.
                if let Some(c) = cidr {
                    rules.push(format!("ip saddr {c} goto {cluster_chain}"));
                }
                rules.push("fib saddr type local jump mark-for-masquerade".to_owned());
                rules.push(format!("fib saddr type local goto {cluster_chain}"));
            } else {
                // The endpoint may be on another node: masquerade so the reply returns here.
                rules.push("jump mark-for-masquerade".to_owned());
            }
            if has_external {
                rules.push(format!("goto {external_policy_chain}"));
            }
            self.chains.push((external_chain.clone(), rules));
        }

        let mut reachable = BTreeSet::new();
        if uses_cluster {
            reachable.extend(sp.cluster_endpoints.iter().copied());
        }
        if uses_local {
            reachable.extend(sp.local_endpoints.iter().copied());
        }
        for ep in reachable {
            self.add_endpoint(sp, ep);
        }
    }

    /// The endpoint chain (and affinity set) for one endpoint of `sp`.
    fn add_endpoint(&mut self, sp: &ServicePort, ep: Endpoint) {
        let key = sp.key();
        let mut rules = vec![format!("ip saddr {} jump mark-for-masquerade", ep.ip)];
        if let Some(seconds) = sp.affinity_seconds {
            let set = names::affinity_set(&key, ep.ip, ep.port);
            rules.push(format!("update @{set} {{ ip saddr }}"));
            self.sets.push(format!(
                "\tset {set} {{\n\t\ttype ipv4_addr\n\t\tflags dynamic,timeout\n\t\ttimeout {seconds}s\n\t}}\n"
            ));
        }
        rules.push(format!(
            "meta l4proto {} dnat to {}:{}",
            sp.protocol.as_str(),
            ep.ip,
            ep.port
        ));
        self.chains
            .push((names::endpoint_chain(&key, ep.ip, ep.port), rules));
    }

    fn render(&self, table: &str) -> String {
        let mut out = String::with_capacity(1024 + self.chains.len() * 256);
        // Create-then-delete makes the delete safe on a node that has no table yet.
        let _ = writeln!(
            out,
            "table ip {table} {{}}\ndelete table ip {table}\ntable ip {table} {{"
        );
        write_map(
            &mut out,
            "service-ips",
            "ipv4_addr . inet_proto . inet_service",
            ip_elements(&self.service_ips),
        );
        write_map(
            &mut out,
            "service-nodeports",
            "inet_proto . inet_service",
            port_elements(&self.service_nodeports),
        );
        write_map(
            &mut out,
            "no-endpoint-services",
            "ipv4_addr . inet_proto . inet_service",
            ip_elements(&self.no_endpoint_services),
        );
        write_map(
            &mut out,
            "no-endpoint-nodeports",
            "inet_proto . inet_service",
            port_elements(&self.no_endpoint_nodeports),
        );
        out.push_str(FIXED);
        let _ = write!(
            out,
            "\tchain mark-for-masquerade {{\n\t\tmeta mark set meta mark or {MASQ_MARK}\n\t}}\n\
             \tchain masquerading {{\n\t\tmeta mark & {MASQ_MARK} == 0 return\n\
             \t\tmeta mark set meta mark xor {MASQ_MARK}\n\t\tmasquerade fully-random\n\t}}\n"
        );
        for set in &self.sets {
            out.push_str(set);
        }
        for (name, rules) in &self.chains {
            let _ = writeln!(out, "\tchain {name} {{");
            for rule in rules {
                let _ = writeln!(out, "\t\t{rule}");
            }
            out.push_str("\t}\n");
        }
        out.push_str("}\n");
        out
    }
}

/// First writer wins: two services claiming one address keep the first (sorted) one, and
/// nft never sees a duplicate element.
fn insert<K: Ord>(map: &mut BTreeMap<K, String>, key: K, verdict: String) {
    map.entry(key).or_insert(verdict);
}

fn ip_elements(map: &BTreeMap<IpKey, String>) -> Vec<String> {
    map.iter()
        .map(|((ip, proto, port), v)| format!("{ip} . {} . {port} : {v}", proto.as_str()))
        .collect()
}

fn port_elements(map: &BTreeMap<PortOnlyKey, String>) -> Vec<String> {
    map.iter()
        .map(|((proto, port), v)| format!("{} . {port} : {v}", proto.as_str()))
        .collect()
}

fn write_map(out: &mut String, name: &str, key_type: &str, elements: Vec<String>) {
    let _ = writeln!(out, "\tmap {name} {{\n\t\ttype {key_type} : verdict");
    if !elements.is_empty() {
        out.push_str("\t\telements = {\n");
        let last = elements.len() - 1;
        for (i, element) in elements.iter().enumerate() {
            let sep = if i == last { "" } else { "," };
            let _ = writeln!(out, "\t\t\t{element}{sep}");
        }
        out.push_str("\t\t}\n");
    }
    out.push_str("\t}\n");
}

/// Affinity lookups, then a uniform random choice over `endpoints` (never empty here).
///
/// The choice is a cascade, `numgen random mod (N-i) == 0 goto endpoint-i`, with the last
/// endpoint taken unconditionally: rule i fires with probability 1/(N-i) among the packets
/// that reach it, so each endpoint gets 1/N. A single `numgen random mod N vmap { … }` would
/// be one rule, but every anonymous map makes the kernel walk the whole transaction when
/// binding it (`__nft_set_trans_bind`), which made a full 1,000-service sync take seconds
/// instead of about one. Only a connection's first packet traverses NAT chains, so the
/// extra rules cost nothing on established traffic.
fn dispatch(sp: &ServicePort, endpoints: &[Endpoint]) -> Vec<String> {
    let key = sp.key();
    let mut rules = Vec::new();
    if sp.affinity_seconds.is_some() {
        for ep in endpoints {
            rules.push(format!(
                "ip saddr @{} goto {}",
                names::affinity_set(&key, ep.ip, ep.port),
                names::endpoint_chain(&key, ep.ip, ep.port)
            ));
        }
    }
    let count = endpoints.len();
    for (i, ep) in endpoints.iter().enumerate() {
        let chain = names::endpoint_chain(&key, ep.ip, ep.port);
        let remaining = count - i;
        if remaining > 1 {
            rules.push(format!("numgen random mod {remaining} == 0 goto {chain}"));
        } else {
            rules.push(format!("goto {chain}"));
        }
    }
    rules
}

#[cfg(test)]
mod tests;
