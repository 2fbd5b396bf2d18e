//! The service proxy that runs in every node agent, in the manner of upstream kube-proxy's
//! nftables mode.
//!
//! The whole job is one pure function, [`ruleset`]: Services + EndpointSlices + this node
//! become the text of an `nft -f` script that replaces the table `ip <table>` in a single
//! kernel transaction, so packets never see a half-written table. [`run`] keeps watch
//! caches of both kinds, debounces bursts of changes into one sync, and hands the text to
//! an [`Applier`] ([`Nft`] in production, a recording fake in tests) only when it changed.
//!
//! Module map: `config` (what the agent passes in), `model` (which service ports exist and
//! which endpoints each may use), `names` (chain and set names), `render` (the script
//! text), `apply` (the `nft` binary), `run` (the sync loop).

#![forbid(unsafe_code)]

mod apply;
mod config;
mod error;
mod model;
mod names;
mod render;
mod run;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod nft_check;

pub use apply::{Applier, Nft};
pub use config::{DEFAULT_TABLE, ProxyConfig};
pub use error::ProxyError;
pub use render::ruleset;
pub use run::{SyncStats, run, run_with_stats};
