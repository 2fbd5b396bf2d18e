//! Node IPAM, as upstream's `node-ipam-controller` with its range allocator: each Node gets
//! a subnet of the cluster CIDR (`--cluster-cidr`, 10.42.0.0/16 as k3s; one
//! `--node-cidr-mask-size` /24 each) in `spec.podCIDR` and `spec.podCIDRs`, from which the
//! node agent gives its pods their addresses (the CNI bridge's host-local range).
//!
//! - No state of its own is stored: at start, once the node cache is filled, every podCIDR
//!   the Nodes carry is marked taken (nodes restarted, or registered with a CIDR of their
//!   own), and only then are CIDRs handed out.
//! - A podCIDR, once set, is never changed (the API refuses it too); a node carrying one
//!   outside the cluster CIDR is left alone.
//! - A deleted node's CIDR is released; allocation goes round the range, so it is handed
//!   out again only after the other free ones.
//! - When the range is full, the node gets a `CIDRNotAvailable` event and is retried with
//!   back-off, and at once whenever a deleted node frees a CIDR.

mod cidrset;
mod ledger;
mod sync;

use std::sync::Arc;

use futures_util::future::BoxFuture;
use k8s_openapi::api::core::v1::Node;
use kube::ResourceExt;
use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;

pub use cidrset::{CidrError, CidrSet};

use crate::informers::Informers;
use crate::keyed::{self, Seen};
use crate::manager::Context;
use crate::replicaset::{Events, nudged, ready};
use crate::workqueue::Queue;

/// The name in the controller registry (upstream's).
pub const NAME: &str = "node-ipam-controller";

/// The component events are reported as (upstream's range allocator's).
const EVENT_SOURCE: &str = "cidrAllocator";

/// Registers the controller on the shared node informer.
pub fn register(
    informers: &mut Informers,
    ctx: Arc<Context>,
    stop: CancellationToken,
) -> BoxFuture<'static, ()> {
    let nodes = informers.store::<Node>();
    let changes = nudged(informers.subscribe::<Node>());
    Box::pin(async move {
        let config = &ctx.config;
        let set = match CidrSet::parse(&config.cluster_cidr, config.node_cidr_mask_size) {
            Ok(s) => s,
            Err(e) => {
                // The server refuses such flags at start; this guards other embedders.
                tracing::error!(error = %e, "node-ipam: invalid cluster CIDR settings; not allocating node CIDRs");
                return;
            }
        };
        let queue: Arc<Queue<String>> = Queue::new();
        let state = Arc::new(sync::State {
            client: ctx.client.clone(),
            nodes: nodes.clone(),
            ledger: Mutex::new(ledger::Ledger::new(set)),
            events: Events::new(ctx.client.clone(), EVENT_SOURCE, &config.identity),
        });
        let on_node = {
            let (queue, state) = (queue.clone(), state.clone());
            move |seen: Seen<'_, Node>| match seen {
                // Taken at once, in the order the API reports nodes, so that a node created
                // with a CIDR is known before any node created after it gets one.
                Seen::Changed(n) if state.observe(n) => {}
                Seen::Changed(n) => queue.add(n.name_any()),
                Seen::Deleted(n) => {
                    if state.deleted(n) {
                        tracing::info!(node = %n.name_any(), "node-ipam: released the CIDR of a deleted node");
                        // Nodes waiting for a CIDR may get this one now.
                        for waiting in state.nodes.state() {
                            if sync::pod_cidrs(&waiting).is_empty() {
                                queue.add(waiting.name_any());
                            }
                        }
                    }
                }
            }
        };
        let feed = keyed::follow(changes, nodes.clone(), stop.clone(), on_node);
        let work = async {
            if !keyed::synced(&stop, ready(&nodes)).await {
                return;
            }
            state.occupy_all();
            keyed::run_workers(NAME, queue.clone(), ctx.config.workers, stop.clone(), {
                let state = state.clone();
                move |key| {
                    let state = state.clone();
                    async move { state.sync(&key).await }
                }
            })
            .await;
        };
        futures_util::future::join(feed, work).await;
    })
}
