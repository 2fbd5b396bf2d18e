//! Every answer rule on hand-built Services and EndpointSlices.

use super::*;
use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};

fn service(ns: &str, name: &str, spec: ServiceSpec) -> Service {
    let mut s = Service::default();
    s.metadata.name = Some(name.into());
    s.metadata.namespace = Some(ns.into());
    s.spec = Some(spec);
    s
}

fn port(name: &str, port: i32, proto: &str) -> ServicePort {
    ServicePort {
        name: Some(name.into()),
        port,
        protocol: Some(proto.into()),
        ..Default::default()
    }
}

fn cluster_ip(ips: &[&str], ports: Vec<ServicePort>) -> ServiceSpec {
    ServiceSpec {
        cluster_ip: Some(ips[0].into()),
        cluster_ips: Some(ips.iter().map(|s| s.to_string()).collect()),
        ports: Some(ports),
        ..Default::default()
    }
}

fn headless(ports: Vec<ServicePort>) -> ServiceSpec {
    ServiceSpec {
        cluster_ip: Some("None".into()),
        cluster_ips: Some(vec!["None".into()]),
        ports: Some(ports),
        ..Default::default()
    }
}

/// Endpoints as (address, hostname, ready).
fn slice(ns: &str, svc: &str, family: &str, eps: &[(&str, Option<&str>, bool)]) -> EndpointSlice {
    let mut s = EndpointSlice {
        address_type: family.into(),
        endpoints: eps
            .iter()
            .map(|(ip, host, ready)| Endpoint {
                addresses: vec![ip.to_string()],
                hostname: host.map(String::from),
                conditions: Some(EndpointConditions {
                    ready: Some(*ready),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .collect(),
        ports: Some(vec![
            EndpointPort {
                name: Some("http".into()),
                port: Some(8080),
                protocol: Some("TCP".into()),
                ..Default::default()
            },
            EndpointPort {
                name: None,
                port: Some(9090),
                protocol: Some("TCP".into()),
                ..Default::default()
            },
        ]),
        ..Default::default()
    };
    s.metadata.namespace = Some(ns.into());
    s.metadata.labels = Some([("kubernetes.io/service-name".to_string(), svc.to_string())].into());
    s
}

fn records() -> Records {
    let services = [
        service(
            "shop",
            "web",
            cluster_ip(
                &["10.43.0.20"],
                vec![port("http", 80, "TCP"), port("dns", 53, "UDP")],
            ),
        ),
        service("shop", "dual", cluster_ip(&["10.43.0.21", "fd00:43::21"], vec![])),
        service("shop", "db", headless(vec![port("http", 8080, "TCP")])),
        service("shop", "empty", headless(vec![])),
        service(
            "shop",
            "eager",
            ServiceSpec {
                publish_not_ready_addresses: Some(true),
                ..headless(vec![])
            },
        ),
        service(
            "shop",
            "ext",
            ServiceSpec {
                type_: Some("ExternalName".into()),
                external_name: Some("DB.example.com.".into()),
                ..Default::default()
            },
        ),
        service("kube-system", "kube-dns", cluster_ip(&["10.43.0.10"], vec![])),
    ];
    let slices = [
        slice(
            "shop",
            "db",
            "IPv4",
            &[
                ("10.42.0.5", Some("DB-0"), true),
                ("10.42.0.6", None, true),
                ("10.42.0.7", Some("db-2"), false),
            ],
        ),
        slice("shop", "db", "IPv6", &[("fd00:42::5", Some("db-0"), true)]),
        // The same service name in another namespace is another service.
        slice("other", "db", "IPv4", &[("10.42.9.9", None, true)]),
        slice("shop", "eager", "IPv4", &[("10.42.0.8", None, false)]),
        slice("shop", "db", "FQDN", &[("db.example.com", None, true)]),
    ];
    Records::build("cluster.local", &services, &slices)
}

fn ask(r: &Records, qname: &str, qtype: RecordType) -> Answer {
    let mut m = Message::query();
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(qname).unwrap(), qtype));
    answer(r, &m)
}

fn local(a: Answer) -> Message {
    match a {
        Answer::Local(m) => m,
        Answer::Forward => panic!("forwarded"),
    }
}

/// The answer section's addresses (A and AAAA), sorted.
fn addrs(records: &[Record]) -> Vec<String> {
    let mut v: Vec<String> = records
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.0.to_string()),
            RData::AAAA(a) => Some(a.0.to_string()),
            _ => None,
        })
        .collect();
    v.sort();
    v
}

fn srv_targets(m: &Message) -> Vec<String> {
    m.answers
        .iter()
        .filter_map(|a| match &a.data {
            RData::SRV(s) => Some(format!("{}:{}", s.target.to_ascii(), s.port)),
            _ => None,
        })
        .collect()
}

fn assert_nodata(m: &Message) {
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.answers.is_empty(), "{:?}", m.answers);
    assert_eq!(m.authorities[0].record_type(), RecordType::SOA);
}

fn assert_nxdomain(m: &Message) {
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert!(m.answers.is_empty(), "{:?}", m.answers);
    assert_eq!(m.authorities[0].record_type(), RecordType::SOA);
    assert!(m.metadata.authoritative);
}

#[test]
fn a_service_answers_its_cluster_ip_case_insensitively() {
    let m = local(ask(&records(), "WEB.Shop.svc.cluster.LOCAL.", RecordType::A));
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.metadata.authoritative && m.metadata.recursion_available && m.metadata.recursion_desired);
    assert_eq!(m.metadata.message_type, MessageType::Response);
    assert_eq!(addrs(&m.answers), ["10.43.0.20"]);
    assert_eq!(
        m.queries[0].name().to_ascii(),
        "WEB.Shop.svc.cluster.LOCAL.",
        "the question is echoed"
    );
    assert_eq!(m.answers[0].name.to_ascii(), "WEB.Shop.svc.cluster.LOCAL.");
    assert_eq!(m.answers[0].ttl, DEFAULT_TTL);
    // A response is not a query.
    assert_eq!(
        local(answer(&records(), &m)).metadata.response_code,
        ResponseCode::FormErr
    );
}

#[test]
fn ttl_is_the_callers() {
    let mut q = Message::query();
    q.add_query(Query::query(
        Name::from_ascii("web.shop.svc.cluster.local.").unwrap(),
        RecordType::A,
    ));
    let m = local(answer_with_ttl(&records(), &q, 30));
    assert_eq!(m.answers[0].ttl, 30);
}

#[test]
fn aaaa_answers_ipv6_addresses_and_nodata_without_them() {
    let r = records();
    let m = local(ask(&r, "dual.shop.svc.cluster.local.", RecordType::A));
    assert_eq!(addrs(&m.answers), ["10.43.0.21"]);
    let m = local(ask(&r, "dual.shop.svc.cluster.local.", RecordType::AAAA));
    assert_eq!(addrs(&m.answers), ["fd00:43::21"]);
    assert_nodata(&local(ask(&r, "web.shop.svc.cluster.local.", RecordType::AAAA)));
    assert_nodata(&local(ask(&r, "web.shop.svc.cluster.local.", RecordType::MX)));
    let m = local(ask(&r, "db-0.db.shop.svc.cluster.local.", RecordType::AAAA));
    assert_eq!(addrs(&m.answers), ["fd00:42::5"]);
}

#[test]
fn a_headless_service_answers_its_ready_endpoints_and_their_host_names() {
    let r = records();
    let m = local(ask(&r, "db.shop.svc.cluster.local.", RecordType::A));
    assert_eq!(addrs(&m.answers), ["10.42.0.5", "10.42.0.6"]);
    let m = local(ask(&r, "db-0.db.shop.svc.cluster.local.", RecordType::A));
    assert_eq!(addrs(&m.answers), ["10.42.0.5"]);
    // Without a hostname, the endpoint is named by its dashed address.
    let m = local(ask(&r, "10-42-0-6.db.shop.svc.cluster.local.", RecordType::A));
    assert_eq!(addrs(&m.answers), ["10.42.0.6"]);
    // Not ready: not there.
    assert_nxdomain(&local(ask(&r, "db-2.db.shop.svc.cluster.local.", RecordType::A)));
    // Without ready endpoints a headless name does not exist, as the specification says.
    assert_nxdomain(&local(ask(&r, "empty.shop.svc.cluster.local.", RecordType::A)));
    // ...unless the service publishes endpoints that are not ready.
    let m = local(ask(&r, "eager.shop.svc.cluster.local.", RecordType::A));
    assert_eq!(addrs(&m.answers), ["10.42.0.8"]);
    // Another namespace's service of the same name is not mixed in.
    assert_nxdomain(&local(ask(&r, "db.other.svc.cluster.local.", RecordType::A)));
}

#[test]
fn srv_of_a_cluster_ip_service_names_the_service() {
    let r = records();
    let m = local(ask(&r, "_http._tcp.web.shop.svc.cluster.local.", RecordType::SRV));
    assert_eq!(srv_targets(&m), ["web.shop.svc.cluster.local.:80"]);
    assert_eq!(addrs(&m.additionals), ["10.43.0.20"]);
    let m = local(ask(&r, "_DNS._UDP.web.shop.svc.cluster.local.", RecordType::SRV));
    assert_eq!(srv_targets(&m), ["web.shop.svc.cluster.local.:53"]);
    // The protocol is part of the name.
    assert_nxdomain(&local(ask(
        &r,
        "_dns._tcp.web.shop.svc.cluster.local.",
        RecordType::SRV,
    )));
    // An SRV name asked for A: it exists, without addresses.
    assert_nodata(&local(ask(
        &r,
        "_http._tcp.web.shop.svc.cluster.local.",
        RecordType::A,
    )));
}

#[test]
fn srv_of_a_headless_service_names_each_ready_endpoint() {
    let r = records();
    let m = local(ask(&r, "_http._tcp.db.shop.svc.cluster.local.", RecordType::SRV));
    assert_eq!(
        srv_targets(&m),
        [
            "10-42-0-6.db.shop.svc.cluster.local.:8080",
            "db-0.db.shop.svc.cluster.local.:8080",
        ]
    );
    assert_eq!(addrs(&m.additionals), ["10.42.0.5", "10.42.0.6", "fd00:42::5"]);
    let RData::SRV(s) = &m.answers[0].data else {
        panic!()
    };
    assert_eq!((s.priority, s.weight), (0, 50));
}

#[test]
fn external_names_are_cnames_to_follow() {
    let r = records();
    let m = local(ask(&r, "ext.shop.svc.cluster.local.", RecordType::A));
    let RData::CNAME(c) = &m.answers[0].data else {
        panic!()
    };
    assert_eq!(c.0.to_ascii(), "db.example.com.");
    let next = cname_to_follow(&m).unwrap();
    assert_eq!(
        (next.name().to_ascii().as_str(), next.query_type()),
        ("db.example.com.", RecordType::A)
    );
    // Asked for the CNAME itself, there is nothing to follow.
    let m = local(ask(&r, "ext.shop.svc.cluster.local.", RecordType::CNAME));
    assert_eq!(m.answers.len(), 1);
    assert!(cname_to_follow(&m).is_none());
}

#[test]
fn pods_resolve_by_their_dashed_address_in_any_namespace() {
    let r = records();
    let m = local(ask(&r, "10-42-1-9.anything.pod.cluster.local.", RecordType::A));
    assert_eq!(addrs(&m.answers), ["10.42.1.9"]);
    let m = local(ask(
        &r,
        "fd00-42--9.anything.pod.cluster.local.",
        RecordType::AAAA,
    ));
    assert_eq!(addrs(&m.answers), ["fd00:42::9"]);
    assert_nodata(&local(ask(
        &r,
        "10-42-1-9.anything.pod.cluster.local.",
        RecordType::AAAA,
    )));
    assert_nxdomain(&local(ask(
        &r,
        "not-an-ip.anything.pod.cluster.local.",
        RecordType::A,
    )));
}

#[test]
fn unknown_names_get_nxdomain_and_intermediate_ones_nodata() {
    let r = records();
    assert_nxdomain(&local(ask(&r, "nope.shop.svc.cluster.local.", RecordType::A)));
    assert_nxdomain(&local(ask(&r, "other.svc.cluster.local.", RecordType::A)));
    assert_nxdomain(&local(ask(&r, "x.web.shop.svc.cluster.local.", RecordType::A)));
    assert_nxdomain(&local(ask(&r, "whatever.cluster.local.", RecordType::A)));
    for existing in [
        "shop.svc.cluster.local.",
        "svc.cluster.local.",
        "pod.cluster.local.",
        "cluster.local.",
    ] {
        assert_nodata(&local(ask(&r, existing, RecordType::A)));
    }
}

#[test]
fn the_zone_has_soa_ns_and_a_schema_version() {
    let r = records();
    let m = local(ask(&r, "cluster.local.", RecordType::SOA));
    assert_eq!(m.answers.len(), 1);
    assert_eq!(m.answers[0].record_type(), RecordType::SOA);
    let m = local(ask(&r, "cluster.local.", RecordType::NS));
    let RData::NS(ns) = &m.answers[0].data else {
        panic!()
    };
    assert_eq!(ns.0.to_ascii(), "ns.dns.cluster.local.");
    // The name server's address is the cluster DNS service's.
    assert_eq!(addrs(&m.additionals), ["10.43.0.10"]);
    let m = local(ask(&r, "ns.dns.cluster.local.", RecordType::A));
    assert_eq!(addrs(&m.answers), ["10.43.0.10"]);
    let m = local(ask(&r, "dns-version.cluster.local.", RecordType::TXT));
    let RData::TXT(txt) = &m.answers[0].data else {
        panic!()
    };
    assert_eq!(txt.to_string(), SCHEMA_VERSION);
}

#[test]
fn reverse_names_of_services_and_named_endpoints() {
    let r = records();
    let ptr = |m: &Message| match &m.answers[0].data {
        RData::PTR(p) => p.0.to_ascii(),
        other => panic!("{other:?}"),
    };
    let m = local(ask(&r, "20.0.43.10.in-addr.arpa.", RecordType::PTR));
    assert_eq!(ptr(&m), "web.shop.svc.cluster.local.");
    assert!(m.metadata.authoritative);
    let m = local(ask(&r, "5.0.42.10.IN-ADDR.ARPA.", RecordType::PTR));
    assert_eq!(ptr(&m), "db-0.db.shop.svc.cluster.local.");
    let v6 = format!(
        "{}.",
        crate::records::reverse_name("fd00:43::21".parse().unwrap())
    );
    assert_eq!(
        ptr(&local(ask(&r, &v6, RecordType::PTR))),
        "dual.shop.svc.cluster.local."
    );
    // Ours, another type: no data.
    let m = local(ask(&r, "20.0.43.10.in-addr.arpa.", RecordType::A));
    assert!(m.answers.is_empty() && m.metadata.response_code == ResponseCode::NoError);
    // Endpoints without a hostname, and addresses that are not ours, go upstream.
    assert_eq!(
        ask(&r, "6.0.42.10.in-addr.arpa.", RecordType::PTR),
        Answer::Forward
    );
    assert_eq!(
        ask(&r, "1.0.0.127.in-addr.arpa.", RecordType::PTR),
        Answer::Forward
    );
}

#[test]
fn other_names_are_forwarded() {
    let r = records();
    assert_eq!(ask(&r, "example.com.", RecordType::A), Answer::Forward);
    assert_eq!(ask(&r, "xcluster.local.", RecordType::A), Answer::Forward);
    assert_eq!(ask(&r, "local.", RecordType::SOA), Answer::Forward);
}

#[test]
fn odd_queries_are_refused_as_a_server_would() {
    let r = records();
    let name = |n: &str| Name::from_ascii(n).unwrap();
    let mut two = Message::query();
    two.add_query(Query::query(name("a.cluster.local."), RecordType::A));
    two.add_query(Query::query(name("b.cluster.local."), RecordType::A));
    assert_eq!(
        local(answer(&r, &two)).metadata.response_code,
        ResponseCode::FormErr
    );
    let none = Message::query();
    assert_eq!(
        local(answer(&r, &none)).metadata.response_code,
        ResponseCode::FormErr
    );
    let mut notify = Message::query();
    notify.metadata.op_code = OpCode::Notify;
    notify.add_query(Query::query(name("cluster.local."), RecordType::SOA));
    assert_eq!(
        local(answer(&r, &notify)).metadata.response_code,
        ResponseCode::NotImp
    );
    let mut chaos = Query::query(name("web.shop.svc.cluster.local."), RecordType::A);
    chaos.set_query_class(DNSClass::CH);
    let mut m = Message::query();
    m.add_query(chaos);
    assert_eq!(
        local(answer(&r, &m)).metadata.response_code,
        ResponseCode::Refused
    );
}

#[test]
fn edns_queries_get_edns_answers() {
    let mut q = Message::query();
    q.add_query(Query::query(
        Name::from_ascii("web.shop.svc.cluster.local.").unwrap(),
        RecordType::A,
    ));
    let mut edns = Edns::new();
    edns.set_max_payload(4096);
    q.set_edns(edns);
    let m = local(answer(&records(), &q));
    assert_eq!(m.edns.as_ref().map(Edns::max_payload), Some(EDNS_PAYLOAD));
    q.edns = None;
    assert!(local(answer(&records(), &q)).edns.is_none());
}

#[test]
fn before_the_first_list_zone_names_fail_and_others_are_forwarded() {
    let r = Records::pending("cluster.local");
    let m = local(ask(&r, "web.shop.svc.cluster.local.", RecordType::A));
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    assert_eq!(ask(&r, "example.com.", RecordType::A), Answer::Forward);
}
