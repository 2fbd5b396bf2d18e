//! The DNS server: UDP and TCP on the configured addresses, answers from the current
//! records, other names relayed to the node's resolvers.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{Semaphore, watch};
use tokio_util::sync::CancellationToken;

use crate::DnsError;
use crate::answer::{Answer, MAX_CHASE, answer_with_ttl, cname_to_follow, response_to};
use crate::config::DnsConfig;
use crate::forward::forward;
use crate::records::Records;

/// How long a TCP client may stay silent before its connection is closed.
const TCP_IDLE: Duration = Duration::from_secs(10);
/// Queries answered at once over UDP; more are dropped (the client asks again), so a
/// flood or dead upstreams cannot pile up tasks without bound.
const UDP_IN_FLIGHT: usize = 1024;
/// TCP connections served at once; more wait in the accept queue.
const TCP_CONNECTIONS: usize = 256;
/// The largest DNS message (the TCP length prefix is 16 bits).
const MAX_MESSAGE: usize = 65_535;
/// How many times a port-0 listen address is tried for a port free for UDP and TCP.
const BIND_ATTEMPTS: usize = 8;

/// Bound sockets, ready to serve: binding first lets the caller learn the addresses
/// (tests bind port 0) and report a taken port before serving.
#[derive(Debug)]
pub struct Server {
    config: Arc<DnsConfig>,
    udp: Vec<Arc<UdpSocket>>,
    tcp: Vec<TcpListener>,
}

impl Server {
    /// Binds UDP and TCP on every listen address, the same port for both.
    pub async fn bind(config: DnsConfig) -> Result<Self, DnsError> {
        let mut udp = Vec::new();
        let mut tcp = Vec::new();
        for addr in &config.listen {
            let (u, t) = bind_pair(*addr).await?;
            udp.push(Arc::new(u));
            tcp.push(t);
        }
        Ok(Self {
            config: Arc::new(config),
            udp,
            tcp,
        })
    }

    /// The bound addresses, one per listen address (UDP and TCP share it).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.udp.iter().filter_map(|u| u.local_addr().ok()).collect()
    }

    /// Serves until `cancel`, answering from the newest `records`.
    pub async fn run(self, records: watch::Receiver<Arc<Records>>, cancel: CancellationToken) {
        let mut tasks = tokio::task::JoinSet::new();
        let udp_permits = Arc::new(Semaphore::new(UDP_IN_FLIGHT));
        let tcp_permits = Arc::new(Semaphore::new(TCP_CONNECTIONS));
        for socket in self.udp {
            let ctx = Ctx::new(&self.config, &records, &cancel);
            tasks.spawn(udp_loop(socket, ctx, udp_permits.clone()));
        }
        for listener in self.tcp {
            let ctx = Ctx::new(&self.config, &records, &cancel);
            tasks.spawn(tcp_loop(listener, ctx, tcp_permits.clone()));
        }
        cancel.cancelled().await;
        tasks.abort_all();
    }
}

/// Binds and serves until `cancel`; fails only when a listen address cannot be bound.
pub async fn serve(
    config: DnsConfig,
    records: watch::Receiver<Arc<Records>>,
    cancel: CancellationToken,
) -> Result<(), DnsError> {
    Server::bind(config).await?.run(records, cancel).await;
    Ok(())
}

/// A UDP socket and a TCP listener on one port; for port 0, a port free for both.
async fn bind_pair(addr: SocketAddr) -> Result<(UdpSocket, TcpListener), DnsError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let udp = UdpSocket::bind(addr).await.map_err(|e| DnsError::Bind(addr, e))?;
        let at = udp.local_addr().map_err(|e| DnsError::Bind(addr, e))?;
        match TcpListener::bind(at).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) if addr.port() == 0 && attempt < BIND_ATTEMPTS => {
                tracing::debug!(%at, error = %e, "dns: ephemeral port taken for TCP, trying another");
            }
            Err(e) => return Err(DnsError::Bind(at, e)),
        }
    }
}

/// What every connection needs: settings, the newest records, the stop signal.
#[derive(Clone)]
struct Ctx {
    config: Arc<DnsConfig>,
    records: watch::Receiver<Arc<Records>>,
    cancel: CancellationToken,
}

impl Ctx {
    fn new(
        config: &Arc<DnsConfig>,
        records: &watch::Receiver<Arc<Records>>,
        cancel: &CancellationToken,
    ) -> Self {
        Self {
            config: config.clone(),
            records: records.clone(),
            cancel: cancel.clone(),
        }
    }

    fn current(&self) -> Arc<Records> {
        self.records.borrow().clone()
    }
}

async fn udp_loop(socket: Arc<UdpSocket>, ctx: Ctx, permits: Arc<Semaphore>) {
    let mut buf = vec![0u8; MAX_MESSAGE];
    loop {
        let (n, peer) = match socket.recv_from(&mut buf).await {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(error = %e, "dns: receive failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tracing::debug!(%peer, "dns: too many queries in flight, dropping one");
            continue;
        };
        let packet = buf[..n].to_vec();
        let (socket, ctx) = (socket.clone(), ctx.clone());
        tokio::spawn(async move {
            let _permit = permit;
            let records = ctx.current();
            let reply = tokio::select! {
                _ = ctx.cancel.cancelled() => return,
                reply = handle(&packet, &records, &ctx.config, Transport::Udp) => reply,
            };
            if let Some(reply) = reply
                && let Err(e) = socket.send_to(&reply, peer).await
            {
                tracing::debug!(%peer, error = %e, "dns: send failed");
            }
        });
    }
}

async fn tcp_loop(listener: TcpListener, ctx: Ctx, permits: Arc<Semaphore>) {
    loop {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of descriptors, most likely: give the others time to finish.
                tracing::debug!(error = %e, "dns: accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let _permit = permit;
            tokio::select! {
                _ = ctx.cancel.cancelled() => {}
                _ = tcp_connection(stream, &ctx) => {}
            }
        });
    }
}

/// Answers length-prefixed queries on one connection, in order, until the client
/// closes it, idles, or sends something that cannot be answered.
async fn tcp_connection(mut stream: TcpStream, ctx: &Ctx) -> std::io::Result<()> {
    loop {
        let len = match tokio::time::timeout(TCP_IDLE, stream.read_u16()).await {
            Ok(Ok(len)) => usize::from(len),
            _ => return Ok(()),
        };
        let mut packet = vec![0u8; len];
        tokio::time::timeout(TCP_IDLE, stream.read_exact(&mut packet))
            .await
            .map_err(|_| std::io::ErrorKind::TimedOut)??;
        let records = ctx.current();
        let Some(reply) = handle(&packet, &records, &ctx.config, Transport::Tcp).await else {
            return Ok(());
        };
        let Ok(len) = u16::try_from(reply.len()) else {
            return Ok(());
        };
        let mut framed = Vec::with_capacity(reply.len() + 2);
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(&reply);
        stream.write_all(&framed).await?;
    }
}

/// How a query came: over UDP answers must fit the client's payload size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    Udp,
    Tcp,
}

/// The reply to one packet, or `None` to drop it: responses (answering them could
/// start a loop between two servers) and packets too short to have a header.
pub(crate) async fn handle(
    packet: &[u8],
    records: &Records,
    config: &DnsConfig,
    transport: Transport,
) -> Option<Vec<u8>> {
    let header = packet.get(..12)?;
    if header[2] & 0x80 != 0 {
        return None;
    }
    let query = match Message::from_vec(packet) {
        Ok(m) => m,
        Err(e) => {
            tracing::debug!(error = %e, "dns: malformed query");
            let id = u16::from_be_bytes([header[0], header[1]]);
            let op_code = OpCode::from_u8((header[2] >> 3) & 0x0f);
            return Message::error_msg(id, op_code, ResponseCode::FormErr)
                .to_vec()
                .ok();
        }
    };
    if query.metadata.message_type != MessageType::Query {
        return None;
    }
    let limit = match transport {
        Transport::Udp => usize::from(query.max_payload()),
        Transport::Tcp => MAX_MESSAGE,
    };
    let reply = match answer_with_ttl(records, &query, config.ttl) {
        Answer::Local(m) => follow_cnames(m, &query, records, config).await,
        Answer::Forward if config.upstreams.is_empty() => response_to(&query, ResponseCode::ServFail),
        Answer::Forward => match forward(packet, &config.upstreams, limit).await {
            Some(bytes) => return Some(bytes),
            None => response_to(&query, ResponseCode::ServFail),
        },
    };
    let bytes = reply.to_vec().ok()?;
    if bytes.len() > limit {
        return reply.truncate().to_vec().ok();
    }
    Some(bytes)
}

/// Appends the records a CNAME answer (an ExternalName service) points at: from the
/// zone when the target is ours, from the upstreams otherwise. A target that cannot be
/// resolved leaves the CNAME alone, which clients may follow themselves.
async fn follow_cnames(
    mut reply: Message,
    query: &Message,
    records: &Records,
    config: &DnsConfig,
) -> Message {
    for _ in 0..MAX_CHASE {
        let Some(next) = cname_to_follow(&reply) else {
            break;
        };
        let mut sub = query.clone();
        sub.queries = vec![next];
        let answers = match answer_with_ttl(records, &sub, config.ttl) {
            Answer::Local(m) => m.answers,
            Answer::Forward => {
                let Some(bytes) = sub.to_vec().ok() else { break };
                let upstream = forward(&bytes, &config.upstreams, MAX_MESSAGE).await;
                match upstream.and_then(|b| Message::from_vec(&b).ok()) {
                    Some(m) if m.metadata.response_code == ResponseCode::NoError => m.answers,
                    _ => break,
                }
            }
        };
        if answers.is_empty() {
            break;
        }
        reply.answers.extend(answers);
    }
    reply
}

#[cfg(test)]
mod tests;
