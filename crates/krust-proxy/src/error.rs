//! The one error type of this crate: what can go wrong loading rules or watching the API.

/// Why the proxy could not program the node.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// The agent passed a configuration the rules cannot be built from.
    #[error("invalid proxy config: {0}")]
    Config(String),
    /// The `nft` binary could not be started or fed (missing, not executable, pipe broke).
    #[error("could not run nft: {0}")]
    Spawn(#[source] std::io::Error),
    /// `nft` ran and refused the script; `stderr` says which line and why.
    #[error("nft exited with {status}: {stderr}")]
    Nft {
        /// The exit status as printed by the OS.
        status: String,
        /// What nft printed on stderr, trimmed.
        stderr: String,
    },
    /// The blocking task that renders and applies the ruleset panicked or was cancelled.
    #[error("sync task failed: {0}")]
    Task(String),
    /// A watch stream of Services or EndpointSlices ended, so the caches would go stale.
    #[error("watch stream of {0} ended")]
    WatchEnded(&'static str),
}
