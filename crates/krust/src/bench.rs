//! `krust bench ...`: runs a benchmark from krust-bench against this very binary.

use clap::{Args, Subcommand};

/// Benchmarks.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// API server and datastore: creates, lists, watches, memory, time to ready.
    Api(ApiArgs),
    /// Scheduler: pods bound per second and creation-to-bound latency on N plain nodes.
    Scheduler(SchedulerArgs),
    /// Controllers on simulated nodes: a large Deployment to Available, rolled out, deleted.
    Controllers(ControllersArgs),
    /// Node agent (root, containerd): pod create to Running, next to `ctr run`.
    Pods(PodsArgs),
}

/// Flags of `krust bench pods`.
#[derive(Debug, Args)]
pub struct PodsArgs {
    /// Pods started one after another.
    #[arg(long, default_value_t = 20)]
    pub single: usize,
    /// Pods created at once.
    #[arg(long, default_value_t = 100)]
    pub batch: usize,
    /// `ctr run` samples.
    #[arg(long, default_value_t = 20)]
    pub ctr_runs: usize,
    /// Give up on a phase after this long.
    #[arg(long, default_value = "5m", value_parser = crate::duration::parse)]
    pub limit: std::time::Duration,
}

/// Flags of `krust bench controllers`.
#[derive(Debug, Args)]
pub struct ControllersArgs {
    /// Replicas of the Deployment.
    #[arg(long, default_value_t = 1_000)]
    pub replicas: u32,
    /// Simulated nodes (250 pods each).
    #[arg(long, default_value_t = 20)]
    pub nodes: u32,
    /// Give up on a phase after this long.
    #[arg(long, default_value = "5m", value_parser = crate::duration::parse)]
    pub limit: std::time::Duration,
}

/// Flags of `krust bench scheduler`.
#[derive(Debug, Args)]
pub struct SchedulerArgs {
    /// Nodes to create.
    #[arg(long, default_value_t = 5_000)]
    pub nodes: usize,
    /// Pods to measure (default: 10000 basic, 1000 anti-affinity, 5000 spread).
    #[arg(long)]
    pub pods: Option<usize>,
    /// Pods scheduled before measuring.
    #[arg(long, default_value_t = 1_000)]
    pub init_pods: usize,
    /// Pod shape: basic, anti-affinity or spread.
    #[arg(long, default_value = "basic")]
    pub variant: krust_bench::scheduler::Variant,
    /// Concurrent clients creating nodes and pods.
    #[arg(long, default_value_t = 32)]
    pub clients: usize,
}

/// Flags of `krust bench api`.
#[derive(Debug, Args)]
pub struct ApiArgs {
    /// Pods to create.
    #[arg(long, default_value_t = 10_000)]
    pub pods: usize,
    /// Concurrent clients creating pods.
    #[arg(long, default_value_t = 64)]
    pub clients: usize,
    /// Concurrent watchers that must each see every pod of the watch phase.
    #[arg(long, default_value_t = 100)]
    pub watchers: usize,
    /// Pods created while the watchers watch.
    #[arg(long, default_value_t = 2000)]
    pub watch_pods: usize,
    /// Creates per second during the watch phase.
    #[arg(long, default_value_t = 500)]
    pub watch_rate: u32,
}

/// Runs a benchmark and prints its JSON.
pub async fn run(cmd: BenchCommand) -> anyhow::Result<()> {
    let binary = std::env::current_exe()?;
    let report = match cmd {
        BenchCommand::Api(a) => {
            krust_bench::api::run(krust_bench::api::Options {
                binary,
                pods: a.pods,
                clients: a.clients,
                watchers: a.watchers,
                watch_pods: a.watch_pods,
                watch_rate: a.watch_rate,
            })
            .await?
        }
        BenchCommand::Scheduler(a) => {
            use krust_bench::scheduler::Variant;
            let pods = a.pods.unwrap_or(match a.variant {
                Variant::Basic => 10_000,
                Variant::AntiAffinity => 1_000,
                Variant::Spread => 5_000,
            });
            krust_bench::scheduler::run(krust_bench::scheduler::Options {
                binary,
                nodes: a.nodes,
                init_pods: a.init_pods,
                pods,
                variant: a.variant,
                clients: a.clients,
            })
            .await?
        }
        BenchCommand::Pods(a) => {
            krust_bench::pods::run(krust_bench::pods::Options {
                binary,
                single: a.single,
                batch: a.batch,
                ctr_runs: a.ctr_runs,
                limit: a.limit,
            })
            .await?
        }
        BenchCommand::Controllers(a) => {
            krust_bench::controllers::run(krust_bench::controllers::Options {
                binary,
                replicas: a.replicas,
                nodes: a.nodes,
                limit: a.limit,
            })
            .await?
        }
    };
    println!("{report}");
    Ok(())
}
