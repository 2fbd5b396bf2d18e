//! Watches: `kubectl get -w` tables, resuming from a resourceVersion, 410 for a version
//! that is gone, selector transitions, and the Python client's watch.

// Test helpers may unwrap: a panic is a failed test.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use krust_e2e::{Cluster, stderr, stdout};

/// Collects lines of a long-running kubectl until `done` says so (or 30s passed).
fn watch_until(
    c: &Cluster,
    args: &[&str],
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
    // Give the watch time to start (it prints the header or initial rows, if any).
    let mut lines: Vec<String> = rx.recv_timeout(Duration::from_secs(3)).into_iter().collect();
    actions();
    while !done(&lines) {
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(l) => lines.push(l),
            Err(_) => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    lines
}

fn watch_lines(c: &Cluster, args: &[&str], actions: impl FnOnce(), want: usize) -> Vec<String> {
    watch_until(c, args, actions, |l| l.len() >= want)
}

#[test]
fn kubectl_get_watch_prints_table_rows() {
    let c = Cluster::start();
    c.ok(&["create", "configmap", "first"]);
    let lines = watch_lines(
        &c,
        &["get", "configmaps", "-w"],
        || {
            c.ok(&["create", "configmap", "second"]);
            c.ok(&["label", "configmap", "second", "a=b"]);
            c.ok(&["delete", "configmap", "second"]);
        },
        5,
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
        || {
            c.ok(&["create", "configmap", "y"]);
            c.ok(&["label", "configmap", "y", "k=v"]);
            c.ok(&["delete", "configmap", "y"]);
        },
        |l| l.iter().any(|x| x.contains("\"DELETED\"")),
    );
    let joined = lines.join("\n");
    for t in ["ADDED", "MODIFIED", "DELETED"] {
        assert!(
            joined.contains(&format!("\"type\":\"{t}\"")),
            "no {t} event in:\n{joined}"
        );
    }
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
