//! How much memory a pool of simulated nodes costs in its process: 1,000 nodes, then one
//! running pod on each. Prints the figures; asserts only a generous ceiling.
//!
//! `cargo test -p krust-kubelet --release --test memory -- --ignored --nocapture`

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{Pool, wait_for};
use krust_kubelet::SimulatedConfig;

/// How many nodes (and pods): `$KRUST_SIM_NODES`, default 1,000. Running it at two sizes
/// gives the marginal cost, free of the fixed cost of the client's connections.
fn nodes() -> usize {
    std::env::var("KRUST_SIM_NODES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
}

/// The last lines of a log.
fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// This process's resident set size in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn count_lines(pool: &Pool, args: &[&str], needle: &str) -> usize {
    let out = pool.cluster.ok(args);
    out.lines().filter(|l| l.contains(needle)).count()
}

#[test]
#[ignore = "slow: registers 1,000 nodes; run with --ignored --nocapture to see the figures"]
fn memory_per_simulated_node_and_pod() {
    let n = nodes();
    // Settle the client (TLS, connection pool) before the baseline, with no nodes.
    let mut idle = Pool::start(SimulatedConfig {
        count: 0,
        ..Default::default()
    });
    idle.stop();
    let config = SimulatedConfig {
        count: n,
        pod_duration: Duration::from_secs(3600),
        ..Default::default()
    };
    let baseline = rss_kib();
    let pool = Pool::start(config);
    wait_for("all nodes Ready", 600, || {
        (count_lines(&pool, &["get", "nodes", "--no-headers"], " Ready ") == n).then_some(())
    });
    wait_for("all leases", 600, || {
        (count_lines(
            &pool,
            &["get", "leases", "-n", "kube-node-lease", "--no-headers"],
            "sim-",
        ) == n)
            .then_some(())
    });
    // A full heartbeat round in steady state.
    std::thread::sleep(Duration::from_secs(12));
    let with_nodes = rss_kib();

    let pods: String = (0..n)
        .map(|i| {
            format!(
                "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: p{i}\nspec:\n  nodeName: sim-{i}\n  \
                 containers:\n  - name: main\n    image: nginx\n"
            )
        })
        .collect();
    println!("rss with {n} idle nodes: {with_nodes} KiB (baseline {baseline} KiB)");
    let out = pool.cluster.kubectl_stdin(&["apply", "-f", "-"], &pods);
    assert!(
        out.status.success(),
        "apply failed; server log:\n{}",
        tail(&pool.cluster.log())
    );
    wait_for("all pods running", 600, || {
        let running = count_lines(
            &pool,
            &[
                "get",
                "pods",
                "--no-headers",
                "--field-selector=status.phase=Running",
            ],
            "1/1",
        );
        (running == n).then_some(())
    });
    std::thread::sleep(Duration::from_secs(5));
    let with_pods = rss_kib();

    let per_node = (with_nodes.saturating_sub(baseline)) as f64 * 1024.0 / n as f64;
    let per_pod = (with_pods.saturating_sub(with_nodes)) as f64 * 1024.0 / n as f64;
    println!(
        "{{\"nodes\": {n}, \"baseline_rss_kib\": {baseline}, \"rss_with_nodes_kib\": {with_nodes}, \
         \"rss_with_pods_kib\": {with_pods}, \"bytes_per_node\": {per_node:.0}, \"bytes_per_pod\": {per_pod:.0}}}"
    );
    assert!(per_node < 64.0 * 1024.0, "{per_node} bytes per idle node");
    let out = pool
        .cluster
        .kubectl(&["delete", "pods", "--all", "--grace-period=0", "--force"]);
    assert!(
        out.status.success(),
        "{}\nserver log:\n{}",
        krust_e2e::stderr(&out),
        pool.cluster.log()
    );
}
