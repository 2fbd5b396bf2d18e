//! What the cluster DNS is told: its zone, where it listens, where other names go.

use std::net::{IpAddr, SocketAddr};

/// Settings of the cluster DNS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsConfig {
    /// The cluster domain (`cluster.local`).
    pub domain: String,
    /// Where to listen, UDP and TCP on each (the cluster DNS address, port 53). Port 0
    /// picks one port for both, readable from [`crate::Server::local_addrs`].
    pub listen: Vec<SocketAddr>,
    /// Where names outside the cluster go (the node's resolvers), asked in order.
    pub upstreams: Vec<SocketAddr>,
    /// Seconds answers may be cached (CoreDNS's kubernetes plugin uses 5).
    pub ttl: u32,
}

impl Default for DnsConfig {
    fn default() -> Self {
        Self {
            domain: "cluster.local".into(),
            listen: Vec::new(),
            upstreams: Vec::new(),
            ttl: crate::answer::DEFAULT_TTL,
        }
    }
}

/// The node's resolvers from resolv.conf text (`nameserver` lines, port 53, in order,
/// each once), leaving out `exclude`: the cluster DNS itself, which must not forward to
/// itself. Lines that do not parse are skipped, as the C library does; an IPv6 address
/// with a zone (`fe80::1%eth0`) is skipped too, having no portable socket form here.
pub fn upstreams_from_resolv_conf(text: &str, exclude: &[IpAddr]) -> Vec<SocketAddr> {
    let mut found: Vec<SocketAddr> = Vec::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        if words.next() != Some("nameserver") {
            continue;
        }
        let Some(ip) = words.next().and_then(|w| w.parse::<IpAddr>().ok()) else {
            continue;
        };
        let addr = SocketAddr::new(ip, 53);
        if !exclude.contains(&ip) && !found.contains(&addr) {
            found.push(addr);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolvers_come_from_resolv_conf_without_the_cluster_dns() {
        let text = "# generated\n\
                    search a.example b.example\n\
                    nameserver 10.43.0.10\n\
                    nameserver   127.0.0.53  # stub\n\
                    ; nameserver 192.0.2.9\n\
                    nameserver fd00::1\n\
                    nameserver bogus\n\
                    nameserver fe80::1%eth0\n\
                    nameserver\n\
                    nameserver 127.0.0.53\n\
                    options ndots:5\n";
        let got = upstreams_from_resolv_conf(text, &["10.43.0.10".parse().unwrap()]);
        let want: Vec<SocketAddr> = vec!["127.0.0.53:53".parse().unwrap(), "[fd00::1]:53".parse().unwrap()];
        assert_eq!(got, want);
    }

    #[test]
    fn no_resolvers_is_an_empty_list() {
        assert!(upstreams_from_resolv_conf("", &[]).is_empty());
        let only_self = "nameserver 10.43.0.10\n";
        assert!(upstreams_from_resolv_conf(only_self, &["10.43.0.10".parse().unwrap()]).is_empty());
    }
}
