//! Names of the per-service chains and sets.
//!
//! A name reads like `service-ABCD2345-ns/name/tcp/http` so `nft list table` is legible, and
//! starts with a hash of the unshortened, unsanitised parts so two different service ports
//! can never share a chain even after sanitising or truncation. nft identifiers may hold
//! `[A-Za-z0-9/_.-]` after a leading letter; every other character is replaced.

use std::net::Ipv4Addr;

use sha2::{Digest, Sha256};

/// Longest base (hash + readable part) we emit; the longest prefix is 9 bytes, and the
/// kernel limit is 255, so this leaves room.
const MAX_BASE: usize = 200;

/// Identifies one service port: the unit upstream calls a `ServicePortName` plus protocol.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PortKey<'a> {
    pub(crate) namespace: &'a str,
    pub(crate) name: &'a str,
    pub(crate) protocol: &'a str,
    pub(crate) port_name: &'a str,
}

/// `service-…`: random choice over all usable endpoints (the Cluster policy chain).
pub(crate) fn cluster_chain(key: &PortKey<'_>) -> String {
    format!("service-{}", service_base(key))
}

/// `local-…`: random choice over this node's endpoints (a Local policy chain).
pub(crate) fn local_chain(key: &PortKey<'_>) -> String {
    format!("local-{}", service_base(key))
}

/// `external-…`: where NodePort and load-balancer traffic enters before its policy chain.
pub(crate) fn external_chain(key: &PortKey<'_>) -> String {
    format!("external-{}", service_base(key))
}

/// `endpoint-…`: marks hairpin traffic and DNATs to one endpoint.
pub(crate) fn endpoint_chain(key: &PortKey<'_>, ip: Ipv4Addr, port: u16) -> String {
    format!("endpoint-{}", endpoint_base(key, ip, port))
}

/// `affinity-…`: the client addresses recently sent to one endpoint (ClientIP affinity).
pub(crate) fn affinity_set(key: &PortKey<'_>, ip: Ipv4Addr, port: u16) -> String {
    format!("affinity-{}", endpoint_base(key, ip, port))
}

fn service_base(key: &PortKey<'_>) -> String {
    hashed(&format!(
        "{}/{}/{}/{}",
        key.namespace, key.name, key.protocol, key.port_name
    ))
}

fn endpoint_base(key: &PortKey<'_>, ip: Ipv4Addr, port: u16) -> String {
    hashed(&format!(
        "{}/{}/{}/{}__{ip}/{port}",
        key.namespace, key.name, key.protocol, key.port_name
    ))
}

/// `HASH-readable`, where HASH is 8 base32 characters of SHA-256 over `raw`.
fn hashed(raw: &str) -> String {
    let digest = Sha256::digest(raw.as_bytes());
    let mut out = base32_40(&digest[..5]);
    out.push('-');
    for c in raw.chars() {
        if out.len() >= MAX_BASE {
            break;
        }
        let safe = c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '.' | '-');
        out.push(if safe { c } else { '_' });
    }
    out
}

/// RFC 4648 base32 of exactly five bytes: eight characters, no padding.
fn base32_40(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let value = bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    (0..8)
        .rev()
        .map(|i| char::from(ALPHABET[((value >> (i * 5)) & 31) as usize]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key<'a>(ns: &'a str, name: &'a str, port_name: &'a str) -> PortKey<'a> {
        PortKey {
            namespace: ns,
            name,
            protocol: "tcp",
            port_name,
        }
    }

    #[test]
    fn names_are_readable_hashed_and_stable() {
        let k = key("default", "web", "http");
        let chain = cluster_chain(&k);
        assert!(chain.starts_with("service-"), "{chain}");
        assert!(chain.ends_with("-default/web/tcp/http"), "{chain}");
        assert_eq!(
            chain.len(),
            "service-".len() + 8 + 1 + "default/web/tcp/http".len()
        );
        assert_eq!(chain, cluster_chain(&k));
        assert_eq!(
            endpoint_chain(&k, Ipv4Addr::new(10, 42, 0, 5), 8080)
                .rsplit_once('-')
                .map(|(_, tail)| tail.to_owned()),
            Some("default/web/tcp/http__10.42.0.5/8080".to_owned())
        );
    }

    #[test]
    fn distinct_ports_get_distinct_names_even_when_sanitised_alike() {
        // "a b" and "a;b" sanitise to the same text; the hash keeps them apart.
        let one = cluster_chain(&key("ns", "a b", ""));
        let two = cluster_chain(&key("ns", "a;b", ""));
        assert_ne!(one, two);
        assert!(one.ends_with("ns/a_b/tcp/") && two.ends_with("ns/a_b/tcp/"));
    }

    #[test]
    fn hostile_or_huge_names_stay_valid_identifiers() {
        let long = "x".repeat(500);
        let name = endpoint_chain(&key(&long, "}; flush ruleset", "p"), Ipv4Addr::LOCALHOST, 1);
        assert!(name.len() <= "endpoint-".len() + MAX_BASE);
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || "/_.-".contains(c)),
            "{name}"
        );
    }

    #[test]
    fn base32_matches_rfc4648() {
        // RFC 4648 test vector: BASE32("fooba") = "MZXW6YTB".
        assert_eq!(base32_40(b"fooba"), "MZXW6YTB");
    }
}
