//! Scheduler settings (serde, with upstream's defaults).

use serde::{Deserialize, Serialize};

use crate::framework::profile::Profile;

/// Scheduler settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SchedulerConfig {
    /// The `schedulerName` this scheduler serves.
    pub scheduler_name: String,
    /// Take part in leader election (only the holder of Lease `kube-system/kube-scheduler`
    /// schedules).
    pub leader_elect: bool,
    /// Identity in leader election (a random suffix is added per process).
    pub identity: String,
    /// Plugins, weights and plugin arguments.
    pub profile: Profile,
    /// Backoff after a pod's first failed attempt (upstream: 1 s).
    pub pod_initial_backoff_seconds: u64,
    /// Longest backoff (upstream: 10 s).
    pub pod_max_backoff_seconds: u64,
    /// Longest wait of an unschedulable pod without a helpful cluster event before it is
    /// retried anyway (upstream's podMaxInUnschedulablePodsDuration: 5 min).
    pub pod_max_in_unschedulable_pods_seconds: u64,
    /// How long an assumed pod whose binding finished may stay unconfirmed by the informer
    /// before it is dropped from the cache.
    pub assumed_pod_ttl_seconds: u64,
    /// Bindings in flight at once (binding runs asynchronously after Reserve).
    pub parallel_bindings: usize,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            scheduler_name: "default-scheduler".into(),
            leader_elect: true,
            identity: "krust".into(),
            profile: Profile::default(),
            pod_initial_backoff_seconds: 1,
            pod_max_backoff_seconds: 10,
            pod_max_in_unschedulable_pods_seconds: 300,
            assumed_pod_ttl_seconds: 30,
            parallel_bindings: 256,
        }
    }
}
