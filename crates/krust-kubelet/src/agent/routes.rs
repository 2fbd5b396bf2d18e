//! Routes to the other nodes' pod subnets ("host-gw", as flannel's backend of that name):
//! each node's `podCIDR` is reached through that node's InternalIP, so pods on different
//! machines talk directly without an overlay. The machines must share a link (one L2
//! network); a node whose address is not on one of this machine's links cannot be reached
//! this way and is logged.
//!
//! Routes are marked with their own routing protocol number, so the agent finds and
//! removes the ones it made (a node deleted or moved) without touching anyone else's.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::process::Command;
use std::time::Duration;

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::Node;
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Api, ResourceExt};
use tokio_util::sync::CancellationToken;

/// The routing protocol number marking krust's routes (`ip route show proto 252`).
pub(crate) const PROTO: &str = "252";

/// The routes this node wants: every other node's pod subnets through its InternalIP.
pub(crate) fn desired(nodes: &[std::sync::Arc<Node>], me: &str) -> BTreeMap<String, Ipv4Addr> {
    let mut out = BTreeMap::new();
    for n in nodes.iter().filter(|n| n.name_any() != me) {
        let Some(ip) = n
            .status
            .as_ref()
            .and_then(|s| s.addresses.as_ref())
            .into_iter()
            .flatten()
            .find(|a| a.type_ == "InternalIP")
            .and_then(|a| a.address.parse::<Ipv4Addr>().ok())
        else {
            continue;
        };
        let spec = n.spec.as_ref();
        let cidrs = spec
            .and_then(|s| s.pod_cidrs.clone())
            .filter(|c| !c.is_empty())
            .or_else(|| spec.and_then(|s| s.pod_cidr.clone()).map(|c| vec![c]))
            .unwrap_or_default();
        for c in cidrs.into_iter().filter(|c| !c.contains(':')) {
            out.insert(c, ip);
        }
    }
    out
}

/// Our routes as `ip route show proto 252` prints them (`10.42.1.0/24 via 10.0.0.2 dev
/// eth0 ...`): destination → gateway.
pub(crate) fn parse_routes(text: &str) -> BTreeMap<String, Ipv4Addr> {
    text.lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let dest = words.next()?.to_string();
            let mut rest = words.skip_while(|w| *w != "via");
            rest.next()?;
            Some((dest, rest.next()?.parse().ok()?))
        })
        .collect()
}

/// What to change: routes to add or replace, and routes to delete.
pub(crate) fn plan(
    current: &BTreeMap<String, Ipv4Addr>,
    desired: &BTreeMap<String, Ipv4Addr>,
) -> (Vec<(String, Ipv4Addr)>, Vec<String>) {
    let set = desired
        .iter()
        .filter(|(c, ip)| current.get(*c) != Some(ip))
        .map(|(c, ip)| (c.clone(), *ip))
        .collect();
    let delete = current
        .keys()
        .filter(|c| !desired.contains_key(*c))
        .cloned()
        .collect();
    (set, delete)
}

fn ip(args: &[&str]) -> Result<String, String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("running ip: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Brings the routing table in line with `desired`.
fn apply(desired: &BTreeMap<String, Ipv4Addr>) {
    let current = match ip(&["-4", "route", "show", "proto", PROTO]) {
        Ok(text) => parse_routes(&text),
        Err(e) => {
            tracing::warn!(error = %e, "listing pod subnet routes failed");
            return;
        }
    };
    let (set, delete) = plan(&current, desired);
    for (cidr, via) in set {
        match ip(&["route", "replace", &cidr, "via", &via.to_string(), "proto", PROTO]) {
            Ok(_) => tracing::info!(%cidr, %via, "route to a node's pods set"),
            Err(e) => {
                tracing::warn!(%cidr, %via, error = %e, "cannot route to a node's pods (is it on this machine's network?)")
            }
        }
    }
    for cidr in delete {
        if let Err(e) = ip(&["route", "del", &cidr, "proto", PROTO]) {
            tracing::warn!(%cidr, error = %e, "removing a stale pod subnet route failed");
        }
    }
}

/// Follows the Nodes and keeps the routes current until `shutdown`. Routes stay when the
/// agent stops, so pods keep reaching each other while it restarts.
pub(crate) async fn run(client: kube::Client, me: String, shutdown: CancellationToken) {
    let (store, writer) = reflector::store::<Node>();
    let events = watcher(Api::<Node>::all(client), watcher::Config::default())
        .default_backoff()
        .reflect(writer)
        .applied_objects();
    let mut events = std::pin::pin!(events);
    let mut last: Option<BTreeMap<String, Ipv4Addr>> = None;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            e = events.next() => if e.is_none() { return },
        }
        // A burst of node updates (heartbeats) is one pass: wait a moment, then take
        // whatever else arrived meanwhile without a pass each.
        tokio::time::sleep(Duration::from_millis(50)).await;
        while let Some(Some(_)) = futures_util::FutureExt::now_or_never(events.next()) {}
        let want = desired(&store.state(), &me);
        if last.as_ref() != Some(&want) {
            let w = want.clone();
            let _ = tokio::task::spawn_blocking(move || apply(&w)).await;
            last = Some(want);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{NodeAddress, NodeSpec, NodeStatus};
    use std::sync::Arc;

    fn node(name: &str, ip: &str, cidr: Option<&str>) -> Arc<Node> {
        let mut n = Node::default();
        n.metadata.name = Some(name.into());
        n.spec = Some(NodeSpec {
            pod_cidr: cidr.map(String::from),
            pod_cidrs: cidr.map(|c| vec![c.to_string()]),
            ..Default::default()
        });
        n.status = Some(NodeStatus {
            addresses: Some(vec![
                NodeAddress {
                    type_: "Hostname".into(),
                    address: name.into(),
                },
                NodeAddress {
                    type_: "InternalIP".into(),
                    address: ip.into(),
                },
            ]),
            ..Default::default()
        });
        Arc::new(n)
    }

    #[test]
    fn other_nodes_subnets_go_through_their_addresses() {
        let nodes = [
            node("me", "10.0.0.1", Some("10.42.0.0/24")),
            node("b", "10.0.0.2", Some("10.42.1.0/24")),
            node("c", "10.0.0.3", None),
        ];
        let want = desired(&nodes, "me");
        assert_eq!(
            want,
            BTreeMap::from([("10.42.1.0/24".to_string(), "10.0.0.2".parse().unwrap())])
        );
    }

    #[test]
    fn listed_routes_parse() {
        let text = "10.42.1.0/24 via 10.0.0.2 dev eth0 proto 252 \n10.42.2.0/24 via 10.0.0.3 dev eth0 proto 252 onlink\nblackhole 10.9.0.0/16 proto 252\n";
        let got = parse_routes(text);
        assert_eq!(got.len(), 2);
        assert_eq!(got["10.42.2.0/24"], "10.0.0.3".parse::<Ipv4Addr>().unwrap());
    }

    #[test]
    fn the_plan_sets_changed_routes_and_drops_stale_ones() {
        let current = BTreeMap::from([
            ("10.42.1.0/24".to_string(), "10.0.0.2".parse().unwrap()),
            ("10.42.2.0/24".to_string(), "10.0.0.3".parse().unwrap()),
            ("10.42.3.0/24".to_string(), "10.0.0.4".parse().unwrap()),
        ]);
        let desired = BTreeMap::from([
            ("10.42.1.0/24".to_string(), "10.0.0.2".parse().unwrap()),
            ("10.42.2.0/24".to_string(), "10.0.0.9".parse().unwrap()),
            ("10.42.4.0/24".to_string(), "10.0.0.5".parse().unwrap()),
        ]);
        let (set, delete) = plan(&current, &desired);
        assert_eq!(
            set,
            [
                ("10.42.2.0/24".to_string(), "10.0.0.9".parse().unwrap()),
                ("10.42.4.0/24".to_string(), "10.0.0.5".parse().unwrap())
            ]
        );
        assert_eq!(delete, ["10.42.3.0/24"]);
    }
}
