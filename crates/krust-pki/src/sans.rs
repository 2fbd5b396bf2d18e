//! Subject alternative names of the API server's serving certificate.
//!
//! Clients check the name they dialled against these, so the certificate must cover every way
//! the API server is reached: loopback, the host name, the in-cluster `kubernetes` Service
//! (by every DNS form and by its ClusterIP) and whatever the operator adds with `--tls-san`.

use std::collections::BTreeSet;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use rcgen::SanType;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;

use crate::PkiError;

/// The ClusterIP of the `kubernetes` Service: the first address of the default service CIDR
/// 10.43.0.0/16.
pub const DEFAULT_SERVICE_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 43, 0, 1));

/// DNS names under which pods reach the API server through the `kubernetes` Service.
const SERVICE_DNS_NAMES: [&str; 5] = [
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
];

/// One subject alternative name, normalised so two spellings of the same name compare equal.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum San {
    /// An IP address SAN.
    Ip(IpAddr),
    /// A DNS name SAN, lower-case, without a trailing dot.
    Dns(String),
}

impl fmt::Display for San {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            San::Ip(ip) => write!(f, "IP:{ip}"),
            San::Dns(name) => write!(f, "DNS:{name}"),
        }
    }
}

impl San {
    /// Parses a user-supplied SAN: an IP address (IPv6 may be in brackets) or a DNS name.
    pub(crate) fn parse(raw: &str) -> Result<San, PkiError> {
        let s = raw.trim();
        let unbracketed = s.strip_prefix('[').and_then(|v| v.strip_suffix(']')).unwrap_or(s);
        if let Ok(ip) = unbracketed.parse::<IpAddr>() {
            return Ok(San::Ip(ip));
        }
        let name = s.strip_suffix('.').unwrap_or(s).to_ascii_lowercase();
        if is_dns_name(&name) {
            Ok(San::Dns(name))
        } else {
            Err(PkiError::InvalidSan(raw.to_string()))
        }
    }

    /// The rcgen form, for writing into a certificate.
    pub(crate) fn to_rcgen(&self) -> Result<SanType, PkiError> {
        Ok(match self {
            San::Ip(ip) => SanType::IpAddress(*ip),
            San::Dns(name) => SanType::DnsName(
                name.clone()
                    .try_into()
                    .map_err(|_| PkiError::InvalidSan(name.clone()))?,
            ),
        })
    }
}

/// A DNS name as RFC 1123 allows it, plus a leading `*.` wildcard label.
fn is_dns_name(name: &str) -> bool {
    let name = name.strip_prefix("*.").unwrap_or(name);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// The SANs the serving certificate must carry: the built-in ones, the host name, and `extra`.
///
/// A host name that is not a valid DNS name (some containers have odd ones) is skipped with a
/// warning rather than failing start-up; an invalid `--tls-san` is the operator's to fix.
pub(crate) fn wanted_sans(hostname: Option<&str>, extra: &[String]) -> Result<BTreeSet<San>, PkiError> {
    let mut sans = BTreeSet::new();
    sans.insert(San::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    sans.insert(San::Ip(IpAddr::V6(Ipv6Addr::LOCALHOST)));
    sans.insert(San::Ip(DEFAULT_SERVICE_IP));
    for name in SERVICE_DNS_NAMES {
        sans.insert(San::Dns(name.to_string()));
    }
    if let Some(host) = hostname.map(str::trim).filter(|h| !h.is_empty()) {
        match San::parse(host) {
            Ok(san) => {
                sans.insert(san);
            }
            Err(_) => tracing::warn!(
                hostname = host,
                "host name is not a valid DNS name; not adding it to the serving certificate"
            ),
        }
    }
    for raw in extra {
        if raw.trim().is_empty() {
            continue;
        }
        sans.insert(San::parse(raw)?);
    }
    Ok(sans)
}

/// The SANs present in an existing certificate (unknown kinds are ignored).
pub(crate) fn cert_sans(cert: &X509Certificate<'_>) -> BTreeSet<San> {
    let mut out = BTreeSet::new();
    let Ok(Some(ext)) = cert.subject_alternative_name() else {
        return out;
    };
    for name in &ext.value.general_names {
        match name {
            GeneralName::DNSName(dns) => {
                out.insert(San::Dns(dns.trim_end_matches('.').to_ascii_lowercase()));
            }
            GeneralName::IPAddress(bytes) => {
                if let Ok(v4) = <[u8; 4]>::try_from(*bytes) {
                    out.insert(San::Ip(IpAddr::from(v4)));
                } else if let Ok(v6) = <[u8; 16]>::try_from(*bytes) {
                    out.insert(San::Ip(IpAddr::from(v6)));
                }
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_detects_ip_and_dns() {
        assert_eq!(
            San::parse("192.168.1.10").unwrap(),
            San::Ip("192.168.1.10".parse().unwrap())
        );
        assert_eq!(
            San::parse("[fd00::1]").unwrap(),
            San::Ip("fd00::1".parse().unwrap())
        );
        assert_eq!(
            San::parse("fd00::1").unwrap(),
            San::Ip("fd00::1".parse().unwrap())
        );
        assert_eq!(
            San::parse(" API.Example.COM. ").unwrap(),
            San::Dns("api.example.com".into())
        );
        assert_eq!(
            San::parse("*.apps.example.com").unwrap(),
            San::Dns("*.apps.example.com".into())
        );
    }

    #[test]
    fn parse_rejects_garbage() {
        for bad in [
            "",
            "https://x",
            "a b",
            "-bad.example",
            "bad-.example",
            "a..b",
            "x_y",
            "\u{e9}t\u{e9}",
        ] {
            assert!(
                matches!(San::parse(bad), Err(PkiError::InvalidSan(_))),
                "{bad:?} accepted"
            );
        }
    }

    #[test]
    fn wanted_includes_defaults_host_and_extras() {
        let sans = wanted_sans(
            Some("Node-1"),
            &["10.0.0.5".into(), "api.example.com".into(), " ".into()],
        )
        .unwrap();
        for want in [
            "127.0.0.1",
            "::1",
            "10.43.0.1",
            "localhost",
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
            "node-1",
            "10.0.0.5",
            "api.example.com",
        ] {
            assert!(sans.contains(&San::parse(want).unwrap()), "missing {want}");
        }
        assert_eq!(sans.len(), 11);
    }

    #[test]
    fn odd_hostname_is_skipped_not_fatal() {
        let sans = wanted_sans(Some("my_host"), &[]).unwrap();
        assert!(!sans.iter().any(|s| matches!(s, San::Dns(n) if n.contains("my"))));
        assert!(wanted_sans(None, &["bad name".into()]).is_err());
    }
}
