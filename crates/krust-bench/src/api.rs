//! `krust bench api`: create throughput and latency with concurrent clients, list latency
//! at 10k objects, watch delivery latency with many watchers, memory, and time to ready on
//! an existing data directory.

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

use crate::{
    BenchError,
    client::{Conn, tls_config, wait_ready},
    process::{Server, free_port},
    stats::percentile_ms,
};

/// Parameters of the API benchmark.
#[derive(Debug, Clone)]
pub struct Options {
    /// The krust binary to run as the server.
    pub binary: PathBuf,
    /// Pods to create.
    pub pods: usize,
    /// Concurrent creating clients (one connection each).
    pub clients: usize,
    /// Concurrent watchers, each of which must see every pod of the watch phase.
    pub watchers: usize,
    /// Pods created (at `watch_rate`) while the watchers watch.
    pub watch_pods: usize,
    /// Creates per second during the watch phase.
    pub watch_rate: u32,
}

const NAMESPACE: &str = "bench";

/// The API server and datastore alone: without a scheduler and controllers, which would
/// otherwise act on every benchmark pod (and be measured instead).
const API_ONLY: &[&str] = &["--disable-scheduler", "--disable-controller-manager"];

fn pod(name: &str) -> Bytes {
    let v = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "bench", "tier": "web"}},
        "spec": {"containers": [{"name": "main", "image": "registry.example/app:1.0",
            "ports": [{"containerPort": 8080}],
            "env": [{"name": "MODE", "value": "bench"}],
            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]}
    });
    Bytes::from(serde_json::to_vec(&v).unwrap_or_default())
}

/// Ack times of created pods, by name, for watch latency.
type Acks = Arc<Mutex<HashMap<String, Instant>>>;

async fn run_watcher(
    port: u16,
    tls: Arc<rustls::ClientConfig>,
    rv: String,
    expected: usize,
    acks: Acks,
) -> Result<(usize, Vec<Duration>), BenchError> {
    let mut conn = Conn::connect(port, tls).await?;
    let path =
        format!("/api/v1/namespaces/{NAMESPACE}/pods?watch=true&resourceVersion={rv}&timeoutSeconds=600");
    let resp = conn.start(Method::GET, &path, None).await?;
    if resp.status() != StatusCode::OK {
        return Err(BenchError::Request(format!("watch answered {}", resp.status())));
    }
    let mut body = resp.into_body();
    let mut buf = Vec::new();
    let mut seen = 0usize;
    let mut pending: Vec<(String, Instant)> = Vec::new();
    while seen < expected {
        let Some(frame) = body.frame().await else { break };
        let frame = frame.map_err(|e| BenchError::Request(e.to_string()))?;
        let Ok(data) = frame.into_data() else { continue };
        let now = Instant::now();
        buf.extend_from_slice(&data);
        while let Some(pos) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=pos).collect();
            if let Some(name) = pod_name(&line) {
                seen += 1;
                pending.push((name, now));
            }
        }
    }
    // Match receive times with create acknowledgements once all creates are done.
    let mut lat = Vec::with_capacity(pending.len());
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut rest = pending;
    while !rest.is_empty() && Instant::now() < deadline {
        {
            let acks = acks.lock();
            rest.retain(|(name, at)| match acks.get(name) {
                Some(ack) => {
                    lat.push(at.saturating_duration_since(*ack));
                    false
                }
                None => true,
            });
        }
        if !rest.is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    Ok((seen, lat))
}

/// Finds `"name":"watched-…"` in an ADDED event line without parsing the whole object.
fn pod_name(line: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(line).ok()?;
    if !text.starts_with("{\"type\":\"ADDED\"") {
        return None;
    }
    let start = text.find("\"name\":\"watched-")? + 8;
    let end = start + text[start..].find('"')?;
    Some(text[start..end].to_string())
}

/// Creates `total` pods named `<prefix>-<i>` from `clients` connections, as fast as
/// possible or paced to `rate` creates per second overall.
async fn create_all(
    port: u16,
    tls: Arc<rustls::ClientConfig>,
    clients: usize,
    total: usize,
    prefix: &'static str,
    rate: Option<u32>,
    acks: Acks,
) -> Result<(Duration, Vec<Duration>), BenchError> {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (next, acks, tls) = (next.clone(), acks.clone(), tls.clone());
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::connect(port, tls).await?;
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    return Ok::<_, BenchError>(lat);
                }
                if let Some(r) = rate {
                    let due = started + Duration::from_secs_f64(i as f64 / f64::from(r.max(1)));
                    tokio::time::sleep_until(due.into()).await;
                }
                let name = format!("{prefix}-{i}");
                let t = Instant::now();
                let (status, body) = conn
                    .request(
                        Method::POST,
                        &format!("/api/v1/namespaces/{NAMESPACE}/pods"),
                        Some(pod(&name)),
                    )
                    .await?;
                let done = Instant::now();
                if status != StatusCode::CREATED {
                    return Err(BenchError::Request(format!(
                        "create answered {status}: {}",
                        String::from_utf8_lossy(&body)
                    )));
                }
                acks.lock().insert(name, done);
                lat.push(done - t);
            }
        }));
    }
    let mut all = Vec::with_capacity(total);
    for t in tasks {
        all.extend(t.await.map_err(|e| BenchError::Request(e.to_string()))??);
    }
    Ok((started.elapsed(), all))
}

async fn list_ms(conn: &mut Conn) -> Result<f64, BenchError> {
    let mut samples = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let (status, body) = conn
            .request(Method::GET, &format!("/api/v1/namespaces/{NAMESPACE}/pods"), None)
            .await?;
        samples.push(t.elapsed());
        if status != StatusCode::OK {
            return Err(BenchError::Request(format!("list answered {status}")));
        }
        drop(body);
    }
    Ok(percentile_ms(&mut samples, 50.0))
}

async fn wait_for_tls(dir: &std::path::Path) -> Result<(), BenchError> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !dir.join("tls").join("client-admin.key").exists() || !dir.join("kubeconfig.yaml").exists() {
        if Instant::now() > deadline {
            return Err(BenchError::Server("certificates never appeared".into()));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}

/// Runs the benchmark and returns its JSON report.
pub async fn run(opts: Options) -> Result<Value, BenchError> {
    let tmp = tempfile::tempdir()?;
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data)?;
    let port = free_port()?;
    let first_start = Instant::now();
    let server = Server::start_with(&opts.binary, &data, port, API_ONLY)?;
    wait_for_tls(&data).await?;
    let tls = tls_config(&data.join("tls"))?;
    let first_ready = wait_ready(port, tls.clone(), first_start, Duration::from_secs(60)).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_idle = server.rss_mb();

    let mut admin = Conn::connect(port, tls.clone()).await?;
    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}});
    admin
        .request(
            Method::POST,
            "/api/v1/namespaces",
            Some(Bytes::from(ns.to_string())),
        )
        .await?;
    let (_, list) = admin
        .request(Method::GET, &format!("/api/v1/namespaces/{NAMESPACE}/pods"), None)
        .await?;
    let rv = serde_json::from_slice::<Value>(&list)
        .ok()
        .and_then(|v| {
            v.pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_else(|| "0".into());

    // Phase 1: create throughput, nobody watching.
    let unused: Acks = Arc::new(Mutex::new(HashMap::new()));
    let (elapsed, mut create_lat) =
        create_all(port, tls.clone(), opts.clients, opts.pods, "bench", None, unused).await?;
    // Phase 2: watch delivery at a steady create rate.
    let acks: Acks = Arc::new(Mutex::new(HashMap::with_capacity(opts.watch_pods)));
    let (_, list) = admin
        .request(
            Method::GET,
            &format!("/api/v1/namespaces/{NAMESPACE}/pods?limit=1"),
            None,
        )
        .await?;
    let rv = serde_json::from_slice::<Value>(&list)
        .ok()
        .and_then(|v| {
            v.pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or(rv);
    let mut watchers = Vec::new();
    for _ in 0..opts.watchers {
        watchers.push(tokio::spawn(run_watcher(
            port,
            tls.clone(),
            rv.clone(),
            opts.watch_pods,
            acks.clone(),
        )));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let writers = opts.clients.clamp(1, 16);
    create_all(
        port,
        tls.clone(),
        writers,
        opts.watch_pods,
        "watched",
        Some(opts.watch_rate),
        acks.clone(),
    )
    .await?;
    let mut watch_lat = Vec::new();
    let mut missing = 0usize;
    for w in watchers {
        let (seen, lat) = w.await.map_err(|e| BenchError::Request(e.to_string()))??;
        missing += opts.watch_pods.saturating_sub(seen);
        watch_lat.extend(lat);
    }
    let list_10k = list_ms(&mut admin).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_loaded = server.rss_mb();
    drop(admin);
    server.stop()?;

    let restart = Instant::now();
    let again = Server::start_with(&opts.binary, &data, port, API_ONLY)?;
    let ready = wait_ready(port, tls, restart, Duration::from_secs(60)).await?;
    let rss_after_restart = again.rss_mb();
    again.stop()?;

    Ok(json!({
        "benchmark": "api",
        "pods": opts.pods,
        "clients": opts.clients,
                "watchers": opts.watchers,
        "watch_pods": opts.watch_pods,
        "watch_rate": opts.watch_rate,
        "creates_per_second": (opts.pods as f64 / elapsed.as_secs_f64()).round(),
        "create_p50_ms": percentile_ms(&mut create_lat, 50.0),
        "create_p99_ms": percentile_ms(&mut create_lat, 99.0),
        "list_10k_ms": list_10k,
        "watch_p50_ms": percentile_ms(&mut watch_lat, 50.0),
        "watch_p99_ms": percentile_ms(&mut watch_lat, 99.0),
        "watch_events_missing": missing,
        "rss_idle_mb": rss_idle,
        "rss_10k_mb": rss_loaded,
        "rss_10k_after_restart_mb": rss_after_restart,
        "first_ready_seconds": (first_ready.as_secs_f64() * 1000.0).round() / 1000.0,
        "ready_seconds": (ready.as_secs_f64() * 1000.0).round() / 1000.0,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_pod_names_in_events() {
        let line = br#"{"type":"ADDED","object":{"metadata":{"resourceVersion":"9","name":"watched-17","namespace":"bench"}}}"#;
        assert_eq!(pod_name(line).as_deref(), Some("watched-17"));
        assert_eq!(pod_name(br#"{"type":"MODIFIED","object":{}}"#), None);
    }
}
