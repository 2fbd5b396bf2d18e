//! The endpoints a Service's slices should hold, as upstream's endpointslice reconciler
//! derives them from pods: one endpoint per pod with an IP of the address type (being
//! deleted ones included, marked terminating), with the conditions
//!
//! - `serving`: the pod is Ready (or the Service publishes not-ready addresses),
//! - `terminating`: the pod is being deleted,
//! - `ready`: serving and not terminating (always, with `publishNotReadyAddresses`),
//!
//! its node and that node's zone (`topology.kubernetes.io/zone`), a target reference and,
//! for pods whose subdomain names the Service, its hostname; grouped by the ports the pod
//! resolves the service ports to (named target ports can differ per pod).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, ObjectReference, Pod, Service};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort};

use super::plan::{Group, GroupKey, endpoint_key, port_key};
use crate::endpoints::pods;

/// The zone label of nodes.
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";

/// The desired groups, and whether some pod was left out because its node is not known
/// (yet): then look again soon.
#[derive(Debug, Default)]
pub struct Desired {
    /// Endpoints by address type and port set.
    pub groups: Vec<Group>,
    /// A pod's node was missing from the cache.
    pub missing_node: bool,
}

/// The ports `pod` serves for `svc` (the service ports it resolves), in service order.
pub fn endpoint_ports(svc: &Service, pod: &Pod) -> Vec<EndpointPort> {
    svc.spec
        .as_ref()
        .and_then(|s| s.ports.as_deref())
        .unwrap_or_default()
        .iter()
        .filter_map(|sp| {
            let port = pods::find_port(pod, sp)?;
            Some(EndpointPort {
                name: Some(sp.name.clone().unwrap_or_default()),
                port: Some(port),
                protocol: Some(sp.protocol.clone().unwrap_or_else(|| "TCP".into())),
                app_protocol: sp.app_protocol.clone(),
            })
        })
        .collect()
}

/// The endpoint of `pod` for `svc` and address type (its addresses may be empty: the pod
/// has no IP of that family).
pub fn endpoint(svc: &Service, pod: &Pod, node: Option<&Node>, address_type: &str) -> Endpoint {
    let publish = svc
        .spec
        .as_ref()
        .and_then(|s| s.publish_not_ready_addresses)
        .unwrap_or(false);
    let serving = publish || pods::is_ready(pod);
    let terminating = pods::is_terminating(pod);
    let ready = publish || (serving && !terminating);
    Endpoint {
        addresses: pods::ips_of_family(pod, address_type)
            .into_iter()
            .map(str::to_string)
            .collect(),
        conditions: Some(EndpointConditions {
            ready: Some(ready),
            serving: Some(serving),
            terminating: Some(terminating),
        }),
        hostname: pods::hostname_for(pod, svc).map(str::to_string),
        node_name: pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .filter(|n| !n.is_empty()),
        zone: node
            .and_then(|n| n.metadata.labels.as_ref())
            .and_then(|l| l.get(ZONE_LABEL))
            .filter(|z| !z.is_empty())
            .cloned(),
        target_ref: Some(ObjectReference {
            kind: Some("Pod".into()),
            namespace: pod.metadata.namespace.clone(),
            name: pod.metadata.name.clone(),
            uid: pod.metadata.uid.clone(),
            ..Default::default()
        }),
        deprecated_topology: None,
        hints: None,
    }
}

/// The desired groups of `svc` over the pods it selects; `node` looks a node up by name.
pub fn desired<'a>(
    svc: &Service,
    selected: &[&Pod],
    address_types: &[&str],
    node: impl Fn(&str) -> Option<std::sync::Arc<Node>> + 'a,
) -> Desired {
    let publish = svc
        .spec
        .as_ref()
        .and_then(|s| s.publish_not_ready_addresses)
        .unwrap_or(false);
    let mut out = Desired::default();
    let mut groups: BTreeMap<GroupKey, Group> = BTreeMap::new();
    for pod in selected {
        if !pods::should_be_in_endpoints(pod, true) {
            continue;
        }
        let node_name = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .unwrap_or_default();
        let n = node(node_name);
        if n.is_none() && !publish {
            // Upstream leaves such pods out and tries again: the node may just not be in
            // the cache yet (or the pod garbage collector will remove the pod).
            out.missing_node = true;
            continue;
        }
        let ports = endpoint_ports(svc, pod);
        for address_type in address_types {
            let e = endpoint(svc, pod, n.as_deref(), address_type);
            if e.addresses.is_empty() {
                continue;
            }
            groups
                .entry((address_type.to_string(), port_key(&ports)))
                .or_insert_with(|| Group {
                    address_type: address_type.to_string(),
                    ports: ports.clone(),
                    endpoints: Vec::new(),
                })
                .endpoints
                .push(e);
        }
    }
    out.groups = groups
        .into_values()
        .map(|mut g| {
            g.endpoints.sort_by_key(endpoint_key);
            g
        })
        .collect();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoints::pods::tests::{pod, service};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::jiff::Timestamp;
    use std::sync::Arc;

    fn zoned(name: &str, zone: &str) -> Arc<Node> {
        let mut n = Node::default();
        n.metadata.name = Some(name.into());
        n.metadata.labels = Some(BTreeMap::from([(ZONE_LABEL.to_string(), zone.to_string())]));
        Arc::new(n)
    }

    fn conditions(e: &Endpoint) -> (bool, bool, bool) {
        let c = e.conditions.clone().unwrap_or_default();
        (
            c.ready.unwrap_or_default(),
            c.serving.unwrap_or_default(),
            c.terminating.unwrap_or_default(),
        )
    }

    #[test]
    fn conditions_follow_readiness_and_deletion() {
        let svc = service();
        let ready = pod("a", "10.42.0.1", true);
        let unready = pod("b", "10.42.0.2", false);
        let mut leaving = pod("c", "10.42.0.3", true);
        leaving.metadata.deletion_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
        let node = zoned("node-a", "zone-1");
        assert_eq!(
            conditions(&endpoint(&svc, &ready, Some(&node), "IPv4")),
            (true, true, false)
        );
        assert_eq!(
            conditions(&endpoint(&svc, &unready, Some(&node), "IPv4")),
            (false, false, false)
        );
        assert_eq!(
            conditions(&endpoint(&svc, &leaving, Some(&node), "IPv4")),
            (false, true, true)
        );
        let e = endpoint(&svc, &ready, Some(&node), "IPv4");
        assert_eq!(e.zone.as_deref(), Some("zone-1"));
        assert_eq!(e.node_name.as_deref(), Some("node-a"));
        assert_eq!(e.addresses, ["10.42.0.1"]);
        assert!(e.hints.is_none());

        let mut publish = svc.clone();
        if let Some(s) = publish.spec.as_mut() {
            s.publish_not_ready_addresses = Some(true);
        }
        assert_eq!(
            conditions(&endpoint(&publish, &unready, Some(&node), "IPv4")),
            (true, true, false)
        );
        assert_eq!(
            conditions(&endpoint(&publish, &leaving, Some(&node), "IPv4")),
            (true, true, true)
        );
    }

    #[test]
    fn groups_by_resolved_ports() {
        let svc = service();
        let a = pod("a", "10.42.0.1", true);
        let mut b = pod("b", "10.42.0.2", true);
        if let Some(p) = b.spec.as_mut().and_then(|s| s.containers[0].ports.as_mut()) {
            p[0].container_port = 9000;
        }
        let no_ip = pod("c", "", true);
        let node = zoned("node-a", "z");
        let d = desired(&svc, &[&a, &b, &no_ip], &["IPv4"], |_| Some(node.clone()));
        assert!(!d.missing_node);
        let ports: Vec<i32> = d
            .groups
            .iter()
            .map(|g| g.ports[0].port.unwrap_or_default())
            .collect();
        assert_eq!(ports, [8080, 9000]);
        assert_eq!(d.groups[0].ports[0].name.as_deref(), Some("web"));
        assert_eq!(d.groups.iter().map(|g| g.endpoints.len()).sum::<usize>(), 2);
    }

    #[test]
    fn pods_on_unknown_nodes_wait() {
        let svc = service();
        let a = pod("a", "10.42.0.1", true);
        let d = desired(&svc, &[&a], &["IPv4"], |_| None);
        assert!(d.missing_node && d.groups.is_empty());
    }
}
