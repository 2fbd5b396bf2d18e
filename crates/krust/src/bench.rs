//! `krust bench ...`: runs a benchmark from krust-bench against this very binary.

use clap::{Args, Subcommand};

/// Benchmarks.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// API server and datastore: creates, lists, watches, memory, time to ready.
    Api(ApiArgs),
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
    };
    println!("{report}");
    Ok(())
}
