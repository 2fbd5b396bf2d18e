//! Endpoint selection and service filtering, on hand-built objects.

use std::net::Ipv4Addr;

use k8s_openapi::api::{
    core::v1::{
        ClientIPConfig, LoadBalancerIngress, LoadBalancerStatus, ServiceStatus, SessionAffinityConfig,
    },
    discovery::v1::EndpointSlice,
};

use super::*;
use crate::fixtures::{cfg, ep, ep_with, service, slice, spec};

fn ports(services: &[Service], slices: &[EndpointSlice]) -> Vec<ServicePort> {
    let s: Vec<&Service> = services.iter().collect();
    let e: Vec<&EndpointSlice> = slices.iter().collect();
    service_ports(&cfg(), &s, &e)
}

fn ips(eps: &[Endpoint]) -> Vec<String> {
    eps.iter().map(|e| format!("{}:{}", e.ip, e.port)).collect()
}

#[test]
fn skips_services_this_proxy_must_not_touch() {
    let mut headless = service("ns", "headless", "None", &[("", "TCP", 80)]);
    spec(&mut headless).cluster_ips = Some(vec!["None".into()]);
    let mut external_name = service("ns", "ext", "10.43.0.2", &[("", "TCP", 80)]);
    spec(&mut external_name).type_ = Some("ExternalName".into());
    let mut other_proxy = service("ns", "other", "10.43.0.3", &[("", "TCP", 80)]);
    other_proxy.metadata.labels = Some(
        [(
            "service.kubernetes.io/service-proxy-name".to_owned(),
            "cilium".to_owned(),
        )]
        .into(),
    );
    let dns = service("kube-system", "kube-dns", "10.43.0.10", &[("dns", "UDP", 53)]);
    let ipv6 = service("ns", "v6", "fd00::1", &[("", "TCP", 80)]);
    let kept = service("ns", "kept", "10.43.0.4", &[("", "TCP", 80)]);

    let got = ports(&[headless, external_name, other_proxy, dns, ipv6, kept], &[]);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].name, "kept");
}

#[test]
fn slices_match_by_label_namespace_family_and_port_name() {
    let svc = service(
        "ns",
        "web",
        "10.43.0.5",
        &[("http", "TCP", 80), ("metrics", "TCP", 9090)],
    );
    let slices = [
        slice(
            "ns",
            "web",
            "web-a",
            &[("http", "TCP", 8080), ("metrics", "TCP", 9100)],
            vec![ep("10.42.0.1", "n1")],
        ),
        // Same label, other namespace: not ours.
        slice(
            "other",
            "web",
            "web-b",
            &[("http", "TCP", 8080)],
            vec![ep("10.42.9.9", "n1")],
        ),
        // Port name differs: contributes nothing to "http".
        slice(
            "ns",
            "web",
            "web-c",
            &[("grpc", "TCP", 7000)],
            vec![ep("10.42.0.3", "n1")],
        ),
    ];
    let mut v6 = slice(
        "ns",
        "web",
        "web-v6",
        &[("http", "TCP", 8080)],
        vec![ep("fd00::5", "n1")],
    );
    v6.address_type = "IPv6".into();

    let mut all = slices.to_vec();
    all.push(v6);
    let got = ports(&[svc], &all);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].port_name, "http");
    assert_eq!(ips(&got[0].cluster_endpoints), ["10.42.0.1:8080"]);
    assert_eq!(got[1].port_name, "metrics");
    assert_eq!(
        ips(&got[1].cluster_endpoints),
        ["10.42.0.1:9100"],
        "target port comes from the slice"
    );
}

#[test]
fn unnamed_ports_match_unnamed_slice_ports_and_protocol_must_agree() {
    let svc = service("ns", "dns", "10.43.0.20", &[("", "UDP", 53)]);
    let s = slice(
        "ns",
        "dns",
        "dns-a",
        &[("", "TCP", 5353), ("", "UDP", 5353)],
        vec![ep("10.42.0.7", "n1")],
    );
    let got = ports(&[svc], &[s]);
    assert_eq!(got[0].protocol, Protocol::Udp);
    assert_eq!(ips(&got[0].cluster_endpoints), ["10.42.0.7:5353"]);
}

#[test]
fn ready_endpoints_win_and_unset_ready_counts_as_ready() {
    let svc = service("ns", "web", "10.43.0.5", &[("", "TCP", 80)]);
    let mut unset = ep("10.42.0.2", "n1");
    unset.conditions = Some(Default::default());
    let s = slice(
        "ns",
        "web",
        "web-a",
        &[("", "TCP", 8080)],
        vec![
            ep_with("10.42.0.1", "n1", true, true, false),
            unset,
            ep_with("10.42.0.3", "n1", false, true, true),
            ep_with("10.42.0.4", "n1", false, false, false),
        ],
    );
    let got = ports(&[svc], &[s]);
    assert_eq!(
        ips(&got[0].cluster_endpoints),
        ["10.42.0.1:8080", "10.42.0.2:8080"]
    );
}

#[test]
fn terminating_endpoints_are_used_only_when_none_is_ready() {
    let svc = service("ns", "web", "10.43.0.5", &[("", "TCP", 80)]);
    let s = slice(
        "ns",
        "web",
        "web-a",
        &[("", "TCP", 8080)],
        vec![
            ep_with("10.42.0.3", "n1", false, true, true),
            // Terminating but no longer serving: never used.
            ep_with("10.42.0.4", "n1", false, false, true),
            // Not ready and not terminating (starting up): never used.
            ep_with("10.42.0.5", "n1", false, true, false),
        ],
    );
    let got = ports(&[svc], &[s]);
    assert_eq!(ips(&got[0].cluster_endpoints), ["10.42.0.3:8080"]);
    assert!(got[0].has_endpoints());
}

#[test]
fn an_endpoint_in_two_slices_counts_once() {
    let svc = service("ns", "web", "10.43.0.5", &[("", "TCP", 80)]);
    let a = slice(
        "ns",
        "web",
        "web-a",
        &[("", "TCP", 8080)],
        vec![ep("10.42.0.1", "n1"), ep("10.42.0.2", "n1")],
    );
    let b = slice(
        "ns",
        "web",
        "web-b",
        &[("", "TCP", 8080)],
        vec![ep("10.42.0.2", "n1")],
    );
    let got = ports(&[svc], &[b, a]);
    assert_eq!(
        ips(&got[0].cluster_endpoints),
        ["10.42.0.1:8080", "10.42.0.2:8080"]
    );
}

#[test]
fn local_endpoints_are_this_nodes_with_their_own_fallback() {
    let mut svc = service("ns", "web", "10.43.0.5", &[("", "TCP", 80)]);
    spec(&mut svc).internal_traffic_policy = Some("Local".into());
    let s = slice(
        "ns",
        "web",
        "web-a",
        &[("", "TCP", 8080)],
        vec![
            ep("10.42.1.1", "node-b"),
            // This node's only endpoint is terminating: Local policy falls back to it.
            ep_with("10.42.0.9", "node-a", false, true, true),
        ],
    );
    let got = ports(&[svc], &[s]);
    assert!(got[0].internal_local);
    assert_eq!(ips(&got[0].cluster_endpoints), ["10.42.1.1:8080"]);
    assert_eq!(ips(&got[0].local_endpoints), ["10.42.0.9:8080"]);
    assert!(got[0].local_endpoints[0].local);
}

#[test]
fn node_ports_and_external_policy_only_for_externally_reachable_types() {
    let mut cluster_ip = service("ns", "a", "10.43.0.5", &[("", "TCP", 80)]);
    spec(&mut cluster_ip).ports.as_mut().unwrap()[0].node_port = Some(30080);
    spec(&mut cluster_ip).external_traffic_policy = Some("Local".into());
    let mut node_port = cluster_ip.clone();
    node_port.metadata.name = Some("b".into());
    spec(&mut node_port).type_ = Some("NodePort".into());

    let got = ports(&[cluster_ip, node_port], &[]);
    assert_eq!((got[0].node_port, got[0].external_local), (None, false));
    assert_eq!((got[1].node_port, got[1].external_local), (Some(30080), true));
}

#[test]
fn load_balancer_ingress_ips_are_external_except_proxy_mode() {
    let mut svc = service("ns", "lb", "10.43.0.5", &[("", "TCP", 80)]);
    spec(&mut svc).type_ = Some("LoadBalancer".into());
    spec(&mut svc).external_ips = Some(vec!["192.0.2.9".into()]);
    svc.status = Some(ServiceStatus {
        load_balancer: Some(LoadBalancerStatus {
            ingress: Some(vec![
                LoadBalancerIngress {
                    ip: Some("192.0.2.10".into()),
                    ..Default::default()
                },
                LoadBalancerIngress {
                    ip: Some("192.0.2.11".into()),
                    ip_mode: Some("Proxy".into()),
                    ..Default::default()
                },
                LoadBalancerIngress {
                    hostname: Some("lb.example".into()),
                    ..Default::default()
                },
                LoadBalancerIngress {
                    ip: Some("192.0.2.9".into()),
                    ..Default::default()
                },
            ]),
        }),
        ..Default::default()
    });
    let got = ports(&[svc], &[]);
    assert_eq!(
        got[0].external_ips,
        [Ipv4Addr::new(192, 0, 2, 9), Ipv4Addr::new(192, 0, 2, 10)]
    );
}

#[test]
fn client_ip_affinity_timeout_defaults_to_three_hours() {
    let mut plain = service("ns", "a", "10.43.0.5", &[("", "TCP", 80)]);
    spec(&mut plain).session_affinity = Some("None".into());
    let mut default = service("ns", "b", "10.43.0.6", &[("", "TCP", 80)]);
    spec(&mut default).session_affinity = Some("ClientIP".into());
    let mut custom = default.clone();
    custom.metadata.name = Some("c".into());
    spec(&mut custom).session_affinity_config = Some(SessionAffinityConfig {
        client_ip: Some(ClientIPConfig {
            timeout_seconds: Some(60),
        }),
    });
    let got = ports(&[plain, default, custom], &[]);
    let timeouts: Vec<_> = got.iter().map(|p| p.affinity_seconds).collect();
    assert_eq!(timeouts, [None, Some(10_800), Some(60)]);
}

#[test]
fn order_does_not_depend_on_input_order() {
    let a = service("ns", "a", "10.43.0.5", &[("", "TCP", 80)]);
    let b = service("ns", "b", "10.43.0.6", &[("", "TCP", 80)]);
    let s1 = slice(
        "ns",
        "a",
        "a-1",
        &[("", "TCP", 8080)],
        vec![ep("10.42.0.2", "n"), ep("10.42.0.1", "n")],
    );
    let s2 = slice("ns", "a", "a-2", &[("", "TCP", 8080)], vec![ep("10.42.0.3", "n")]);
    let one = ports(&[a.clone(), b.clone()], &[s1.clone(), s2.clone()]);
    let two = ports(&[b, a], &[s2, s1]);
    assert_eq!(one, two);
}
