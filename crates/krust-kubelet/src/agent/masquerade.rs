//! Outbound NAT for the node's pods: one nftables rule masquerading what leaves the
//! node's pod subnet through any interface but the pod bridge for an address outside the
//! cluster's pod range (pods on other nodes see each other's own addresses), in a table of its own
//! (`ip krust-node`). This replaces the CNI bridge plugin's per-pod iptables chains
//! (`ipMasq`), which cost every sandbox several iptables runs under a global lock.
//!
//! The table stays when the agent stops, so running pods keep reaching the outside while
//! it restarts; it is rewritten (atomically, one `nft -f` transaction) at every start.

use std::io::Write;
use std::process::{Command, Stdio};

use super::cni::{BRIDGE, Cidr};

/// The nftables table.
pub(crate) const TABLE: &str = "krust-node";

/// The ruleset for pod subnet `cidr` in cluster range `cluster`: replaces the table as a
/// whole.
pub(crate) fn ruleset(cidr: Cidr, cluster: &str) -> String {
    format!(
        "table ip {TABLE} {{}}\n\
         delete table ip {TABLE}\n\
         table ip {TABLE} {{\n\
         \tchain postrouting {{\n\
         \t\ttype nat hook postrouting priority srcnat; policy accept;\n\
         \t\tip saddr {cidr} ip daddr != {cluster} oifname != \"{BRIDGE}\" masquerade\n\
         \t}}\n\
         }}\n"
    )
}

/// Loads the ruleset for `cidr` in `cluster`.
pub(crate) fn apply(cidr: Cidr, cluster: &str) -> Result<(), String> {
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("running nft: {e} (install nftables)"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(ruleset(cidr, cluster).as_bytes())
            .map_err(|e| format!("writing to nft: {e}"))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("running nft: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("nft: {}", String::from_utf8_lossy(&out.stderr).trim()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_masquerade_rule_for_the_pod_subnet() {
        let r = ruleset(Cidr::parse("10.42.3.0/24").unwrap(), "10.42.0.0/16");
        assert!(
            r.starts_with("table ip krust-node {}\ndelete table ip krust-node\n"),
            "{r}"
        );
        assert!(r.contains("type nat hook postrouting priority srcnat;"));
        assert!(
            r.contains("ip saddr 10.42.3.0/24 ip daddr != 10.42.0.0/16 oifname != \"krust0\" masquerade")
        );
    }
}
