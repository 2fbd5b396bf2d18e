//! What the node agent tells the proxy: who this node is and which traffic counts as
//! coming from inside the cluster.

use std::net::Ipv4Addr;

use crate::ProxyError;

/// The table name used when the agent does not choose one.
pub const DEFAULT_TABLE: &str = "krust-proxy";

/// Everything [`crate::ruleset`] needs besides the API objects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyConfig {
    /// This node's name: endpoints whose `nodeName` equals it are "local" for the
    /// `Local` traffic policies.
    pub node_name: String,
    /// The cluster's pod CIDR (e.g. "10.42.0.0/16"): traffic to a service from outside it is masqueraded.
    pub cluster_cidr: String,
    /// Service IPs this node serves itself (the cluster DNS address 10.43.0.10): no rules for them.
    pub excluded_ips: Vec<Ipv4Addr>,
    /// Table name, default "krust-proxy" (tests may use their own).
    pub table: String,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        Self {
            node_name: String::new(),
            cluster_cidr: "10.42.0.0/16".to_owned(),
            excluded_ips: Vec::new(),
            table: DEFAULT_TABLE.to_owned(),
        }
    }
}

impl ProxyConfig {
    /// Checks what the script embeds verbatim, so a typo fails at start-up with a clear
    /// message instead of every sync failing inside `nft`.
    pub fn validate(&self) -> Result<(), ProxyError> {
        if Cidr::parse(&self.cluster_cidr).is_none() {
            return Err(ProxyError::Config(format!(
                "cluster_cidr {:?} is not an IPv4 CIDR like 10.42.0.0/16",
                self.cluster_cidr
            )));
        }
        let table_ok = self.table.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && self.table.len() <= 64
            && self
                .table
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !table_ok {
            return Err(ProxyError::Config(format!(
                "table {:?} must start with a letter and use only letters, digits, '-' and '_'",
                self.table
            )));
        }
        Ok(())
    }
}

/// An IPv4 network in `a.b.c.d/len` form, normalised to its network address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cidr {
    pub(crate) addr: Ipv4Addr,
    pub(crate) len: u8,
}

impl Cidr {
    /// Parses `a.b.c.d/len`; a bare address means `/32`. `None` when malformed.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let (ip, len) = match text.trim().split_once('/') {
            Some((ip, len)) => (ip, len.parse::<u8>().ok()?),
            None => (text.trim(), 32),
        };
        if len > 32 {
            return None;
        }
        let ip: Ipv4Addr = ip.parse().ok()?;
        let mask = if len == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(len))
        };
        Some(Self {
            addr: Ipv4Addr::from(u32::from(ip) & mask),
            len,
        })
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_parses_and_normalises() {
        assert_eq!(Cidr::parse("10.42.3.4/16").unwrap().to_string(), "10.42.0.0/16");
        assert_eq!(Cidr::parse("10.0.0.1").unwrap().to_string(), "10.0.0.1/32");
        assert_eq!(Cidr::parse("0.0.0.0/0").unwrap().to_string(), "0.0.0.0/0");
        assert!(Cidr::parse("10.0.0.0/33").is_none());
        assert!(Cidr::parse("fd00::/64").is_none());
        assert!(Cidr::parse("10.0.0.0/16; flush ruleset").is_none());
    }

    #[test]
    fn validate_rejects_what_would_break_the_script() {
        assert!(ProxyConfig::default().validate().is_ok());
        let bad_cidr = ProxyConfig {
            cluster_cidr: "pods".into(),
            ..ProxyConfig::default()
        };
        assert!(matches!(bad_cidr.validate(), Err(ProxyError::Config(_))));
        let bad_table = ProxyConfig {
            table: "x; flush ruleset".into(),
            ..ProxyConfig::default()
        };
        assert!(matches!(bad_table.validate(), Err(ProxyError::Config(_))));
    }
}
