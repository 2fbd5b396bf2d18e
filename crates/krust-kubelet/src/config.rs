//! Settings of a pool of simulated nodes, and their checked form.
//!
//! The settings arrive as text from the command line (`cpu=32`, `dedicated=gpu:NoSchedule`);
//! they are parsed once here so a typo fails at start with a message, not later per node.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::Taint;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::Error;
use crate::ipam;
use crate::names::NodeNames;
use crate::pod::admission::{self, Amounts};

/// Settings of a pool of simulated nodes.
#[derive(Debug, Clone)]
pub struct SimulatedConfig {
    /// How many nodes.
    pub count: usize,
    /// Name prefix: nodes are `<prefix>0`, `<prefix>1`, ...
    pub name_prefix: String,
    /// Capacity of each node (`cpu`, `memory`, `pods`, ...), as quantities.
    pub capacity: BTreeMap<String, String>,
    /// Extra labels of each node.
    pub labels: BTreeMap<String, String>,
    /// Taints of each node, as `key=value:Effect` or `key:Effect`.
    pub taints: Vec<String>,
    /// How long a pod with restartPolicy OnFailure or Never runs before it succeeds.
    pub pod_duration: Duration,
    /// How often each node renews its Lease and checks whether its status needs writing
    /// (upstream's 10 s). Heartbeats of the pool are spread evenly over this interval.
    pub heartbeat_interval: Duration,
    /// How often a node reports an unchanged status anyway (upstream's 5 min); a changed
    /// status is reported at the next heartbeat.
    pub status_report_interval: Duration,
}

impl Default for SimulatedConfig {
    fn default() -> Self {
        let capacity = [
            ("cpu", "32"),
            ("memory", "256Gi"),
            ("pods", "110"),
            ("ephemeral-storage", "100Gi"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        Self {
            count: 0,
            name_prefix: "sim-".into(),
            capacity,
            labels: BTreeMap::new(),
            taints: Vec::new(),
            pod_duration: Duration::from_secs(1),
            heartbeat_interval: Duration::from_secs(10),
            status_report_interval: Duration::from_secs(300),
        }
    }
}

/// The checked settings every part of the pool reads.
#[derive(Debug, Clone)]
pub(crate) struct PoolSpec {
    pub names: NodeNames,
    /// Capacity (and allocatable: nothing is reserved on a simulated node).
    pub capacity: BTreeMap<String, Quantity>,
    /// The same, in thousandths, for admission.
    pub allocatable: Amounts,
    pub labels: BTreeMap<String, String>,
    pub taints: Vec<Taint>,
    pub pod_duration: Duration,
    pub heartbeat_interval: Duration,
    pub status_report_interval: Duration,
    /// Set for a real node agent (a pool of one node, this machine): what it reports
    /// about the machine instead of the simulated node's made-up facts.
    pub host: Option<HostNode>,
}

/// What a real node reports about its machine.
#[derive(Debug, Clone)]
pub(crate) struct HostNode {
    /// The InternalIP.
    pub ip: std::net::Ipv4Addr,
    /// The machine's host name (the `Hostname` address).
    pub hostname: String,
    /// Kernel, OS image, runtime and kubelet versions, machine and boot ids.
    pub info: k8s_openapi::api::core::v1::NodeSystemInfo,
    /// How often each pod is synced when nothing else wakes it (kubelet's
    /// `--sync-frequency`).
    pub sync_frequency: Duration,
    /// The port of the agent's HTTPS endpoint (logs), reported in the Node's
    /// `daemonEndpoints` so the API server knows where to call.
    pub kubelet_port: u16,
}

impl PoolSpec {
    /// The InternalIP of node `index`.
    pub fn node_ip(&self, index: u32) -> std::net::Ipv4Addr {
        match &self.host {
            Some(h) => h.ip,
            None => ipam::node_ip(index),
        }
    }

    /// Checks and parses `config`.
    pub fn from_config(config: &SimulatedConfig) -> Result<Self, Error> {
        let count = u32::try_from(config.count)
            .ok()
            .filter(|&n| n <= ipam::MAX_NODES)
            .ok_or_else(|| {
                Error::Config(format!(
                    "at most {} simulated nodes are supported",
                    ipam::MAX_NODES
                ))
            })?;
        let allocatable = admission::allocatable(&config.capacity).map_err(Error::Config)?;
        let capacity = config
            .capacity
            .iter()
            .map(|(k, v)| (k.clone(), Quantity(v.clone())))
            .collect();
        let taints = config
            .taints
            .iter()
            .map(|t| parse_taint(t))
            .collect::<Result<Vec<_>, _>>()?;
        if config.heartbeat_interval.is_zero() {
            return Err(Error::Config("the heartbeat interval must be above zero".into()));
        }
        Ok(Self {
            names: NodeNames::new(&config.name_prefix, count),
            capacity,
            allocatable,
            labels: config.labels.clone(),
            taints,
            pod_duration: config.pod_duration,
            heartbeat_interval: config.heartbeat_interval,
            status_report_interval: config.status_report_interval.max(config.heartbeat_interval),
            host: None,
        })
    }
}

/// Parses `key=value:Effect` or `key:Effect`.
pub(crate) fn parse_taint(text: &str) -> Result<Taint, Error> {
    let bad = |why: &str| Error::Config(format!("taint {text:?}: {why}; expected key=value:Effect"));
    let (kv, effect) = text.rsplit_once(':').ok_or_else(|| bad("no effect"))?;
    if !matches!(effect, "NoSchedule" | "PreferNoSchedule" | "NoExecute") {
        return Err(bad(
            "the effect must be NoSchedule, PreferNoSchedule or NoExecute",
        ));
    }
    let (key, value) = match kv.split_once('=') {
        Some((k, v)) => (k, Some(v.to_string())),
        None => (kv, None),
    };
    if key.is_empty() {
        return Err(bad("empty key"));
    }
    Ok(Taint {
        key: key.into(),
        value,
        effect: effect.into(),
        time_added: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taints_parse() {
        let t = parse_taint("dedicated=gpu:NoSchedule").unwrap();
        assert_eq!(
            (t.key.as_str(), t.value.as_deref(), t.effect.as_str()),
            ("dedicated", Some("gpu"), "NoSchedule")
        );
        let t = parse_taint("spot:PreferNoSchedule").unwrap();
        assert_eq!(
            (t.key.as_str(), t.value, t.effect.as_str()),
            ("spot", None, "PreferNoSchedule")
        );
        assert!(parse_taint("x=y").is_err());
        assert!(parse_taint("x=y:Sometimes").is_err());
        assert!(parse_taint("=y:NoExecute").is_err());
    }

    #[test]
    fn config_checks() {
        let spec = PoolSpec::from_config(&SimulatedConfig {
            count: 3,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(spec.names.count(), 3);
        assert_eq!(spec.allocatable.get("cpu"), Some(&32_000));
        let bad = SimulatedConfig {
            capacity: [("cpu".to_string(), "lots".to_string())].into(),
            ..Default::default()
        };
        assert!(PoolSpec::from_config(&bad).is_err());
        let many = SimulatedConfig {
            count: 1 << 20,
            ..Default::default()
        };
        assert!(PoolSpec::from_config(&many).is_err());
    }
}
