//! `krust bench pods`: how fast the node agent turns a pod into running containers, next
//! to containerd's own `ctr run` of the same image on the same containerd (the floor: no
//! API, no sandbox, no network). A `krust server --disable-agent` child runs the control
//! plane and a `krust agent` child, joined with a bootstrap token, runs the node (root,
//! containerd, runc and the CNI plugins needed), so the agent's memory is its own; the
//! image is the busybox test image, present before timing starts.
//!
//! Measured: create → Running (container running, seen by polling the pod every 5 ms)
//! for single pods one after another, and for a batch created at once; `ctr run -d` of
//! the same image; the memory of the agent with 50 and with 100 pods running (containerd
//! not counted), of the server and of containerd.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::BenchError;
use crate::client::Conn;
use crate::process::{Server, free_port, wait_started};
use crate::stats::percentile_ms;

const PODS: &str = "/api/v1/namespaces/default/pods";

/// Parameters of the pods benchmark.
#[derive(Debug, Clone)]
pub struct Options {
    /// The krust binary to run as the server.
    pub binary: PathBuf,
    /// Pods started one after another.
    pub single: usize,
    /// Pods created at once.
    pub batch: usize,
    /// `ctr run` samples.
    pub ctr_runs: usize,
    /// Give up on a phase after this long.
    pub limit: Duration,
}

fn pod(name: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"bench": "pods"}},
        "spec": {
            "terminationGracePeriodSeconds": 0,
            "automountServiceAccountToken": false,
            "containers": [{"name": "c", "image": krust_oci::TEST_IMAGE, "command": ["sleep", "3600"]}]
        }
    })
}

fn running(p: &Value) -> bool {
    p.pointer("/status/phase") == Some(&json!("Running"))
        && p.pointer("/status/containerStatuses/0/state/running").is_some()
}

async fn create(conn: &mut Conn, name: &str) -> Result<(), BenchError> {
    let (status, body) = conn
        .request(Method::POST, PODS, Some(Bytes::from(pod(name).to_string())))
        .await?;
    if status != StatusCode::CREATED {
        return Err(BenchError::Request(format!(
            "creating pod {name}: {status}: {}",
            String::from_utf8_lossy(&body)
        )));
    }
    Ok(())
}

/// Polls until `names` all run; returns when each was first seen running.
async fn wait_running(
    conn: &mut Conn,
    names: &[String],
    since: Instant,
    limit: Duration,
) -> Result<Vec<Duration>, BenchError> {
    let mut seen: Vec<Option<Duration>> = vec![None; names.len()];
    loop {
        let (_, body) = conn
            .request(Method::GET, &format!("{PODS}?labelSelector=bench%3Dpods"), None)
            .await?;
        let list: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        for p in list["items"].as_array().into_iter().flatten() {
            let name = p
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if let Some(i) = names.iter().position(|n| n == name)
                && seen[i].is_none()
                && running(p)
            {
                seen[i] = Some(since.elapsed());
            }
        }
        if seen.iter().all(Option::is_some) {
            return Ok(seen.into_iter().flatten().collect());
        }
        if since.elapsed() > limit {
            let missing = seen.iter().filter(|s| s.is_none()).count();
            return Err(BenchError::Request(format!(
                "{missing} pods not running within {limit:?}"
            )));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Deletes the benchmark's pods and waits until none is left.
async fn delete_all(conn: &mut Conn, limit: Duration) -> Result<(), BenchError> {
    conn.request(
        Method::DELETE,
        &format!("{PODS}?labelSelector=bench%3Dpods&gracePeriodSeconds=0"),
        None,
    )
    .await?;
    let t = Instant::now();
    loop {
        let (_, body) = conn
            .request(Method::GET, &format!("{PODS}?labelSelector=bench%3Dpods"), None)
            .await?;
        let left = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|l| l["items"].as_array().map(Vec::len))
            .unwrap_or(0);
        if left == 0 {
            return Ok(());
        }
        if t.elapsed() > limit {
            return Err(BenchError::Request(format!(
                "{left} pods still there after {limit:?}"
            )));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `ctr run -d` of the test image `runs` times on the agent's containerd; the time each
/// took to return (the task started), then the containers are removed.
fn ctr_floor(data: &Path, runs: usize) -> Result<Vec<Duration>, BenchError> {
    let socket = data.join("agent/run/containerd/containerd.sock");
    let config = std::fs::read_to_string(data.join("agent/etc/containerd/config.toml"))?;
    let snapshotter = config
        .lines()
        .find_map(|l| l.trim().strip_prefix("snapshotter = "))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| "overlayfs".into());
    let ctr = |args: &[&str]| {
        Command::new("ctr")
            .arg("--address")
            .arg(&socket)
            .args(["-n", "k8s.io"])
            .args(args)
            .output()
    };
    let mut out = Vec::with_capacity(runs);
    for i in 0..=runs {
        let id = format!("krust-bench-ctr-{i}");
        let t = Instant::now();
        let o = ctr(&[
            "run",
            "-d",
            "--null-io",
            "--snapshotter",
            &snapshotter,
            krust_oci::TEST_IMAGE,
            &id,
            "sleep",
            "3600",
        ])?;
        let took = t.elapsed();
        if !o.status.success() {
            return Err(BenchError::Server(format!(
                "ctr run: {}",
                String::from_utf8_lossy(&o.stderr)
            )));
        }
        // The first run warms the snapshot up; it is not counted.
        if i > 0 {
            out.push(took);
        }
        let _ = ctr(&["tasks", "kill", "-s", "SIGKILL", &id]);
        for _ in 0..100 {
            if ctr(&["tasks", "delete", &id]).is_ok_and(|o| o.status.success()) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = ctr(&["containers", "delete", &id]);
    }
    Ok(out)
}

/// `krust token create` against the server's data directory.
fn join_token(binary: &Path, server_data: &Path) -> Result<String, BenchError> {
    let out = Command::new(binary)
        .args(["token", "create", "--data-dir"])
        .arg(server_data)
        .output()?;
    if !out.status.success() {
        return Err(BenchError::Server(format!(
            "krust token create: {}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Runs the benchmark; returns its JSON.
pub async fn run(opts: Options) -> Result<Value, BenchError> {
    let dir = tempfile::tempdir()?;
    let server_data = dir.path().join("server");
    let data = dir.path().join("agent");
    let images = data.join("agent/images");
    std::fs::create_dir_all(&images)?;
    krust_oci::write_image(
        &krust_oci::test_image(),
        Path::new(krust_oci::DEFAULT_BUSYBOX),
        &images.join("busybox.tar"),
    )
    .map_err(|e| BenchError::Server(format!("building the test image: {e}")))?;
    let port = free_port()?;
    let started = Instant::now();
    let server = Server::start_with(&opts.binary, &server_data, port, &[])?;
    let tls = wait_started(&server_data, port, started).await?;
    let token = join_token(&opts.binary, &server_data)?;
    let agent = crate::process::Agent::start(&opts.binary, &data, port, &token, "bench-node")?;
    let mut conn = Conn::connect(port, tls).await?;
    // The node is Ready with its network, and pods can be admitted.
    loop {
        let (_, nodes) = conn.request(Method::GET, "/api/v1/nodes", None).await?;
        let (sa, _) = conn
            .request(
                Method::GET,
                "/api/v1/namespaces/default/serviceaccounts/default",
                None,
            )
            .await?;
        let ready = serde_json::from_slice::<Value>(&nodes)
            .ok()
            .and_then(|l| l["items"].as_array().cloned())
            .unwrap_or_default()
            .iter()
            .any(|n| n.pointer("/spec/podCIDR").is_some());
        if ready && sa == StatusCode::OK && data.join("agent/etc/cni/net.d/10-krust.conflist").exists() {
            break;
        }
        if started.elapsed() > opts.limit {
            return Err(BenchError::Server("the node never became ready".into()));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // One pod first: the first sandbox sets the bridge up.
    create(&mut conn, "warmup").await?;
    wait_running(&mut conn, &["warmup".to_string()], Instant::now(), opts.limit).await?;
    delete_all(&mut conn, opts.limit).await?;

    let mut single = Vec::with_capacity(opts.single);
    for i in 0..opts.single {
        let name = format!("single-{i}");
        let t = Instant::now();
        create(&mut conn, &name).await?;
        single.extend(wait_running(&mut conn, &[name], t, opts.limit).await?);
    }
    delete_all(&mut conn, opts.limit).await?;

    let names: Vec<String> = (0..opts.batch).map(|i| format!("batch-{i}")).collect();
    let t = Instant::now();
    for n in &names {
        create(&mut conn, n).await?;
    }
    let mut batch = wait_running(&mut conn, &names, t, opts.limit).await?;
    let batch_seconds = t.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let agent_100_rss_mb = agent.rss_mb();
    let server_rss_mb = server.rss_mb();
    let containerd_rss_mb = crate::process::rss_mb_of_command("containerd", &data);
    // Down to 50 running pods, the figure the goal names.
    for i in 50..opts.batch {
        conn.request(
            Method::DELETE,
            &format!("{PODS}/batch-{i}?gracePeriodSeconds=0"),
            None,
        )
        .await?;
    }
    let t = Instant::now();
    loop {
        let (_, body) = conn
            .request(Method::GET, &format!("{PODS}?labelSelector=bench%3Dpods"), None)
            .await?;
        let left = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|l| l["items"].as_array().map(Vec::len))
            .unwrap_or(0);
        if left <= opts.batch.min(50) || t.elapsed() > opts.limit {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let agent_rss_mb = agent.rss_mb();
    delete_all(&mut conn, opts.limit).await?;

    let mut ctr = ctr_floor(&data, opts.ctr_runs)?;
    agent.stop()?;
    server.stop()?;
    // The bridge and NAT table this benchmark's node made.
    let _ = Command::new("ip").args(["link", "del", "krust0"]).output();
    let _ = Command::new("nft")
        .args(["delete", "table", "ip", "krust-node"])
        .output();

    let start_p50_ms = percentile_ms(&mut single, 50.0);
    let ctr_p50_ms = percentile_ms(&mut ctr, 50.0);
    Ok(json!({
        "benchmark": "pods",
        "single_pods": opts.single,
        "start_p50_ms": start_p50_ms,
        "start_p99_ms": percentile_ms(&mut single, 99.0),
        "batch_pods": opts.batch,
        "start_100_seconds": (batch_seconds * 1000.0).round() / 1000.0,
        "batch_p50_ms": percentile_ms(&mut batch, 50.0),
        "batch_p99_ms": percentile_ms(&mut batch, 99.0),
        "ctr_runs": ctr.len(),
        "ctr_p50_ms": ctr_p50_ms,
        "ctr_p99_ms": percentile_ms(&mut ctr, 99.0),
        "start_over_ctr": if ctr_p50_ms > 0.0 { ((start_p50_ms / ctr_p50_ms) * 100.0).round() / 100.0 } else { 0.0 },
        "server_rss_mb": server_rss_mb,
        "containerd_rss_mb": containerd_rss_mb,
        "agent_rss_mb": agent_rss_mb,
        "agent_100_rss_mb": agent_100_rss_mb,
    }))
}
