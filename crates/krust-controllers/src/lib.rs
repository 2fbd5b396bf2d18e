//! The controller manager: one module per controller, each a level-triggered reconciler on
//! kube-runtime, registered by name and run together under one leader-election Lease.
//!
//! Controllers share informers (`Informers`): one watch and one cache per resource type
//! for the whole manager, however many controllers read it.

mod informers;
mod manager;

pub use informers::Informers;
pub use manager::{Context, ControllerConfig, ControllerManager, Error, registry};
