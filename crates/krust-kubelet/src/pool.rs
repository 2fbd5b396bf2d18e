//! Wires a pool of nodes together: the node table, the heartbeat loop, the node watch,
//! the pod watch and the pod manager, all sharing one client and one runtime.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::Error;
use crate::clock::Clock;
use crate::config::PoolSpec;
use crate::node::heartbeat::Heartbeats;
use crate::node::table::NodeTable;
use crate::pod::api::KubePodApi;
use crate::pod::manager::PodManager;
use crate::runtime::Runtime;

/// How many watch events may wait for the pod manager before the watches slow down.
const INPUT_QUEUE: usize = 4096;

/// Runs the pool until `shutdown`.
pub(crate) async fn run<R: Runtime>(
    spec: Arc<PoolSpec>,
    client: kube::Client,
    runtime: Arc<R>,
    clock: Arc<dyn Clock>,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let table = Arc::new(NodeTable::new(spec.names.count()));
    let (tx, rx) = mpsc::channel(INPUT_QUEUE);
    let api = KubePodApi::new(client.clone());
    // A real node reports what happens to its pods as Events; simulated pools stay quiet
    // (thousands of nodes).
    let events = spec
        .host
        .as_ref()
        .map(|_| krust_runtime::Events::new(client.clone(), "kubelet", &spec.names.name(0)));
    let manager = PodManager::new(spec.clone(), table.clone(), runtime, api, clock.clone(), events);
    let heartbeats = Heartbeats::new(spec.clone(), table.clone(), clock, client.clone(), tx.clone());
    let tasks = [
        tokio::spawn(manager.run(rx, shutdown.clone())),
        tokio::spawn(crate::node::watch::run(
            client.clone(),
            spec.names.clone(),
            table,
            tx.clone(),
            shutdown.clone(),
        )),
        tokio::spawn(crate::pod::watch::run(
            client,
            spec.names.clone(),
            tx,
            shutdown.clone(),
        )),
        tokio::spawn(heartbeats.run(shutdown.clone())),
    ];
    let mut failure = None;
    for t in tasks {
        if let Err(e) = t.await {
            failure.get_or_insert(Error::Task(e.to_string()));
        }
    }
    failure.map_or(Ok(()), Err)
}
