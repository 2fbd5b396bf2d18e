//! Watches: `kubectl get -w` tables, resuming from a resourceVersion, 410 for a version
//! that is gone, selector transitions, and the Python client's watch.

// Test helpers may unwrap: a panic is a failed test.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use krust_e2e::{Cluster, stderr, stdout};

/// How long a watch may take to print what shows it has started.
const START_PATIENCE: Duration = Duration::from_secs(60);

/// Collects lines of a long-running kubectl: waits (up to a minute) until `started` says
/// from its lines that the watch is running, calling `nudge` about every second meanwhile
/// (to make something for it to print), then runs `actions` and reads on until `done` says
/// so (or nothing came for a minute).
fn watch_until(
    c: &Cluster,
    args: &[&str],
    started: impl Fn(&[String]) -> bool,
    mut nudge: impl FnMut(),
    actions: impl FnOnce(),
    done: impl Fn(&[String]) -> bool,
) -> Vec<String> {
    let mut child = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(c.kubeconfig())
        .arg("--cache-dir")
        .arg(c.dir.path().join("kubecache"))
        .args(args)
        .env("HOME", c.dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines: Vec<String> = Vec::new();
    let deadline = Instant::now() + START_PATIENCE;
    while !started(&lines) {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("kubectl {args:?} did not start watching within {START_PATIENCE:?}: {lines:?}");
        }
        nudge();
        // Read whatever it printed in the next second.
        let until = Instant::now() + Duration::from_secs(1);
        while let Some(left) = until.checked_duration_since(Instant::now()) {
            match rx.recv_timeout(left) {
                Ok(l) => lines.push(l),
                Err(_) => break,
            }
        }
    }
    actions();
    while !done(&lines) {
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(l) => lines.push(l),
            Err(_) => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    lines
}

#[test]
fn kubectl_get_watch_prints_table_rows() {
    let c = Cluster::start();
    c.ok(&["create", "configmap", "first"]);
    let lines = watch_until(
        &c,
        &["get", "configmaps", "-w"],
        // The initial rows are printed once the watch has its starting version.
        |l| l.iter().any(|l| l.starts_with("first")),
        || {},
        || {
            c.ok(&["create", "configmap", "second"]);
            c.ok(&["label", "configmap", "second", "a=b"]);
            c.ok(&["delete", "configmap", "second"]);
        },
        |l| l.len() >= 5,
    );
    assert!(lines[0].starts_with("NAME"), "{lines:?}");
    assert!(lines.iter().any(|l| l.starts_with("first")), "{lines:?}");
    assert!(
        lines.iter().filter(|l| l.starts_with("second")).count() >= 2,
        "{lines:?}"
    );
}

#[test]
fn watch_with_output_events() {
    let c = Cluster::start();
    // --watch-only prints nothing until something changes: touch a sentinel until the
    // watch prints it, so the actions surely come after the watch has started.
    c.ok(&["create", "configmap", "sentinel"]);
    let mut touches = 0;
    let lines = watch_until(
        &c,
        &[
            "get",
            "configmaps",
            "-w",
            "--output-watch-events",
            "-o",
            "json",
            "--watch-only",
        ],
        |l| l.iter().any(|x| x.contains("sentinel")),
        || {
            touches += 1;
            c.ok(&[
                "label",
                "configmap",
                "sentinel",
                &format!("touch={touches}"),
                "--overwrite",
            ]);
        },
        || {
            c.ok(&["create", "configmap", "y"]);
            c.ok(&["label", "configmap", "y", "k=v"]);
            c.ok(&["delete", "configmap", "y"]);
        },
        |l| l.iter().any(|x| x.contains("\"DELETED\"")),
    );
    let joined = lines.join("\n");
    // The events about `y` (not the sentinel), in order.
    let types: Vec<String> = serde_json::Deserializer::from_str(&joined)
        .into_iter::<serde_json::Value>()
        .map_while(Result::ok)
        .filter(|e| e["object"]["metadata"]["name"] == "y")
        .map(|e| e["type"].as_str().unwrap_or_default().to_string())
        .collect();
    for t in ["ADDED", "MODIFIED", "DELETED"] {
        assert!(
            types.iter().any(|x| x == t),
            "no {t} event about y ({types:?}) in:\n{joined}"
        );
    }
    assert!(
        joined.contains("\"type\":\"ADDED\""),
        "events printed as compact JSON lines:\n{joined}"
    );
}

#[test]
fn python_watch_resume_selectors_and_gone() {
    let c = Cluster::start();
    let out = c.python("watch.py", &["resume"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let out = c.python("watch.py", &["selector_transitions"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let out = c.python("watch.py", &["bookmarks_and_timeout"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
}

#[test]
fn watch_list_streams_initial_events_then_a_bookmark() {
    let c = Cluster::start();
    let out = c.python("raw.py", &["watch_list"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
}

#[test]
fn watch_from_a_version_lost_in_a_restart_is_gone() {
    let mut c = Cluster::start();
    c.ok(&["create", "configmap", "before"]);
    let rv = c.get_json(&["configmap", "before"])["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    c.ok(&["create", "configmap", "after"]);
    c.stop();
    c.restart();
    let out = c.python("watch.py", &["gone", &rv]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
}
