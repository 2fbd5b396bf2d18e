//! The Node object a simulated node registers, and the status it reports: the labels a
//! real kubelet sets (hostname, os, arch) plus the configured ones, the configured taints
//! and capacity, fake addresses, node info that says what it is, and healthy conditions.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    DaemonEndpoint, Node, NodeAddress, NodeDaemonEndpoints, NodeSpec, NodeStatus, NodeSystemInfo,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::conditions::{self, ALL};
use crate::config::PoolSpec;

/// Annotation that marks a node as run by krust's simulated node agent.
pub(crate) const AGENT_ANNOTATION: &str = "krust.io/node-agent";
/// The kubelet version simulated nodes report.
pub(crate) const KUBELET_VERSION: &str = "v1.33.0-krust";

/// This machine's architecture in Kubernetes' (Go's) spelling.
pub(crate) fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// The labels of node `name`: upstream's well-known ones, then the configured ones (which
/// win).
pub(crate) fn labels(spec: &PoolSpec, name: &str) -> BTreeMap<String, String> {
    let mut l: BTreeMap<String, String> = [
        ("kubernetes.io/hostname", name),
        ("kubernetes.io/os", "linux"),
        ("kubernetes.io/arch", arch()),
        ("beta.kubernetes.io/os", "linux"),
        ("beta.kubernetes.io/arch", arch()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    if spec.host.is_none() {
        l.insert("node.kubernetes.io/instance-type".into(), "simulated".into());
    }
    l.extend(spec.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
    l
}

/// The annotations of a simulated node.
pub(crate) fn annotations(spec: &PoolSpec) -> BTreeMap<String, String> {
    let agent = if spec.host.is_some() {
        "containerd"
    } else {
        "simulated"
    };
    [(AGENT_ANNOTATION, agent), ("node.alpha.kubernetes.io/ttl", "0")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The status node `index` reports at `now`; conditions in `transitions` get `now` as
/// their transition time.
pub(crate) fn status(spec: &PoolSpec, index: u32, now: jiff::Timestamp, transitions: u8) -> NodeStatus {
    let name = spec.names.name(index);
    NodeStatus {
        addresses: Some(vec![
            NodeAddress {
                type_: "InternalIP".into(),
                address: spec.node_ip(index).to_string(),
            },
            NodeAddress {
                type_: "Hostname".into(),
                address: spec.host.as_ref().map_or(name, |h| h.hostname.clone()),
            },
        ]),
        allocatable: Some(spec.capacity.clone()),
        capacity: Some(spec.capacity.clone()),
        conditions: Some(conditions::conditions(now, transitions)),
        daemon_endpoints: Some(NodeDaemonEndpoints {
            kubelet_endpoint: Some(DaemonEndpoint {
                port: spec.host.as_ref().map_or(10250, |h| i32::from(h.kubelet_port)),
            }),
        }),
        node_info: Some(
            spec.host
                .as_ref()
                .map_or_else(|| simulated_info(index), |h| h.info.clone()),
        ),
        ..Default::default()
    }
}

/// The node info a simulated node reports: it says what it is.
fn simulated_info(index: u32) -> NodeSystemInfo {
    NodeSystemInfo {
        architecture: arch().into(),
        boot_id: format!("{index:08x}-0000-4000-8000-000000000000"),
        container_runtime_version: format!("simulated://{}", env!("CARGO_PKG_VERSION")),
        kernel_version: "simulated".into(),
        kube_proxy_version: String::new(),
        kubelet_version: KUBELET_VERSION.into(),
        machine_id: format!("{index:032x}"),
        operating_system: "linux".into(),
        os_image: "krust simulated node".into(),
        swap: None,
        system_uuid: format!("{index:08x}-0000-4000-8000-{index:012x}"),
    }
}

/// The Node object node `index` registers with.
pub(crate) fn node(spec: &PoolSpec, index: u32, now: jiff::Timestamp) -> Node {
    let name = spec.names.name(index);
    Node {
        metadata: ObjectMeta {
            labels: Some(labels(spec, &name)),
            annotations: Some(annotations(spec)),
            name: Some(name),
            ..Default::default()
        },
        spec: Some(NodeSpec {
            taints: (!spec.taints.is_empty()).then(|| spec.taints.clone()),
            ..Default::default()
        }),
        status: Some(registered_status(spec, index, now)),
    }
}

/// The status a node registers with: a real node's pod network is not set up before it
/// has a pod CIDR, so it starts `NetworkUnavailable` (the node lifecycle controller then
/// keeps pods off it with the `network-unavailable` taint) until the agent has written its
/// CNI configuration.
fn registered_status(spec: &PoolSpec, index: u32, now: jiff::Timestamp) -> NodeStatus {
    let mut st = status(spec, index, now, ALL);
    if spec.host.is_some()
        && let Some(conditions) = st.conditions.as_mut()
    {
        conditions.push(network_condition(false, now));
    }
    st
}

/// The `NetworkUnavailable` condition of a real node.
pub(crate) fn network_condition(
    ready: bool,
    now: jiff::Timestamp,
) -> k8s_openapi::api::core::v1::NodeCondition {
    let (status, reason, message) = if ready {
        ("False", "RouteCreated", "the pod network bridge is configured")
    } else {
        (
            "True",
            "NoRouteCreated",
            "the node's pod network is not configured yet",
        )
    };
    k8s_openapi::api::core::v1::NodeCondition {
        type_: "NetworkUnavailable".into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_heartbeat_time: Some(crate::clock::time(now)),
        last_transition_time: Some(crate::clock::time(now)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SimulatedConfig;

    fn spec() -> PoolSpec {
        let config = SimulatedConfig {
            count: 5,
            labels: [
                ("zone".to_string(), "a".to_string()),
                ("node.kubernetes.io/instance-type".to_string(), "big".to_string()),
            ]
            .into(),
            taints: vec!["dedicated=gpu:NoSchedule".into()],
            ..Default::default()
        };
        PoolSpec::from_config(&config).unwrap()
    }

    #[test]
    fn registered_node() {
        let now = jiff::Timestamp::now();
        let n = node(&spec(), 3, now);
        assert_eq!(n.metadata.name.as_deref(), Some("sim-3"));
        let labels = n.metadata.labels.unwrap();
        assert_eq!(labels["kubernetes.io/hostname"], "sim-3");
        assert_eq!(labels["kubernetes.io/os"], "linux");
        assert_eq!(labels["zone"], "a");
        assert_eq!(
            labels["node.kubernetes.io/instance-type"], "big",
            "configuration wins"
        );
        assert_eq!(n.spec.unwrap().taints.unwrap()[0].key, "dedicated");
        let st = n.status.unwrap();
        assert_eq!(st.capacity.as_ref().unwrap()["cpu"].0, "32");
        assert_eq!(st.allocatable, st.capacity);
        let addrs = st.addresses.unwrap();
        assert_eq!(
            (addrs[0].type_.as_str(), addrs[0].address.as_str()),
            ("InternalIP", "10.200.0.4")
        );
        assert_eq!(
            (addrs[1].type_.as_str(), addrs[1].address.as_str()),
            ("Hostname", "sim-3")
        );
        let info = st.node_info.unwrap();
        assert_eq!(info.kubelet_version, "v1.33.0-krust");
        assert!(info.container_runtime_version.starts_with("simulated://"));
        let ready = &st.conditions.unwrap()[0];
        assert_eq!((ready.type_.as_str(), ready.status.as_str()), ("Ready", "True"));
        assert!(ready.last_transition_time.is_some());
        assert_eq!(st.daemon_endpoints.unwrap().kubelet_endpoint.unwrap().port, 10250);
    }

    #[test]
    fn a_real_node_registers_without_its_network() {
        let mut real = spec();
        real.host = Some(crate::config::HostNode {
            ip: "192.168.1.5".parse().unwrap(),
            hostname: "box".into(),
            info: NodeSystemInfo::default(),
            sync_frequency: std::time::Duration::from_secs(60),
            kubelet_port: 10250,
        });
        let now = jiff::Timestamp::now();
        let n = node(&real, 0, now);
        let conditions = n.status.unwrap().conditions.unwrap();
        let net = conditions
            .iter()
            .find(|c| c.type_ == "NetworkUnavailable")
            .unwrap();
        assert_eq!(net.status, "True");
        assert_eq!(network_condition(true, now).status, "False");
        let addrs = node(&real, 0, now).status.unwrap().addresses.unwrap();
        assert_eq!(addrs[0].address, "192.168.1.5");
        assert_eq!(addrs[1].address, "box");
        assert!(
            !node(&spec(), 0, now)
                .status
                .unwrap()
                .conditions
                .unwrap()
                .iter()
                .any(|c| c.type_ == "NetworkUnavailable"),
            "simulated nodes have no network to wait for"
        );
    }
}
