//! The `krust` binary: parses the command line and wires components together. Nothing
//! depends on this crate; every component lives in its own library.

mod agent;
mod auth;
mod bench;
mod bootstrap;
mod duration;
mod images;
mod server;
mod token;

use clap::{Parser, Subcommand};

/// mimalloc instead of glibc malloc: the API server allocates and frees many small JSON
/// values per request from several threads, where glibc's arenas cost both time and
/// memory (measured in BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// krust: a Kubernetes-compatible container orchestrator in one binary.
#[derive(Debug, Parser)]
#[command(name = "krust", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the control plane (API server and datastore).
    Server(Box<server::ServerArgs>),
    /// Join a cluster with a join token and run this machine's node agent.
    Agent(Box<agent::AgentArgs>),
    /// Manage bootstrap tokens for joining agents (run on a server).
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// Run a benchmark and print its results as JSON.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Build and import container images without a registry.
    #[command(subcommand)]
    Images(images::ImagesCommand),
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("KRUST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    use std::io::IsTerminal;
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .init();
}

fn main() -> anyhow::Result<()> {
    krust_alloc::return_freed_memory_promptly();
    let cli = Cli::parse();
    init_tracing();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match cli.command {
        Command::Server(args) => runtime.block_on(server::run(*args)),
        Command::Agent(args) => runtime.block_on(agent::run(*args)),
        Command::Token(cmd) => runtime.block_on(token::run(cmd)),
        Command::Bench(cmd) => runtime.block_on(bench::run(cmd)),
        Command::Images(cmd) => runtime.block_on(images::run(cmd)),
    }
}
