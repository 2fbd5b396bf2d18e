//! Benchmarks of krust. Each runs the real binary as a separate process (so its memory is
//! measured alone), drives it over HTTPS like a real client, and prints one JSON object.
//! Timing is measured here, never asserted in tests.

pub mod api;
mod client;
pub mod controllers;
pub mod pods;
mod process;
pub mod scheduler;
mod stats;

/// Failures of a benchmark run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The server could not be started or did not become ready.
    #[error("server: {0}")]
    Server(String),
    /// A request failed.
    #[error("request: {0}")]
    Request(String),
    /// Reading or writing files failed.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}
