//! A pod's resolv.conf, from its `dnsPolicy` and `dnsConfig`, as kubelet builds it:
//! ClusterFirst pods ask the cluster DNS with the search path `<ns>.svc.<domain>`,
//! `svc.<domain>`, `<domain>` (then the host's) and `ndots:5`, so that a bare service
//! name resolves; Default pods get the host's resolv.conf; None pods only what they list.

use std::net::Ipv4Addr;

use k8s_openapi::api::core::v1::Pod;
use krust_cri::v1;

/// Upstream's limits: resolvers read at most 3 nameservers and 32 search domains.
const MAX_NAMESERVERS: usize = 3;
const MAX_SEARCHES: usize = 32;

/// The node's DNS facts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterDns {
    /// The cluster DNS address (kubelet's `--cluster-dns`); without it ClusterFirst pods
    /// fall back to the host's resolvers, as upstream.
    pub server: Option<Ipv4Addr>,
    /// The cluster domain (`cluster.local`).
    pub domain: String,
    /// The host's resolv.conf: nameservers, search domains and options.
    pub host: ResolvConf,
}

/// The parts of a resolv.conf a pod's is built from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolvConf {
    pub nameservers: Vec<String>,
    pub searches: Vec<String>,
    pub options: Vec<String>,
}

impl ResolvConf {
    /// Reads resolv.conf text; unknown lines are ignored, a later `search` replaces an
    /// earlier one (as the resolver does).
    pub fn parse(text: &str) -> Self {
        let mut out = Self::default();
        for line in text.lines() {
            let line = line.split(['#', ';']).next().unwrap_or_default();
            let mut words = line.split_whitespace();
            match words.next() {
                Some("nameserver") => out.nameservers.extend(words.next().map(String::from)),
                Some("search" | "domain") => out.searches = words.map(String::from).collect(),
                Some("options") => out.options.extend(words.map(String::from)),
                _ => {}
            }
        }
        out
    }
}

/// The sandbox's DNS configuration for `pod`; `None` leaves the runtime's default (the
/// host's resolv.conf).
pub(crate) fn dns_config(pod: &Pod, node: &ClusterDns) -> Option<v1::DnsConfig> {
    let spec = pod.spec.as_ref()?;
    let host_network = spec.host_network == Some(true);
    let policy = spec.dns_policy.as_deref().unwrap_or("ClusterFirst");
    let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
    let mut conf = match (policy, node.server) {
        ("None", _) => ResolvConf::default(),
        ("ClusterFirstWithHostNet", Some(server)) => cluster(server, namespace, node),
        ("ClusterFirst", Some(server)) if !host_network => cluster(server, namespace, node),
        // Default, and ClusterFirst on the host network or without a cluster DNS.
        _ => node.host.clone(),
    };
    if let Some(extra) = &spec.dns_config {
        merge(&mut conf, extra);
    } else if policy != "None" && conf == node.host {
        return None;
    }
    conf.nameservers.truncate(MAX_NAMESERVERS);
    conf.searches.truncate(MAX_SEARCHES);
    Some(v1::DnsConfig {
        servers: conf.nameservers,
        searches: conf.searches,
        options: conf.options,
    })
}

/// The cluster-first resolv.conf of a pod in `namespace`.
fn cluster(server: Ipv4Addr, namespace: &str, node: &ClusterDns) -> ResolvConf {
    let d = &node.domain;
    let mut searches = vec![format!("{namespace}.svc.{d}"), format!("svc.{d}"), d.clone()];
    for s in &node.host.searches {
        if !searches.contains(s) {
            searches.push(s.clone());
        }
    }
    ResolvConf {
        nameservers: vec![server.to_string()],
        searches,
        options: vec!["ndots:5".into()],
    }
}

/// Adds the pod's own `dnsConfig`: nameservers and searches appended without repeats,
/// options replacing those of the same name.
fn merge(conf: &mut ResolvConf, extra: &k8s_openapi::api::core::v1::PodDNSConfig) {
    for n in extra.nameservers.iter().flatten() {
        if !conf.nameservers.contains(n) {
            conf.nameservers.push(n.clone());
        }
    }
    for s in extra.searches.iter().flatten() {
        if !conf.searches.contains(s) {
            conf.searches.push(s.clone());
        }
    }
    for o in extra.options.iter().flatten() {
        let Some(name) = o.name.as_deref() else { continue };
        conf.options.retain(|existing| option_name(existing) != name);
        conf.options.push(match &o.value {
            Some(v) => format!("{name}:{v}"),
            None => name.to_string(),
        });
    }
}

fn option_name(option: &str) -> &str {
    option.split(':').next().unwrap_or(option)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodDNSConfig, PodDNSConfigOption, PodSpec};

    fn node() -> ClusterDns {
        ClusterDns {
            server: Some(Ipv4Addr::new(10, 43, 0, 10)),
            domain: "cluster.local".into(),
            host: ResolvConf::parse("# comment\nnameserver 192.0.2.53\nsearch corp.example\noptions edns0\n"),
        }
    }

    fn pod(policy: Option<&str>, host_network: bool, config: Option<PodDNSConfig>) -> Pod {
        let mut p = Pod::default();
        p.metadata.namespace = Some("shop".into());
        p.spec = Some(PodSpec {
            dns_policy: policy.map(String::from),
            host_network: Some(host_network),
            dns_config: config,
            ..Default::default()
        });
        p
    }

    #[test]
    fn host_resolv_conf_parses() {
        let h = node().host;
        assert_eq!(h.nameservers, ["192.0.2.53"]);
        assert_eq!(h.searches, ["corp.example"]);
        assert_eq!(h.options, ["edns0"]);
    }

    #[test]
    fn cluster_first_asks_the_cluster_dns_with_the_search_path() {
        let c = dns_config(&pod(None, false, None), &node()).unwrap();
        assert_eq!(c.servers, ["10.43.0.10"]);
        assert_eq!(
            c.searches,
            [
                "shop.svc.cluster.local",
                "svc.cluster.local",
                "cluster.local",
                "corp.example"
            ]
        );
        assert_eq!(c.options, ["ndots:5"]);
    }

    #[test]
    fn host_network_and_default_use_the_host_resolvers() {
        assert_eq!(dns_config(&pod(Some("ClusterFirst"), true, None), &node()), None);
        assert_eq!(dns_config(&pod(Some("Default"), false, None), &node()), None);
        let with_host_net = dns_config(&pod(Some("ClusterFirstWithHostNet"), true, None), &node()).unwrap();
        assert_eq!(with_host_net.servers, ["10.43.0.10"]);
        let no_cluster_dns = ClusterDns {
            server: None,
            ..node()
        };
        assert_eq!(dns_config(&pod(None, false, None), &no_cluster_dns), None);
    }

    #[test]
    fn dns_config_is_merged_and_none_takes_only_it() {
        let extra = PodDNSConfig {
            nameservers: Some(vec!["10.43.0.10".into(), "198.51.100.1".into()]),
            searches: Some(vec!["my.dns.search.suffix".into()]),
            options: Some(vec![
                PodDNSConfigOption {
                    name: Some("ndots".into()),
                    value: Some("2".into()),
                },
                PodDNSConfigOption {
                    name: Some("edns0".into()),
                    value: None,
                },
            ]),
        };
        let c = dns_config(&pod(None, false, Some(extra.clone())), &node()).unwrap();
        assert_eq!(c.servers, ["10.43.0.10", "198.51.100.1"]);
        assert_eq!(c.searches.last().unwrap(), "my.dns.search.suffix");
        assert_eq!(c.options, ["ndots:2", "edns0"]);
        let only = dns_config(&pod(Some("None"), false, Some(extra)), &node()).unwrap();
        assert_eq!(only.searches, ["my.dns.search.suffix"]);
        assert_eq!(only.servers.len(), 2);
    }
}
