//! The one loop that keeps every node of the pool alive: it registers the nodes, then
//! every tick renews the leases of the nodes in that tick's slot and reports their status
//! when it changed or when the report interval has passed, as upstream's kubelet does.
//! A node annotated `krust.io/simulate-heartbeat: "false"` is skipped until the annotation
//! goes; a node that disappeared is registered again.

use futures_util::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::table::NodeTable;
use super::{lease, object, spread};
use crate::api_error::ApiError;
use crate::clock::Clock;
use crate::config::PoolSpec;
use crate::pod::manager::Input;

/// How many node or lease writes the loop keeps in flight.
const CONCURRENCY: usize = 32;

/// What the heartbeat loop works with.
pub(crate) struct Heartbeats {
    pub spec: Arc<PoolSpec>,
    pub table: Arc<NodeTable>,
    pub clock: Arc<dyn Clock>,
    pub nodes: Api<Node>,
    pub leases: Api<Lease>,
    /// Told when a node (re)appears, so its pods are looked at.
    pub pods: mpsc::Sender<Input>,
    pub started: tokio::time::Instant,
}

impl Heartbeats {
    pub fn new(
        spec: Arc<PoolSpec>,
        table: Arc<NodeTable>,
        clock: Arc<dyn Clock>,
        client: kube::Client,
        pods: mpsc::Sender<Input>,
    ) -> Self {
        Self {
            spec,
            table,
            clock,
            nodes: Api::all(client.clone()),
            leases: Api::namespaced(client, lease::NAMESPACE),
            pods,
            started: tokio::time::Instant::now(),
        }
    }

    /// Seconds since the loop started, from 1 (0 means "never" in the table).
    fn secs(&self) -> u32 {
        u32::try_from(self.started.elapsed().as_secs()).unwrap_or(u32::MAX - 1) + 1
    }

    /// Registers every node, then beats until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        let n = self.spec.names.count();
        let this = &self;
        let register_all =
            futures_util::stream::iter(0..n).for_each_concurrent(CONCURRENCY, |i| this.register(i));
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = register_all => {}
        }
        let registered = (0..n).filter(|&i| self.table.registered(i)).count();
        tracing::info!(nodes = n, registered, "nodes registered");
        let mut ticker = tokio::time::interval(spread::tick(self.spec.heartbeat_interval, spread::SLOTS));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut slot = 0;
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = ticker.tick() => {}
            }
            let beats = futures_util::stream::iter(spread::nodes_in_slot(slot, spread::SLOTS, n))
                .for_each_concurrent(CONCURRENCY, |i| this.beat(i));
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = beats => {}
            }
            slot = (slot + 1) % spread::SLOTS;
        }
    }

    /// One heartbeat of node `i`.
    async fn beat(&self, i: u32) {
        if !self.table.registered(i) {
            self.register(i).await;
            return;
        }
        if self.table.paused(i) {
            return;
        }
        self.renew_lease(i, None).await;
        let stale = self.table.stale(i);
        let last = self.table.reported(i);
        let every = u32::try_from(self.spec.status_report_interval.as_secs()).unwrap_or(u32::MAX);
        if stale != 0 || last == 0 || self.secs().saturating_sub(last) >= every {
            self.report_status(i, stale).await;
        }
    }

    /// Creates node `i`, or adopts it if it exists; then its lease.
    async fn register(&self, i: u32) {
        let name = self.spec.names.name(i);
        let now = self.clock.now();
        let node = object::node(&self.spec, i, now);
        let uid = match self
            .nodes
            .create(&PostParams::default(), &node)
            .await
            .map_err(ApiError::from)
        {
            Ok(created) => created.metadata.uid,
            Err(ApiError::AlreadyExists) => {
                // Someone (an earlier run) made it: put our labels on and report in full.
                let patch = json!({"metadata": {"labels": node.metadata.labels, "annotations": node.metadata.annotations}});
                match self
                    .nodes
                    .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                {
                    Ok(n) => {
                        self.report_status(i, super::conditions::stale_mask(n.status.as_ref()))
                            .await;
                        n.metadata.uid
                    }
                    Err(e) => {
                        tracing::debug!(node = %name, error = %e, "adopting node failed");
                        return;
                    }
                }
            }
            Err(e) => {
                tracing::debug!(node = %name, error = %e, "registering node failed");
                return;
            }
        };
        self.renew_lease(i, Some(uid.as_deref().unwrap_or_default()))
            .await;
        if self.table.reported(i) == 0 {
            self.table.set_reported(i, self.secs());
        }
        if self.table.set_registered(i, true) {
            let _ = self.pods.send(Input::NodeReady(i)).await;
        }
    }

    /// Renews node `i`'s lease, creating it if missing; `owner` is the Node's uid right
    /// after registration, when the lease should (also) be given its owner reference.
    async fn renew_lease(&self, i: u32, owner: Option<&str>) {
        let name = self.spec.names.name(i);
        let now = self.clock.now();
        let mut patch = lease::renewal(&name, now);
        if let Some(uid) = owner.filter(|u| !u.is_empty()) {
            patch["metadata"] =
                json!({"ownerReferences": lease::lease(&name, Some(uid), now).metadata.owner_references});
        }
        let renewed = self
            .leases
            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await;
        match renewed.map_err(ApiError::from) {
            Ok(_) => {}
            Err(ApiError::NotFound) => {
                let new = lease::lease(&name, owner.filter(|u| !u.is_empty()), now);
                if let Err(e) = self.leases.create(&PostParams::default(), &new).await {
                    tracing::debug!(node = %name, error = %e, "creating lease failed");
                }
            }
            Err(e) => tracing::debug!(node = %name, error = %e, "renewing lease failed"),
        }
    }

    /// Writes node `i`'s status; conditions in `transitions` changed.
    async fn report_status(&self, i: u32, transitions: u8) {
        let name = self.spec.names.name(i);
        let status = object::status(&self.spec, i, self.clock.now(), transitions);
        let patch = json!({ "status": status });
        let written = self
            .nodes
            .patch_status(&name, &PatchParams::default(), &Patch::Strategic(&patch))
            .await;
        match written.map_err(ApiError::from) {
            Ok(_) => {
                self.table.set_reported(i, self.secs());
                self.table.set_stale(i, 0);
            }
            Err(ApiError::NotFound) => {
                self.table.set_registered(i, false);
                self.table.set_reported(i, 0);
            }
            Err(e) => tracing::debug!(node = %name, error = %e, "node status update failed"),
        }
    }
}

/// Heartbeat timing, for tests: how long until every node has beaten once.
#[cfg(test)]
pub(crate) fn round(interval: std::time::Duration) -> std::time::Duration {
    spread::tick(interval, spread::SLOTS) * spread::SLOTS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_round_is_one_interval() {
        assert_eq!(
            round(std::time::Duration::from_secs(10)),
            std::time::Duration::from_secs(10)
        );
    }
}
