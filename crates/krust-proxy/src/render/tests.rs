//! The script text for each behaviour, asserted line by line on hand-built objects.
//!
//! Chain names carry a hash, so expectations build them with the `names` functions; every
//! other part of a line is spelled out.

use std::net::Ipv4Addr;

use k8s_openapi::api::{
    core::v1::{
        ClientIPConfig, LoadBalancerIngress, LoadBalancerStatus, Service, ServiceStatus,
        SessionAffinityConfig,
    },
    discovery::v1::EndpointSlice,
};

use super::ruleset;
use crate::{
    fixtures::{cfg, ep, ep_with, everything, service, slice, spec},
    names::{self, PortKey},
};

fn render(services: &[Service], slices: &[EndpointSlice]) -> String {
    ruleset(&cfg(), services, slices)
}

/// The rules of chain `name`, trimmed; panics when the chain is missing.
fn chain<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    let header = format!("\tchain {name} {{");
    let start = text
        .lines()
        .position(|l| l == header)
        .unwrap_or_else(|| panic!("no chain {name} in\n{text}"));
    text.lines()
        .skip(start + 1)
        .take_while(|l| *l != "\t}")
        .map(str::trim)
        .collect()
}

fn has_chain(text: &str, name: &str) -> bool {
    text.lines().any(|l| l == format!("\tchain {name} {{"))
}

/// The elements of map `name`, without separators.
fn elements<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    let header = format!("\tmap {name} {{");
    let start = text
        .lines()
        .position(|l| l == header)
        .unwrap_or_else(|| panic!("no map {name}"));
    text.lines()
        .skip(start + 1)
        .take_while(|l| *l != "\t}")
        .map(|l| l.trim().trim_end_matches(','))
        .filter(|l| !l.starts_with("type ") && !l.starts_with("elements") && *l != "}")
        .collect()
}

fn key<'a>(name: &'a str, protocol: &'a str, port_name: &'a str) -> PortKey<'a> {
    PortKey {
        namespace: "ns",
        name,
        protocol,
        port_name,
    }
}

fn ip(text: &str) -> Ipv4Addr {
    text.parse().unwrap()
}

fn web() -> (Service, EndpointSlice) {
    (
        service("ns", "web", "10.43.0.5", &[("http", "TCP", 80)]),
        slice(
            "ns",
            "web",
            "web-a",
            &[("http", "TCP", 8080)],
            vec![ep("10.42.0.1", "node-a"), ep("10.42.1.2", "node-b")],
        ),
    )
}

fn node_port(svc: &mut Service, port: i32) {
    spec(svc).type_ = Some("NodePort".into());
    spec(svc)
        .ports
        .as_mut()
        .into_iter()
        .flatten()
        .for_each(|p| p.node_port = Some(port));
}

fn load_balancer(svc: &mut Service, port: i32, ingress_ip: &str) {
    node_port(svc, port);
    spec(svc).type_ = Some("LoadBalancer".into());
    svc.status = Some(ServiceStatus {
        load_balancer: Some(LoadBalancerStatus {
            ingress: Some(vec![LoadBalancerIngress {
                ip: Some(ingress_ip.into()),
                ..Default::default()
            }]),
        }),
        ..Default::default()
    });
}

#[test]
fn script_replaces_the_table_in_one_transaction() {
    let text = render(&[], &[]);
    // Create (so delete cannot fail on a fresh node), delete, recreate: one nft run.
    assert!(text.starts_with(
        "table ip krust-proxy-test {}\ndelete table ip krust-proxy-test\ntable ip krust-proxy-test {\n"
    ));
    assert!(text.ends_with("\n}\n"));
}

#[test]
fn base_chains_hook_nat_and_filter_before_dnat() {
    let text = render(&[], &[]);
    assert_eq!(
        chain(&text, "nat-prerouting"),
        [
            "type nat hook prerouting priority dstnat; policy accept;",
            "jump services"
        ]
    );
    assert_eq!(
        chain(&text, "nat-output"),
        [
            "type nat hook output priority -100; policy accept;",
            "jump services"
        ]
    );
    assert_eq!(
        chain(&text, "nat-postrouting"),
        [
            "type nat hook postrouting priority srcnat; policy accept;",
            "jump masquerading"
        ]
    );
    for hook in ["input", "forward", "output"] {
        // -110 runs before DNAT (-100), so the filter still sees the service address.
        assert_eq!(
            chain(&text, &format!("filter-{hook}")),
            [
                format!("type filter hook {hook} priority -110; policy accept;").as_str(),
                "ct state new jump endpoints-check"
            ]
        );
    }
    assert_eq!(
        chain(&text, "services"),
        [
            "ip daddr . meta l4proto . th dport vmap @service-ips",
            "fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports",
        ]
    );
    // Only marked connections are masqueraded, and the mark is cleared first.
    assert_eq!(
        chain(&text, "masquerading"),
        [
            "meta mark & 0x4000 == 0 return",
            "meta mark set meta mark xor 0x4000",
            "masquerade fully-random"
        ]
    );
    assert_eq!(
        chain(&text, "mark-for-masquerade"),
        ["meta mark set meta mark or 0x4000"]
    );
}

#[test]
fn cluster_ip_dispatches_to_a_random_endpoint_that_dnats() {
    let (svc, eps) = web();
    let text = render(&[svc], &[eps]);
    let k = key("web", "tcp", "http");
    let service_chain = names::cluster_chain(&k);
    let ep1 = names::endpoint_chain(&k, ip("10.42.0.1"), 8080);
    let ep2 = names::endpoint_chain(&k, ip("10.42.1.2"), 8080);

    assert_eq!(
        elements(&text, "service-ips"),
        [format!("10.43.0.5 . tcp . 80 : goto {service_chain}")]
    );
    assert_eq!(
        chain(&text, &service_chain),
        [
            // From outside the pod network: masquerade so the reply comes back through us.
            "ip daddr 10.43.0.5 tcp dport 80 ip saddr != 10.42.0.0/16 jump mark-for-masquerade".to_owned(),
            // Uniform choice: 1/2 for the first, the rest for the last.
            format!("numgen random mod 2 == 0 goto {ep1}"),
            format!("goto {ep2}"),
        ]
    );
    assert_eq!(
        chain(&text, &ep1),
        [
            // Hairpin: a pod reaching itself through the service must be masqueraded.
            "ip saddr 10.42.0.1 jump mark-for-masquerade",
            "meta l4proto tcp dnat to 10.42.0.1:8080",
        ]
    );
    assert!(elements(&text, "no-endpoint-services").is_empty());
}

#[test]
fn random_choice_is_a_uniform_cascade() {
    let svc = service("ns", "web", "10.43.0.5", &[("", "TCP", 80)]);
    let eps = slice(
        "ns",
        "web",
        "web-a",
        &[("", "TCP", 80)],
        (1..=4).map(|i| ep(&format!("10.42.0.{i}"), "node-b")).collect(),
    );
    let text = render(&[svc], &[eps]);
    let k = key("web", "tcp", "");
    let ep = |i: u8| names::endpoint_chain(&k, Ipv4Addr::new(10, 42, 0, i), 80);
    // Rule i fires with probability 1/(4-i) among what reaches it: 1/4 each overall.
    assert_eq!(
        chain(&text, &names::cluster_chain(&k))[1..],
        [
            format!("numgen random mod 4 == 0 goto {}", ep(1)),
            format!("numgen random mod 3 == 0 goto {}", ep(2)),
            format!("numgen random mod 2 == 0 goto {}", ep(3)),
            format!("goto {}", ep(4)),
        ]
    );
}

#[test]
fn udp_and_sctp_use_their_protocol_in_keys_and_dnat() {
    let svc = service(
        "ns",
        "dns",
        "10.43.0.53",
        &[("dns", "UDP", 53), ("sig", "SCTP", 9000)],
    );
    let eps = slice(
        "ns",
        "dns",
        "dns-a",
        &[("dns", "UDP", 5353), ("sig", "SCTP", 9001)],
        vec![ep("10.42.0.9", "node-a")],
    );
    let text = render(&[svc], &[eps]);
    let udp = key("dns", "udp", "dns");
    let sctp = key("dns", "sctp", "sig");
    assert!(
        elements(&text, "service-ips")
            .contains(&format!("10.43.0.53 . udp . 53 : goto {}", names::cluster_chain(&udp)).as_str())
    );
    assert!(
        elements(&text, "service-ips")
            .contains(&format!("10.43.0.53 . sctp . 9000 : goto {}", names::cluster_chain(&sctp)).as_str())
    );
    assert_eq!(
        chain(&text, &names::endpoint_chain(&udp, ip("10.42.0.9"), 5353))[1],
        "meta l4proto udp dnat to 10.42.0.9:5353"
    );
    assert_eq!(
        chain(&text, &names::endpoint_chain(&sctp, ip("10.42.0.9"), 9001))[1],
        "meta l4proto sctp dnat to 10.42.0.9:9001"
    );
}

#[test]
fn no_endpoints_rejects_cluster_ip_and_node_port_and_builds_no_chains() {
    let mut svc = service("ns", "web", "10.43.0.5", &[("http", "TCP", 80)]);
    load_balancer(&mut svc, 30080, "192.0.2.5");
    let not_ready = slice(
        "ns",
        "web",
        "web-a",
        &[("http", "TCP", 8080)],
        vec![ep_with("10.42.0.1", "node-a", false, false, false)],
    );
    let text = render(&[svc], &[not_ready]);
    assert_eq!(
        elements(&text, "no-endpoint-services"),
        [
            "10.43.0.5 . tcp . 80 : goto reject-chain",
            "192.0.2.5 . tcp . 80 : goto reject-chain"
        ]
    );
    assert_eq!(
        elements(&text, "no-endpoint-nodeports"),
        ["tcp . 30080 : goto reject-chain"]
    );
    assert!(elements(&text, "service-ips").is_empty());
    assert!(elements(&text, "service-nodeports").is_empty());
    assert!(!has_chain(
        &text,
        &names::cluster_chain(&key("web", "tcp", "http"))
    ));
    // The reject happens in filter hooks, where `reject` is allowed.
    assert_eq!(
        chain(&text, "endpoints-check"),
        [
            "ip daddr . meta l4proto . th dport vmap @no-endpoint-services",
            "fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @no-endpoint-nodeports",
        ]
    );
    assert_eq!(chain(&text, "reject-chain"), ["reject"]);
}

#[test]
fn node_port_with_cluster_policy_masquerades_then_uses_all_endpoints() {
    let (mut svc, eps) = web();
    node_port(&mut svc, 30080);
    let text = render(&[svc], &[eps]);
    let k = key("web", "tcp", "http");
    let external = names::external_chain(&k);
    assert_eq!(
        elements(&text, "service-nodeports"),
        [format!("tcp . 30080 : goto {external}")]
    );
    assert_eq!(
        chain(&text, &external),
        [
            "jump mark-for-masquerade".to_owned(),
            format!("goto {}", names::cluster_chain(&k))
        ]
    );
}

#[test]
fn load_balancer_ingress_ip_goes_to_the_external_chain() {
    let (mut svc, eps) = web();
    load_balancer(&mut svc, 30080, "192.0.2.5");
    let text = render(&[svc], &[eps]);
    let k = key("web", "tcp", "http");
    assert_eq!(
        elements(&text, "service-ips"),
        [
            format!("10.43.0.5 . tcp . 80 : goto {}", names::cluster_chain(&k)),
            format!("192.0.2.5 . tcp . 80 : goto {}", names::external_chain(&k)),
        ]
    );
}

#[test]
fn external_policy_local_keeps_source_and_uses_only_local_endpoints() {
    let (mut svc, eps) = web();
    load_balancer(&mut svc, 30080, "192.0.2.5");
    spec(&mut svc).external_traffic_policy = Some("Local".into());
    let text = render(&[svc], &[eps]);
    let k = key("web", "tcp", "http");
    let cluster = names::cluster_chain(&k);
    let local = names::local_chain(&k);
    assert_eq!(
        chain(&text, &names::external_chain(&k)),
        [
            // Pods and the node itself may use any endpoint, as if via the load balancer.
            format!("ip saddr 10.42.0.0/16 goto {cluster}"),
            "fib saddr type local jump mark-for-masquerade".to_owned(),
            format!("fib saddr type local goto {cluster}"),
            // Everyone else keeps their address and lands on this node's endpoint.
            format!("goto {local}"),
        ]
    );
    assert_eq!(
        chain(&text, &local),
        [format!(
            "goto {}",
            names::endpoint_chain(&k, ip("10.42.0.1"), 8080)
        )]
    );
    assert!(elements(&text, "no-endpoint-nodeports").is_empty());
}

#[test]
fn external_policy_local_without_local_endpoints_drops_external_traffic() {
    let mut svc = service("ns", "web", "10.43.0.5", &[("http", "TCP", 80)]);
    load_balancer(&mut svc, 30080, "192.0.2.5");
    spec(&mut svc).external_traffic_policy = Some("Local".into());
    let remote = slice(
        "ns",
        "web",
        "web-a",
        &[("http", "TCP", 8080)],
        vec![ep("10.42.1.2", "node-b")],
    );
    let text = render(&[svc], &[remote]);
    let k = key("web", "tcp", "http");
    // Drop, not reject: the service works, just not through this node.
    assert_eq!(
        elements(&text, "no-endpoint-services"),
        ["192.0.2.5 . tcp . 80 : drop"]
    );
    assert_eq!(elements(&text, "no-endpoint-nodeports"), ["tcp . 30080 : drop"]);
    let external = chain(&text, &names::external_chain(&k));
    assert_eq!(
        external.len(),
        3,
        "short-circuits only, no policy goto: {external:?}"
    );
    assert!(!has_chain(&text, &names::local_chain(&k)));
    // Cluster-IP traffic is unaffected.
    assert!(
        elements(&text, "service-ips")
            .contains(&format!("10.43.0.5 . tcp . 80 : goto {}", names::cluster_chain(&k)).as_str())
    );
}

#[test]
fn internal_policy_local_sends_cluster_ip_traffic_to_local_endpoints() {
    let (mut svc, eps) = web();
    spec(&mut svc).internal_traffic_policy = Some("Local".into());
    let text = render(&[svc], &[eps]);
    let k = key("web", "tcp", "http");
    let local = names::local_chain(&k);
    assert_eq!(
        elements(&text, "service-ips"),
        [format!("10.43.0.5 . tcp . 80 : goto {local}")]
    );
    assert_eq!(
        chain(&text, &local),
        [
            "ip daddr 10.43.0.5 tcp dport 80 ip saddr != 10.42.0.0/16 jump mark-for-masquerade".to_owned(),
            format!("goto {}", names::endpoint_chain(&k, ip("10.42.0.1"), 8080)),
        ]
    );
    // Not externally reachable, so no cluster-wide chain and no remote endpoint chain.
    assert!(!has_chain(&text, &names::cluster_chain(&k)));
    assert!(!has_chain(
        &text,
        &names::endpoint_chain(&k, ip("10.42.1.2"), 8080)
    ));
}

#[test]
fn internal_policy_local_without_local_endpoints_drops() {
    let mut svc = service("ns", "web", "10.43.0.5", &[("http", "TCP", 80)]);
    spec(&mut svc).internal_traffic_policy = Some("Local".into());
    let remote = slice(
        "ns",
        "web",
        "web-a",
        &[("http", "TCP", 8080)],
        vec![ep("10.42.1.2", "node-b")],
    );
    let text = render(&[svc], &[remote]);
    assert_eq!(
        elements(&text, "no-endpoint-services"),
        ["10.43.0.5 . tcp . 80 : drop"]
    );
    assert!(elements(&text, "service-ips").is_empty());
}

#[test]
fn client_ip_affinity_checks_sets_before_choosing_and_records_the_client() {
    let (mut svc, eps) = web();
    spec(&mut svc).session_affinity = Some("ClientIP".into());
    spec(&mut svc).session_affinity_config = Some(SessionAffinityConfig {
        client_ip: Some(ClientIPConfig {
            timeout_seconds: Some(600),
        }),
    });
    let text = render(&[svc], &[eps]);
    let k = key("web", "tcp", "http");
    let (a1, e1) = (
        names::affinity_set(&k, ip("10.42.0.1"), 8080),
        names::endpoint_chain(&k, ip("10.42.0.1"), 8080),
    );
    let (a2, e2) = (
        names::affinity_set(&k, ip("10.42.1.2"), 8080),
        names::endpoint_chain(&k, ip("10.42.1.2"), 8080),
    );

    assert!(text.contains(&format!(
        "\tset {a1} {{\n\t\ttype ipv4_addr\n\t\tflags dynamic,timeout\n\t\ttimeout 600s\n\t}}\n"
    )));
    assert_eq!(
        chain(&text, &names::cluster_chain(&k))[1..],
        [
            format!("ip saddr @{a1} goto {e1}"),
            format!("ip saddr @{a2} goto {e2}"),
            format!("numgen random mod 2 == 0 goto {e1}"),
            format!("goto {e2}"),
        ]
    );
    assert_eq!(
        chain(&text, &e1),
        [
            "ip saddr 10.42.0.1 jump mark-for-masquerade".to_owned(),
            format!("update @{a1} {{ ip saddr }}"),
            "meta l4proto tcp dnat to 10.42.0.1:8080".to_owned(),
        ]
    );
}

#[test]
fn affinity_timeout_defaults_to_three_hours() {
    let (mut svc, eps) = web();
    spec(&mut svc).session_affinity = Some("ClientIP".into());
    let text = render(&[svc], &[eps]);
    assert!(text.contains("\t\ttimeout 10800s\n"));
}

#[test]
fn excluded_and_skipped_services_leave_no_trace() {
    let dns = service("kube-system", "kube-dns", "10.43.0.10", &[("dns", "UDP", 53)]);
    let dns_eps = slice(
        "kube-system",
        "kube-dns",
        "dns-a",
        &[("dns", "UDP", 53)],
        vec![ep("10.42.0.2", "node-a")],
    );
    let mut headless = service("ns", "db", "None", &[("", "TCP", 5432)]);
    spec(&mut headless).cluster_ips = Some(vec!["None".into()]);
    let text = render(&[dns, headless], &[dns_eps]);
    assert_eq!(text, render(&[], &[]));
}

#[test]
fn equal_input_in_any_order_gives_equal_text() {
    let (services, slices) = everything();
    let mut reversed_services = services.clone();
    reversed_services.reverse();
    let mut reversed_slices = slices.clone();
    reversed_slices.reverse();
    for s in &mut reversed_slices {
        s.endpoints.reverse();
    }
    assert_eq!(
        render(&services, &slices),
        render(&reversed_services, &reversed_slices)
    );
}

#[test]
fn two_services_claiming_one_address_yield_one_element() {
    let (a, a_eps) = web();
    let mut b = service("ns", "zzz", "10.43.0.5", &[("http", "TCP", 80)]);
    b.metadata.name = Some("zzz".into());
    let b_eps = slice(
        "ns",
        "zzz",
        "zzz-a",
        &[("http", "TCP", 8080)],
        vec![ep("10.42.0.7", "node-a")],
    );
    let text = render(&[b, a], &[a_eps, b_eps]);
    // nft refuses duplicate elements; the first service by name keeps the address.
    assert_eq!(
        elements(&text, "service-ips"),
        [format!(
            "10.43.0.5 . tcp . 80 : goto {}",
            names::cluster_chain(&key("web", "tcp", "http"))
        )]
    );
}

#[test]
fn invalid_cluster_cidr_masquerades_all_cluster_ip_traffic() {
    let (svc, eps) = web();
    let cfg = crate::ProxyConfig {
        cluster_cidr: "bogus".into(),
        ..cfg()
    };
    let text = ruleset(&cfg, &[svc], &[eps]);
    let rules = chain(&text, &names::cluster_chain(&key("web", "tcp", "http")));
    assert_eq!(
        rules[0],
        "ip daddr 10.43.0.5 tcp dport 80 jump mark-for-masquerade"
    );
}
