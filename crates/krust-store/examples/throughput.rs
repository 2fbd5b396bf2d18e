//! Measures embedded-store write throughput (concurrent tasks each putting small values,
//! every put durable before it returns), then the time of a full list at the latest and at
//! an older revision and of a watch replaying everything. Prints one JSON line.
//!
//! ```text
//! cargo run --release -p krust-store --example throughput -- [TASKS] [PUTS_PER_TASK] [VALUE_BYTES] [DIR]
//! ```
//!
//! Defaults: 64 tasks, 200 puts each, 2048-byte values, a temporary directory (pass a
//! directory to measure a particular disk).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use krust_store::{EmbeddedConfig, EmbeddedStore, Op, RangeRequest, Store, Txn, prefix_end};

fn arg<T: std::str::FromStr>(position: usize, default: T) -> T {
    std::env::args()
        .nth(position)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let tasks: usize = arg(1, 64);
    let puts: usize = arg(2, 200);
    let value_bytes: usize = arg(3, 2048);
    let temp = tempfile::tempdir()?;
    let dir = std::env::args()
        .nth(4)
        .map_or_else(|| temp.path().to_path_buf(), PathBuf::from);
    let path = dir.join("throughput.redb");
    let _ = std::fs::remove_file(&path);
    let store = Arc::new(EmbeddedStore::open(&path, EmbeddedConfig::default())?);
    let dynamic: Arc<dyn Store> = store.clone();
    let value = Bytes::from(vec![b'x'; value_bytes]);

    let started = Instant::now();
    let mut handles = Vec::new();
    for task in 0..tasks {
        let store = Arc::clone(&dynamic);
        let value = value.clone();
        handles.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(puts);
            for i in 0..puts {
                // Half creates, half updates of keys this task wrote before.
                let key = format!("/registry/bench/{task}/{}", i % (puts / 2).max(1));
                let txn = Txn {
                    success: vec![Op::Put(key, value.clone())],
                    ..Txn::default()
                };
                let begun = Instant::now();
                store.txn(txn).await?;
                latencies.push(begun.elapsed());
            }
            Ok::<_, krust_store::StoreError>(latencies)
        }));
    }
    let mut latencies: Vec<Duration> = Vec::with_capacity(tasks * puts);
    for handle in handles {
        latencies.extend(handle.await??);
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let percentile = |p: f64| {
        let index = ((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1));
        latencies.get(index).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    let stats = store.stats();
    let total = tasks * puts;

    // Reads over what was written: a full list now and at a revision half-way back, and a
    // watch replaying every event from the start.
    let current = dynamic.current_revision().await?;
    let list = |revision| RangeRequest {
        start: "/registry/bench/".into(),
        end: prefix_end("/registry/bench/"),
        revision,
        limit: None,
    };
    let begun = Instant::now();
    let latest = dynamic.range(list(None)).await?;
    let list_latest_ms = begun.elapsed().as_secs_f64() * 1000.0;
    let begun = Instant::now();
    let older = dynamic.range(list(Some(current / 2))).await?;
    let list_older_ms = begun.elapsed().as_secs_f64() * 1000.0;
    let begun = Instant::now();
    let mut watch = dynamic.watch("/registry/bench/", 0).await?;
    for _ in 0..current {
        watch.next().await.ok_or("watch ended")??;
    }
    let replay_ms = begun.elapsed().as_secs_f64() * 1000.0;
    println!(
        "{{\"tasks\":{tasks},\"puts\":{total},\"value_bytes\":{value_bytes},\"seconds\":{:.3},\
         \"puts_per_second\":{:.0},\"commits\":{},\"avg_batch\":{:.1},\"largest_batch\":{},\
         \"p50_ms\":{:.2},\"p99_ms\":{:.2},\"file_bytes\":{},\"list_keys\":{},\
         \"list_latest_ms\":{list_latest_ms:.1},\"list_older_keys\":{},\
         \"list_older_ms\":{list_older_ms:.1},\"replay_events\":{current},\
         \"replay_ms\":{replay_ms:.1}}}",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        stats.commits,
        stats.transactions as f64 / stats.commits.max(1) as f64,
        stats.largest_batch,
        percentile(0.5),
        percentile(0.99),
        std::fs::metadata(&path)?.len(),
        latest.kvs.len(),
        older.kvs.len(),
    );
    store.close()?;
    drop(dynamic);
    drop(store);
    // Reopening verifies every page (the default `verify_on_open`).
    let begun = Instant::now();
    let reopened = EmbeddedStore::open(&path, EmbeddedConfig::default())?;
    println!(
        "{{\"reopen_verified_ms\":{:.1}}}",
        begun.elapsed().as_secs_f64() * 1000.0
    );
    reopened.close()?;
    Ok(())
}
