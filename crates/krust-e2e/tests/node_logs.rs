//! `kubectl logs` end to end: the real kubectl against `krust server` with its node agent,
//! whose containers write CRI log files that the agent serves on its kubelet port and the
//! API server proxies. Needs root and the node packages (see tests/node.rs); skips
//! otherwise, saying why.

// Test helpers may unwrap: a panic is a failed test.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use krust_e2e::node::tail;
use krust_e2e::{Cluster, stderr, stdout};
use serde_json::Value;

fn cluster() -> Option<Cluster> {
    if let Err(why) = Cluster::node_prerequisites() {
        eprintln!("skipped: {why}");
        return None;
    }
    // A port of its own, so nothing else on this machine's 10250 gets in the way.
    let port = krust_e2e::free_local_port().to_string();
    Some(Cluster::start_node(&["--kubelet-port", &port]))
}

fn running(pod: &Value) -> bool {
    pod["status"]["phase"] == "Running"
}

/// Runs `kubectl logs <args>` until its output satisfies `ok` (the container may not have
/// written everything yet when it is Running); returns that output.
fn logs_until(c: &Cluster, args: &[&str], ok: impl Fn(&str) -> bool) -> String {
    let mut full = vec!["logs"];
    full.extend_from_slice(args);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = c.kubectl(&full);
        let text = stdout(&out);
        if out.status.success() && ok(&text) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "kubectl {full:?} never gave what was expected; last stdout:\n{text}\nstderr:\n{}\nserver log:\n{}",
            stderr(&out),
            tail(&c.log())
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// The number in the last line `<word> N` of `text`.
fn last_count(text: &str, word: &str) -> Option<u64> {
    text.lines()
        .rev()
        .find_map(|l| l.strip_prefix(word)?.trim().parse().ok())
}

const PODS: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: one}
spec:
  containers:
  - name: main
    image: krust.io/busybox:1.35
    command: ["sh", "-c", "echo one; echo two; sleep 0.3; echo three >&2; sleep 3600"]
---
apiVersion: v1
kind: Pod
metadata: {name: two}
spec:
  containers:
  - name: a
    image: krust.io/busybox:1.35
    command: ["sh", "-c", "echo from-a; sleep 3600"]
  - name: b
    image: krust.io/busybox:1.35
    command: ["sh", "-c", "echo from-b; sleep 3600"]
---
apiVersion: v1
kind: Pod
metadata: {name: crasher}
spec:
  containers:
  - name: main
    image: krust.io/busybox:1.35
    command: ["sh", "-c", "n=$(cat /data/n 2>/dev/null || echo 0); n=$((n+1)); echo $n > /data/n; echo run $n; exit 1"]
    volumeMounts: [{name: data, mountPath: /data}]
  volumes: [{name: data, emptyDir: {}}]
---
apiVersion: v1
kind: Pod
metadata: {name: ticker}
spec:
  containers:
  - name: main
    image: krust.io/busybox:1.35
    command: ["sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 1; done"]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: greeter}
spec:
  replicas: 1
  selector: {matchLabels: {app: greeter}}
  template:
    metadata: {labels: {app: greeter}}
    spec:
      containers:
      - name: main
        image: krust.io/busybox:1.35
        command: ["sh", "-c", "echo hello from the deployment; sleep 3600"]
"#;

#[test]
fn kubectl_logs_reads_tails_follows_and_finds_previous_instances() {
    let Some(c) = cluster() else { return };
    c.ok_stdin(&["apply", "-f", "-"], PODS);
    for pod in ["one", "two", "ticker"] {
        c.wait_pod(pod, "Running", running);
    }

    // Discovery lists the subresource as upstream does.
    let resources = c.ok(&["get", "--raw", "/api/v1"]);
    let list: Value = serde_json::from_str(&resources).unwrap();
    let log = list["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "pods/log")
        .unwrap_or_else(|| panic!("pods/log is not in discovery: {list:#}"));
    assert_eq!(log["verbs"], serde_json::json!(["get"]));

    // stdout and stderr, in order.
    let all = logs_until(&c, &["one"], |t| t.lines().count() >= 3);
    assert_eq!(all, "one\ntwo\nthree\n");
    assert_eq!(c.ok(&["logs", "one", "--tail=2"]), "two\nthree\n");
    assert_eq!(c.ok(&["logs", "one", "--limit-bytes=5"]), "one\nt");
    let stamped = c.ok(&["logs", "one", "--timestamps"]);
    for (line, want) in stamped.lines().zip(["one", "two", "three"]) {
        let (time, text) = line.split_once(' ').unwrap();
        assert_eq!(text, want, "{stamped}");
        assert!(
            time.len() >= 20 && time.as_bytes()[4] == b'-' && time.contains('T'),
            "not an RFC3339 time: {line:?}"
        );
    }
    let recent = c.ok(&["logs", "one", "--since=1h"]);
    assert_eq!(recent, "one\ntwo\nthree\n");
    let err = c.fails(&["logs", "one", "--previous"]);
    assert!(
        err.contains("previous terminated container \"main\" in pod \"one\" not found"),
        "{err}"
    );

    // Two containers: -c picks one; the API without a container says which exist.
    assert_eq!(logs_until(&c, &["two", "-c", "b"], |t| !t.is_empty()), "from-b\n");
    let err = c.fails(&["get", "--raw", "/api/v1/namespaces/default/pods/two/log"]);
    assert!(
        err.contains("a container name must be specified for pod two, choose one of: [a b]"),
        "{err}"
    );
    let err = c.fails(&["logs", "two", "-c", "nope"]);
    assert!(err.contains("container nope is not valid for pod two"), "{err}");

    // --previous after a crash: the earlier run's line, and the current one is later.
    c.wait_pod("crasher", "a restart", |p| {
        p["status"]["containerStatuses"][0]["lastState"]["terminated"].is_object()
    });
    let previous = logs_until(&c, &["crasher", "--previous"], |t| last_count(t, "run").is_some());
    let current = logs_until(&c, &["crasher"], |t| last_count(t, "run").is_some());
    let (before, now) = (
        last_count(&previous, "run").unwrap(),
        last_count(&current, "run").unwrap(),
    );
    assert!(now > before, "previous run {before}, current run {now}");

    // -f streams lines written after it started.
    let seen = logs_until(&c, &["ticker"], |t| last_count(t, "tick").is_some());
    let at_start = last_count(&seen, "tick").unwrap();
    let mut follow = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(c.kubeconfig())
        .args(["logs", "-f", "ticker"])
        .env("HOME", c.dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = follow.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut later = None;
    while later.is_none() && Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_secs(1))
            && let Some(n) = last_count(&line, "tick")
            && n >= at_start + 3
        {
            later = Some(n);
        }
    }
    let _ = follow.kill();
    let _ = follow.wait();
    assert!(
        later.is_some(),
        "kubectl logs -f showed no line written after tick {at_start}; server log:\n{}",
        tail(&c.log())
    );

    // A workload: kubectl picks one of its pods.
    c.ok(&["rollout", "status", "deployment/greeter", "--timeout=120s"]);
    let text = logs_until(&c, &["deployment/greeter"], |t| !t.is_empty());
    assert_eq!(text, "hello from the deployment\n");
}
