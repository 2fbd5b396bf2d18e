//! The node's pod network as a CNI configuration, which containerd's CRI plugin runs at
//! every sandbox start: a bridge with the node's pod CIDR (host-local addresses, the
//! bridge as gateway; outbound NAT is one nftables rule of the agent's, see
//! `masquerade`), and portmap for `hostPort`s. Rendering is pure; the file is written once the controller side has
//! given the node its CIDR.

use std::net::Ipv4Addr;
use std::path::Path;

use serde_json::json;

/// The bridge pods attach to.
pub(crate) const BRIDGE: &str = "krust0";
/// The conflist file name (containerd takes the first file in name order).
pub(crate) const FILE: &str = "10-krust.conflist";

/// A parsed IPv4 CIDR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cidr {
    pub network: Ipv4Addr,
    pub prefix: u8,
}

impl Cidr {
    /// Parses `10.42.0.0/24`.
    pub fn parse(text: &str) -> Option<Self> {
        let (net, prefix) = text.split_once('/')?;
        let network: Ipv4Addr = net.parse().ok()?;
        let prefix: u8 = prefix.parse().ok().filter(|p| (8..=30).contains(p))?;
        let mask = u32::MAX << (32 - prefix);
        (u32::from(network) & !mask == 0).then_some(Self { network, prefix })
    }

    /// The first host address, which the bridge takes as the pods' gateway.
    pub fn gateway(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) + 1)
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// The conflist for pod CIDR `cidr`; host-local keeps its leases under `ipam_dir`.
pub(crate) fn conflist(cidr: Cidr, ipam_dir: &Path) -> serde_json::Value {
    json!({
        "cniVersion": "1.0.0",
        "name": "krust",
        "plugins": [
            {
                "type": "bridge",
                "bridge": BRIDGE,
                "isGateway": true,
                "ipMasq": false,
                "hairpinMode": true,
                "ipam": {
                    "type": "host-local",
                    "dataDir": ipam_dir.display().to_string(),
                    "ranges": [[{"subnet": cidr.to_string(), "gateway": cidr.gateway().to_string()}]],
                    "routes": [{"dst": "0.0.0.0/0"}]
                }
            },
            {"type": "portmap", "capabilities": {"portMappings": true}, "snat": true}
        ]
    })
}

/// Writes the conflist into `conf_dir` (atomically: containerd watches the directory).
pub(crate) fn write(conf_dir: &Path, cidr: Cidr, ipam_dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(conf_dir)?;
    std::fs::create_dir_all(ipam_dir)?;
    let text = serde_json::to_vec_pretty(&conflist(cidr, ipam_dir)).map_err(std::io::Error::other)?;
    let tmp = conf_dir.join(format!(".{FILE}.tmp"));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, conf_dir.join(FILE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_parse_strictly() {
        let c = Cidr::parse("10.42.3.0/24").unwrap();
        assert_eq!(c.gateway(), Ipv4Addr::new(10, 42, 3, 1));
        assert_eq!(c.to_string(), "10.42.3.0/24");
        for bad in ["10.42.3.1/24", "10.42.0.0", "10.42.0.0/33", "x/24", "10.0.0.0/4"] {
            assert_eq!(Cidr::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn conflist_is_a_bridge_with_the_node_cidr() {
        let c = conflist(Cidr::parse("10.42.3.0/24").unwrap(), Path::new("/d/ipam"));
        let bridge = &c["plugins"][0];
        assert_eq!(bridge["type"], "bridge");
        assert_eq!(bridge["bridge"], BRIDGE);
        assert_eq!(bridge["ipam"]["ranges"][0][0]["subnet"], "10.42.3.0/24");
        assert_eq!(bridge["ipam"]["ranges"][0][0]["gateway"], "10.42.3.1");
        assert_eq!(bridge["ipam"]["dataDir"], "/d/ipam");
        assert_eq!(c["plugins"][1]["type"], "portmap");
    }
}
