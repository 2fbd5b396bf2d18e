//! One watch over all nodes for the whole pool: notices our nodes being deleted (to
//! register them again), their heartbeat annotation, and conditions someone else changed
//! (to put them right at the next heartbeat). Only a few bits per node are kept.

use std::collections::HashSet;
use std::sync::Arc;

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::Node;
use kube::api::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::conditions::{ALL, stale_mask};
use super::table::NodeTable;
use crate::HEARTBEAT_ANNOTATION;
use crate::names::NodeNames;
use crate::pod::manager::Input;

/// Whether `node` asks for its heartbeats to stop.
pub(crate) fn heartbeat_paused(node: &Node) -> bool {
    node.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(HEARTBEAT_ANNOTATION))
        .is_some_and(|v| v == "false")
}

/// Follows the nodes until `shutdown`.
pub(crate) async fn run(
    client: kube::Client,
    names: NodeNames,
    table: Arc<NodeTable>,
    pods: mpsc::Sender<Input>,
    shutdown: CancellationToken,
) {
    let stream = watcher::watcher(Api::<Node>::all(client), watcher::Config::default()).default_backoff();
    let mut stream = std::pin::pin!(stream);
    let mut listed: Option<HashSet<u32>> = None;
    loop {
        let event = tokio::select! {
            _ = shutdown.cancelled() => return,
            e = stream.next() => e,
        };
        let event = match event {
            None => return,
            Some(Err(e)) => {
                tracing::debug!(error = %e, "node watch failed; retrying");
                continue;
            }
            Some(Ok(e)) => e,
        };
        match event {
            Event::Init => listed = Some(HashSet::new()),
            Event::InitApply(node) | Event::Apply(node) => {
                let Some(i) = node.metadata.name.as_deref().and_then(|n| names.index(n)) else {
                    continue;
                };
                if let Some(l) = &mut listed {
                    l.insert(i);
                }
                table.set_paused(i, heartbeat_paused(&node));
                table.set_stale(i, stale_mask(node.status.as_ref()));
                if table.set_registered(i, true) && pods.send(Input::NodeReady(i)).await.is_err() {
                    return;
                }
            }
            Event::Delete(node) => {
                if let Some(i) = node.metadata.name.as_deref().and_then(|n| names.index(n)) {
                    tracing::info!(node = %names.name(i), "simulated node deleted; registering it again");
                    table.set_registered(i, false);
                    table.set_reported(i, 0);
                }
            }
            Event::InitDone => {
                // A node we think exists but the list lacks was either created after the
                // list (its ADDED event follows and clears this) or deleted while the watch
                // was down: the status report this forces finds out which.
                if let Some(l) = listed.take() {
                    for i in (0..names.count()).filter(|i| !l.contains(i) && table.registered(*i)) {
                        table.set_stale(i, ALL);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pause_annotation() {
        let mut n = Node::default();
        assert!(!heartbeat_paused(&n));
        n.metadata.annotations = Some([(HEARTBEAT_ANNOTATION.to_string(), "false".to_string())].into());
        assert!(heartbeat_paused(&n));
        n.metadata.annotations = Some([(HEARTBEAT_ANNOTATION.to_string(), "true".to_string())].into());
        assert!(!heartbeat_paused(&n));
    }
}
