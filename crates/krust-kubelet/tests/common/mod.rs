//! A krust server (child process) with a pool of simulated nodes running in this test
//! process, and helpers to wait for things to happen.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use krust_e2e::Cluster;
use krust_kubelet::{Error, SimulatedConfig, SimulatedNodes};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// A server and a pool of simulated nodes against it; stopped when dropped.
pub struct Pool {
    pub cluster: Cluster,
    pub rt: tokio::runtime::Runtime,
    shutdown: CancellationToken,
    task: Option<tokio::task::JoinHandle<Result<(), Error>>>,
}

impl Pool {
    /// Starts a server, then `config`'s nodes in this process.
    pub fn start(config: SimulatedConfig) -> Self {
        let cluster = Cluster::start();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let yaml = std::fs::read_to_string(cluster.kubeconfig()).unwrap();
        let client = rt.block_on(krust_runtime::client_from_kubeconfig(&yaml)).unwrap();
        let shutdown = CancellationToken::new();
        let task = rt.spawn(SimulatedNodes::new(config, client).run(shutdown.clone()));
        Self {
            cluster,
            rt,
            shutdown,
            task: Some(task),
        }
    }

    /// Stops the nodes and checks they stopped cleanly.
    pub fn stop(&mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            let result = self.rt.block_on(task).unwrap();
            assert!(result.is_ok(), "{result:?}");
        }
    }

    /// `kubectl get <args> -o json`, or `None` if it fails (not found).
    pub fn try_json(&self, args: &[&str]) -> Option<Value> {
        let mut a = vec!["get"];
        a.extend_from_slice(args);
        a.extend_from_slice(&["-o", "json"]);
        let out = self.cluster.kubectl(&a);
        out.status
            .success()
            .then(|| serde_json::from_slice(&out.stdout).ok())
            .flatten()
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Polls `check` until it gives a value, for at most `secs` seconds.
pub fn wait_for<T>(what: &str, secs: u64, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A JSON string field as `&str` ("" when missing).
pub fn s<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or_default()
}
