//! Relaying names that are not the cluster's to the node's resolvers: each upstream in
//! turn over UDP, over TCP when its answer was truncated, the first answer relayed as
//! the upstream wrote it (it carries the client's id, as the query did).

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// How long an upstream resolver gets to answer before the next is asked.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(2);

/// The largest UDP answer we take from an upstream.
const UDP_BUFFER: usize = 65_535;

/// The answer to `packet` (a whole DNS query) from the first of `upstreams` that gives
/// one, or `None` when all fail or time out. `limit` is the largest answer the client
/// can take (its UDP payload size, or 65535 over TCP): a truncated UDP answer is asked
/// again over TCP, and used when it fits; otherwise the truncated one goes back and the
/// client retries over TCP itself.
pub(crate) async fn forward(packet: &[u8], upstreams: &[SocketAddr], limit: usize) -> Option<Vec<u8>> {
    let id = packet.get(..2)?;
    for upstream in upstreams {
        let reply = match tokio::time::timeout(UPSTREAM_TIMEOUT, ask_udp(packet, *upstream)).await {
            Ok(Ok(reply)) => reply,
            Ok(Err(e)) => {
                tracing::debug!(%upstream, error = %e, "dns: upstream failed");
                continue;
            }
            Err(_) => {
                tracing::debug!(%upstream, "dns: upstream timed out");
                continue;
            }
        };
        if !truncated(&reply) {
            return Some(reply);
        }
        match tokio::time::timeout(UPSTREAM_TIMEOUT, ask_tcp(packet, *upstream)).await {
            Ok(Ok(full)) if full.get(..2) == Some(id) && full.len() <= limit => return Some(full),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::debug!(%upstream, error = %e, "dns: upstream over TCP failed"),
            Err(_) => tracing::debug!(%upstream, "dns: upstream over TCP timed out"),
        }
        return Some(reply);
    }
    None
}

/// Whether a DNS message has the TC flag.
fn truncated(message: &[u8]) -> bool {
    message.get(2).is_some_and(|flags| flags & 0x02 != 0)
}

/// Whether `reply` answers a query with `id`: a response (QR set) with that id.
fn answers(reply: &[u8], id: &[u8]) -> bool {
    reply.len() >= 12 && reply.get(..2) == Some(id) && reply[2] & 0x80 != 0
}

/// One UDP exchange from a fresh ephemeral port (its randomness guards against forged
/// answers); datagrams that do not answer this query are ignored.
async fn ask_udp(packet: &[u8], upstream: SocketAddr) -> std::io::Result<Vec<u8>> {
    let local: SocketAddr = if upstream.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(local).await?;
    socket.connect(upstream).await?;
    socket.send(packet).await?;
    let id = packet.get(..2).unwrap_or_default();
    let mut buf = vec![0u8; UDP_BUFFER];
    loop {
        let n = socket.recv(&mut buf).await?;
        if let Some(reply) = buf.get(..n).filter(|r| answers(r, id)) {
            return Ok(reply.to_vec());
        }
    }
}

/// One TCP exchange: the query and the answer, each with its two-byte length.
async fn ask_tcp(packet: &[u8], upstream: SocketAddr) -> std::io::Result<Vec<u8>> {
    let mut s = TcpStream::connect(upstream).await?;
    let len = u16::try_from(packet.len()).map_err(|_| std::io::ErrorKind::InvalidInput)?;
    let mut framed = Vec::with_capacity(packet.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(packet);
    s.write_all(&framed).await?;
    let n = usize::from(s.read_u16().await?);
    let mut buf = vec![0u8; n];
    s.read_exact(&mut buf).await?;
    Ok(buf)
}
