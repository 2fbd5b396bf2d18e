//! What the mirrored slices of a custom Endpoints object hold, as upstream's
//! endpointslicemirroring controller derives them: each address of each subset becomes an
//! endpoint (ready for `addresses`, not ready for `notReadyAddresses`) with its hostname,
//! node and target, under the subset's ports; the address type comes from the IP (addresses
//! that are not IPs are skipped); subsets with the same ports share slices; at most
//! `max_per_subset` addresses of a subset are mirrored, ready ones first.

use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;

use k8s_openapi::api::core::v1::{EndpointAddress, Endpoints};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort};

use crate::endpointslice::plan::{Group, GroupKey, endpoint_key, port_key};

/// Label that keeps an Endpoints object from being mirrored.
pub const SKIP_MIRROR: &str = "endpointslice.kubernetes.io/skip-mirror";
/// Annotation of Endpoints used as leader-election locks (never mirrored).
pub const LEADER_ANNOTATION: &str = "control-plane.alpha.kubernetes.io/leader";

/// Whether the Endpoints object may be mirrored at all (its Service must also exist and
/// have no selector).
pub fn mirrorable(ep: &Endpoints) -> bool {
    let skip = ep
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(SKIP_MIRROR))
        .is_some_and(|v| v == "true");
    let leader = ep
        .metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(LEADER_ANNOTATION));
    !skip && !leader
}

fn address_type(ip: &str) -> Option<&'static str> {
    match ip.parse::<IpAddr>().ok()? {
        IpAddr::V4(_) => Some("IPv4"),
        IpAddr::V6(_) => Some("IPv6"),
    }
}

fn endpoint(a: &EndpointAddress, ready: bool) -> Endpoint {
    Endpoint {
        addresses: vec![a.ip.clone()],
        conditions: Some(EndpointConditions {
            ready: Some(ready),
            serving: None,
            terminating: None,
        }),
        hostname: a.hostname.clone().filter(|h| !h.is_empty()),
        node_name: a.node_name.clone().filter(|n| !n.is_empty()),
        target_ref: a.target_ref.clone(),
        ..Default::default()
    }
}

/// The groups to mirror, and whether some subset had more addresses than mirrored.
pub fn groups(ep: &Endpoints, max_per_subset: usize) -> (Vec<Group>, bool) {
    let mut truncated = false;
    let mut out: BTreeMap<GroupKey, (Group, HashSet<_>)> = BTreeMap::new();
    for subset in ep.subsets.iter().flatten() {
        let ports: Vec<EndpointPort> = subset
            .ports
            .iter()
            .flatten()
            .map(|p| EndpointPort {
                name: Some(p.name.clone().unwrap_or_default()),
                port: Some(p.port),
                protocol: Some(p.protocol.clone().unwrap_or_else(|| "TCP".into())),
                app_protocol: p.app_protocol.clone(),
            })
            .collect();
        let key = port_key(&ports);
        let addresses = subset
            .addresses
            .iter()
            .flatten()
            .map(|a| (a, true))
            .chain(subset.not_ready_addresses.iter().flatten().map(|a| (a, false)));
        let mut taken = 0;
        for (a, ready) in addresses {
            let Some(t) = address_type(&a.ip) else { continue };
            if taken == max_per_subset {
                truncated = true;
                break;
            }
            taken += 1;
            let e = endpoint(a, ready);
            let (group, seen) = out.entry((t.to_string(), key.clone())).or_insert_with(|| {
                (
                    Group {
                        address_type: t.to_string(),
                        ports: ports.clone(),
                        endpoints: Vec::new(),
                    },
                    HashSet::new(),
                )
            });
            if seen.insert(endpoint_key(&e)) {
                group.endpoints.push(e);
            }
        }
    }
    (out.into_values().map(|(g, _)| g).collect(), truncated)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{EndpointPort as CorePort, EndpointSubset};
    use std::collections::BTreeMap;

    fn addr(ip: &str) -> EndpointAddress {
        EndpointAddress {
            ip: ip.into(),
            ..Default::default()
        }
    }

    fn subset(ready: &[&str], not_ready: &[&str], port: i32) -> EndpointSubset {
        EndpointSubset {
            addresses: Some(ready.iter().map(|i| addr(i)).collect()),
            not_ready_addresses: Some(not_ready.iter().map(|i| addr(i)).collect()),
            ports: Some(vec![CorePort {
                name: Some("http".into()),
                port,
                protocol: Some("TCP".into()),
                app_protocol: None,
            }]),
        }
    }

    fn ready(e: &Endpoint) -> bool {
        e.conditions.as_ref().and_then(|c| c.ready).unwrap_or_default()
    }

    #[test]
    fn subsets_become_groups_by_ports_and_family() {
        let ep = Endpoints {
            subsets: Some(vec![
                subset(&["10.0.0.1", "fd00::1"], &["10.0.0.2"], 80),
                subset(&["10.0.0.3", "not-an-ip"], &[], 80),
                subset(&["10.0.0.4"], &[], 81),
            ]),
            ..Default::default()
        };
        let (groups, truncated) = groups(&ep, 1000);
        assert!(!truncated);
        type Summary = (String, i32, Vec<(String, bool)>);
        let summary: Vec<Summary> = groups
            .iter()
            .map(|g| {
                (
                    g.address_type.clone(),
                    g.ports[0].port.unwrap_or_default(),
                    g.endpoints
                        .iter()
                        .map(|e| (e.addresses[0].clone(), ready(e)))
                        .collect(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (
                    "IPv4".to_string(),
                    80,
                    vec![
                        ("10.0.0.1".to_string(), true),
                        ("10.0.0.2".to_string(), false),
                        ("10.0.0.3".to_string(), true)
                    ]
                ),
                ("IPv4".to_string(), 81, vec![("10.0.0.4".to_string(), true)]),
                ("IPv6".to_string(), 80, vec![("fd00::1".to_string(), true)]),
            ]
        );
    }

    #[test]
    fn big_subsets_are_cut_ready_first() {
        let ep = Endpoints {
            subsets: Some(vec![subset(&["10.0.0.1", "10.0.0.2"], &["10.0.0.3"], 80)]),
            ..Default::default()
        };
        let (groups, truncated) = groups(&ep, 2);
        assert!(truncated);
        assert_eq!(groups[0].endpoints.len(), 2);
        assert!(groups[0].endpoints.iter().all(ready));
    }

    #[test]
    fn opting_out() {
        let mut ep = Endpoints::default();
        assert!(mirrorable(&ep));
        ep.metadata.labels = Some(BTreeMap::from([(SKIP_MIRROR.to_string(), "true".to_string())]));
        assert!(!mirrorable(&ep));
        ep.metadata.labels = None;
        ep.metadata.annotations = Some(BTreeMap::from([(
            LEADER_ANNOTATION.to_string(),
            "{}".to_string(),
        )]));
        assert!(!mirrorable(&ep));
    }
}
