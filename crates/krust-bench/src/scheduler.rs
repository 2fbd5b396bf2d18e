//! `krust bench scheduler`: scheduling throughput and latency in the shape of upstream's
//! scheduler_perf. A `krust server` child process (with its in-process scheduler, without
//! node agents or controllers) gets N plain Node objects (4 CPUs, 32 GiB, 110 pods, Ready),
//! then `init_pods` pods that are scheduled before measuring, then `pods` measured pods.
//! Variants: `basic` (SchedulingBasic: 100m CPU / 500Mi pods), `anti-affinity` (each pod
//! repels the others by hostname) and `spread` (zone topology spread over three zones).
//! A pod counts as bound when a watch sees its `spec.nodeName`; latency runs from sending
//! its create request to that moment.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, StatusCode};
use http_body_util::BodyExt;
use parking_lot::Mutex;
use serde_json::{Value, json};

use crate::BenchError;
use crate::client::Conn;
use crate::process::{Server, free_port, wait_started};
use crate::stats::percentile_ms;

const NAMESPACE: &str = "bench";
const ZONES: [&str; 3] = ["moon-1", "moon-2", "moon-3"];

/// The pod shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// Plain pods with requests (upstream's SchedulingBasic).
    Basic,
    /// Pods with required anti-affinity to each other by hostname.
    AntiAffinity,
    /// Pods with a zone topology spread constraint (DoNotSchedule, maxSkew 1).
    Spread,
}

impl std::str::FromStr for Variant {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "basic" => Ok(Variant::Basic),
            "anti-affinity" => Ok(Variant::AntiAffinity),
            "spread" => Ok(Variant::Spread),
            other => Err(format!(
                "unknown variant {other:?} (basic, anti-affinity, spread)"
            )),
        }
    }
}

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::Basic => "basic",
            Variant::AntiAffinity => "anti-affinity",
            Variant::Spread => "spread",
        }
    }
}

/// Parameters of the scheduler benchmark.
#[derive(Debug, Clone)]
pub struct Options {
    /// The krust binary to run as the server.
    pub binary: PathBuf,
    /// Nodes to create.
    pub nodes: usize,
    /// Pods scheduled before measuring.
    pub init_pods: usize,
    /// Pods measured.
    pub pods: usize,
    /// Pod shape.
    pub variant: Variant,
    /// Concurrent clients creating objects.
    pub clients: usize,
}

fn node_body(i: usize) -> Bytes {
    let name = format!("node-{i}");
    let v = json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {
            "kubernetes.io/hostname": name,
            "topology.kubernetes.io/zone": ZONES[i % ZONES.len()],
        }},
        "status": {
            "capacity": {"pods": "110", "cpu": "4", "memory": "32Gi"},
            "allocatable": {"pods": "110", "cpu": "4", "memory": "32Gi"},
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "ready"}],
            "phase": "Running",
        }
    });
    Bytes::from(serde_json::to_vec(&v).unwrap_or_default())
}

fn pod_body(name: &str, variant: Variant) -> Bytes {
    let mut v = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "bench"}},
        "spec": {"containers": [{"name": "pause", "image": "registry.k8s.io/pause:3.10",
            "ports": [{"containerPort": 80}],
            "resources": {"requests": {"cpu": "100m", "memory": "500Mi"}, "limits": {"cpu": "100m", "memory": "500Mi"}}}]}
    });
    match variant {
        Variant::Basic => {}
        Variant::AntiAffinity => {
            v["metadata"]["labels"]["color"] = json!("green");
            v["spec"]["affinity"] = json!({"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"color": "green"}}, "topologyKey": "kubernetes.io/hostname"}]}});
        }
        Variant::Spread => {
            v["metadata"]["labels"]["foo"] = json!("bar");
            v["spec"]["topologySpreadConstraints"] = json!([{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": {"foo": "bar"}}}]);
        }
    }
    Bytes::from(serde_json::to_vec(&v).unwrap_or_default())
}

/// Creates `total` objects from `clients` connections; returns when each was sent, by name.
async fn create_all(
    port: u16,
    tls: Arc<rustls::ClientConfig>,
    clients: usize,
    total: usize,
    path: &'static str,
    make: Arc<dyn Fn(usize) -> (String, Bytes) + Send + Sync>,
) -> Result<Vec<(String, Instant)>, BenchError> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..clients.max(1) {
        let (next, tls, make) = (next.clone(), tls.clone(), make.clone());
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::connect(port, tls).await?;
            let mut sent = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    return Ok::<_, BenchError>(sent);
                }
                let (name, body) = make(i);
                let at = Instant::now();
                let (status, resp) = conn.request(Method::POST, path, Some(body)).await?;
                if status != StatusCode::CREATED {
                    return Err(BenchError::Request(format!(
                        "create answered {status}: {}",
                        String::from_utf8_lossy(&resp)
                    )));
                }
                sent.push((name, at));
            }
        }));
    }
    let mut all = Vec::with_capacity(total);
    for t in tasks {
        all.extend(t.await.map_err(|e| BenchError::Request(e.to_string()))??);
    }
    Ok(all)
}

/// `(pod name, node name)` of a watch event line that shows a bound pod.
fn bound_pod(line: &[u8]) -> Option<(String, String)> {
    let text = std::str::from_utf8(line).ok()?;
    let node_at = text.find("\"nodeName\":\"")? + 12;
    let node = &text[node_at..node_at + text[node_at..].find('"')?];
    let meta = text.find("\"metadata\":{")?;
    let name_at = meta + text[meta..].find("\"name\":\"")? + 8;
    let name = &text[name_at..name_at + text[name_at..].find('"')?];
    Some((name.to_string(), node.to_string()))
}

/// Watches the namespace's pods and records when each is first seen bound.
async fn watch_bound(
    port: u16,
    tls: Arc<rustls::ClientConfig>,
    rv: String,
    bound: Arc<Mutex<HashMap<String, Instant>>>,
) -> Result<(), BenchError> {
    let mut conn = Conn::connect(port, tls).await?;
    let path =
        format!("/api/v1/namespaces/{NAMESPACE}/pods?watch=true&resourceVersion={rv}&timeoutSeconds=3600");
    let resp = conn.start(Method::GET, &path, None).await?;
    if resp.status() != StatusCode::OK {
        return Err(BenchError::Request(format!("watch answered {}", resp.status())));
    }
    let mut body = resp.into_body();
    let mut buf = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| BenchError::Request(e.to_string()))?;
        let Ok(data) = frame.into_data() else { continue };
        let now = Instant::now();
        buf.extend_from_slice(&data);
        let mut start = 0;
        while let Some(pos) = buf[start..].iter().position(|b| *b == b'\n') {
            if let Some((name, _)) = bound_pod(&buf[start..start + pos]) {
                bound.lock().entry(name).or_insert(now);
            }
            start += pos + 1;
        }
        buf.drain(..start);
    }
    Ok(())
}

async fn wait_bound(
    bound: &Mutex<HashMap<String, Instant>>,
    names: &[(String, Instant)],
    limit: Duration,
) -> usize {
    let deadline = Instant::now() + limit;
    loop {
        let missing = {
            let b = bound.lock();
            names.iter().filter(|(n, _)| !b.contains_key(n)).count()
        };
        if missing == 0 || Instant::now() > deadline {
            return missing;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn resource_version(conn: &mut Conn, path: &str) -> Result<String, BenchError> {
    let (_, list) = conn.request(Method::GET, path, None).await?;
    Ok(serde_json::from_slice::<Value>(&list)
        .ok()
        .and_then(|v| {
            v.pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_else(|| "0".into()))
}

/// Runs the benchmark and returns its JSON report.
pub async fn run(opts: Options) -> Result<Value, BenchError> {
    if opts.variant == Variant::AntiAffinity && opts.init_pods + opts.pods > opts.nodes {
        return Err(BenchError::Request(format!(
            "anti-affinity puts one pod per node: init pods + pods ({}) must not exceed nodes ({})",
            opts.init_pods + opts.pods,
            opts.nodes
        )));
    }
    let tmp = tempfile::tempdir()?;
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data)?;
    let port = free_port()?;
    let started = Instant::now();
    // The scheduler runs in the server; no agent, no controllers.
    let server = Server::start_with(&opts.binary, &data, port, &["--disable-controller-manager"])?;
    let tls = wait_started(&data, port, started).await?;
    let mut admin = Conn::connect(port, tls.clone()).await?;
    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}});
    admin
        .request(
            Method::POST,
            "/api/v1/namespaces",
            Some(Bytes::from(ns.to_string())),
        )
        .await?;

    // Nodes.
    let t = Instant::now();
    create_all(
        port,
        tls.clone(),
        opts.clients,
        opts.nodes,
        "/api/v1/nodes",
        Arc::new(|i| (format!("node-{i}"), node_body(i))),
    )
    .await?;
    let nodes_seconds = t.elapsed().as_secs_f64();
    // Nodes keep their status on create; make sure.
    let (_, one) = admin.request(Method::GET, "/api/v1/nodes/node-0", None).await?;
    if serde_json::from_slice::<Value>(&one)
        .ok()
        .and_then(|v| v.pointer("/status/allocatable/cpu").cloned())
        .is_none()
    {
        return Err(BenchError::Server("node status was not kept on create".into()));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_nodes = server.rss_mb();

    let bound = Arc::new(Mutex::new(HashMap::with_capacity(opts.init_pods + opts.pods)));
    let rv = resource_version(
        &mut admin,
        &format!("/api/v1/namespaces/{NAMESPACE}/pods?limit=1"),
    )
    .await?;
    let watcher = tokio::spawn(watch_bound(port, tls.clone(), rv, bound.clone()));
    let pods_path: &'static str = "/api/v1/namespaces/bench/pods";
    let variant = opts.variant;

    // Warm-up pods, scheduled before measuring.
    let init = create_all(
        port,
        tls.clone(),
        opts.clients,
        opts.init_pods,
        pods_path,
        Arc::new(move |i| {
            let name = format!("init-{i}");
            let body = pod_body(&name, variant);
            (name, body)
        }),
    )
    .await?;
    let init_missing = wait_bound(&bound, &init, Duration::from_secs(600)).await;

    // Measured pods.
    let t0 = Instant::now();
    let sent = create_all(
        port,
        tls.clone(),
        opts.clients,
        opts.pods,
        pods_path,
        Arc::new(move |i| {
            let name = format!("pod-{i}");
            let body = pod_body(&name, variant);
            (name, body)
        }),
    )
    .await?;
    let create_seconds = t0.elapsed().as_secs_f64();
    let missing = wait_bound(&bound, &sent, Duration::from_secs(900)).await;
    let rss_mb = server.rss_mb();
    watcher.abort();

    let b = bound.lock();
    let mut latencies: Vec<Duration> = sent
        .iter()
        .filter_map(|(n, at)| b.get(n).map(|done| done.saturating_duration_since(*at)))
        .collect();
    let last = sent
        .iter()
        .filter_map(|(n, _)| b.get(n))
        .max()
        .copied()
        .unwrap_or(t0);
    let seconds = last.saturating_duration_since(t0).as_secs_f64().max(1e-9);
    let scheduled = sent.len() - missing;
    Ok(json!({
        "benchmark": "scheduler",
        "variant": variant.name(),
        "nodes": opts.nodes,
        "init_pods": opts.init_pods,
        "pods": opts.pods,
        "clients": opts.clients,
        "pods_per_second": (scheduled as f64 / seconds).round(),
        "bound_p50_ms": percentile_ms(&mut latencies, 50.0),
        "bound_p99_ms": percentile_ms(&mut latencies, 99.0),
        "seconds": (seconds * 1000.0).round() / 1000.0,
        "create_seconds": (create_seconds * 1000.0).round() / 1000.0,
        "nodes_seconds": (nodes_seconds * 1000.0).round() / 1000.0,
        "unbound": missing,
        "init_unbound": init_missing,
        "rss_nodes_mb": rss_nodes,
        "rss_mb": rss_mb,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_bound_pods_in_watch_lines() {
        let line = br#"{"type":"MODIFIED","object":{"metadata":{"resourceVersion":"9","name":"pod-3","namespace":"bench"},"spec":{"containers":[{"name":"pause"}],"nodeName":"node-7"}}}"#;
        assert_eq!(bound_pod(line), Some(("pod-3".into(), "node-7".into())));
        assert_eq!(
            bound_pod(br#"{"type":"ADDED","object":{"metadata":{"name":"p"},"spec":{}}}"#),
            None
        );
    }

    #[test]
    fn variants_parse() {
        assert_eq!("spread".parse::<Variant>(), Ok(Variant::Spread));
        assert!("nope".parse::<Variant>().is_err());
    }
}
