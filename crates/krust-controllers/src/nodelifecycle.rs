//! The node lifecycle controller, as upstream's `pkg/controller/nodelifecycle`: watches
//! Nodes and their heartbeat Leases (`kube-node-lease`); a node not heard from within
//! `node_monitor_grace_period` gets its kubelet conditions set to Unknown
//! ("Kubelet stopped posting node status.") and the `node.kubernetes.io/unreachable`
//! `NoExecute` taint (`not-ready` when Ready is False), removed again when it recovers;
//! and every node carries the `NoSchedule` taints of its conditions and cordon
//! (TaintNodesByCondition).
//!
//! Evicting the pods of a tainted node is the taint eviction controller's job; pods of a
//! deleted node are the pod garbage collector's.
//!
//! The monitor is one loop: a pass every `node_monitor_period` (5 s), plus the condition
//! taints of a node as soon as it changes.

mod health;
mod monitor;
mod taints;
mod zones;

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::{StreamExt, future::BoxFuture};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
use tokio_util::sync::CancellationToken;

use crate::informers::Informers;
use crate::manager::Context;
use crate::replicaset::{Events, nudged};

/// The name in the controller registry (upstream's).
pub const NAME: &str = "node-lifecycle-controller";

/// Registers the controller on the shared node, lease and pod informers.
pub fn register(
    informers: &mut Informers,
    ctx: Arc<Context>,
    stop: CancellationToken,
) -> BoxFuture<'static, ()> {
    let nodes = informers.store::<Node>();
    let node_changes = informers.subscribe::<Node>();
    let leases = informers.store::<Lease>();
    let pods = informers.store::<Pod>();
    Box::pin(async move {
        let mut changes = nudged(node_changes);
        {
            let ready = futures_util::future::try_join3(
                nodes.wait_until_ready(),
                leases.wait_until_ready(),
                pods.wait_until_ready(),
            );
            // Drain node changes while waiting, so this subscriber never holds the informer up.
            let mut ready = std::pin::pin!(ready);
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    r = &mut ready => {
                        if r.is_err() {
                            return;
                        }
                        break;
                    }
                    _ = changes.next() => {}
                }
            }
        }
        let config = &ctx.config;
        let settings = zones::Settings {
            eviction_rate: config.node_eviction_rate,
            secondary_eviction_rate: config.secondary_node_eviction_rate,
            unhealthy_zone_threshold: config.unhealthy_zone_threshold,
            large_cluster_size_threshold: config.large_cluster_size_threshold,
        };
        let mut monitor = monitor::Monitor {
            client: ctx.client.clone(),
            nodes,
            leases,
            pods,
            events: Events::new(ctx.client.clone(), "node-controller", &config.identity),
            timing: monitor::Timing {
                grace: config.node_monitor_grace_period,
                startup_grace: config.node_startup_grace_period,
            },
            zones: zones::Zones::new(settings),
            health: HashMap::new(),
        };
        let mut tick = tokio::time::interval(
            config
                .node_monitor_period
                .max(std::time::Duration::from_millis(100)),
        );
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => monitor.pass().await,
                next = changes.next() => match next {
                    Some(node) if monitor::needs_condition_taints(&node) => monitor.condition_taints(&node).await,
                    Some(_) => {}
                    None => return,
                },
            }
        }
    })
}
