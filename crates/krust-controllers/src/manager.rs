//! The controller manager: which controllers run, their shared context, and leader
//! election around all of them.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio_util::sync::CancellationToken;

use crate::informers::Informers;

/// Settings of the controller manager and its controllers.
#[derive(Debug, Clone)]
pub struct ControllerConfig {
    /// Controllers to run by name (`*` = all), `-name` disables one, as upstream's
    /// `--controllers`.
    pub controllers: Vec<String>,
    /// Take part in leader election.
    pub leader_elect: bool,
    /// Identity in leader election.
    pub identity: String,
    /// How long a node may miss heartbeats before it is NotReady/Unknown.
    pub node_monitor_grace_period: Duration,
    /// Concurrent reconciles per controller.
    pub workers: u16,
    /// The cluster CA certificate (PEM), published to every namespace as the
    /// `kube-root-ca.crt` ConfigMap.
    pub root_ca_pem: String,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        Self {
            controllers: vec!["*".into()],
            leader_elect: true,
            identity: "krust".into(),
            node_monitor_grace_period: Duration::from_secs(50),
            workers: 5,
            root_ca_pem: String::new(),
        }
    }
}

impl ControllerConfig {
    /// Whether a controller is enabled.
    pub fn enabled(&self, name: &str) -> bool {
        if self.controllers.iter().any(|c| c.strip_prefix('-') == Some(name)) {
            return false;
        }
        self.controllers.iter().any(|c| c == "*" || c == name)
    }
}

/// What every controller gets.
pub struct Context {
    /// The API client.
    pub client: kube::Client,
    /// Settings.
    pub config: ControllerConfig,
}

/// Failures of the controller manager.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API could not be reached.
    #[error("api: {0}")]
    Api(String),
}

/// Registers a controller: asks the informers for what it needs and returns its run
/// future (started after the informers).
pub type Register = fn(&mut Informers, Arc<Context>, CancellationToken) -> BoxFuture<'static, ()>;

/// Every controller by name.
pub fn registry() -> BTreeMap<&'static str, Register> {
    BTreeMap::new()
}

/// The controller manager component.
pub struct ControllerManager {
    config: ControllerConfig,
    client: kube::Client,
}

impl ControllerManager {
    /// A manager reaching the API server through `client`.
    pub fn new(config: ControllerConfig, client: kube::Client) -> Self {
        Self { config, client }
    }

    async fn run_controllers(config: ControllerConfig, client: kube::Client, stop: CancellationToken) {
        let ctx = Arc::new(Context {
            client: client.clone(),
            config: config.clone(),
        });
        let mut informers = Informers::new();
        let mut tasks = Vec::new();
        for (name, register) in registry() {
            if config.enabled(name) {
                tracing::info!(controller = name, "starting controller");
                tasks.push(register(&mut informers, ctx.clone(), stop.clone()));
            }
        }
        let watchers = informers.start(client, stop.clone());
        let handles: Vec<_> = tasks.into_iter().map(tokio::spawn).collect();
        stop.cancelled().await;
        for h in handles.into_iter().chain(watchers) {
            let _ = h.await;
        }
    }

    /// Runs the enabled controllers until `shutdown` (while leader, with leader election).
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), Error> {
        if !self.config.leader_elect {
            Self::run_controllers(self.config, self.client, shutdown).await;
            return Ok(());
        }
        let lease = krust_runtime::LeaderConfig::new("kube-controller-manager", &self.config.identity);
        let (config, client) = (self.config, self.client);
        krust_runtime::run_as_leader(client.clone(), lease, shutdown, move |stop| {
            Self::run_controllers(config.clone(), client.clone(), stop)
        })
        .await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enabling() {
        let all = ControllerConfig::default();
        assert!(all.enabled("replicaset"));
        let some = ControllerConfig {
            controllers: vec!["*".into(), "-garbagecollector".into()],
            ..Default::default()
        };
        assert!(some.enabled("replicaset") && !some.enabled("garbagecollector"));
        let only = ControllerConfig {
            controllers: vec!["deployment".into()],
            ..Default::default()
        };
        assert!(only.enabled("deployment") && !only.enabled("replicaset"));
    }
}
