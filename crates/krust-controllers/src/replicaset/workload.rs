//! What the replica controller needs from a ReplicaSet or a ReplicationController: the two
//! kinds differ only in how the selector is written and in the types of their status, so
//! one reconciler serves both through this trait.

use std::collections::BTreeMap;
use std::fmt::Debug;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::{
    api::{
        apps::v1::{ReplicaSet, ReplicaSetCondition, ReplicaSetStatus},
        core::v1::{
            PodTemplateSpec, ReplicationController, ReplicationControllerCondition,
            ReplicationControllerStatus,
        },
    },
    apimachinery::pkg::apis::meta::v1::Time,
};
use kube::{
    Resource,
    core::{Selector, SelectorExt},
};
use serde::{Serialize, de::DeserializeOwned};

/// A kind whose controller keeps N pods from a template.
pub(crate) trait Workload:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + Debug
    + DeserializeOwned
    + Serialize
    + Send
    + Sync
    + 'static
{
    /// The reporting controller name on Events (as upstream's).
    const REPORTER: &'static str;

    /// The pod selector; `None` when missing, invalid or empty (selecting everything would
    /// let one owner grab every pod in the namespace, so it selects nothing instead).
    fn selector(&self) -> Option<Selector>;
    /// Desired pods (`spec.replicas`, 1 when unset as upstream defaults it).
    fn replicas(&self) -> i32;
    /// The pod template.
    fn template(&self) -> Option<&PodTemplateSpec>;
    /// Seconds a pod must be ready before it counts as available.
    fn min_ready_seconds(&self) -> i32;
    /// The current status in kind-neutral form.
    fn replica_status(&self) -> ReplicaStatus;
    /// Replaces the status.
    fn set_replica_status(&mut self, status: &ReplicaStatus);
}

/// Whether `selector` selects an object with `labels`.
pub(crate) fn matches(selector: &Selector, labels: &BTreeMap<String, String>) -> bool {
    selector.matches(labels)
}

/// A status condition of either kind.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Condition {
    /// `ReplicaFailure` is the only type upstream writes.
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// Machine-readable reason.
    pub reason: Option<String>,
    /// Human-readable message.
    pub message: Option<String>,
    /// Last time the status changed.
    pub last_transition_time: Option<Time>,
}

/// The status both kinds share.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct ReplicaStatus {
    /// Live pods claimed.
    pub replicas: i32,
    /// Claimed pods whose labels match the template's.
    pub fully_labeled_replicas: i32,
    /// Claimed pods that are Ready.
    pub ready_replicas: i32,
    /// Claimed pods Ready for at least minReadySeconds.
    pub available_replicas: i32,
    /// The generation this status describes.
    pub observed_generation: i64,
    /// Conditions (`ReplicaFailure`).
    pub conditions: Vec<Condition>,
}

/// Upstream omits zero counts from the JSON (`omitempty`).
fn opt(n: i32) -> Option<i32> {
    (n != 0).then_some(n)
}

fn label_selector(rs: &ReplicaSet) -> Option<Selector> {
    let sel = rs.spec.as_ref()?.selector.clone();
    let sel = Selector::try_from(sel).ok()?;
    (!sel.selects_all()).then_some(sel)
}

// === impl Workload for ReplicaSet ===

impl Workload for ReplicaSet {
    const REPORTER: &'static str = "replicaset-controller";

    fn selector(&self) -> Option<Selector> {
        label_selector(self)
    }

    fn replicas(&self) -> i32 {
        self.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
    }

    fn template(&self) -> Option<&PodTemplateSpec> {
        self.spec.as_ref()?.template.as_ref()
    }

    fn min_ready_seconds(&self) -> i32 {
        self.spec.as_ref().and_then(|s| s.min_ready_seconds).unwrap_or(0)
    }

    fn replica_status(&self) -> ReplicaStatus {
        let Some(s) = &self.status else {
            return ReplicaStatus::default();
        };
        ReplicaStatus {
            replicas: s.replicas,
            fully_labeled_replicas: s.fully_labeled_replicas.unwrap_or(0),
            ready_replicas: s.ready_replicas.unwrap_or(0),
            available_replicas: s.available_replicas.unwrap_or(0),
            observed_generation: s.observed_generation.unwrap_or(0),
            conditions: s
                .conditions
                .iter()
                .flatten()
                .map(|c| Condition {
                    type_: c.type_.clone(),
                    status: c.status.clone(),
                    reason: c.reason.clone(),
                    message: c.message.clone(),
                    last_transition_time: c.last_transition_time.clone(),
                })
                .collect(),
        }
    }

    fn set_replica_status(&mut self, st: &ReplicaStatus) {
        let terminating = self.status.as_ref().and_then(|s| s.terminating_replicas);
        self.status = Some(ReplicaSetStatus {
            replicas: st.replicas,
            fully_labeled_replicas: opt(st.fully_labeled_replicas),
            ready_replicas: opt(st.ready_replicas),
            available_replicas: opt(st.available_replicas),
            observed_generation: Some(st.observed_generation).filter(|g| *g != 0),
            terminating_replicas: terminating,
            conditions: (!st.conditions.is_empty()).then(|| {
                st.conditions
                    .iter()
                    .map(|c| ReplicaSetCondition {
                        type_: c.type_.clone(),
                        status: c.status.clone(),
                        reason: c.reason.clone(),
                        message: c.message.clone(),
                        last_transition_time: c.last_transition_time.clone(),
                    })
                    .collect()
            }),
        });
    }
}

// === impl Workload for ReplicationController ===

impl Workload for ReplicationController {
    const REPORTER: &'static str = "replication-controller";

    fn selector(&self) -> Option<Selector> {
        let map = self.spec.as_ref()?.selector.clone()?;
        (!map.is_empty()).then(|| map.into_iter().collect())
    }

    fn replicas(&self) -> i32 {
        self.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
    }

    fn template(&self) -> Option<&PodTemplateSpec> {
        self.spec.as_ref()?.template.as_ref()
    }

    fn min_ready_seconds(&self) -> i32 {
        self.spec.as_ref().and_then(|s| s.min_ready_seconds).unwrap_or(0)
    }

    fn replica_status(&self) -> ReplicaStatus {
        let Some(s) = &self.status else {
            return ReplicaStatus::default();
        };
        ReplicaStatus {
            replicas: s.replicas,
            fully_labeled_replicas: s.fully_labeled_replicas.unwrap_or(0),
            ready_replicas: s.ready_replicas.unwrap_or(0),
            available_replicas: s.available_replicas.unwrap_or(0),
            observed_generation: s.observed_generation.unwrap_or(0),
            conditions: s
                .conditions
                .iter()
                .flatten()
                .map(|c| Condition {
                    type_: c.type_.clone(),
                    status: c.status.clone(),
                    reason: c.reason.clone(),
                    message: c.message.clone(),
                    last_transition_time: c.last_transition_time.clone(),
                })
                .collect(),
        }
    }

    fn set_replica_status(&mut self, st: &ReplicaStatus) {
        self.status = Some(ReplicationControllerStatus {
            replicas: st.replicas,
            fully_labeled_replicas: opt(st.fully_labeled_replicas),
            ready_replicas: opt(st.ready_replicas),
            available_replicas: opt(st.available_replicas),
            observed_generation: Some(st.observed_generation).filter(|g| *g != 0),
            conditions: (!st.conditions.is_empty()).then(|| {
                st.conditions
                    .iter()
                    .map(|c| ReplicationControllerCondition {
                        type_: c.type_.clone(),
                        status: c.status.clone(),
                        reason: c.reason.clone(),
                        message: c.message.clone(),
                        last_transition_time: c.last_transition_time.clone(),
                    })
                    .collect()
            }),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::{
        api::{apps::v1::ReplicaSetSpec, core::v1::ReplicationControllerSpec},
        apimachinery::pkg::apis::meta::v1::LabelSelector,
    };

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn empty_selectors_select_nothing() {
        let rs = ReplicaSet {
            spec: Some(ReplicaSetSpec {
                selector: LabelSelector::default(),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(rs.selector().is_none());
        let rc = ReplicationController {
            spec: Some(ReplicationControllerSpec {
                selector: Some(BTreeMap::new()),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(rc.selector().is_none());
    }

    #[test]
    fn map_selector_matches_subset() {
        let rc = ReplicationController {
            spec: Some(ReplicationControllerSpec {
                selector: Some(labels(&[("app", "web")])),
                ..Default::default()
            }),
            ..Default::default()
        };
        let sel = rc.selector().unwrap();
        assert!(matches(&sel, &labels(&[("app", "web"), ("x", "y")])));
        assert!(!matches(&sel, &labels(&[("app", "db")])));
    }

    #[test]
    fn status_round_trip_omits_zeroes() {
        let mut rs = ReplicaSet::default();
        let st = ReplicaStatus {
            replicas: 2,
            ready_replicas: 1,
            observed_generation: 3,
            ..Default::default()
        };
        rs.set_replica_status(&st);
        let s = rs.status.as_ref().unwrap();
        assert_eq!(s.available_replicas, None);
        assert_eq!(s.ready_replicas, Some(1));
        assert_eq!(rs.replica_status(), st);
    }
}
