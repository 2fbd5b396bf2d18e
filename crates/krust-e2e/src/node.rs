//! Helpers for node tests (real containers on this machine's pod bridge): waiting for a
//! pod's state, and HTTP requests that only ever go to addresses routed through the pod
//! bridge, so a test never sends traffic off the machine should the bridge be gone.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{Cluster, stdout};

/// A server with its node agent and `extra` flags, or `None` (having said why) when this
/// machine cannot run real containers.
pub fn node_cluster(extra: &[&str]) -> Option<Cluster> {
    if let Err(why) = Cluster::node_prerequisites() {
        eprintln!("skipped: {why}");
        return None;
    }
    Some(Cluster::start_node(extra))
}

/// The last 40 lines of a log, for failure messages.
pub fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// A pod's phase.
pub fn phase(pod: &Value) -> &str {
    pod["status"]["phase"].as_str().unwrap_or_default()
}

/// Whether `pod` runs with every container ready.
pub fn ready(pod: &Value) -> bool {
    phase(pod) == "Running"
        && pod["status"]["containerStatuses"]
            .as_array()
            .is_some_and(|s| !s.is_empty() && s.iter().all(|c| c["ready"] == true))
}

impl Cluster {
    /// Polls pod `pod`'s JSON until `done` holds (two minutes at most), failing with the
    /// pod and the server log's tail.
    pub fn wait_pod(&self, pod: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let out = self.kubectl(&["get", "pod", pod, "-o", "json"]);
            if out.status.success() {
                let v: Value = serde_json::from_slice(&out.stdout).unwrap();
                if done(&v) {
                    return v;
                }
                assert!(
                    Instant::now() < deadline,
                    "pod {pod}: {what} did not happen; pod:\n{v:#}\nserver log tail:\n{}",
                    tail(&self.log())
                );
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Polls `GET http://ip:port/path` until the answer contains `want` (a minute at most).
    pub fn wait_page(&self, ip: &str, port: u16, path: &str, want: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let got = http_get(ip, port, path);
            match &got {
                Ok(text) if text.contains(want) => return text.clone(),
                _ => assert!(
                    Instant::now() < deadline,
                    "GET http://{ip}:{port}{path} never contained {want:?}; last: {got:?}\nlog tail:\n{}",
                    tail(&self.log())
                ),
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

/// Whether traffic to `ip` stays on this machine: routed through the pod bridge, or a
/// local address (a node address, or a service address the node serves itself).
pub fn stays_on_machine(ip: &str) -> bool {
    std::process::Command::new("ip")
        .args(["route", "get", ip])
        .output()
        .is_ok_and(|o| {
            let route = stdout(&o);
            route.contains("dev krust0") || route.starts_with("local ")
        })
}

/// Whether `ip` is routed through the pod bridge.
pub fn on_pod_bridge(ip: &str) -> bool {
    std::process::Command::new("ip")
        .args(["route", "get", ip])
        .output()
        .is_ok_and(|o| stdout(&o).contains("dev krust0"))
}

/// An HTTP/1.0 GET to a pod address (refused unless it is routed through the pod bridge).
pub fn http_get(ip: &str, port: u16, path: &str) -> std::io::Result<String> {
    if !on_pod_bridge(ip) {
        return Err(std::io::Error::other(format!(
            "{ip} is not routed through the pod bridge krust0"
        )));
    }
    raw_get(ip, port, path)
}

/// An HTTP/1.0 GET without the route check: only for addresses the caller knows are
/// local (node addresses, service addresses answered by this node's rules).
pub fn raw_get(ip: &str, port: u16, path: &str) -> std::io::Result<String> {
    let addr = format!("{ip}:{port}").parse().map_err(std::io::Error::other)?;
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(3))?;
    s.set_read_timeout(Some(Duration::from_secs(3)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {ip}\r\n\r\n")?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}
