//! Crash safety: a child process writes concurrently and prints every acknowledged put;
//! it is killed with SIGKILL mid-stream, twice; every acknowledged put must be there after
//! reopening (redb repairs the file on open).
//!
//! The child is this same test binary, re-run with `CHILD_ENV` set so that only
//! `crash_child` does anything.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use krust_store::{CompactionPolicy, EmbeddedConfig, EmbeddedStore, Op, Store, Txn};

const CHILD_ENV: &str = "KRUST_STORE_CRASH_CHILD";

fn config() -> EmbeddedConfig {
    EmbeddedConfig {
        // Compact continuously too, so the kill can land in a compaction step.
        compaction: CompactionPolicy {
            interval: Some(Duration::from_millis(20)),
            retain_for: None,
            retain_revisions: Some(100),
            chunk_changes: 50,
        },
        ..EmbeddedConfig::default()
    }
}

/// The child: writes until killed, printing `ACK <key> <value> <revision>` after each
/// acknowledged put. Does nothing in a normal test run.
#[test]
fn crash_child() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let store: Arc<dyn Store> =
            Arc::new(EmbeddedStore::open(Path::new(&path), config()).expect("child open"));
        let round = std::process::id();
        let mut tasks = Vec::new();
        for task in 0..32 {
            let store = Arc::clone(&store);
            tasks.push(tokio::spawn(async move {
                for i in 0u64.. {
                    // Each key is written twice: a create, then an update that must win.
                    let key = format!("/crash/{round}/{task}/{}", i / 2);
                    let value = format!("{i}-{}", "x".repeat(200));
                    let put = Op::Put(key.clone(), Bytes::from(value.clone()));
                    let response = store
                        .txn(Txn {
                            success: vec![put],
                            ..Txn::default()
                        })
                        .await
                        .expect("child put");
                    println!("ACK {key} {value} {}", response.revision);
                }
            }));
        }
        for task in tasks {
            task.await.expect("child task");
        }
    });
}

/// Kills the child on drop, so a failing test leaves no process behind.
struct Killer(Child);

impl Drop for Killer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs one child until it has acknowledged `at_least` puts, kills it with SIGKILL and
/// returns every acknowledgement it printed: (key, value, revision).
fn run_and_kill(path: &Path, at_least: usize) -> Vec<(String, String, u64)> {
    let exe = std::env::current_exe().expect("test binary");
    let child = Command::new(exe)
        .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child");
    let mut child = Killer(child);
    let stdout = child.0.stdout.take().expect("child stdout");
    let (lines, received) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            // The test harness may print on the same line; take what follows "ACK ".
            if let Some(at) = line.find("ACK ") {
                let mut parts = line[at + 4..].split(' ');
                let (Some(key), Some(value), Some(rev)) = (parts.next(), parts.next(), parts.next()) else {
                    continue;
                };
                let rev = rev.parse().expect("revision");
                if lines.send((key.to_string(), value.to_string(), rev)).is_err() {
                    break;
                }
            }
        }
    });
    let mut acks = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while acks.len() < at_least {
        let left = deadline.saturating_duration_since(Instant::now());
        match received.recv_timeout(left) {
            Ok(ack) => acks.push(ack),
            Err(_) => panic!("child acknowledged only {} puts", acks.len()),
        }
    }
    // SIGKILL: no destructor, no clean close.
    drop(child);
    reader.join().expect("reader");
    acks.extend(received.try_iter());
    acks
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("store.redb");
    let mut acks = run_and_kill(&path, 1500);
    acks.extend(run_and_kill(&path, 1500));
    let store = EmbeddedStore::open(&path, config()).expect("reopen after kill -9");
    assert!(
        store.stats().recovered_at_open,
        "redb must notice the unclean shutdown"
    );
    let store: Arc<dyn Store> = Arc::new(store);
    let current = store.current_revision().await.expect("rev");
    // The last acknowledged value of each key (an update acknowledged after its create).
    let mut expected = std::collections::BTreeMap::new();
    for (key, value, rev) in &acks {
        assert!(
            *rev <= current,
            "acknowledged revision {rev} is beyond the store's {current}"
        );
        let entry = expected.entry(key.clone()).or_insert((0, String::new()));
        if *rev > entry.0 {
            *entry = (*rev, value.clone());
        }
    }
    for (key, (rev, value)) in &expected {
        let kv = store
            .get(key)
            .await
            .expect("get")
            .unwrap_or_else(|| panic!("{key} lost"));
        assert!(
            kv.mod_revision >= *rev,
            "{key} went back from {rev} to {}",
            kv.mod_revision
        );
        if kv.mod_revision == *rev {
            assert_eq!(kv.value, Bytes::from(value.clone()), "{key}");
        }
    }
    println!(
        "{} acknowledged puts over two kills all present; revision {current}",
        acks.len()
    );
}
