//! The cluster's names, built from Services and EndpointSlices as the Kubernetes DNS
//! specification lays them out, in maps keyed by lowercase name so each question costs a
//! lookup or two. Built whole on every change: a cluster's services fit in memory, and a
//! fresh index is simpler to get right than patching one.

use std::borrow::Borrow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;

/// The version of the Kubernetes DNS schema answered at `dns-version.<zone>` (TXT).
pub(crate) const SCHEMA_VERSION: &str = "1.1.0";

/// The label EndpointSlices name their Service by.
const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// A target of an SRV record: host name (lowercase, no trailing dot), port.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SrvTarget {
    /// The name the target's addresses are found under.
    pub host: String,
    /// The port to connect to.
    pub port: u16,
}

/// Everything the cluster DNS answers from its own data, indexed by lowercase name
/// without the trailing dot.
#[derive(Debug, Default, Clone)]
pub struct Records {
    /// The zone (`cluster.local`), lowercase, without a trailing dot.
    pub(crate) zone: String,
    /// Name → addresses (services, headless endpoints, `ns.dns.<zone>`), sorted.
    pub(crate) addrs: HashMap<String, Vec<IpAddr>>,
    /// Name → canonical name (ExternalName services).
    pub(crate) cname: HashMap<String, String>,
    /// `_port._proto.<svc>.<ns>.svc.<zone>` → targets.
    pub(crate) srv: HashMap<String, Vec<SrvTarget>>,
    /// Reverse name (`d.c.b.a.in-addr.arpa`, nibbles under `ip6.arpa`) → name.
    pub(crate) ptr: HashMap<String, String>,
    /// Names that exist without records of their own (`<ns>.svc.<zone>`, `svc.<zone>`,
    /// the zone): asked for, they get an empty answer, not NXDOMAIN.
    pub(crate) empty: HashSet<String>,
    /// Whether built from a full list of the API's objects; until then names in the zone
    /// get SERVFAIL (ask again) rather than a NXDOMAIN clients would cache.
    pub(crate) synced: bool,
}

/// Whether an endpoint counts: ready (unset counts as ready, as the API documents), or
/// any with `publishNotReadyAddresses`.
fn usable(ready: Option<bool>, publish_not_ready: bool) -> bool {
    publish_not_ready || ready.unwrap_or(true)
}

/// `10.1.2.3` → `3.2.1.10.in-addr.arpa`; IPv6 as reversed nibbles under `ip6.arpa`.
pub(crate) fn reverse_name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(ip) => {
            let o = ip.octets();
            format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(ip) => {
            let mut s = String::with_capacity(72);
            for byte in ip.octets().iter().rev() {
                s.push_str(&format!("{:x}.{:x}.", byte & 0xf, byte >> 4));
            }
            s.push_str("ip6.arpa");
            s
        }
    }
}

/// The label an endpoint without a hostname is known by: its address with dashes
/// (`10-42-0-6`, `fd00--6`), as CoreDNS names them.
fn dashed(ip: IpAddr) -> String {
    ip.to_string().replace(['.', ':'], "-")
}

/// A Service's named ports as `(name, protocol, port)`, lowercase: only they get SRV.
fn named_ports(svc: &Service) -> Vec<(String, String, u16)> {
    let ports = svc.spec.as_ref().and_then(|s| s.ports.as_ref());
    ports
        .into_iter()
        .flatten()
        .filter_map(|p| {
            let name = p.name.as_deref().filter(|n| !n.is_empty())?;
            let proto = p.protocol.as_deref().unwrap_or("TCP").to_ascii_lowercase();
            Some((name.to_ascii_lowercase(), proto, u16::try_from(p.port).ok()?))
        })
        .collect()
}

impl Records {
    /// Builds the records of `services` and their `slices` under `zone`.
    pub fn build(zone: &str, services: &[Service], slices: &[EndpointSlice]) -> Self {
        Self::build_from(zone, services, slices)
    }

    /// [`Records::build`] from anything that borrows as the API types, so a
    /// reflector's `Arc`s need no copying.
    pub fn build_from<S, E>(zone: &str, services: &[S], slices: &[E]) -> Self
    where
        S: Borrow<Service>,
        E: Borrow<EndpointSlice>,
    {
        let zone = zone.trim_end_matches('.').to_ascii_lowercase();
        let mut r = Records {
            zone: zone.clone(),
            synced: true,
            ..Default::default()
        };
        r.empty.insert(zone.clone());
        r.empty.insert(format!("svc.{zone}"));
        r.empty.insert(format!("pod.{zone}"));
        r.empty.insert(format!("dns.{zone}"));
        let by_service = slices_by_service(slices);
        for svc in services {
            r.add_service(svc.borrow(), &by_service);
        }
        // The name the zone's NS record gives: the cluster DNS service's addresses.
        if let Some(ips) = r.addrs.get(&format!("kube-dns.kube-system.svc.{zone}")).cloned() {
            r.addrs.insert(format!("ns.dns.{zone}"), ips);
        }
        for v in r.addrs.values_mut() {
            v.sort();
            v.dedup();
        }
        r
    }

    /// Records for the time before the API has been listed: names in `zone` get
    /// SERVFAIL, so clients ask again instead of caching a wrong NXDOMAIN, and other
    /// names are forwarded as usual, so the node's pods can reach the outside meanwhile.
    pub fn pending(zone: &str) -> Self {
        Records {
            zone: zone.trim_end_matches('.').to_ascii_lowercase(),
            synced: false,
            ..Default::default()
        }
    }

    fn add_service(&mut self, svc: &Service, slices: &BTreeMap<(String, String), Vec<&EndpointSlice>>) {
        let (Some(name), Some(ns), Some(spec)) = (
            svc.metadata.name.as_deref(),
            svc.metadata.namespace.as_deref(),
            svc.spec.as_ref(),
        ) else {
            return;
        };
        let (name, ns) = (name.to_ascii_lowercase(), ns.to_ascii_lowercase());
        let fqdn = format!("{name}.{ns}.svc.{}", self.zone);
        self.empty.insert(format!("{ns}.svc.{}", self.zone));
        if spec.type_.as_deref() == Some("ExternalName") {
            if let Some(target) = spec.external_name.as_deref().filter(|t| !t.is_empty()) {
                let target = target.trim_end_matches('.').to_ascii_lowercase();
                self.cname.insert(fqdn, target);
            }
            return;
        }
        let ports = named_ports(svc);
        let headless = spec.cluster_ip.as_deref() == Some("None");
        if !headless {
            let ips: BTreeSet<IpAddr> = spec
                .cluster_ips
                .iter()
                .flatten()
                .chain(spec.cluster_ip.iter())
                .filter_map(|ip| ip.parse().ok())
                .collect();
            if ips.is_empty() {
                return;
            }
            for ip in &ips {
                self.ptr.insert(reverse_name(*ip), fqdn.clone());
            }
            for (port_name, proto, port) in &ports {
                let target = SrvTarget {
                    host: fqdn.clone(),
                    port: *port,
                };
                self.srv
                    .insert(format!("_{port_name}._{proto}.{fqdn}"), vec![target]);
            }
            self.addrs.insert(fqdn, ips.into_iter().collect());
            return;
        }
        // Headless: the endpoints themselves. Without usable endpoints the name does not
        // exist (NXDOMAIN), as the specification says.
        let publish = spec.publish_not_ready_addresses == Some(true);
        let mut ips = BTreeSet::new();
        let mut srv: BTreeMap<String, BTreeSet<SrvTarget>> = BTreeMap::new();
        for slice in slices.get(&(ns.clone(), name.clone())).into_iter().flatten() {
            for ep in &slice.endpoints {
                if !usable(ep.conditions.as_ref().and_then(|c| c.ready), publish) {
                    continue;
                }
                let hostname = ep.hostname.as_deref().filter(|h| !h.is_empty());
                for ip in ep.addresses.iter().filter_map(|a| a.parse::<IpAddr>().ok()) {
                    ips.insert(ip);
                    let label = hostname.map_or_else(|| dashed(ip), str::to_ascii_lowercase);
                    let host_fqdn = format!("{label}.{fqdn}");
                    self.addrs.entry(host_fqdn.clone()).or_default().push(ip);
                    if hostname.is_some() {
                        self.ptr.insert(reverse_name(ip), host_fqdn.clone());
                    }
                    for p in slice.ports.iter().flatten() {
                        let (Some(port_name), Some(port)) = (
                            p.name.as_deref().filter(|n| !n.is_empty()),
                            p.port.and_then(|p| u16::try_from(p).ok()),
                        ) else {
                            continue;
                        };
                        let proto = p.protocol.as_deref().unwrap_or("TCP").to_ascii_lowercase();
                        let key = format!("_{}._{proto}.{fqdn}", port_name.to_ascii_lowercase());
                        srv.entry(key).or_default().insert(SrvTarget {
                            host: host_fqdn.clone(),
                            port,
                        });
                    }
                }
            }
        }
        for (k, v) in srv {
            self.srv.insert(k, v.into_iter().collect());
        }
        if !ips.is_empty() {
            self.addrs.insert(fqdn, ips.into_iter().collect());
        }
    }

    /// The address a pod name (`a-b-c-d.<namespace>.pod.<zone>`, IPv6 with dashes for
    /// colons) stands for: any namespace and address are answered, as CoreDNS's
    /// `pods insecure` mode (k3s's default) does.
    pub(crate) fn pod_address(&self, name: &str) -> Option<IpAddr> {
        let rest = name.strip_suffix(&self.zone)?.strip_suffix(".pod.")?;
        let (label, ns) = rest.split_once('.')?;
        if ns.is_empty() || ns.contains('.') {
            return None;
        }
        if let Ok(v4) = label.replace('-', ".").parse::<Ipv4Addr>() {
            return Some(IpAddr::V4(v4));
        }
        label.replace('-', ":").parse::<Ipv6Addr>().ok().map(IpAddr::V6)
    }

    /// The addresses `name` has, services, endpoints and pods alike.
    pub(crate) fn addresses(&self, name: &str) -> Vec<IpAddr> {
        match self.addrs.get(name) {
            Some(ips) => ips.clone(),
            None => self.pod_address(name).into_iter().collect(),
        }
    }

    /// Whether `name` lies in the cluster zone (answered here, authoritatively).
    pub(crate) fn in_zone(&self, name: &str) -> bool {
        name.strip_suffix(&self.zone)
            .is_some_and(|rest| rest.is_empty() || rest.ends_with('.'))
    }

    /// Whether `name` is one of ours in some way (NODATA rather than NXDOMAIN for the
    /// types it lacks).
    pub(crate) fn exists(&self, name: &str) -> bool {
        self.addrs.contains_key(name)
            || self.cname.contains_key(name)
            || self.srv.contains_key(name)
            || self.empty.contains(name)
            || self.pod_address(name).is_some()
            || name == format!("dns-version.{}", self.zone)
            || name == format!("ns.dns.{}", self.zone)
    }
}

/// Usable slices (IPv4 and IPv6; FQDN slices have no addresses to give) by
/// `(namespace, service)`, lowercase.
fn slices_by_service<E: Borrow<EndpointSlice>>(
    slices: &[E],
) -> BTreeMap<(String, String), Vec<&EndpointSlice>> {
    let mut by_service: BTreeMap<(String, String), Vec<&EndpointSlice>> = BTreeMap::new();
    for s in slices.iter().map(Borrow::borrow) {
        if !matches!(s.address_type.as_str(), "IPv4" | "IPv6") {
            continue;
        }
        let labels = s.metadata.labels.as_ref();
        let Some(svc) = labels.and_then(|l| l.get(SERVICE_NAME_LABEL)) else {
            continue;
        };
        let ns = s
            .metadata
            .namespace
            .as_deref()
            .unwrap_or_default()
            .to_ascii_lowercase();
        by_service
            .entry((ns, svc.to_ascii_lowercase()))
            .or_default()
            .push(s);
    }
    by_service
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reverse_names_of_both_families() {
        assert_eq!(
            reverse_name("10.43.0.1".parse().unwrap()),
            "1.0.43.10.in-addr.arpa"
        );
        let v6 = reverse_name("fd00::1".parse().unwrap());
        assert!(v6.starts_with("1.0.0.0.0.0.0.0."), "{v6}");
        assert!(v6.ends_with(".0.0.d.f.ip6.arpa"), "{v6}");
    }

    #[test]
    fn pod_names_parse_addresses_of_both_families_only_in_the_pod_subdomain() {
        let r = Records::build("Cluster.Local.", &[], &[]);
        assert_eq!(r.zone, "cluster.local");
        let p = |n: &str| r.pod_address(n).map(|ip| ip.to_string());
        assert_eq!(p("10-42-0-9.any.pod.cluster.local").as_deref(), Some("10.42.0.9"));
        assert_eq!(p("fd00--9.any.pod.cluster.local").as_deref(), Some("fd00::9"));
        assert_eq!(p("10-42-0-9.pod.cluster.local"), None);
        assert_eq!(p("10-42-0-9.a.b.pod.cluster.local"), None);
        assert_eq!(p("10-42-0-999.any.pod.cluster.local"), None);
        assert_eq!(p("10-42-0-9.any.pod.xcluster.local"), None);
        assert!(r.in_zone("cluster.local") && r.in_zone("a.cluster.local"));
        assert!(!r.in_zone("xcluster.local") && !r.in_zone("local"));
    }
}
