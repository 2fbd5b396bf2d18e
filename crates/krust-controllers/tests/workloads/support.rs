//! Helpers for the workload tests: a cluster with simulated nodes, waits, pod readings,
//! manifests and a kubectl watch recorder.

use std::io::BufReader;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use krust_e2e::Cluster;
use serde_json::{Value, json};

/// How long any wait may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(120);

/// A server with three simulated nodes (and the scheduler and controllers), once the
/// nodes are Ready and the controllers have created the `default` ServiceAccount (the
/// server answers `/readyz` before it starts them).
pub fn cluster() -> Cluster {
    Cluster::start_with_nodes(3, &[])
}

/// `kubectl rollout status`, which must succeed.
pub fn rollout(c: &Cluster, deployment: &str) {
    c.ok(&[
        "rollout",
        "status",
        &format!("deployment/{deployment}"),
        "--timeout=120s",
    ]);
}

/// Polls `f` until it holds; fails with the server log's tail if it never does.
pub fn wait_for(c: &Cluster, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !f() {
        if Instant::now() > deadline {
            let log = c.log();
            let tail: Vec<&str> = log.lines().rev().take(60).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            panic!(
                "timed out waiting for {what}; server log tail:\n{}",
                tail.join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Names of the events (in the default namespace) with the reason.
pub fn events_with_reason(c: &Cluster, reason: &str) -> Vec<String> {
    c.ok(&[
        "get",
        "events",
        "--field-selector",
        &format!("reason={reason}"),
        "-o",
        "name",
    ])
    .lines()
    .map(str::to_string)
    .filter(|l| !l.trim().is_empty())
    .collect()
}

/// The condition of a type, or null.
pub fn condition(obj: &Value, type_: &str) -> Value {
    obj["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == type_).cloned())
        .unwrap_or(Value::Null)
}

/// `metadata.name`.
pub fn name(v: &Value) -> String {
    v["metadata"]["name"].as_str().unwrap_or_default().to_string()
}

/// Pods with the labels that are neither finished nor being deleted.
pub fn live_pods(c: &Cluster, selector: &str) -> Vec<Value> {
    let list = c.get_json(&["pods", "-l", selector]);
    list["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .filter(|p| !matches!(p["status"]["phase"].as_str(), Some("Succeeded" | "Failed")))
        .collect()
}

/// How many live pods with the labels are Ready.
pub fn ready_pods(c: &Cluster, selector: &str) -> usize {
    live_pods(c, selector)
        .iter()
        .filter(|p| condition(p, "Ready")["status"] == "True")
        .count()
}

fn labels(pairs: &str) -> Value {
    let map: serde_json::Map<String, Value> = pairs
        .split(',')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    Value::Object(map)
}

fn pod_spec(image: &str) -> Value {
    json!({"containers": [{"name": "app", "image": image}]})
}

/// A pod without owner.
pub fn bare_pod(name: &str, label_pairs: &str) -> String {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": labels(label_pairs)},
        "spec": pod_spec("nginx:1"),
    })
    .to_string()
}

/// A ReplicaSet selecting `app=<app>`.
pub fn replica_set(name: &str, app: &str, replicas: i32) -> String {
    json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": app}},
            "template": {"metadata": {"labels": {"app": app}}, "spec": pod_spec("nginx:1")},
        },
    })
    .to_string()
}

/// A ReplicationController selecting `app=<name>`.
pub fn replication_controller(name: &str, replicas: i32) -> String {
    json!({
        "apiVersion": "v1", "kind": "ReplicationController",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"app": name},
            "template": {"metadata": {"labels": {"app": name}}, "spec": pod_spec("nginx:1")},
        },
    })
    .to_string()
}

/// A Deployment selecting `app=<name>` with one container `app`, as text with
/// `"replicas": N,` and `"spec": {"containers"` spelled so tests can splice fields in.
pub fn deployment(name: &str, replicas: i32, image: &str, strategy: &str) -> String {
    format!(
        r#"{{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {{"name": "{name}"}},
 "spec": {{"replicas": {replicas}, "selector": {{"matchLabels": {{"app": "{name}"}}}}, "strategy": {strategy},
  "template": {{"metadata": {{"labels": {{"app": "{name}"}}}},
   "spec": {{"containers": [{{"name": "app", "image": "{image}"}}]}}}}}}}}"#
    )
}

/// Records every object `kubectl get <args> -w -o json` prints.
pub struct Watch {
    child: Child,
    seen: Arc<Mutex<Vec<Value>>>,
    reader: JoinHandle<()>,
}

impl Watch {
    /// Starts the watch and waits for the initial objects.
    pub fn start(c: &Cluster, args: &[&str]) -> Self {
        let mut child = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(c.kubeconfig())
            .arg("get")
            .args(args)
            .args(["-w", "-o", "json"])
            .env("HOME", c.dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let reader = std::thread::spawn(move || {
            let stream = serde_json::Deserializer::from_reader(BufReader::new(stdout)).into_iter::<Value>();
            for v in stream.map_while(Result::ok) {
                let items = match v["items"].as_array() {
                    Some(items) => items.clone(),
                    None => vec![v],
                };
                sink.lock().unwrap().extend(items);
            }
        });
        let w = Self { child, seen, reader };
        wait_for(c, "the watch to start", || !w.seen.lock().unwrap().is_empty());
        w
    }

    /// Stops the watch and returns what it printed, in order.
    pub fn stop(mut self) -> Vec<Value> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = self.reader.join();
        let seen = self.seen.lock().unwrap();
        seen.clone()
    }
}
