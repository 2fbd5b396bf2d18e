//! Large-scale disruption handling, as upstream's node lifecycle controller does it per zone
//! (`topology.kubernetes.io/region` + `zone`):
//!
//! - a zone is *Normal*, in *PartialDisruption* (more than 2 nodes and at least the
//!   unhealthy threshold, 55 %, not Ready) or in *FullDisruption* (no node Ready);
//! - new `NoExecute` taints are placed at most `node_eviction_rate` nodes per second per
//!   zone (0.1: one node every 10 s, burst 1); a zone in partial disruption slows to the
//!   secondary rate when it has more than `large_cluster_size_threshold` nodes, else stops;
//! - when every zone is fully disrupted the problem is most likely the control plane's own
//!   view (a network partition around it), so no node is tainted and existing
//!   `NoExecute` taints are removed until some node is Ready again; then every node gets a
//!   fresh grace period.
//!
//! Simplified from upstream: the limiter gates only the adding of a node's first
//! `NoExecute` taint (swapping not-ready/unreachable and removing are immediate, as
//! upstream), nodes waiting for a token are taken in name order rather than queue order,
//! and zones are not exported as metrics.

use std::collections::HashMap;

use k8s_openapi::api::core::v1::Node;
use tokio::time::Instant;

/// Label that keeps a node out of the zone counts.
pub const EXCLUDE_DISRUPTION: &str = "node.kubernetes.io/exclude-disruption";

/// Settings of disruption handling (upstream's flags of the same names).
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Nodes per second that may be tainted in a healthy zone.
    pub eviction_rate: f64,
    /// The same in a large zone in partial disruption.
    pub secondary_eviction_rate: f64,
    /// Share of not-Ready nodes that puts a zone in partial disruption.
    pub unhealthy_zone_threshold: f64,
    /// Zones up to this size stop tainting in partial disruption.
    pub large_cluster_size_threshold: u32,
}

/// The state of one zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZoneState {
    /// Few nodes down.
    Normal,
    /// Many nodes down.
    PartialDisruption,
    /// No node Ready.
    FullDisruption,
}

/// The zone a node counts in: region and zone labels (new or beta), `""` without them.
pub fn zone_key(node: &Node) -> String {
    let label = |new: &str, old: &str| -> String {
        node.metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(new).or_else(|| l.get(old)))
            .cloned()
            .unwrap_or_default()
    };
    let region = label(
        "topology.kubernetes.io/region",
        "failure-domain.beta.kubernetes.io/region",
    );
    let zone = label(
        "topology.kubernetes.io/zone",
        "failure-domain.beta.kubernetes.io/zone",
    );
    if region.is_empty() && zone.is_empty() {
        String::new()
    } else {
        format!("{region}:\u{0}:{zone}")
    }
}

/// Whether a node is left out of the zone counts.
pub fn excluded(node: &Node) -> bool {
    node.metadata
        .labels
        .as_ref()
        .is_some_and(|l| l.contains_key(EXCLUDE_DISRUPTION))
}

/// The state of a zone with this many Ready and not-Ready nodes.
pub fn zone_state(ready: usize, not_ready: usize, unhealthy_threshold: f64) -> ZoneState {
    let total = ready + not_ready;
    if ready == 0 && not_ready > 0 {
        ZoneState::FullDisruption
    } else if not_ready > 2 && (not_ready as f64) / (total as f64) >= unhealthy_threshold {
        ZoneState::PartialDisruption
    } else {
        ZoneState::Normal
    }
}

/// A token bucket of burst 1.
#[derive(Debug, Clone)]
struct Limiter {
    tokens: f64,
    qps: f64,
    last: Instant,
}

impl Limiter {
    fn new(qps: f64, now: Instant) -> Self {
        Self {
            tokens: 1.0,
            qps,
            last: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.qps).min(1.0);
        self.last = now;
    }

    fn take(&mut self, now: Instant) -> bool {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    fn set_qps(&mut self, qps: f64, now: Instant) {
        self.refill(now);
        self.qps = qps;
    }
}

/// What a pass's zone update means for the nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Taint as the zone limiters allow.
    Normal,
    /// Every zone is fully disrupted: taint nothing, remove the `NoExecute` taints.
    AllDisrupted,
    /// Just left the above: give every node a fresh grace period.
    Recovered,
}

/// Zone states and their limiters across passes.
#[derive(Debug)]
pub struct Zones {
    settings: Settings,
    states: HashMap<String, ZoneState>,
    limiters: HashMap<String, Limiter>,
}

impl Zones {
    /// No zones seen yet.
    pub fn new(settings: Settings) -> Self {
        Self {
            settings,
            states: HashMap::new(),
            limiters: HashMap::new(),
        }
    }

    /// The state of a zone (`None`: not seen yet).
    #[cfg(test)]
    pub fn state(&self, zone: &str) -> Option<ZoneState> {
        self.states.get(zone).copied()
    }

    fn rate(&self, state: ZoneState, size: usize) -> f64 {
        match state {
            ZoneState::PartialDisruption => {
                if size > self.settings.large_cluster_size_threshold as usize {
                    self.settings.secondary_eviction_rate
                } else {
                    0.0
                }
            }
            _ => self.settings.eviction_rate,
        }
    }

    /// Takes this pass's (Ready, not-Ready) counts per zone and says what follows.
    pub fn update(&mut self, counts: &HashMap<String, (usize, usize)>, now: Instant) -> Mode {
        let threshold = self.settings.unhealthy_zone_threshold;
        let new: HashMap<String, ZoneState> = counts
            .iter()
            .map(|(z, (r, n))| (z.clone(), zone_state(*r, *n, threshold)))
            .collect();
        self.states.retain(|z, _| counts.contains_key(z));
        self.limiters.retain(|z, _| counts.contains_key(z));
        let all_now = !new.is_empty() && new.values().all(|s| *s == ZoneState::FullDisruption);
        let all_before = !self.states.is_empty()
            && counts
                .keys()
                .all(|z| self.states.get(z) == Some(&ZoneState::FullDisruption));
        for (zone, state) in &new {
            let size = counts.get(zone).map_or(0, |(r, n)| r + n);
            let qps = if all_now { 0.0 } else { self.rate(*state, size) };
            self.limiters
                .entry(zone.clone())
                .and_modify(|l| l.set_qps(qps, now))
                .or_insert_with(|| Limiter::new(qps, now));
            self.states.insert(zone.clone(), *state);
        }
        match (all_before, all_now) {
            (_, true) => Mode::AllDisrupted,
            (true, false) => Mode::Recovered,
            (false, false) => Mode::Normal,
        }
    }

    /// Whether a node of `zone` may get its first `NoExecute` taint now (uses a token).
    pub fn take(&mut self, zone: &str, now: Instant) -> bool {
        let rate = self.settings.eviction_rate;
        self.limiters
            .entry(zone.to_string())
            .or_insert_with(|| Limiter::new(rate, now))
            .take(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::time::Duration;

    fn settings() -> Settings {
        Settings {
            eviction_rate: 0.1,
            secondary_eviction_rate: 0.01,
            unhealthy_zone_threshold: 0.55,
            large_cluster_size_threshold: 50,
        }
    }

    #[test]
    fn zone_states() {
        assert_eq!(zone_state(3, 0, 0.55), ZoneState::Normal);
        assert_eq!(zone_state(1, 1, 0.55), ZoneState::Normal);
        assert_eq!(zone_state(0, 1, 0.55), ZoneState::FullDisruption);
        assert_eq!(zone_state(2, 3, 0.55), ZoneState::PartialDisruption);
        assert_eq!(
            zone_state(3, 3, 0.55),
            ZoneState::Normal,
            "50 % is under the threshold"
        );
        assert_eq!(
            zone_state(1, 2, 0.55),
            ZoneState::Normal,
            "needs more than 2 down"
        );
    }

    #[test]
    fn zone_keys() {
        let mut n = Node::default();
        assert_eq!(zone_key(&n), "");
        n.metadata.labels = Some(BTreeMap::from([
            ("topology.kubernetes.io/region".to_string(), "r".to_string()),
            (
                "failure-domain.beta.kubernetes.io/zone".to_string(),
                "z".to_string(),
            ),
        ]));
        assert_eq!(zone_key(&n), "r:\u{0}:z");
    }

    #[test]
    fn tainting_is_rate_limited_per_zone() {
        let t0 = Instant::now();
        let mut zones = Zones::new(settings());
        let counts = HashMap::from([("a".to_string(), (5, 1)), ("b".to_string(), (5, 1))]);
        assert_eq!(zones.update(&counts, t0), Mode::Normal);
        assert!(zones.take("a", t0), "burst of one");
        assert!(!zones.take("a", t0));
        assert!(zones.take("b", t0), "zones have their own limiter");
        assert!(!zones.take("a", t0 + Duration::from_secs(5)));
        assert!(zones.take("a", t0 + Duration::from_secs(10)), "0.1 per second");
    }

    #[test]
    fn small_zones_in_partial_disruption_stop_tainting() {
        let t0 = Instant::now();
        let mut zones = Zones::new(settings());
        let counts = HashMap::from([("a".to_string(), (2, 4)), ("b".to_string(), (3, 0))]);
        assert_eq!(zones.update(&counts, t0), Mode::Normal);
        assert_eq!(zones.state("a"), Some(ZoneState::PartialDisruption));
        assert!(zones.take("a", t0), "the token already in the bucket");
        assert!(
            !zones.take("a", t0 + Duration::from_secs(3600)),
            "rate 0 in a small zone"
        );
    }

    #[test]
    fn all_zones_down_stops_everything_until_one_node_is_back() {
        let t0 = Instant::now();
        let mut zones = Zones::new(settings());
        let healthy = HashMap::from([("a".to_string(), (2, 0)), ("b".to_string(), (1, 0))]);
        assert_eq!(zones.update(&healthy, t0), Mode::Normal);
        let down = HashMap::from([("a".to_string(), (0, 2)), ("b".to_string(), (0, 1))]);
        assert_eq!(zones.update(&down, t0), Mode::AllDisrupted);
        assert_eq!(zones.update(&down, t0), Mode::AllDisrupted);
        let one_zone_down = HashMap::from([("a".to_string(), (0, 2)), ("b".to_string(), (1, 0))]);
        assert_eq!(zones.update(&one_zone_down, t0), Mode::Recovered);
        assert_eq!(zones.update(&one_zone_down, t0), Mode::Normal);
        assert_eq!(zones.state("a"), Some(ZoneState::FullDisruption));
    }

    #[test]
    fn a_single_node_cluster_is_never_tainted_for_being_down() {
        let mut zones = Zones::new(settings());
        let down = HashMap::from([(String::new(), (0, 1))]);
        assert_eq!(zones.update(&down, Instant::now()), Mode::AllDisrupted);
    }
}
