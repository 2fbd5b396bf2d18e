//! What a real node reports about its machine: capacity (CPUs, memory, disk of the data
//! directory, 110 pods), the address other nodes reach it at, and the facts `kubectl
//! describe node` shows (kernel, OS image, machine and boot ids, runtime version).

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, UdpSocket};
use std::path::Path;

use k8s_openapi::api::core::v1::NodeSystemInfo;

/// Pods per node, upstream's default `--max-pods`.
pub(crate) const MAX_PODS: u32 = 110;

fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// `MemTotal` of a `/proc/meminfo` text, in KiB.
pub(crate) fn mem_total_kib(meminfo: &str) -> Option<u64> {
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// `PRETTY_NAME` of an `/etc/os-release` text.
pub(crate) fn pretty_name(os_release: &str) -> Option<String> {
    os_release
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string())
}

/// The machine's capacity as quantities.
pub(crate) fn capacity(data_dir: &Path) -> BTreeMap<String, String> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mem = mem_total_kib(&read_trimmed("/proc/meminfo")).unwrap_or(0);
    let disk = rustix::fs::statvfs(data_dir)
        .map(|s| s.f_blocks.saturating_mul(s.f_frsize))
        .unwrap_or(0);
    BTreeMap::from([
        ("cpu".to_string(), cpus.to_string()),
        ("memory".to_string(), format!("{mem}Ki")),
        ("pods".to_string(), MAX_PODS.to_string()),
        ("ephemeral-storage".to_string(), disk.to_string()),
    ])
}

/// The address of the interface the default route leaves by (a UDP `connect` only picks
/// a route; nothing is sent), else loopback.
pub(crate) fn default_ip() -> Ipv4Addr {
    let probe = || -> std::io::Result<Ipv4Addr> {
        let s = UdpSocket::bind("0.0.0.0:0")?;
        s.connect("192.0.2.1:9")?;
        match s.local_addr()?.ip() {
            std::net::IpAddr::V4(ip) => Ok(ip),
            std::net::IpAddr::V6(_) => Err(std::io::Error::other("not IPv4")),
        }
    };
    probe().unwrap_or(Ipv4Addr::LOCALHOST)
}

/// The machine's facts; `runtime` is `containerd://1.6.20` or the like.
pub(crate) fn system_info(runtime: String) -> NodeSystemInfo {
    let uname = rustix::system::uname();
    NodeSystemInfo {
        architecture: crate::node::arch().into(),
        boot_id: read_trimmed("/proc/sys/kernel/random/boot_id"),
        container_runtime_version: runtime,
        kernel_version: uname.release().to_string_lossy().into_owned(),
        kube_proxy_version: String::new(),
        kubelet_version: crate::node::KUBELET_VERSION.into(),
        machine_id: read_trimmed("/etc/machine-id"),
        operating_system: "linux".into(),
        os_image: pretty_name(&read_trimmed("/etc/os-release")).unwrap_or_else(|| "Linux".into()),
        swap: None,
        system_uuid: read_trimmed("/sys/class/dmi/id/product_uuid"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_and_etc_texts_parse() {
        assert_eq!(
            mem_total_kib("MemTotal:       24591012 kB\nMemFree: 1 kB\n"),
            Some(24_591_012)
        );
        assert_eq!(mem_total_kib("nothing"), None);
        assert_eq!(
            pretty_name("NAME=\"Debian\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n").as_deref(),
            Some("Debian GNU/Linux 12 (bookworm)")
        );
    }

    #[test]
    fn capacity_of_this_machine() {
        let c = capacity(Path::new("/"));
        assert_eq!(c["pods"], "110");
        assert!(c["cpu"].parse::<u32>().unwrap() >= 1);
        assert!(c["memory"].ends_with("Ki"));
    }
}
