//! What every krust component (scheduler, controllers, node agents) shares: an API client
//! built from the cluster's credentials, leader election over a coordination.k8s.io
//! Lease so that only one instance of a component acts when several servers run, and an
//! Events publisher.
//!
//! Components reach the API server only through this client, even inside one process.

mod client;
mod events;
mod leader;

pub use client::{Error, client_from_kubeconfig, component_client};
pub use events::Events;
pub use leader::{LeaderConfig, run_as_leader};
