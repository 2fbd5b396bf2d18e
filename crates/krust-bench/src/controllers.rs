//! `krust bench controllers`: how fast the controller manager, scheduler and simulated
//! nodes turn a large Deployment into running pods, roll it to a new template, and clean it
//! up. A `krust server` child process runs everything in-process with simulated nodes; the
//! benchmark only talks to its API, as a user would: create a Deployment of N replicas and
//! time it to `availableReplicas == N`, change its image and time the rolling update to
//! completion (every pod updated and available, the old ReplicaSet at zero), then delete it
//! and time until no pod is left.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::BenchError;
use crate::client::Conn;
use crate::process::{Server, free_port, wait_started};

const NAMESPACE: &str = "bench";
const DEPLOYMENT: &str = "/apis/apps/v1/namespaces/bench/deployments";

/// Parameters of the controllers benchmark.
#[derive(Debug, Clone)]
pub struct Options {
    /// The krust binary to run as the server.
    pub binary: PathBuf,
    /// Replicas of the Deployment.
    pub replicas: u32,
    /// Simulated nodes to spread them over.
    pub nodes: u32,
    /// Give up on a phase after this long.
    pub limit: Duration,
}

fn deployment(replicas: u32) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": NAMESPACE},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.27",
                    "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]}
            }
        }
    })
}

/// Polls the Deployment until `done` holds for its JSON; returns how long that took.
async fn wait_deployment(
    conn: &mut Conn,
    since: Instant,
    limit: Duration,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Result<f64, BenchError> {
    let path = format!("{DEPLOYMENT}/web");
    loop {
        let (status, body) = conn.request(Method::GET, &path, None).await?;
        if status == StatusCode::OK
            && let Ok(d) = serde_json::from_slice::<Value>(&body)
            && done(&d)
        {
            return Ok(since.elapsed().as_secs_f64());
        }
        if since.elapsed() > limit {
            return Err(BenchError::Request(format!(
                "{what} not reached within {limit:?}: {}",
                String::from_utf8_lossy(&body)
            )));
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn int(d: &Value, pointer: &str) -> i64 {
    d.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

/// Every replica updated and available, and nothing else running.
fn rolled_out(d: &Value, replicas: u32) -> bool {
    let n = i64::from(replicas);
    int(d, "/status/observedGeneration") >= int(d, "/metadata/generation")
        && int(d, "/status/updatedReplicas") == n
        && int(d, "/status/availableReplicas") == n
        && int(d, "/status/replicas") == n
}

/// Runs the benchmark and returns its JSON report.
pub async fn run(opts: Options) -> Result<Value, BenchError> {
    let tmp = tempfile::tempdir()?;
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data)?;
    let port = free_port()?;
    let started = Instant::now();
    let nodes = opts.nodes.to_string();
    let server = Server::start_with(
        &opts.binary,
        &data,
        port,
        &[
            "--simulated-nodes",
            &nodes,
            "--simulated-node-capacity",
            "cpu=64,memory=256Gi,pods=250",
        ],
    )?;
    let tls = wait_started(&data, port, started).await?;
    let mut conn = Conn::connect(port, tls.clone()).await?;
    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}});
    conn.request(
        Method::POST,
        "/api/v1/namespaces",
        Some(Bytes::from(ns.to_string())),
    )
    .await?;
    // All simulated nodes registered and Ready before timing starts.
    loop {
        let (_, body) = conn.request(Method::GET, "/api/v1/nodes", None).await?;
        let ready = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|l| l.get("items").and_then(Value::as_array).cloned())
            .unwrap_or_default()
            .iter()
            .filter(|n| {
                n.pointer("/status/conditions")
                    .and_then(Value::as_array)
                    .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
            })
            .count();
        if ready >= opts.nodes as usize {
            break;
        }
        if started.elapsed() > opts.limit {
            return Err(BenchError::Server(format!(
                "only {ready} of {} nodes Ready",
                opts.nodes
            )));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let rss_idle_mb = server.rss_mb();
    let replicas = opts.replicas;

    // Create → Available.
    let t = Instant::now();
    let (status, body) = conn
        .request(
            Method::POST,
            DEPLOYMENT,
            Some(Bytes::from(deployment(replicas).to_string())),
        )
        .await?;
    if status != StatusCode::CREATED {
        return Err(BenchError::Request(format!(
            "create answered {status}: {}",
            String::from_utf8_lossy(&body)
        )));
    }
    let available = wait_deployment(&mut conn, t, opts.limit, "all replicas available", |d| {
        rolled_out(d, replicas)
    })
    .await?;
    let rss_mb = server.rss_mb();

    // Rolling update to a new image.
    let t = Instant::now();
    let patch =
        json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.28"}]}}}});
    let (status, body) = conn
        .request_with(
            Method::PATCH,
            &format!("{DEPLOYMENT}/web"),
            Some(Bytes::from(patch.to_string())),
            "application/strategic-merge-patch+json",
        )
        .await?;
    if status != StatusCode::OK {
        return Err(BenchError::Request(format!(
            "patch answered {status}: {}",
            String::from_utf8_lossy(&body)
        )));
    }
    let rollout = wait_deployment(&mut conn, t, opts.limit, "rollout complete", |d| {
        int(d, "/metadata/generation") >= 2 && rolled_out(d, replicas)
    })
    .await?;
    let rss_rollout_mb = server.rss_mb();

    // Delete (background propagation, as kubectl) → no pod left.
    let t = Instant::now();
    conn.request(Method::DELETE, &format!("{DEPLOYMENT}/web"), None)
        .await?;
    let pods = format!("/api/v1/namespaces/{NAMESPACE}/pods?limit=1");
    let delete = loop {
        let (_, body) = conn.request(Method::GET, &pods, None).await?;
        let empty = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|l| l.get("items").and_then(Value::as_array).map(Vec::is_empty))
            .unwrap_or(false);
        if empty {
            break t.elapsed().as_secs_f64();
        }
        if t.elapsed() > opts.limit {
            return Err(BenchError::Request(format!("pods left after {:?}", opts.limit)));
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    server.stop()?;
    let round = |s: f64| (s * 1000.0).round() / 1000.0;
    Ok(json!({
        "benchmark": "controllers",
        "replicas": replicas,
        "nodes": opts.nodes,
        "available_1000_seconds": round(available),
        "rollout_1000_seconds": round(rollout),
        "delete_1000_seconds": round(delete),
        "rss_idle_mb": rss_idle_mb,
        "rss_mb": rss_mb,
        "rss_rollout_mb": rss_rollout_mb,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rolled_out_needs_every_replica_updated_and_available() {
        let d = |g: i64, og: i64, upd: i64, avail: i64, total: i64| {
            json!({"metadata": {"generation": g}, "status": {"observedGeneration": og,
                "updatedReplicas": upd, "availableReplicas": avail, "replicas": total}})
        };
        assert!(rolled_out(&d(2, 2, 10, 10, 10), 10));
        assert!(!rolled_out(&d(2, 1, 10, 10, 10), 10), "old generation");
        assert!(!rolled_out(&d(2, 2, 10, 10, 12), 10), "old pods still there");
        assert!(!rolled_out(&d(2, 2, 8, 10, 10), 10), "not all updated");
    }

    #[test]
    fn the_deployment_surges_by_a_quarter() {
        let d = deployment(1000);
        assert_eq!(d["spec"]["replicas"], 1000);
        assert_eq!(d["spec"]["strategy"]["rollingUpdate"]["maxSurge"], "25%");
    }
}
