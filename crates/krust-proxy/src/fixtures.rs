//! Hand-built Services and EndpointSlices for the unit tests.

use std::{collections::BTreeMap, net::Ipv4Addr};

use k8s_openapi::{
    api::{
        core::v1::{Service, ServicePort, ServiceSpec},
        discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice},
    },
    apimachinery::pkg::apis::meta::v1::ObjectMeta,
};

use crate::ProxyConfig;

/// The node under test is "node-a", pods live in 10.42.0.0/16, DNS is excluded.
pub(crate) fn cfg() -> ProxyConfig {
    ProxyConfig {
        node_name: "node-a".into(),
        cluster_cidr: "10.42.0.0/16".into(),
        excluded_ips: vec![Ipv4Addr::new(10, 43, 0, 10)],
        table: "krust-proxy-test".into(),
    }
}

/// A ClusterIP service with ports given as (name, protocol, port).
pub(crate) fn service(ns: &str, name: &str, cluster_ip: &str, ports: &[(&str, &str, i32)]) -> Service {
    Service {
        metadata: ObjectMeta {
            namespace: Some(ns.into()),
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".into()),
            cluster_ip: Some(cluster_ip.into()),
            cluster_ips: Some(vec![cluster_ip.into()]),
            ports: Some(
                ports
                    .iter()
                    .map(|(n, proto, port)| ServicePort {
                        name: (!n.is_empty()).then(|| (*n).into()),
                        protocol: Some((*proto).into()),
                        port: *port,
                        ..ServicePort::default()
                    })
                    .collect(),
            ),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

/// The spec of a fixture service, for tests that tweak one field.
pub(crate) fn spec(svc: &mut Service) -> &mut ServiceSpec {
    svc.spec.get_or_insert_with(ServiceSpec::default)
}

/// A ready endpoint on `node`.
pub(crate) fn ep(ip: &str, node: &str) -> Endpoint {
    Endpoint {
        addresses: vec![ip.into()],
        node_name: Some(node.into()),
        ..Endpoint::default()
    }
}

/// An endpoint with explicit conditions.
pub(crate) fn ep_with(ip: &str, node: &str, ready: bool, serving: bool, terminating: bool) -> Endpoint {
    Endpoint {
        conditions: Some(EndpointConditions {
            ready: Some(ready),
            serving: Some(serving),
            terminating: Some(terminating),
        }),
        ..ep(ip, node)
    }
}

/// An IPv4 slice for service `svc` with ports given as (name, protocol, port).
pub(crate) fn slice(
    ns: &str,
    svc: &str,
    slice_name: &str,
    ports: &[(&str, &str, i32)],
    endpoints: Vec<Endpoint>,
) -> EndpointSlice {
    EndpointSlice {
        metadata: ObjectMeta {
            namespace: Some(ns.into()),
            name: Some(slice_name.into()),
            labels: Some(BTreeMap::from([(
                "kubernetes.io/service-name".to_owned(),
                svc.to_owned(),
            )])),
            ..ObjectMeta::default()
        },
        address_type: "IPv4".into(),
        endpoints,
        ports: Some(
            ports
                .iter()
                .map(|(n, proto, port)| EndpointPort {
                    name: (!n.is_empty()).then(|| (*n).into()),
                    protocol: Some((*proto).into()),
                    port: Some(*port),
                    ..EndpointPort::default()
                })
                .collect(),
        ),
    }
}

/// One service of every kind the proxy handles, with slices; the representative ruleset.
pub(crate) fn everything() -> (Vec<Service>, Vec<EndpointSlice>) {
    use k8s_openapi::api::core::v1::{
        ClientIPConfig, LoadBalancerIngress, LoadBalancerStatus, ServiceStatus, SessionAffinityConfig,
    };

    let lb_status = |ip: &str| ServiceStatus {
        load_balancer: Some(LoadBalancerStatus {
            ingress: Some(vec![k8s_openapi::api::core::v1::LoadBalancerIngress {
                ip: Some(ip.into()),
                ..LoadBalancerIngress::default()
            }]),
        }),
        ..ServiceStatus::default()
    };
    let mut services = Vec::new();
    let mut slices = Vec::new();

    // Plain multi-port ClusterIP with two ready endpoints on different nodes.
    services.push(service(
        "default",
        "web",
        "10.43.0.5",
        &[("http", "TCP", 80), ("https", "TCP", 443)],
    ));
    slices.push(slice(
        "default",
        "web",
        "web-abc",
        &[("http", "TCP", 8080), ("https", "TCP", 8443)],
        vec![ep("10.42.0.11", "node-a"), ep("10.42.1.12", "node-b")],
    ));
    // UDP and SCTP.
    services.push(service(
        "default",
        "dns2",
        "10.43.0.53",
        &[("dns", "UDP", 53), ("sig", "SCTP", 9000)],
    ));
    slices.push(slice(
        "default",
        "dns2",
        "dns2-a",
        &[("dns", "UDP", 5353), ("sig", "SCTP", 9000)],
        vec![ep("10.42.0.21", "node-a")],
    ));
    // No endpoints at all, with a NodePort: reject both.
    let mut empty = service("default", "empty", "10.43.0.6", &[("", "TCP", 80)]);
    spec(&mut empty).type_ = Some("NodePort".into());
    spec(&mut empty)
        .ports
        .as_mut()
        .into_iter()
        .flatten()
        .for_each(|p| p.node_port = Some(30006));
    services.push(empty);
    // NodePort, external policy Cluster.
    let mut np = service("default", "np", "10.43.0.7", &[("", "TCP", 80)]);
    spec(&mut np).type_ = Some("NodePort".into());
    spec(&mut np)
        .ports
        .as_mut()
        .into_iter()
        .flatten()
        .for_each(|p| p.node_port = Some(30007));
    services.push(np);
    slices.push(slice(
        "default",
        "np",
        "np-a",
        &[("", "TCP", 8080)],
        vec![ep("10.42.1.31", "node-b")],
    ));
    // LoadBalancer, external policy Local, with one local and one remote endpoint.
    let mut lb = service("default", "lb", "10.43.0.8", &[("http", "TCP", 80)]);
    spec(&mut lb).type_ = Some("LoadBalancer".into());
    spec(&mut lb).external_traffic_policy = Some("Local".into());
    spec(&mut lb)
        .ports
        .as_mut()
        .into_iter()
        .flatten()
        .for_each(|p| p.node_port = Some(30008));
    lb.status = Some(lb_status("192.0.2.8"));
    services.push(lb);
    slices.push(slice(
        "default",
        "lb",
        "lb-a",
        &[("http", "TCP", 8080)],
        vec![ep("10.42.0.41", "node-a"), ep("10.42.1.42", "node-b")],
    ));
    // LoadBalancer, external policy Local, endpoints only elsewhere: drop external traffic.
    let mut lb_remote = service("default", "lb-remote", "10.43.0.9", &[("", "TCP", 80)]);
    spec(&mut lb_remote).type_ = Some("LoadBalancer".into());
    spec(&mut lb_remote).external_traffic_policy = Some("Local".into());
    spec(&mut lb_remote)
        .ports
        .as_mut()
        .into_iter()
        .flatten()
        .for_each(|p| p.node_port = Some(30009));
    lb_remote.status = Some(lb_status("192.0.2.9"));
    services.push(lb_remote);
    slices.push(slice(
        "default",
        "lb-remote",
        "lb-remote-a",
        &[("", "TCP", 8080)],
        vec![ep("10.42.1.51", "node-b")],
    ));
    // Internal policy Local, with and without a local endpoint.
    let mut itp = service("default", "itp", "10.43.0.11", &[("", "TCP", 80)]);
    spec(&mut itp).internal_traffic_policy = Some("Local".into());
    services.push(itp);
    slices.push(slice(
        "default",
        "itp",
        "itp-a",
        &[("", "TCP", 8080)],
        vec![ep("10.42.0.61", "node-a"), ep("10.42.1.62", "node-b")],
    ));
    let mut itp_remote = service("default", "itp-remote", "10.43.0.12", &[("", "TCP", 80)]);
    spec(&mut itp_remote).internal_traffic_policy = Some("Local".into());
    services.push(itp_remote);
    slices.push(slice(
        "default",
        "itp-remote",
        "itp-remote-a",
        &[("", "TCP", 8080)],
        vec![ep("10.42.1.71", "node-b")],
    ));
    // ClientIP affinity with a custom timeout.
    let mut sticky = service("default", "sticky", "10.43.0.13", &[("", "TCP", 80)]);
    spec(&mut sticky).session_affinity = Some("ClientIP".into());
    spec(&mut sticky).session_affinity_config = Some(SessionAffinityConfig {
        client_ip: Some(ClientIPConfig {
            timeout_seconds: Some(600),
        }),
    });
    services.push(sticky);
    slices.push(slice(
        "default",
        "sticky",
        "sticky-a",
        &[("", "TCP", 8080)],
        vec![ep("10.42.0.81", "node-a"), ep("10.42.1.82", "node-b")],
    ));
    // Only a terminating endpoint left.
    services.push(service("default", "draining", "10.43.0.14", &[("", "TCP", 80)]));
    slices.push(slice(
        "default",
        "draining",
        "draining-a",
        &[("", "TCP", 8080)],
        vec![ep_with("10.42.0.91", "node-a", false, true, true)],
    ));
    // Names the API server should have refused still yield a loadable script.
    services.push(service(
        "odd ns",
        "x}; flush ruleset",
        "10.43.0.15",
        &[("p q", "TCP", 80)],
    ));
    slices.push(slice(
        "odd ns",
        "x}; flush ruleset",
        "odd",
        &[("p q", "TCP", 8080)],
        vec![ep("10.42.0.99", "node-a")],
    ));
    // The excluded DNS address: no rules at all.
    services.push(service(
        "kube-system",
        "kube-dns",
        "10.43.0.10",
        &[("dns", "UDP", 53)],
    ));
    (services, slices)
}

/// `count` NodePort services with `per_service` ready endpoints each (for scale checks).
pub(crate) fn many(count: usize, per_service: usize) -> (Vec<Service>, Vec<EndpointSlice>) {
    let mut services = Vec::with_capacity(count);
    let mut slices = Vec::with_capacity(count);
    for i in 0..count {
        let ns = format!("ns-{}", i % 20);
        let name = format!("svc-{i}");
        let ip = format!("10.43.{}.{}", 1 + i / 250, 1 + i % 250);
        let mut svc = service(&ns, &name, &ip, &[("http", "TCP", 80)]);
        if i % 4 == 0 {
            spec(&mut svc).type_ = Some("NodePort".into());
            let node_port = 30_000 + i32::try_from(i).unwrap_or(0);
            spec(&mut svc)
                .ports
                .as_mut()
                .into_iter()
                .flatten()
                .for_each(|p| p.node_port = Some(node_port));
        }
        services.push(svc);
        let endpoints = (0..per_service)
            .map(|j| {
                let n = i * per_service + j;
                ep(
                    &format!("10.42.{}.{}", n / 250, 1 + n % 250),
                    if j % 3 == 0 { "node-a" } else { "node-b" },
                )
            })
            .collect();
        slices.push(slice(
            &ns,
            &name,
            &format!("{name}-x"),
            &[("http", "TCP", 8080)],
            endpoints,
        ));
    }
    (services, slices)
}
