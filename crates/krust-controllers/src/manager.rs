//! The controller manager: which controllers run, their shared context, and leader
//! election around all of them.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio_util::sync::CancellationToken;

use crate::informers::Informers;

/// Settings of the controller manager and its controllers.
#[derive(Debug, Clone)]
pub struct ControllerConfig {
    /// Controllers to run by name (`*` = all), `-name` disables one, as upstream's
    /// `--controllers`.
    pub controllers: Vec<String>,
    /// Take part in leader election.
    pub leader_elect: bool,
    /// Identity in leader election.
    pub identity: String,
    /// How long a node may miss heartbeats before it is NotReady/Unknown.
    pub node_monitor_grace_period: Duration,
    /// Concurrent reconciles per controller.
    pub workers: u16,
    /// The cluster CA certificate (PEM), published to every namespace as the
    /// `kube-root-ca.crt` ConfigMap.
    pub root_ca_pem: String,
    /// Terminated pods kept before the pod garbage collector deletes the oldest
    /// (`--terminated-pod-gc-threshold`); 0 keeps them all.
    pub terminated_pod_gc_threshold: u32,
    /// How often the node lifecycle controller checks every node (`--node-monitor-period`).
    pub node_monitor_period: Duration,
    /// Silence allowed to a node that never reported a Ready condition
    /// (`--node-startup-grace-period`).
    pub node_startup_grace_period: Duration,
    /// Nodes per second per zone that may get a `NoExecute` taint (`--node-eviction-rate`).
    pub node_eviction_rate: f64,
    /// The same in a large zone in partial disruption (`--secondary-node-eviction-rate`).
    pub secondary_node_eviction_rate: f64,
    /// Share of not-Ready nodes that puts a zone in partial disruption
    /// (`--unhealthy-zone-threshold`).
    pub unhealthy_zone_threshold: f64,
    /// Zones up to this size stop tainting in partial disruption
    /// (`--large-cluster-size-threshold`).
    pub large_cluster_size_threshold: u32,
    /// Endpoints per EndpointSlice (`--max-endpoints-per-slice`).
    pub max_endpoints_per_slice: u32,
    /// Addresses mirrored per Endpoints subset (`--mirroring-max-endpoints-per-subset`).
    pub mirroring_max_endpoints_per_subset: u32,
    /// Where the built-in local-path provisioner puts volume directories (k3s:
    /// `/var/lib/rancher/k3s/storage`; the server passes `<data-dir>/storage`).
    pub local_path_dir: std::path::PathBuf,
    /// The IPv4 range node pod CIDRs are cut from (`--cluster-cidr`; k3s: 10.42.0.0/16).
    pub cluster_cidr: String,
    /// Prefix length of each node's pod CIDR (`--node-cidr-mask-size`; 24: 254 pods a node).
    pub node_cidr_mask_size: u8,
    /// The cluster CA's private key (PEM), with which the `csrsigning` controller signs
    /// approved client certificate requests; empty: it does not run.
    pub ca_key_pem: Sensitive,
    /// Longest validity of a certificate the `csrsigning` controller issues
    /// (`--cluster-signing-duration`; upstream's default is one year).
    pub cluster_signing_duration: Duration,
    /// Addresses for LoadBalancer Services (`--service-lb-pool`, a CIDR); without it they
    /// get the Ready nodes' addresses.
    pub service_lb_pool: Option<String>,
}

/// Text that must never reach a log (a private key): `Debug` says only whether it is set.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Sensitive(pub String);

impl std::fmt::Debug for Sensitive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() {
            "<unset>"
        } else {
            "<redacted>"
        })
    }
}

impl Default for ControllerConfig {
    fn default() -> Self {
        Self {
            controllers: vec!["*".into()],
            leader_elect: true,
            identity: "krust".into(),
            node_monitor_grace_period: Duration::from_secs(50),
            workers: 5,
            root_ca_pem: String::new(),
            terminated_pod_gc_threshold: 12500,
            node_monitor_period: Duration::from_secs(5),
            node_startup_grace_period: Duration::from_secs(60),
            node_eviction_rate: 0.1,
            secondary_node_eviction_rate: 0.01,
            unhealthy_zone_threshold: 0.55,
            large_cluster_size_threshold: 50,
            max_endpoints_per_slice: 100,
            mirroring_max_endpoints_per_subset: 1000,
            local_path_dir: "/var/lib/krust/storage".into(),
            cluster_cidr: "10.42.0.0/16".into(),
            node_cidr_mask_size: 24,
            ca_key_pem: Sensitive::default(),
            cluster_signing_duration: Duration::from_secs(365 * 24 * 3600),
            service_lb_pool: None,
        }
    }
}

/// Upstream's older controller names, still accepted by `--controllers` (as upstream
/// accepts them), with the canonical name each stands for.
const ALIASES: &[(&str, &str)] = &[
    ("csrapproving", "certificatesigningrequest-approving-controller"),
    ("csrsigning", "certificatesigningrequest-signing-controller"),
    ("cronjob", "cronjob-controller"),
    ("daemonset", "daemonset-controller"),
    ("deployment", "deployment-controller"),
    ("disruption", "disruption-controller"),
    ("endpoint", "endpoints-controller"),
    ("endpointslice", "endpointslice-controller"),
    ("endpointslicemirroring", "endpointslice-mirroring-controller"),
    ("garbagecollector", "garbage-collector-controller"),
    ("job", "job-controller"),
    ("namespace", "namespace-controller"),
    ("nodeipam", "node-ipam-controller"),
    ("nodelifecycle", "node-lifecycle-controller"),
    ("persistentvolume-binder", "persistentvolume-binder-controller"),
    ("podgc", "pod-garbage-collector-controller"),
    ("replicaset", "replicaset-controller"),
    ("replicationcontroller", "replicationcontroller-controller"),
    (
        "root-ca-cert-publisher",
        "root-ca-certificate-publisher-controller",
    ),
    ("serviceaccount", "serviceaccount-controller"),
    ("statefulset", "statefulset-controller"),
    ("ttl-after-finished", "ttl-after-finished-controller"),
];

/// The canonical name of a controller named in `--controllers`.
fn canonical(name: &str) -> &str {
    ALIASES
        .iter()
        .find(|(alias, _)| *alias == name)
        .map_or(name, |(_, canonical)| canonical)
}

impl ControllerConfig {
    /// Whether a controller (by canonical name) is enabled.
    pub fn enabled(&self, name: &str) -> bool {
        let name = canonical(name);
        if self
            .controllers
            .iter()
            .any(|c| c.strip_prefix('-').map(canonical) == Some(name))
        {
            return false;
        }
        self.controllers.iter().any(|c| c == "*" || canonical(c) == name)
    }

    /// Names in `--controllers` that are no controller (canonical or alias).
    pub fn unknown(&self) -> Vec<String> {
        let known = registry();
        self.controllers
            .iter()
            .map(|c| c.strip_prefix('-').unwrap_or(c))
            .filter(|c| *c != "*" && !known.contains_key(canonical(c)))
            .map(str::to_string)
            .collect()
    }

    /// Checks the settings a flag can get wrong, so that the server refuses them at start
    /// with a clear message instead of running a controller that cannot work: the cluster
    /// CIDR and node mask size, when the node IPAM controller runs.
    pub fn validate(&self) -> Result<(), Error> {
        if let Some(pool) = &self.service_lb_pool {
            crate::servicelb::Pool::parse(pool).map_err(|reason| Error::Invalid {
                setting: "--service-lb-pool",
                reason,
            })?;
        }
        if !self.enabled(crate::nodeipam::NAME) {
            return Ok(());
        }
        let setting = |e: &crate::nodeipam::CidrError| match e {
            crate::nodeipam::CidrError::Parse(_) => "--cluster-cidr",
            _ => "--node-cidr-mask-size",
        };
        crate::nodeipam::CidrSet::parse(&self.cluster_cidr, self.node_cidr_mask_size)
            .map(drop)
            .map_err(|e| Error::Invalid {
                setting: setting(&e),
                reason: e.to_string(),
            })
    }
}

/// What every controller gets.
pub struct Context {
    /// The API client.
    pub client: kube::Client,
    /// Settings.
    pub config: ControllerConfig,
}

/// Failures of the controller manager.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API could not be reached.
    #[error("api: {0}")]
    Api(String),
    /// A setting is invalid (a bad flag).
    #[error("invalid {setting}: {reason}")]
    Invalid {
        /// The flag the setting comes from.
        setting: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

/// Registers a controller: asks the informers for what it needs and returns its run
/// future (started after the informers).
pub type Register = fn(&mut Informers, Arc<Context>, CancellationToken) -> BoxFuture<'static, ()>;

/// Every controller by name.
pub fn registry() -> BTreeMap<&'static str, Register> {
    let mut r: BTreeMap<&'static str, Register> = BTreeMap::new();
    r.insert(crate::garbagecollector::NAME, crate::garbagecollector::register);
    r.insert(crate::namespace::NAME, crate::namespace::register);
    r.insert(crate::serviceaccount::NAME, crate::serviceaccount::register);
    r.insert(crate::rootca::NAME, crate::rootca::register);
    r.insert(crate::podgc::NAME, crate::podgc::register);
    r.insert(crate::ttl::NAME, crate::ttl::register);
    r.insert(crate::job::NAME, crate::job::register);
    r.insert(crate::cronjob::NAME, crate::cronjob::register);
    r.insert(crate::nodelifecycle::NAME, crate::nodelifecycle::register);
    r.insert(crate::taint_eviction::NAME, crate::taint_eviction::register);
    r.insert(crate::endpoints::NAME, crate::endpoints::register);
    r.insert(crate::endpointslice::NAME, crate::endpointslice::register);
    r.insert(crate::mirroring::NAME, crate::mirroring::register);
    r.insert(crate::disruption::NAME, crate::disruption::register);
    r.insert("deployment-controller", crate::deployment::register);
    r.insert("replicaset-controller", crate::replicaset::register_replicaset);
    r.insert(crate::statefulset::NAME, crate::statefulset::register);
    r.insert(crate::daemonset::NAME, crate::daemonset::register);
    r.insert(crate::persistentvolume::NAME, crate::persistentvolume::register);
    r.insert(crate::nodeipam::NAME, crate::nodeipam::register);
    r.insert(crate::csrapproving::NAME, crate::csrapproving::register);
    r.insert(crate::csrsigning::NAME, crate::csrsigning::register);
    r.insert(crate::servicelb::NAME, crate::servicelb::register);
    r.insert(
        "replicationcontroller-controller",
        crate::replicaset::register_replication_controller,
    );
    r
}

/// The controller manager component.
pub struct ControllerManager {
    config: ControllerConfig,
    client: kube::Client,
}

impl ControllerManager {
    /// A manager reaching the API server through `client`.
    pub fn new(config: ControllerConfig, client: kube::Client) -> Self {
        Self { config, client }
    }

    async fn run_controllers(config: ControllerConfig, client: kube::Client, stop: CancellationToken) {
        let ctx = Arc::new(Context {
            client: client.clone(),
            config: config.clone(),
        });
        let mut informers = Informers::new();
        let mut tasks = Vec::new();
        for (name, register) in registry() {
            if config.enabled(name) {
                tracing::info!(controller = name, "starting controller");
                tasks.push(register(&mut informers, ctx.clone(), stop.clone()));
            }
        }
        let watchers = informers.start(client, stop.clone());
        let handles: Vec<_> = tasks.into_iter().map(tokio::spawn).collect();
        stop.cancelled().await;
        for h in handles.into_iter().chain(watchers) {
            let _ = h.await;
        }
    }

    /// Runs the enabled controllers until `shutdown` (while leader, with leader election).
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), Error> {
        if !self.config.leader_elect {
            Self::run_controllers(self.config, self.client, shutdown).await;
            return Ok(());
        }
        let lease = krust_runtime::LeaderConfig::new("kube-controller-manager", &self.config.identity);
        let (config, client) = (self.config, self.client);
        krust_runtime::run_as_leader(client.clone(), lease, shutdown, move |stop| {
            Self::run_controllers(config.clone(), client.clone(), stop)
        })
        .await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enabling() {
        let all = ControllerConfig::default();
        assert!(all.enabled("replicaset"));
        let some = ControllerConfig {
            controllers: vec!["*".into(), "-garbagecollector".into()],
            ..Default::default()
        };
        assert!(some.enabled("replicaset") && !some.enabled("garbagecollector"));
        let only = ControllerConfig {
            controllers: vec!["deployment".into()],
            ..Default::default()
        };
        assert!(only.enabled("deployment") && !only.enabled("replicaset"));
    }

    #[test]
    fn canonical_names_and_aliases_are_the_same_controller() {
        let off = ControllerConfig {
            controllers: vec!["*".into(), "-disruption".into()],
            ..Default::default()
        };
        assert!(!off.enabled("disruption-controller"));
        assert!(off.enabled("endpoints-controller"));
        let on = ControllerConfig {
            controllers: vec!["namespace-controller".into()],
            ..Default::default()
        };
        assert!(on.enabled("namespace") && on.enabled(crate::namespace::NAME));
        assert!(on.unknown().is_empty());
        let typo = ControllerConfig {
            controllers: vec!["*".into(), "-replicasets".into()],
            ..Default::default()
        };
        assert_eq!(typo.unknown(), vec!["replicasets".to_string()]);
        // Every alias points at a registered controller.
        let known = registry();
        assert!(ALIASES.iter().all(|(_, c)| known.contains_key(c)));
    }

    #[test]
    fn node_ipam_runs_by_default_and_bad_ranges_are_refused() {
        let default = ControllerConfig::default();
        assert!(default.enabled(crate::nodeipam::NAME));
        assert!(default.validate().is_ok());
        let bad_mask = ControllerConfig {
            node_cidr_mask_size: 12,
            ..Default::default()
        };
        assert_eq!(
            bad_mask.validate().unwrap_err().to_string(),
            "invalid --node-cidr-mask-size: node CIDR mask size 12 must be at least the \
             cluster CIDR's prefix length 16 and at most 30"
        );
        let bad_cidr = ControllerConfig {
            cluster_cidr: "10.42.0.0".into(),
            ..Default::default()
        };
        assert_eq!(
            bad_cidr.validate().unwrap_err().to_string(),
            "invalid --cluster-cidr: \"10.42.0.0\" is not an IPv4 CIDR such as 10.42.0.0/16"
        );
        // Not checked when the controller does not run.
        let off = ControllerConfig {
            controllers: vec!["*".into(), "-nodeipam".into()],
            ..bad_cidr
        };
        assert!(off.validate().is_ok());
    }
}
