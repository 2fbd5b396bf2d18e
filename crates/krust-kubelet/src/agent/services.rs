//! The node's part of service networking: the service proxy (Services → one nftables
//! table, `ip krust-proxy`) and the cluster DNS, both fed by the API.
//!
//! The cluster DNS address (10.43.0.10) is one of this machine's own addresses, held by
//! a link of its own (`krust-dns`, an empty bridge: this kernel may lack the dummy link
//! type, and the CNI bridge plugin refuses a second address on the pod bridge). Pods'
//! queries reach it through the pod bridge's gateway and are answered locally, so every
//! node answers its own pods and the proxy leaves that address alone.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::Command;

use tokio_util::sync::CancellationToken;

use super::AgentConfig;

/// The link holding the cluster DNS address.
pub(crate) const DNS_LINK: &str = "krust-dns";

/// Runs `ip` with `args`; "exists" answers are fine when `exists_ok`.
fn ip(args: &[&str], exists_ok: bool) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("running ip: {e} (install iproute2)"))?;
    let err = String::from_utf8_lossy(&out.stderr);
    if out.status.success() || (exists_ok && err.contains("File exists")) {
        Ok(())
    } else {
        Err(format!("ip {}: {}", args.join(" "), err.trim()))
    }
}

/// Puts `addr` on the DNS link (made when missing) so the DNS server can bind it.
pub(crate) fn dns_address(addr: Ipv4Addr) -> Result<(), String> {
    ip(&["link", "add", DNS_LINK, "type", "bridge"], true)?;
    ip(
        &["addr", "replace", &format!("{addr}/32"), "dev", DNS_LINK],
        false,
    )?;
    ip(&["link", "set", DNS_LINK, "up"], false)
}

/// Starts the service proxy and, when the node has a cluster DNS address, the DNS server;
/// both stop (the proxy removing its table) at `shutdown`. Returns whether the cluster DNS
/// is served here: only then are pods pointed at it.
pub(crate) fn start(client: kube::Client, config: &AgentConfig, shutdown: CancellationToken) -> bool {
    let proxy = krust_proxy::ProxyConfig {
        node_name: config.node_name.clone(),
        cluster_cidr: config.cluster_cidr.clone(),
        excluded_ips: config.cluster_dns.into_iter().collect(),
        table: krust_proxy::DEFAULT_TABLE.into(),
    };
    let proxy_client = client.clone();
    let proxy_stop = shutdown.clone();
    tokio::spawn(async move {
        if let Err(e) = krust_proxy::run(proxy_client, proxy, krust_proxy::Nft, proxy_stop).await {
            tracing::error!(error = %e, "the service proxy stopped; Services are not reachable from this node");
        }
    });
    let Some(dns_ip) = config.cluster_dns else {
        return false;
    };
    start_dns(client, config, dns_ip, shutdown)
}

/// Holds the cluster DNS address and serves it; false (logged) when it cannot.
fn start_dns(
    client: kube::Client,
    config: &AgentConfig,
    dns_ip: Ipv4Addr,
    shutdown: CancellationToken,
) -> bool {
    if let Err(e) = dns_address(dns_ip) {
        tracing::error!(error = %e, "cannot hold the cluster DNS address; pods on this node use the host's resolvers");
        return false;
    }
    let resolv = std::fs::read_to_string(&config.resolv_conf).unwrap_or_default();
    let dns = krust_dns::DnsConfig {
        domain: config.cluster_domain.clone(),
        listen: vec![SocketAddr::new(IpAddr::V4(dns_ip), 53)],
        upstreams: krust_dns::upstreams_from_resolv_conf(&resolv, &[IpAddr::V4(dns_ip)]),
        ttl: 5,
    };
    tokio::spawn(async move {
        if let Err(e) = krust_dns::run(client, dns, shutdown).await {
            tracing::error!(error = %e, "the cluster DNS cannot serve; pods on this node cannot resolve cluster names");
        }
    });
    true
}
