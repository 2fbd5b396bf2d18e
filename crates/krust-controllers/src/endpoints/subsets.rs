//! The subsets of a Service's Endpoints object, as upstream's endpoints controller builds
//! them: one address per selected pod (its IP of the Service's family, node, target
//! reference, hostname), ready or not ready, for each service port the pod resolves;
//! packed so that each subset holds the addresses that offer exactly the same ports; at
//! most 1000 addresses in all, ready ones kept first, each subset cut in proportion.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    EndpointAddress, EndpointPort, EndpointSubset, ObjectReference, Pod, Service,
};

use super::pods;

/// The most addresses an Endpoints object carries.
pub const MAX_CAPACITY: usize = 1000;
/// Annotation saying addresses were left out.
pub const OVER_CAPACITY: &str = "endpoints.kubernetes.io/over-capacity";

/// A port as a sortable key (name, port, protocol, appProtocol); port -1 stands for "no
/// port" (a headless service without ports).
type PortKey = (String, i32, String, String);
/// An address's identity: IP and pod uid.
type AddrKey = (String, String);
/// A set of addresses with their readiness.
type AddrSet = Vec<(AddrKey, bool)>;
/// The ports offered by one address set, and its addresses.
type Members = (Vec<EndpointPort>, Vec<(EndpointAddress, bool)>);

fn port_key(p: &EndpointPort) -> PortKey {
    (
        p.name.clone().unwrap_or_default(),
        p.port,
        p.protocol.clone().unwrap_or_default(),
        p.app_protocol.clone().unwrap_or_default(),
    )
}

fn port_of(key: &PortKey) -> EndpointPort {
    let opt = |s: &String| (!s.is_empty()).then(|| s.clone());
    EndpointPort {
        name: opt(&key.0),
        port: key.1,
        protocol: opt(&key.2),
        app_protocol: opt(&key.3),
    }
}

/// The address of `pod` for `svc`, if it has an IP of the Service's family.
pub fn address(svc: &Service, pod: &Pod) -> Option<EndpointAddress> {
    let ip = *pods::ips_of_family(pod, pods::service_family(svc, pod)).first()?;
    Some(EndpointAddress {
        ip: ip.to_string(),
        hostname: pods::hostname_for(pod, svc).map(str::to_string),
        node_name: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
        target_ref: Some(ObjectReference {
            kind: Some("Pod".into()),
            namespace: pod.metadata.namespace.clone(),
            name: pod.metadata.name.clone(),
            uid: pod.metadata.uid.clone(),
            ..Default::default()
        }),
    })
}

/// The packed subsets of `svc` over the pods it selects.
pub fn build(svc: &Service, selected: &[&Pod]) -> Vec<EndpointSubset> {
    let spec = svc.spec.as_ref();
    let publish = spec.and_then(|s| s.publish_not_ready_addresses).unwrap_or(false);
    let ports = spec.and_then(|s| s.ports.as_deref()).unwrap_or_default();
    // Port → the addresses offering it (with readiness).
    let mut by_port: BTreeMap<PortKey, BTreeMap<AddrKey, (EndpointAddress, bool)>> = BTreeMap::new();
    for pod in selected {
        if !pods::should_be_in_endpoints(pod, publish) {
            continue;
        }
        let Some(addr) = address(svc, pod) else { continue };
        let ready = publish || pods::is_ready(pod);
        let key: AddrKey = (addr.ip.clone(), pod.metadata.uid.clone().unwrap_or_default());
        if ports.is_empty() {
            if pods::is_headless(svc) {
                let none = (String::new(), -1, String::new(), String::new());
                by_port.entry(none).or_default().insert(key, (addr, ready));
            }
            continue;
        }
        for sp in ports {
            let Some(n) = pods::find_port(pod, sp) else {
                continue;
            };
            let ep = EndpointPort {
                name: sp.name.clone().filter(|n| !n.is_empty()),
                port: n,
                protocol: Some(sp.protocol.clone().unwrap_or_else(|| "TCP".into())),
                app_protocol: sp.app_protocol.clone(),
            };
            by_port
                .entry(port_key(&ep))
                .or_default()
                .insert(key.clone(), (addr.clone(), ready));
        }
    }
    // Address set → the ports it offers.
    let mut by_set: BTreeMap<AddrSet, Members> = BTreeMap::new();
    for (port, addrs) in by_port {
        let set: AddrSet = addrs.iter().map(|(k, (_, r))| (k.clone(), *r)).collect();
        let entry = by_set
            .entry(set)
            .or_insert_with(|| (Vec::new(), addrs.into_values().collect()));
        if port.1 >= 0 {
            entry.0.push(port_of(&port));
        }
    }
    by_set
        .into_values()
        .map(|(ports, addrs)| {
            let (ready, not_ready): (Vec<_>, Vec<_>) = addrs.into_iter().partition(|(_, r)| *r);
            let list = |v: Vec<(EndpointAddress, bool)>| {
                (!v.is_empty()).then(|| v.into_iter().map(|(a, _)| a).collect::<Vec<_>>())
            };
            EndpointSubset {
                addresses: list(ready),
                not_ready_addresses: list(not_ready),
                ports: (!ports.is_empty()).then_some(ports),
            }
        })
        .collect()
}

/// Cuts the subsets to [`MAX_CAPACITY`] addresses, keeping ready addresses before not-ready
/// ones and each subset's share in proportion to its size (rounded up, the last ones
/// getting what is left). Returns whether anything was cut.
pub fn truncate(subsets: &mut [EndpointSubset]) -> bool {
    let count = |v: &Option<Vec<EndpointAddress>>| v.as_ref().map_or(0, Vec::len);
    let ready: usize = subsets.iter().map(|s| count(&s.addresses)).sum();
    let not_ready: usize = subsets.iter().map(|s| count(&s.not_ready_addresses)).sum();
    if ready + not_ready <= MAX_CAPACITY {
        return false;
    }
    // Cut the ready addresses (and drop every not-ready one) if they alone are too many,
    // else keep them all and cut the not-ready ones to what is left.
    let cut_ready = ready > MAX_CAPACITY;
    let (room, total) = if cut_ready {
        (MAX_CAPACITY, ready)
    } else {
        (MAX_CAPACITY - ready, not_ready)
    };
    let mut left = room;
    for s in subsets.iter_mut() {
        let list = if cut_ready {
            s.not_ready_addresses = None;
            &mut s.addresses
        } else {
            &mut s.not_ready_addresses
        };
        let n = list.as_ref().map_or(0, Vec::len);
        let share = (n * room).div_ceil(total.max(1)).min(left);
        if let Some(v) = list.as_mut() {
            v.truncate(share);
        }
        if list.as_ref().is_some_and(Vec::is_empty) {
            *list = None;
        }
        left -= list.as_ref().map_or(0, Vec::len);
    }
    true
}

/// The subsets as stored, for comparing with built ones: empty lists as absent, target
/// references without resourceVersion.
pub fn normalized(subsets: Option<&Vec<EndpointSubset>>) -> Vec<EndpointSubset> {
    let clean = |v: &Option<Vec<EndpointAddress>>| -> Option<Vec<EndpointAddress>> {
        let v: Vec<EndpointAddress> = v
            .iter()
            .flatten()
            .map(|a| {
                let mut a = a.clone();
                if let Some(r) = a.target_ref.as_mut() {
                    r.resource_version = None;
                }
                a
            })
            .collect();
        (!v.is_empty()).then_some(v)
    };
    subsets
        .into_iter()
        .flatten()
        .map(|s| EndpointSubset {
            addresses: clean(&s.addresses),
            not_ready_addresses: clean(&s.not_ready_addresses),
            ports: s.ports.clone().filter(|p| !p.is_empty()),
        })
        .filter(|s| s.addresses.is_some() || s.not_ready_addresses.is_some())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoints::pods::tests::{pod, service};
    use k8s_openapi::api::core::v1::{ContainerPort, ServicePort};
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

    fn ips(v: &Option<Vec<EndpointAddress>>) -> Vec<&str> {
        v.iter().flatten().map(|a| a.ip.as_str()).collect()
    }

    #[test]
    fn ready_and_not_ready_addresses() {
        let svc = service();
        let (a, b, c) = (
            pod("a", "10.42.0.2", true),
            pod("b", "10.42.0.1", false),
            pod("c", "", true),
        );
        let subsets = build(&svc, &[&a, &b, &c]);
        assert_eq!(subsets.len(), 1);
        assert_eq!(ips(&subsets[0].addresses), ["10.42.0.2"]);
        assert_eq!(ips(&subsets[0].not_ready_addresses), ["10.42.0.1"]);
        let port = &subsets[0].ports.as_ref().unwrap()[0];
        assert_eq!(
            (port.name.as_deref(), port.port),
            (Some("web"), 8080),
            "named port resolved"
        );
        let addr = &subsets[0].addresses.as_ref().unwrap()[0];
        assert_eq!(addr.node_name.as_deref(), Some("node-a"));
        assert_eq!(
            addr.target_ref.as_ref().and_then(|r| r.name.as_deref()),
            Some("a")
        );
    }

    #[test]
    fn publish_not_ready_and_terminating_pods() {
        let mut svc = service();
        let b = pod("b", "10.42.0.1", false);
        let mut going = pod("d", "10.42.0.9", true);
        going.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
        ));
        let subsets = build(&svc, &[&b, &going]);
        assert_eq!(
            ips(&subsets[0].not_ready_addresses),
            ["10.42.0.1"],
            "terminating pods are left out"
        );
        assert!(subsets[0].addresses.is_none());
        if let Some(s) = svc.spec.as_mut() {
            s.publish_not_ready_addresses = Some(true);
        }
        let subsets = build(&svc, &[&b, &going]);
        assert_eq!(ips(&subsets[0].addresses), ["10.42.0.1", "10.42.0.9"]);
    }

    #[test]
    fn subsets_group_addresses_by_the_ports_they_offer() {
        let mut svc = service();
        if let Some(s) = svc.spec.as_mut() {
            s.ports.get_or_insert_with(Vec::new).push(ServicePort {
                name: Some("metrics".into()),
                port: 9090,
                target_port: Some(IntOrString::String("metrics".into())),
                ..Default::default()
            });
        }
        let a = pod("a", "10.42.0.1", true);
        let mut b = pod("b", "10.42.0.2", true);
        if let Some(c) = b.spec.as_mut().map(|s| &mut s.containers[0]) {
            c.ports.get_or_insert_with(Vec::new).push(ContainerPort {
                name: Some("metrics".into()),
                container_port: 9100,
                ..Default::default()
            });
        }
        let subsets = build(&svc, &[&a, &b]);
        // http is offered by both, metrics by b only.
        let summary: Vec<(Vec<&str>, Vec<i32>)> = subsets
            .iter()
            .map(|s| {
                (
                    ips(&s.addresses),
                    s.ports.iter().flatten().map(|p| p.port).collect(),
                )
            })
            .collect();
        assert!(
            summary.contains(&(vec!["10.42.0.1", "10.42.0.2"], vec![8080])),
            "{summary:?}"
        );
        assert!(summary.contains(&(vec!["10.42.0.2"], vec![9100])), "{summary:?}");
    }

    #[test]
    fn headless_services_without_ports_list_addresses_and_hostnames() {
        let mut svc = service();
        if let Some(s) = svc.spec.as_mut() {
            s.ports = None;
            s.cluster_ip = Some("None".into());
        }
        let mut a = pod("a", "10.42.0.1", true);
        if let Some(s) = a.spec.as_mut() {
            s.hostname = Some("a".into());
            s.subdomain = Some("web".into());
        }
        let subsets = build(&svc, &[&a]);
        assert_eq!(subsets.len(), 1);
        assert!(subsets[0].ports.is_none());
        assert_eq!(
            subsets[0].addresses.as_ref().unwrap()[0].hostname.as_deref(),
            Some("a")
        );
        // A ClusterIP service without ports gets nothing.
        let mut plain = service();
        if let Some(s) = plain.spec.as_mut() {
            s.ports = None;
        }
        assert!(build(&plain, &[&a]).is_empty());
    }

    fn addrs(n: usize, prefix: &str) -> Option<Vec<EndpointAddress>> {
        Some(
            (0..n)
                .map(|i| EndpointAddress {
                    ip: format!("{prefix}.{i}"),
                    ..Default::default()
                })
                .collect(),
        )
    }

    #[test]
    fn truncation_keeps_ready_addresses_first_and_in_proportion() {
        let mut small = vec![EndpointSubset {
            addresses: addrs(10, "a"),
            ..Default::default()
        }];
        assert!(!truncate(&mut small));

        // 600 + 300 ready, 400 not ready: not-ready ones cut to 100, in proportion.
        let mut subsets = vec![
            EndpointSubset {
                addresses: addrs(600, "a"),
                not_ready_addresses: addrs(300, "b"),
                ports: None,
            },
            EndpointSubset {
                addresses: addrs(300, "c"),
                not_ready_addresses: addrs(100, "d"),
                ports: None,
            },
        ];
        assert!(truncate(&mut subsets));
        let n = |v: &Option<Vec<EndpointAddress>>| v.as_ref().map_or(0, Vec::len);
        assert_eq!((n(&subsets[0].addresses), n(&subsets[1].addresses)), (600, 300));
        assert_eq!(
            (
                n(&subsets[0].not_ready_addresses),
                n(&subsets[1].not_ready_addresses)
            ),
            (75, 25)
        );

        // Too many ready ones: cut them, drop the not-ready ones.
        let mut subsets = vec![
            EndpointSubset {
                addresses: addrs(1500, "a"),
                not_ready_addresses: addrs(10, "b"),
                ports: None,
            },
            EndpointSubset {
                addresses: addrs(499, "c"),
                ..Default::default()
            },
        ];
        assert!(truncate(&mut subsets));
        let total: usize = subsets
            .iter()
            .map(|s| n(&s.addresses) + n(&s.not_ready_addresses))
            .sum();
        assert_eq!(total, MAX_CAPACITY);
        assert_eq!(n(&subsets[0].addresses), 751, "1500/1999 of 1000, rounded up");
        assert_eq!(n(&subsets[1].addresses), 249, "what is left");
        assert!(subsets[0].not_ready_addresses.is_none());
    }

    #[test]
    fn normalizing_ignores_empty_lists_and_resource_versions() {
        let svc = service();
        let a = pod("a", "10.42.0.1", true);
        let built = build(&svc, &[&a]);
        let mut stored = built.clone();
        stored[0].not_ready_addresses = Some(Vec::new());
        if let Some(r) = stored[0]
            .addresses
            .as_mut()
            .and_then(|v| v[0].target_ref.as_mut())
        {
            r.resource_version = Some("42".into());
        }
        assert_eq!(normalized(Some(&stored)), built);
    }
}
