//! One sync of a PodDisruptionBudget (its status from its pods, see `arith`), and of a pod
//! whose `DisruptionTarget` condition went stale (set by an eviction more than 2 minutes
//! ago, but the pod was never deleted: the condition is reset to False, as upstream).

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetStatus};
use k8s_openapi::jiff::Timestamp;
use kube::{
    Api, Resource,
    api::{Patch, PatchParams, PostParams},
    core::{Selector, SelectorExt},
    runtime::reflector::Store,
};
use serde_json::json;

use super::arith;
use super::scale::{self, Finders};
use crate::apierror;
use crate::endpoints::pods;
use crate::keyed::{self, Index, Next};
use crate::replicaset::{Events, api_time};

/// A `DisruptionTarget` condition older than this on a live pod is stale.
const STALE_DISRUPTION: Duration = Duration::from_secs(120);
/// How soon a budget whose status could not be computed is tried again.
const FAILED_RECHECK: Duration = Duration::from_secs(10);

/// Failures of a sync (retried with back-off).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Writing the status failed.
    #[error("{key}: writing status: {source}")]
    Write {
        /// namespace/name
        key: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
}

/// What a sync reads.
pub struct State {
    pub client: kube::Client,
    pub budgets: Store<PodDisruptionBudget>,
    pub pods: Store<Pod>,
    pub finders: Finders,
    pub events: Events,
    /// Budget key → keys of the pods it selected at its last sync.
    pub selected: Index<String, String>,
}

/// The budget's selector (a missing one selects nothing: `None`).
fn selector_of(pdb: &PodDisruptionBudget) -> Result<Option<Selector>, String> {
    pdb.spec
        .as_ref()
        .and_then(|s| s.selector.clone())
        .map(|sel| Selector::try_from(sel).map_err(|e| e.to_string()))
        .transpose()
}

fn in_scope(sel: &Selector, pdb: &PodDisruptionBudget, pod: &Pod) -> bool {
    pod.metadata.namespace == pdb.metadata.namespace
        && sel.matches(pod.metadata.labels.as_ref().unwrap_or(&Default::default()))
}

/// Whether the budget selects the pod (an empty selector selects every pod of the
/// namespace, a missing one none).
pub fn selects(pdb: &PodDisruptionBudget, pod: &Pod) -> bool {
    matches!(selector_of(pdb), Ok(Some(sel)) if in_scope(&sel, pdb, pod))
}

/// The pods of the cache the budget selects.
pub fn selected_pods(all: &[Arc<Pod>], pdb: &PodDisruptionBudget) -> Result<Vec<Arc<Pod>>, String> {
    let Some(sel) = selector_of(pdb)? else {
        return Ok(Vec::new());
    };
    Ok(all.iter().filter(|p| in_scope(&sel, pdb, p)).cloned().collect())
}

/// The stale `DisruptionTarget` condition of a pod: `Some(wait)` if it has one that is
/// (`wait` zero) or will be stale.
pub fn stale_disruption(pod: &Pod, now: Timestamp) -> Option<Duration> {
    if pods::is_terminating(pod) || pods::is_terminal(pod) {
        return None;
    }
    let cond = pod
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "DisruptionTarget" && c.status == "True")?;
    if cond.reason.as_deref() == Some("TerminationByKubelet") {
        return None;
    }
    let since = cond.last_transition_time.as_ref().map_or(now, |t| t.0);
    let age = now.duration_since(since).unsigned_abs();
    Some(STALE_DISRUPTION.saturating_sub(age))
}

impl State {
    /// Syncs the status of the budget `key`.
    pub async fn sync_budget(&self, key: &str) -> Result<Next, Error> {
        let Some(pdb) = keyed::cached(&self.budgets, key) else {
            self.selected.remove(&key.to_string());
            return Ok(Next::Done);
        };
        let now = Timestamp::now();
        let all = self.pods.state();
        let computed = match selected_pods(&all, &pdb) {
            Ok(selected) => {
                self.selected.set(
                    &key.to_string(),
                    selected.iter().map(|p| keyed::key_of(p.as_ref())).collect(),
                );
                let refs: Vec<&Pod> = selected.iter().map(AsRef::as_ref).collect();
                self.compute(&pdb, &refs, now).await
            }
            Err(e) => Err(e),
        };
        match computed {
            Ok((status, recheck, notes)) => {
                if self.write(key, &pdb, status).await? {
                    for (warning, reason, note) in notes {
                        if warning {
                            self.events.warning(pdb.object_ref(&()), reason, reason, note);
                        } else {
                            self.events.normal(pdb.object_ref(&()), reason, reason, note);
                        }
                    }
                }
                Ok(recheck.map_or(Next::Done, |t| {
                    Next::After(t.duration_since(now).unsigned_abs() + Duration::from_secs(1))
                }))
            }
            Err(message) => {
                // Fail safe: allow no disruption while the status cannot be computed.
                tracing::info!(pdb = %key, error = %message, "disruption: cannot compute budget status");
                let mut status = pdb.status.clone().unwrap_or_default();
                status.disruptions_allowed = 0;
                let old = status
                    .conditions
                    .as_ref()
                    .and_then(|c| c.iter().find(|c| c.type_ == arith::DISRUPTION_ALLOWED));
                let cond =
                    arith::condition(old, 0, Some(&message), status.observed_generation, api_time(now));
                set_condition(&mut status, cond);
                self.write(key, &pdb, status).await?;
                Ok(Next::After(FAILED_RECHECK))
            }
        }
    }

    /// The new status, when to look again (a pending disruption lapses), and events to
    /// record if the status is written: (warning?, reason, note).
    #[allow(clippy::type_complexity)] // a private triple, named in the doc above
    async fn compute(
        &self,
        pdb: &PodDisruptionBudget,
        selected: &[&Pod],
        now: Timestamp,
    ) -> Result<
        (
            PodDisruptionBudgetStatus,
            Option<Timestamp>,
            Vec<(bool, &'static str, String)>,
        ),
        String,
    > {
        let spec = pdb.spec.clone().unwrap_or_default();
        let mut notes = Vec::new();
        if selected.is_empty() {
            notes.push((false, "NoPods", "No matching pods found".to_string()));
        }
        let scale = if arith::needs_scale(&spec) {
            let (scale, unmanaged) = self
                .finders
                .expected_scale(selected)
                .await
                .map_err(|e: scale::Error| e.to_string())?;
            if !unmanaged.is_empty() {
                notes.push((true, "UnmanagedPods", format!(
                    "Pods selected by this PodDisruptionBudget were found to be unmanaged. As a result, the status of the PDB cannot be calculated correctly, which may result in undefined behavior. To account for these pods please set \".spec.minAvailable\" field of the PDB to an integer value. ({})",
                    unmanaged.join(", ")
                )));
            }
            scale
        } else {
            0
        };
        let pod_count = i32::try_from(selected.len()).unwrap_or(i32::MAX);
        let (expected, desired) = arith::expected_and_desired(&spec, pod_count, scale)?;
        let old = pdb.status.clone().unwrap_or_default();
        let (disrupted, recheck) = arith::pending_disruptions(selected, old.disrupted_pods.as_ref(), now);
        let healthy = arith::count_healthy(selected, &disrupted, now);
        let allowed = arith::disruptions_allowed(healthy, desired, expected);
        let observed = pdb.metadata.generation;
        let mut status = PodDisruptionBudgetStatus {
            current_healthy: healthy,
            desired_healthy: desired,
            expected_pods: expected,
            disruptions_allowed: allowed,
            disrupted_pods: (!disrupted.is_empty()).then_some(disrupted),
            observed_generation: observed,
            conditions: old.conditions.clone(),
        };
        let old_cond = old
            .conditions
            .as_ref()
            .and_then(|c| c.iter().find(|c| c.type_ == arith::DISRUPTION_ALLOWED));
        let cond = arith::condition(old_cond, allowed, None, observed, api_time(now));
        set_condition(&mut status, cond);
        Ok((status, recheck, notes))
    }

    /// Writes `status` unless the budget already has it; whether it wrote.
    async fn write(
        &self,
        key: &str,
        pdb: &PodDisruptionBudget,
        status: PodDisruptionBudgetStatus,
    ) -> Result<bool, Error> {
        let old = pdb.status.clone().unwrap_or_default();
        let same_disrupted = old.disrupted_pods.clone().unwrap_or_default()
            == status.disrupted_pods.clone().unwrap_or_default();
        if old.current_healthy == status.current_healthy
            && old.desired_healthy == status.desired_healthy
            && old.expected_pods == status.expected_pods
            && old.disruptions_allowed == status.disruptions_allowed
            && old.observed_generation == status.observed_generation
            && same_disrupted
            && old.conditions == status.conditions
        {
            return Ok(false);
        }
        let (ns, name) = keyed::split_key(key);
        let api: Api<PodDisruptionBudget> = Api::namespaced(self.client.clone(), ns);
        let mut new = pdb.clone();
        new.status = Some(status);
        new.metadata.managed_fields = None;
        // Carries the cached resourceVersion: a stale cache, or an eviction that just
        // consumed a disruption, makes this a conflict and the sync is retried.
        match api.replace_status(name, &PostParams::default(), &new).await {
            Ok(_) => Ok(true),
            Err(e) if apierror::is_not_found(&e) => Ok(false),
            Err(source) => Err(Error::Write {
                key: key.to_string(),
                source,
            }),
        }
    }

    /// Resets the stale `DisruptionTarget` condition of the pod `key`.
    pub async fn sync_pod(&self, key: &str) -> Result<Next, Error> {
        let Some(pod) = keyed::cached(&self.pods, key) else {
            return Ok(Next::Done);
        };
        match stale_disruption(&pod, Timestamp::now()) {
            None => Ok(Next::Done),
            Some(wait) if !wait.is_zero() => Ok(Next::After(wait)),
            Some(_) => {
                let (ns, name) = keyed::split_key(key);
                let api: Api<Pod> = Api::namespaced(self.client.clone(), ns);
                let body = json!({
                    "metadata": {"uid": pod.metadata.uid},
                    "status": {"conditions": [{
                        "type": "DisruptionTarget",
                        "status": "False",
                        "reason": null,
                        "message": null,
                        "lastTransitionTime": api_time(Timestamp::now()),
                    }]},
                });
                match api
                    .patch_status(name, &PatchParams::default(), &Patch::Strategic(&body))
                    .await
                {
                    Ok(_) => {
                        tracing::info!(pod = %key, "disruption: reset stale DisruptionTarget condition");
                        Ok(Next::Done)
                    }
                    Err(e) if apierror::is_not_found(&e) => Ok(Next::Done),
                    Err(source) => Err(Error::Write {
                        key: key.to_string(),
                        source,
                    }),
                }
            }
        }
    }
}

fn set_condition(
    status: &mut PodDisruptionBudgetStatus,
    cond: k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition,
) {
    let list = status.conditions.get_or_insert_with(Vec::new);
    match list.iter_mut().find(|c| c.type_ == cond.type_) {
        Some(c) => *c = cond,
        None => list.push(cond),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoints::pods::tests::pod;
    use k8s_openapi::api::core::v1::PodCondition;
    use k8s_openapi::api::policy::v1::PodDisruptionBudgetSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, Time};
    use std::collections::BTreeMap;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    #[test]
    fn selection() {
        let a = Arc::new(pod("a", "10.42.0.1", true));
        let mut other = pod("b", "10.42.0.2", true);
        other.metadata.labels = Some(BTreeMap::from([("app".to_string(), "db".to_string())]));
        let all = vec![a, Arc::new(other)];
        let mut pdb = PodDisruptionBudget::default();
        pdb.metadata.namespace = Some("default".into());
        assert!(
            selected_pods(&all, &pdb).unwrap().is_empty(),
            "no selector: nothing"
        );
        pdb.spec = Some(PodDisruptionBudgetSpec {
            selector: Some(LabelSelector::default()),
            ..Default::default()
        });
        assert_eq!(selected_pods(&all, &pdb).unwrap().len(), 2, "empty selector: all");
        pdb.spec = Some(PodDisruptionBudgetSpec {
            selector: Some(LabelSelector {
                match_labels: Some(BTreeMap::from([("app".to_string(), "web".to_string())])),
                ..Default::default()
            }),
            ..Default::default()
        });
        assert_eq!(selected_pods(&all, &pdb).unwrap().len(), 1);
    }

    #[test]
    fn stale_disruption_conditions() {
        let mut p = pod("a", "10.42.0.1", true);
        assert_eq!(stale_disruption(&p, at(1000)), None);
        if let Some(c) = p.status.as_mut().and_then(|s| s.conditions.as_mut()) {
            c.push(PodCondition {
                type_: "DisruptionTarget".into(),
                status: "True".into(),
                reason: Some("EvictionByEvictionAPI".into()),
                last_transition_time: Some(Time(at(950))),
                ..Default::default()
            });
        }
        assert_eq!(stale_disruption(&p, at(1000)), Some(Duration::from_secs(70)));
        assert_eq!(stale_disruption(&p, at(1100)), Some(Duration::ZERO));
        p.metadata.deletion_timestamp = Some(Time(at(1000)));
        assert_eq!(stale_disruption(&p, at(1100)), None, "being deleted: not stale");
    }
}
