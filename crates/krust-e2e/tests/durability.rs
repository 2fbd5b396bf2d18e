//! What the datastore promises: a restart keeps every object, the CA and the certificates;
//! `kill -9` in the middle of a burst of creates loses none that were acknowledged.

// Test helpers may unwrap: a panic is a failed test.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use krust_e2e::{Cluster, python, stderr, stdout};

#[test]
fn restart_keeps_objects_and_certificates() {
    let mut c = Cluster::start();
    c.ok(&["create", "namespace", "keep"]);
    c.ok(&["create", "configmap", "cfg", "-n", "keep", "--from-literal=a=b"]);
    c.ok(&["create", "deployment", "web", "-n", "keep", "--image=nginx"]);
    let before = c.get_json(&["configmap", "cfg", "-n", "keep"]);
    let tls = c.data_dir().join("tls");
    let read_tls = || {
        let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&tls)
            .unwrap()
            .map(|e| e.unwrap())
            .map(|e| {
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect();
        files.sort();
        files
    };
    let certs = read_tls();
    let kubeconfig = std::fs::read(c.kubeconfig()).unwrap();
    assert!(
        c.stop(),
        "SIGTERM should stop the server cleanly; log:\n{}",
        c.log()
    );
    c.restart();
    let after = c.get_json(&["configmap", "cfg", "-n", "keep"]);
    assert_eq!(before, after);
    assert_eq!(
        c.get_json(&["deploy", "web", "-n", "keep"])["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx"
    );
    assert_eq!(read_tls(), certs, "certificates changed across a restart");
    assert_eq!(std::fs::read(c.kubeconfig()).unwrap(), kubeconfig);
    // Revisions keep increasing after the restart.
    c.ok(&["label", "configmap", "cfg", "-n", "keep", "x=y"]);
    let rv_after: u64 = c.get_json(&["configmap", "cfg", "-n", "keep"])["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let rv_before: u64 = before["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(rv_after > rv_before);
}

#[test]
fn kill_9_during_a_burst_loses_no_acknowledged_create() {
    let mut c = Cluster::start();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/burst.py");
    let mut child = Command::new(python())
        .arg(script)
        .arg(c.kubeconfig())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if let Some(name) = line.strip_prefix("ok ")
                && tx.send(name.to_string()).is_err()
            {
                return;
            }
        }
    });
    // Let a few hundred creates land (however loaded the machine is), then pull the plug.
    let start = Instant::now();
    let mut acked = Vec::new();
    while acked.len() < 300 && start.elapsed() < Duration::from_secs(90) {
        if let Ok(name) = rx.recv_timeout(Duration::from_millis(100)) {
            acked.push(name);
        }
    }
    c.kill9();
    let killed_after = start.elapsed();
    let _ = child.wait();
    reader.join().unwrap();
    // Acknowledged before the kill but read only now.
    acked.extend(rx.try_iter());
    assert!(
        acked.len() > 20,
        "too few creates before the kill ({} in {killed_after:?})",
        acked.len()
    );
    c.restart();
    let listed = c.ok(&["get", "configmaps", "-n", "default", "-o", "name"]);
    let have: std::collections::HashSet<&str> = listed
        .lines()
        .map(|l| l.trim_start_matches("configmap/"))
        .collect();
    let missing: Vec<&String> = acked.iter().filter(|n| !have.contains(n.as_str())).collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged creates lost: {:?}",
        missing.len(),
        acked.len(),
        &missing[..missing.len().min(10)]
    );
}

#[test]
fn python_client_crud_and_pagination() {
    // API behaviour only: without controllers nobody else writes the objects the script
    // reads and replaces (a Deployment's status would race its scale update).
    let c = Cluster::start_with(&["--disable-controller-manager"]);
    for case in ["crud", "paginate", "scale_and_status", "errors"] {
        let out = c.python("client.py", &[case]);
        assert!(out.status.success(), "{case}: {}\n{}", stdout(&out), stderr(&out));
    }
}

#[test]
fn expired_continue_token_is_410_with_a_fresh_token() {
    let c = Cluster::start_with(&["--datastore-compaction-interval", "1s"]);
    let out = c.python("client.py", &["expired_continue"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
}
