//! The service load balancer controller: gives each `type: LoadBalancer` Service an
//! address in `status.loadBalancer.ingress`, as a cloud's controller would, so that such
//! Services work on bare metal too. The node agents' service proxies accept traffic for
//! the Service's ports on that address.
//!
//! Where the address comes from is a [`LoadBalancers`] provider. The built-in one (k3s's
//! servicelb in spirit) hands out the addresses of the Ready nodes, or one address per
//! Service from a configured pool (`--service-lb-pool`); a real cloud's load balancer
//! can be plugged in behind the same trait. Services with a `loadBalancerClass` belong
//! to another implementation and are left alone, as upstream.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{StreamExt, future::BoxFuture};
use k8s_openapi::api::core::v1::{LoadBalancerIngress, Node, Service};
use kube::{
    Api, ResourceExt,
    api::{Patch, PatchParams},
    runtime::{Controller, controller::Action, reflector::Store},
};
use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;

use crate::informers::Informers;
use crate::manager::Context;
use crate::replicaset::nudged;

/// The name in the controller registry (upstream's cloud controller manager's).
pub const NAME: &str = "service-lb-controller";

/// Failures of one pass (retried).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An API call failed.
    #[error("api: {0}")]
    Api(#[from] kube::Error),
    /// The provider could not make the load balancer.
    #[error("load balancer: {0}")]
    Provider(String),
}

/// Where load balancer addresses come from: a cloud, or the built-in [`BuiltIn`].
pub trait LoadBalancers: Send + Sync + 'static {
    /// The addresses Service `svc` is reachable at, made or kept (idempotent). `others`
    /// are the cluster's other LoadBalancer Services with their current status.
    fn ensure(
        &self,
        svc: &Service,
        nodes: &[Arc<Node>],
        others: &[Arc<Service>],
    ) -> Result<Vec<LoadBalancerIngress>, String>;
}

/// The built-in provider: node addresses, or addresses from a pool.
#[derive(Debug, Clone, Default)]
pub struct BuiltIn {
    /// The pool (`--service-lb-pool`): each Service gets one address of it. Without it,
    /// every Service gets the addresses of the Ready nodes.
    pub pool: Option<Pool>,
}

/// An IPv4 range, as `a.b.c.d/n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool {
    first: u32,
    last: u32,
}

impl Pool {
    /// Parses `a.b.c.d/n`; a range of more than two addresses leaves out its network and
    /// broadcast addresses.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad =
            || format!("invalid load balancer pool {text:?}: expected an IPv4 CIDR such as 192.168.1.240/28");
        let (ip, len) = text.split_once('/').ok_or_else(bad)?;
        let ip: Ipv4Addr = ip.parse().map_err(|_| bad())?;
        let len: u32 = len.parse().map_err(|_| bad())?;
        if len > 32 {
            return Err(bad());
        }
        let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
        let (net, bcast) = (u32::from(ip) & mask, u32::from(ip) | !mask);
        Ok(if len >= 31 {
            Self {
                first: net,
                last: bcast,
            }
        } else {
            Self {
                first: net + 1,
                last: bcast - 1,
            }
        })
    }

    fn contains(&self, ip: Ipv4Addr) -> bool {
        (self.first..=self.last).contains(&u32::from(ip))
    }
}

/// The IPv4 addresses in a Service's status.
fn status_ips(svc: &Service) -> Vec<Ipv4Addr> {
    svc.status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|i| i.ip.as_deref()?.parse().ok())
        .collect()
}

fn ingress(ip: impl ToString) -> LoadBalancerIngress {
    LoadBalancerIngress {
        ip: Some(ip.to_string()),
        ip_mode: Some("VIP".into()),
        ..Default::default()
    }
}

/// Whether `node` is Ready.
fn ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .any(|c| c.type_ == "Ready" && c.status == "True")
}

/// The addresses of the Ready nodes: each node's ExternalIP, else its InternalIP; sorted.
pub fn node_addresses(nodes: &[Arc<Node>]) -> Vec<Ipv4Addr> {
    let mut out: BTreeSet<Ipv4Addr> = BTreeSet::new();
    for n in nodes.iter().filter(|n| ready(n)) {
        let addrs = n.status.as_ref().and_then(|s| s.addresses.as_ref());
        let of = |kind: &str| {
            addrs
                .into_iter()
                .flatten()
                .filter(|a| a.type_ == kind)
                .find_map(|a| a.address.parse::<Ipv4Addr>().ok())
        };
        if let Some(ip) = of("ExternalIP").or_else(|| of("InternalIP")) {
            out.insert(ip);
        }
    }
    out.into_iter().collect()
}

/// The pool address for `svc`: the one it has (or asks for in the deprecated
/// `spec.loadBalancerIP`) if it is in the pool and no other Service holds it, else the
/// lowest free one.
pub fn pool_address(pool: &Pool, svc: &Service, others: &[Arc<Service>]) -> Option<Ipv4Addr> {
    let me = (svc.namespace(), svc.name_any());
    let taken: BTreeSet<Ipv4Addr> = others
        .iter()
        .filter(|o| (o.namespace(), o.name_any()) != me)
        .flat_map(|o| status_ips(o))
        .collect();
    let free = |ip: &Ipv4Addr| pool.contains(*ip) && !taken.contains(ip);
    let requested = svc
        .spec
        .as_ref()
        .and_then(|s| s.load_balancer_ip.as_deref())
        .and_then(|ip| ip.parse::<Ipv4Addr>().ok());
    if let Some(ip) = requested {
        return free(&ip).then_some(ip);
    }
    if let Some(ip) = status_ips(svc).into_iter().find(free) {
        return Some(ip);
    }
    (pool.first..=pool.last).map(Ipv4Addr::from).find(free)
}

impl LoadBalancers for BuiltIn {
    fn ensure(
        &self,
        svc: &Service,
        nodes: &[Arc<Node>],
        others: &[Arc<Service>],
    ) -> Result<Vec<LoadBalancerIngress>, String> {
        match &self.pool {
            None => Ok(node_addresses(nodes).into_iter().map(ingress).collect()),
            Some(pool) => match pool_address(pool, svc, others) {
                Some(ip) => Ok(vec![ingress(ip)]),
                None => Err("no free address in the load balancer pool".into()),
            },
        }
    }
}

/// Whether this controller handles `svc`: a LoadBalancer without a class of its own.
pub fn handles(svc: &Service) -> bool {
    let Some(spec) = svc.spec.as_ref() else {
        return false;
    };
    spec.type_.as_deref() == Some("LoadBalancer")
        && spec.load_balancer_class.is_none()
        && svc.metadata.deletion_timestamp.is_none()
}

/// `svc` with `ingress` as its status.
fn with_ingress(svc: &Service, ingress: Vec<LoadBalancerIngress>) -> Service {
    let mut s = svc.clone();
    s.status.get_or_insert_with(Default::default).load_balancer =
        Some(k8s_openapi::api::core::v1::LoadBalancerStatus {
            ingress: Some(ingress),
        });
    s
}

/// The ingress list a Service's status has now.
fn current(svc: &Service) -> Vec<LoadBalancerIngress> {
    svc.status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.clone())
        .unwrap_or_default()
}

struct State {
    ctx: Arc<Context>,
    services: Store<Service>,
    nodes: Store<Node>,
    provider: Box<dyn LoadBalancers>,
    /// The addresses last written per Service (`namespace/name`), which the informer may
    /// not show yet. Held from choosing an address until it is written, so two Services
    /// never take the same free one.
    written: tokio::sync::Mutex<BTreeMap<String, Vec<LoadBalancerIngress>>>,
}

fn key(svc: &Service) -> String {
    format!("{}/{}", svc.namespace().unwrap_or_default(), svc.name_any())
}

/// Registers the controller on the shared Service and Node informers.
pub fn register(
    informers: &mut Informers,
    ctx: Arc<Context>,
    stop: CancellationToken,
) -> BoxFuture<'static, ()> {
    let services = informers.store::<Service>();
    let service_changes = informers.subscribe::<Service>();
    let nodes = informers.store::<Node>();
    let node_changes = informers.subscribe::<Node>();
    let pool = match ctx.config.service_lb_pool.as_deref().map(Pool::parse).transpose() {
        Ok(p) => p,
        Err(e) => {
            // The server refuses such a flag at start; this guards other embedders.
            tracing::error!(error = %e, "service-lb: not assigning load balancer addresses");
            return Box::pin(async {});
        }
    };
    let state = Arc::new(State {
        ctx: ctx.clone(),
        services: services.clone(),
        nodes,
        provider: Box::new(BuiltIn { pool }),
        written: tokio::sync::Mutex::new(BTreeMap::new()),
    });
    // Node address or readiness changes move every node-address load balancer.
    let fingerprints: Mutex<BTreeMap<String, (bool, Vec<Ipv4Addr>)>> = Mutex::new(BTreeMap::new());
    let node_moves = nudged(node_changes).filter_map(move |n: Arc<Node>| {
        let print = (ready(&n), node_addresses(std::slice::from_ref(&n)));
        let changed = fingerprints.lock().insert(n.name_any(), print.clone()) != Some(print);
        std::future::ready(changed.then_some(()))
    });
    let concurrency = ctx.config.workers;
    Box::pin(async move {
        Controller::for_shared_stream(nudged(service_changes), services)
            .reconcile_all_on(node_moves)
            .with_config(kube::runtime::controller::Config::default().concurrency(concurrency))
            .graceful_shutdown_on(stop.cancelled_owned())
            .run(reconcile, error_policy, state)
            .for_each(|_| async {})
            .await;
    })
}

fn error_policy(svc: Arc<Service>, e: &Error, _: Arc<State>) -> Action {
    tracing::warn!(service = %svc.name_any(), error = %e, "service-lb: will retry");
    Action::requeue(Duration::from_secs(10))
}

async fn reconcile(svc: Arc<Service>, state: Arc<State>) -> Result<Action, Error> {
    let Some(ns) = svc.namespace() else {
        return Ok(Action::await_change());
    };
    let has_class = svc.spec.as_ref().is_some_and(|s| s.load_balancer_class.is_some());
    if has_class && !handles(&svc) {
        // Another implementation's: its status is not ours to touch.
        return Ok(Action::await_change());
    }
    let mut written = state.written.lock().await;
    let want = if handles(&svc) {
        let others: Vec<Arc<Service>> = state
            .services
            .state()
            .into_iter()
            .filter(|s| handles(s))
            .map(|s| match written.get(&key(&s)) {
                Some(w) if *w != current(&s) => Arc::new(with_ingress(&s, w.clone())),
                _ => s,
            })
            .collect();
        // Services deleted since (or no longer LoadBalancers) hold nothing any more.
        let live: std::collections::BTreeSet<String> = others.iter().map(|s| key(s)).collect();
        written.retain(|k, _| live.contains(k));
        state
            .provider
            .ensure(&svc, &state.nodes.state(), &others)
            .map_err(Error::Provider)?
    } else {
        // No longer a LoadBalancer: its addresses go, as upstream clears them.
        Vec::new()
    };
    if want != current(&svc) {
        let api: Api<Service> = Api::namespaced(state.ctx.client.clone(), &ns);
        let patch = serde_json::json!({"status": {"loadBalancer": {"ingress": want}}});
        api.patch_status(&svc.name_any(), &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        tracing::info!(service = %key(&svc), ingress = ?want.iter().filter_map(|i| i.ip.clone()).collect::<Vec<_>>(), "service-lb: load balancer addresses set");
    }
    if want.is_empty() {
        written.remove(&key(&svc));
    } else {
        written.insert(key(&svc), want);
    }
    drop(written);
    // Deleted nodes are not seen as moves: look again now and then.
    Ok(if handles(&svc) {
        Action::requeue(Duration::from_secs(60))
    } else {
        Action::await_change()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{
        LoadBalancerStatus, NodeAddress, NodeCondition, NodeStatus, ServiceSpec, ServiceStatus,
    };

    fn node(name: &str, ready: bool, addrs: &[(&str, &str)]) -> Arc<Node> {
        let mut n = Node::default();
        n.metadata.name = Some(name.into());
        n.status = Some(NodeStatus {
            conditions: Some(vec![NodeCondition {
                type_: "Ready".into(),
                status: if ready { "True" } else { "False" }.into(),
                ..Default::default()
            }]),
            addresses: Some(
                addrs
                    .iter()
                    .map(|(t, a)| NodeAddress {
                        type_: t.to_string(),
                        address: a.to_string(),
                    })
                    .collect(),
            ),
            ..Default::default()
        });
        Arc::new(n)
    }

    fn lb(name: &str, status: &[&str]) -> Arc<Service> {
        let mut s = Service::default();
        s.metadata.name = Some(name.into());
        s.metadata.namespace = Some("default".into());
        s.spec = Some(ServiceSpec {
            type_: Some("LoadBalancer".into()),
            ..Default::default()
        });
        s.status = Some(ServiceStatus {
            load_balancer: Some(LoadBalancerStatus {
                ingress: Some(status.iter().map(ingress).collect()),
            }),
            ..Default::default()
        });
        Arc::new(s)
    }

    #[test]
    fn node_mode_uses_ready_nodes_external_then_internal_addresses() {
        let nodes = [
            node("b", true, &[("InternalIP", "10.0.0.2")]),
            node(
                "a",
                true,
                &[("InternalIP", "10.0.0.1"), ("ExternalIP", "203.0.113.1")],
            ),
            node("down", false, &[("InternalIP", "10.0.0.3")]),
            node("none", true, &[("Hostname", "none")]),
        ];
        let got = BuiltIn::default().ensure(&lb("web", &[]), &nodes, &[]).unwrap();
        let ips: Vec<_> = got.iter().map(|i| i.ip.clone().unwrap()).collect();
        assert_eq!(ips, ["10.0.0.2", "203.0.113.1"]);
        assert!(got.iter().all(|i| i.ip_mode.as_deref() == Some("VIP")));
    }

    #[test]
    fn pools_skip_network_and_broadcast_addresses() {
        let p = Pool::parse("192.168.5.0/30").unwrap();
        assert!(!p.contains("192.168.5.0".parse().unwrap()));
        assert!(p.contains("192.168.5.1".parse().unwrap()));
        assert!(p.contains("192.168.5.2".parse().unwrap()));
        assert!(!p.contains("192.168.5.3".parse().unwrap()));
        assert!(
            Pool::parse("192.168.5.7/32")
                .unwrap()
                .contains("192.168.5.7".parse().unwrap())
        );
        for bad in ["192.168.5.0", "192.168.5.0/33", "x/24", "1.2.3/24"] {
            assert!(
                Pool::parse(bad).unwrap_err().contains("expected an IPv4 CIDR"),
                "{bad}"
            );
        }
    }

    #[test]
    fn pool_mode_keeps_a_held_address_and_never_gives_one_twice() {
        let pool = Pool::parse("192.168.5.0/29").unwrap();
        let a = lb("a", &["192.168.5.1"]);
        let b = lb("b", &[]);
        let others = [a.clone(), b.clone()];
        assert_eq!(
            pool_address(&pool, &a, &others),
            Some("192.168.5.1".parse().unwrap())
        );
        assert_eq!(
            pool_address(&pool, &b, &others),
            Some("192.168.5.2".parse().unwrap())
        );
        // Asking for a taken one gets nothing (the Service waits), a free one is honoured.
        let mut wants = (*b).clone();
        wants.spec.as_mut().unwrap().load_balancer_ip = Some("192.168.5.1".into());
        assert_eq!(pool_address(&pool, &wants, &others), None);
        wants.spec.as_mut().unwrap().load_balancer_ip = Some("192.168.5.6".into());
        assert_eq!(
            pool_address(&pool, &wants, &others),
            Some("192.168.5.6".parse().unwrap())
        );
        // A full pool says so.
        let tiny = Pool::parse("192.168.5.1/32").unwrap();
        let provider = BuiltIn { pool: Some(tiny) };
        assert!(
            provider
                .ensure(&b, &[], &others)
                .unwrap_err()
                .contains("no free address")
        );
    }

    #[test]
    fn only_classless_load_balancers_are_handled() {
        let mut s = (*lb("x", &[])).clone();
        assert!(handles(&s));
        s.spec.as_mut().unwrap().load_balancer_class = Some("example.com/lb".into());
        assert!(!handles(&s));
        s.spec.as_mut().unwrap().load_balancer_class = None;
        s.spec.as_mut().unwrap().type_ = Some("ClusterIP".into());
        assert!(!handles(&s));
    }
}
