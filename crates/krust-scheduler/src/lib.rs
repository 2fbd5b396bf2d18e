//! The krust scheduler, in the shape of kube-scheduler: informers feed a cache of nodes and
//! the pods on them and a scheduling queue; each cycle takes the most important pending pod,
//! filters and scores nodes through a plugin framework on an incremental snapshot, assumes
//! the pod onto the best node, and binds it through `pods/binding` asynchronously. Pods
//! that fit nowhere get upstream's FailedScheduling event and `PodScheduled=False`
//! condition, may preempt lower-priority pods, and wait for a cluster event that could
//! help them.
//!
//! The component talks to the API server only through the `kube` client.

pub mod api;
pub mod cache;
mod config;
mod error;
mod events;
pub mod framework;
mod informers;
pub mod plugins;
pub mod queue;
mod scheduler;
mod stats;

pub use config::SchedulerConfig;
pub use error::Error;
pub use framework::profile::Profile;
pub use scheduler::Scheduler;
pub use stats::{Stats, StatsSnapshot};
