//! The server over real sockets on 127.0.0.1, with fake upstream resolvers.

use super::*;
use hickory_proto::op::{Edns, Query};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use k8s_openapi::api::core::v1::{Service, ServiceSpec};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointSlice};

fn service(name: &str, spec: ServiceSpec) -> Service {
    let mut s = Service::default();
    s.metadata.name = Some(name.into());
    s.metadata.namespace = Some("default".into());
    s.spec = Some(spec);
    s
}

/// `web` (ClusterIP), `many` (headless, 100 endpoints), `ext` (to db.example.com) and
/// `alias` (to `web`, inside the zone).
fn records() -> Records {
    let services = [
        service(
            "web",
            ServiceSpec {
                cluster_ip: Some("10.43.0.20".into()),
                ..Default::default()
            },
        ),
        service(
            "many",
            ServiceSpec {
                cluster_ip: Some("None".into()),
                ..Default::default()
            },
        ),
        service(
            "ext",
            ServiceSpec {
                type_: Some("ExternalName".into()),
                external_name: Some("db.example.com".into()),
                ..Default::default()
            },
        ),
        service(
            "alias",
            ServiceSpec {
                type_: Some("ExternalName".into()),
                external_name: Some("web.default.svc.cluster.local".into()),
                ..Default::default()
            },
        ),
    ];
    let mut slice = EndpointSlice {
        address_type: "IPv4".into(),
        endpoints: (0..100)
            .map(|i| Endpoint {
                addresses: vec![format!("10.42.1.{i}")],
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    slice.metadata.namespace = Some("default".into());
    slice.metadata.labels = Some([("kubernetes.io/service-name".to_string(), "many".to_string())].into());
    Records::build("cluster.local", &services, &[slice])
}

fn query(name: &str) -> Message {
    let mut m = Message::query();
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
    m
}

fn a(name: &Name, ip: &str) -> Record {
    Record::from_rdata(name.clone(), 60, RData::A(A(ip.parse().unwrap())))
}

/// What the fake upstream says: `big.example.` is too big for UDP (TC, nothing else)
/// and 192.0.2.2 over TCP; `db.example.com.` is 192.0.2.53; everything else 192.0.2.1.
fn upstream_reply(q: &Message, udp: bool) -> Message {
    let mut r = response_to(q, ResponseCode::NoError);
    let name = q.queries[0].name().clone();
    match name.to_ascii().as_str() {
        "big.example." if udp => r.metadata.truncation = true,
        "big.example." => _ = r.add_answer(a(&name, "192.0.2.2")),
        "db.example.com." => _ = r.add_answer(a(&name, "192.0.2.53")),
        _ => _ = r.add_answer(a(&name, "192.0.2.1")),
    }
    r
}

/// A fake upstream resolver on 127.0.0.1, UDP and TCP on one port.
async fn fake_upstream() -> SocketAddr {
    let (udp, tcp) = bind_pair("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let addr = udp.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        loop {
            let (n, peer) = udp.recv_from(&mut buf).await.unwrap();
            let q = Message::from_vec(&buf[..n]).unwrap();
            let r = upstream_reply(&q, true).to_vec().unwrap();
            udp.send_to(&r, peer).await.unwrap();
        }
    });
    tokio::spawn(async move {
        loop {
            let (mut s, _) = tcp.accept().await.unwrap();
            let q = read_framed(&mut s).await;
            write_framed(&mut s, &upstream_reply(&q, false)).await;
        }
    });
    addr
}

async fn read_framed(s: &mut TcpStream) -> Message {
    let n = s.read_u16().await.unwrap();
    let mut buf = vec![0u8; usize::from(n)];
    s.read_exact(&mut buf).await.unwrap();
    Message::from_vec(&buf).unwrap()
}

async fn write_framed(s: &mut TcpStream, m: &Message) {
    let bytes = m.to_vec().unwrap();
    s.write_u16(u16::try_from(bytes.len()).unwrap()).await.unwrap();
    s.write_all(&bytes).await.unwrap();
}

async fn udp_exchange(server: SocketAddr, packet: &[u8]) -> Message {
    let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    s.send_to(packet, server).await.unwrap();
    let mut buf = vec![0u8; 65_535];
    let n = s.recv(&mut buf).await.unwrap();
    Message::from_vec(&buf[..n]).unwrap()
}

async fn udp_ask(server: SocketAddr, q: &Message) -> Message {
    let r = udp_exchange(server, &q.to_vec().unwrap()).await;
    assert_eq!(r.metadata.id, q.metadata.id);
    r
}

fn addrs(m: &Message) -> Vec<String> {
    m.answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.0.to_string()),
            _ => None,
        })
        .collect()
}

fn config(upstreams: Vec<SocketAddr>) -> DnsConfig {
    DnsConfig {
        domain: "cluster.local".into(),
        listen: vec!["127.0.0.1:0".parse().unwrap()],
        upstreams,
        ttl: 5,
    }
}

/// A started server: its address, the records sender, the stop switch.
async fn start(cfg: DnsConfig) -> (SocketAddr, watch::Sender<Arc<Records>>, CancellationToken) {
    let server = Server::bind(cfg).await.unwrap();
    let addr = server.local_addrs()[0];
    let (tx, rx) = watch::channel(Arc::new(records()));
    let cancel = CancellationToken::new();
    tokio::spawn(server.run(rx, cancel.clone()));
    (addr, tx, cancel)
}

#[tokio::test]
async fn answers_over_udp_and_tcp_from_the_newest_records() {
    let (addr, tx, cancel) = start(config(vec![])).await;
    let r = udp_ask(addr, &query("web.default.svc.cluster.local.")).await;
    assert_eq!(addrs(&r), ["10.43.0.20"]);
    assert!(r.metadata.authoritative && r.metadata.recursion_available);
    assert_eq!(r.answers[0].ttl, 5);

    // New records are used at once.
    tx.send(Arc::new(Records::build("cluster.local", &[], &[])))
        .unwrap();
    let r = udp_ask(addr, &query("web.default.svc.cluster.local.")).await;
    assert_eq!(r.metadata.response_code, ResponseCode::NXDomain);
    tx.send(Arc::new(records())).unwrap();

    // TCP, several queries on one connection.
    let mut s = TcpStream::connect(addr).await.unwrap();
    for name in [
        "web.default.svc.cluster.local.",
        "10-42-0-1.default.pod.cluster.local.",
    ] {
        let q = query(name);
        write_framed(&mut s, &q).await;
        let r = read_framed(&mut s).await;
        assert_eq!(r.metadata.id, q.metadata.id);
        assert_eq!(r.answers.len(), 1, "{name}");
    }
    cancel.cancel();
}

#[tokio::test]
async fn big_local_answers_are_truncated_over_udp_and_whole_over_tcp() {
    let (addr, _tx, cancel) = start(config(vec![])).await;
    let q = query("many.default.svc.cluster.local.");
    let r = udp_ask(addr, &q).await;
    assert!(r.metadata.truncation);
    assert!(r.answers.is_empty());
    assert_eq!(r.queries.len(), 1);

    // A client that takes bigger datagrams gets them whole.
    let mut big = q.clone();
    let mut edns = Edns::new();
    edns.set_max_payload(4096);
    big.set_edns(edns);
    let r = udp_ask(addr, &big).await;
    assert!(!r.metadata.truncation);
    assert_eq!(r.answers.len(), 100);
    assert!(r.edns.is_some());

    let mut s = TcpStream::connect(addr).await.unwrap();
    write_framed(&mut s, &q).await;
    let r = read_framed(&mut s).await;
    assert!(!r.metadata.truncation);
    assert_eq!(r.answers.len(), 100);
    cancel.cancel();
}

#[tokio::test]
async fn other_names_are_relayed_with_the_clients_id() {
    let upstream = fake_upstream().await;
    let (addr, _tx, cancel) = start(config(vec![upstream])).await;
    let r = udp_ask(addr, &query("example.com.")).await;
    assert_eq!(addrs(&r), ["192.0.2.1"]);
    // Truncated over UDP upstream: asked again over TCP.
    let r = udp_ask(addr, &query("big.example.")).await;
    assert!(!r.metadata.truncation);
    assert_eq!(addrs(&r), ["192.0.2.2"]);
    // Over TCP from the client likewise.
    let mut s = TcpStream::connect(addr).await.unwrap();
    let q = query("example.org.");
    write_framed(&mut s, &q).await;
    let r = read_framed(&mut s).await;
    assert_eq!(r.metadata.id, q.metadata.id);
    assert_eq!(addrs(&r), ["192.0.2.1"]);
    cancel.cancel();
}

#[tokio::test]
async fn the_next_upstream_is_asked_when_one_fails_or_is_silent() {
    // A closed port (refused at once) and one that never answers (the timeout).
    let closed = UdpSocket::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let good = fake_upstream().await;
    let cfg = config(vec![closed, silent.local_addr().unwrap(), good]);
    let bytes = query("example.com.").to_vec().unwrap();
    let r = handle(&bytes, &records(), &cfg, Transport::Udp).await.unwrap();
    assert_eq!(addrs(&Message::from_vec(&r).unwrap()), ["192.0.2.1"]);
}

#[tokio::test]
async fn servfail_when_no_upstream_answers() {
    let closed = UdpSocket::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let q = query("example.com.");
    let bytes = q.to_vec().unwrap();
    for cfg in [config(vec![]), config(vec![closed])] {
        let r = Message::from_vec(&handle(&bytes, &records(), &cfg, Transport::Udp).await.unwrap()).unwrap();
        assert_eq!(r.metadata.response_code, ResponseCode::ServFail);
        assert_eq!(r.metadata.id, q.metadata.id);
        assert_eq!(r.queries, q.queries);
    }
}

#[tokio::test]
async fn external_names_are_followed_upstream_and_in_the_zone() {
    let upstream = fake_upstream().await;
    let cfg = config(vec![upstream]);
    let ask = |name: &'static str| {
        let cfg = cfg.clone();
        async move {
            let bytes = query(name).to_vec().unwrap();
            let r = handle(&bytes, &records(), &cfg, Transport::Udp).await.unwrap();
            Message::from_vec(&r).unwrap()
        }
    };
    let r = ask("ext.default.svc.cluster.local.").await;
    assert_eq!(r.answers[0].record_type(), RecordType::CNAME);
    assert_eq!(addrs(&r), ["192.0.2.53"]);
    let r = ask("alias.default.svc.cluster.local.").await;
    assert_eq!(r.answers[0].record_type(), RecordType::CNAME);
    assert_eq!(addrs(&r), ["10.43.0.20"]);
    // Without upstreams the CNAME alone comes back.
    let bytes = query("ext.default.svc.cluster.local.").to_vec().unwrap();
    let r = handle(&bytes, &records(), &config(vec![]), Transport::Udp)
        .await
        .unwrap();
    let r = Message::from_vec(&r).unwrap();
    assert_eq!(
        (r.answers.len(), r.metadata.response_code),
        (1, ResponseCode::NoError)
    );
}

#[tokio::test]
async fn malformed_packets_get_formerr_or_nothing() {
    let (addr, _tx, cancel) = start(config(vec![])).await;
    // A header promising a question that is not there.
    let junk = [0x12u8, 0x34, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0xff];
    let r = udp_exchange(addr, &junk).await;
    assert_eq!(
        (r.metadata.id, r.metadata.response_code),
        (0x1234, ResponseCode::FormErr)
    );
    cancel.cancel();

    let cfg = config(vec![]);
    // Too short for a header, or a response rather than a query: dropped.
    assert!(
        handle(&[0x12, 0x34, 0x01], &records(), &cfg, Transport::Udp)
            .await
            .is_none()
    );
    let mut response = query("web.default.svc.cluster.local.");
    response.metadata.message_type = MessageType::Response;
    let bytes = response.to_vec().unwrap();
    assert!(handle(&bytes, &records(), &cfg, Transport::Udp).await.is_none());
}

#[tokio::test]
async fn serve_binds_and_stops_and_a_taken_port_is_an_error() {
    let taken = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut cfg = config(vec![]);
    cfg.listen = vec![taken.local_addr().unwrap()];
    let (_tx, rx) = watch::channel(Arc::new(records()));
    let err = serve(cfg, rx.clone(), CancellationToken::new())
        .await
        .unwrap_err();
    assert!(matches!(err, DnsError::Bind(..)), "{err}");

    let cancel = CancellationToken::new();
    cancel.cancel();
    serve(config(vec![]), rx, cancel).await.unwrap();
}

#[tokio::test]
async fn random_bytes_never_panic() {
    // A fixed linear congruential sequence: the same "random" packets every run.
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        (state >> 33) as u8
    };
    let valid = query("web.default.svc.cluster.local.").to_vec().unwrap();
    let cfg = config(vec![]);
    let records = records();
    for round in 0..3000 {
        let mut packet = if round % 2 == 0 {
            // Mutations of a valid query reach deeper into the parser.
            let mut p = valid.clone();
            for _ in 0..3 {
                let i = usize::from(next()) % p.len();
                p[i] = next();
            }
            p
        } else {
            (0..usize::from(next()) % 64).map(|_| next()).collect()
        };
        if let Some(first) = packet.get_mut(2) {
            *first &= 0x7f; // a query, so it is not simply dropped
        }
        let _ = handle(&packet, &records, &cfg, Transport::Udp).await;
        let _ = handle(&packet, &records, &cfg, Transport::Tcp).await;
    }
}
