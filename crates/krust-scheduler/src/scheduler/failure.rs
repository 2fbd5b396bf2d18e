//! What happens when a pod cannot be placed, as upstream's failure handler: the pod goes
//! back to the queue (unschedulable or backoff), a `FailedScheduling` Warning event is
//! recorded, and the pod's `PodScheduled` condition becomes False with the reason and the
//! message (plus `status.nominatedNodeName` after preemption). Preemption's side effects —
//! DisruptionTarget conditions, deleting victims, clearing other nominations — run here too.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use serde_json::{Value, json};

use super::Shared;
use crate::events::{EventRequest, pod_ref};
use crate::framework::{PodInfo, PostFilterResult};
use crate::queue::QueuedPodInfo;

/// Condition reason when no node fits.
pub(crate) const UNSCHEDULABLE: &str = "Unschedulable";
/// Condition reason after an internal error.
pub(crate) const SCHEDULER_ERROR: &str = "SchedulerError";
/// Condition reason of a pod waiting for its scheduling gates.
pub(crate) const SCHEDULING_GATED: &str = "SchedulingGated";

/// Why a cycle or a binding failed.
pub(crate) struct Failure {
    /// `Unschedulable` or `SchedulerError`.
    pub reason: &'static str,
    /// The message for the event and the condition.
    pub message: String,
    /// Plugins that rejected the pod (empty: retry after backoff).
    pub plugins: BTreeSet<&'static str>,
    /// Nominate (or with "" clear the nomination of) the pod.
    pub nominated_node: Option<String>,
    /// Retry after backoff even though plugins rejected it (binding failures).
    pub backoff: bool,
}

fn now_rfc3339() -> String {
    jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A status patch setting `PodScheduled=False` with `reason` and `message` (and the
/// nominated node), or None when the pod already shows exactly that.
pub(crate) fn condition_patch(
    pod: &PodInfo,
    reason: &str,
    message: &str,
    nominated: Option<&str>,
) -> Option<Value> {
    let status = pod.pod.status.as_ref();
    let current = status
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "PodScheduled"));
    let same_condition = current.is_some_and(|c| {
        c.status == "False" && c.reason.as_deref() == Some(reason) && c.message.as_deref() == Some(message)
    });
    let nominated_changed = nominated.is_some_and(|n| n != pod.nominated_node_name());
    if same_condition && !nominated_changed {
        return None;
    }
    // The transition time moves only when the status does.
    let transition = match current {
        Some(c) if c.status == "False" => c
            .last_transition_time
            .as_ref()
            .map(|t| json!(t))
            .unwrap_or_else(|| json!(now_rfc3339())),
        _ => json!(now_rfc3339()),
    };
    let mut status = json!({
        "conditions": [{
            "type": "PodScheduled",
            "status": "False",
            "reason": reason,
            "message": message,
            "lastProbeTime": null,
            "lastTransitionTime": transition,
        }]
    });
    if let (Some(n), Some(obj)) = (nominated, status.as_object_mut()) {
        obj.insert(
            "nominatedNodeName".into(),
            if n.is_empty() { Value::Null } else { json!(n) },
        );
    }
    Some(json!({ "status": status }))
}

/// Requeues the pod, records the event and patches its condition.
pub(crate) fn handle(shared: &Arc<Shared>, mut qp: QueuedPodInfo, cycle: u64, f: Failure) {
    if f.reason == UNSCHEDULABLE {
        shared.stats.unschedulable();
    } else {
        shared.stats.error();
    }
    qp.unschedulable_plugins = f.plugins;
    let key = qp.info.key.clone();
    let latest = {
        let mut q = shared.queue.lock();
        let Some(latest) = q.get(&key) else { return };
        if f.backoff {
            q.requeue_backoff(qp, Instant::now());
        } else {
            q.requeue_failed(qp, cycle, Instant::now());
        }
        if let Some(n) = &f.nominated_node {
            q.nominate(latest.clone(), n);
        }
        latest
    };
    shared.wake.notify_one();
    tracing::debug!(pod = %key, reason = f.reason, message = %f.message, "scheduling failed");
    shared.recorder.record(EventRequest {
        regarding: pod_ref(&latest),
        related: None,
        warning: true,
        reason: "FailedScheduling",
        action: "Scheduling",
        note: f.message.clone(),
        aggregate: true,
    });
    if let Some(patch) = condition_patch(&latest, f.reason, &f.message, f.nominated_node.as_deref()) {
        let api = shared.api.clone();
        let (ns, name) = (latest.namespace().to_string(), latest.name().to_string());
        tokio::spawn(async move {
            if let Err(e) = api.patch_pod_status(&ns, &name, patch).await {
                tracing::debug!(pod = %name, error = %e, "updating PodScheduled failed");
            }
        });
    }
}

/// Carries out a preemption decision: marks and deletes the victims, and clears the
/// nominations of lower-priority pods on the chosen node.
pub(crate) fn preempt(shared: &Arc<Shared>, preemptor: &PodInfo, result: &PostFilterResult) {
    let node = result.nominated_node.clone().unwrap_or_default();
    shared.stats.victims(result.victims.len());
    for v in &result.victims {
        shared.recorder.record(EventRequest {
            regarding: pod_ref(v),
            related: Some(pod_ref(preemptor)),
            warning: false,
            reason: "Preempted",
            action: "Preempting",
            note: format!("Preempted by pod {} on node {node}", preemptor.uid()),
            aggregate: false,
        });
    }
    {
        let mut q = shared.queue.lock();
        for p in &result.clear_nominations {
            q.nominate(p.clone(), "");
        }
    }
    let api = shared.api.clone();
    let victims = result.victims.clone();
    let clear = result.clear_nominations.clone();
    let message = format!(
        "{}: preempting to accommodate a higher priority pod",
        shared.config.scheduler_name
    );
    tokio::spawn(async move {
        for v in victims {
            let patch = json!({"status": {"conditions": [{
                "type": "DisruptionTarget",
                "status": "True",
                "reason": "PreemptionByScheduler",
                "message": message,
                "lastTransitionTime": now_rfc3339(),
            }]}});
            if let Err(e) = api.patch_pod_status(v.namespace(), v.name(), patch).await {
                tracing::debug!(pod = %v.key, error = %e, "marking preemption victim failed");
            }
            if let Err(e) = api.delete_pod(v.namespace(), v.name(), v.uid()).await {
                tracing::warn!(pod = %v.key, error = %e, "deleting preemption victim failed");
            }
        }
        for p in clear {
            let patch = json!({"status": {"nominatedNodeName": null}});
            if let Err(e) = api.patch_pod_status(p.namespace(), p.name(), patch).await {
                tracing::debug!(pod = %p.key, error = %e, "clearing nomination failed");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::PodCondition;

    use super::*;
    use crate::plugins::testing::pod;

    #[test]
    fn patch_only_when_something_changes() {
        let p = pod("p").info();
        let patch = condition_patch(
            &p,
            UNSCHEDULABLE,
            "0/1 nodes are available: 1 Insufficient cpu.",
            None,
        );
        let patch = patch.unwrap();
        assert_eq!(patch["status"]["conditions"][0]["reason"], "Unschedulable");
        assert!(patch["status"].get("nominatedNodeName").is_none());

        let same = pod("p").with_spec(|_| {}).0;
        let mut same = same;
        same.status.get_or_insert_with(Default::default).conditions = Some(vec![PodCondition {
            type_: "PodScheduled".into(),
            status: "False".into(),
            reason: Some(UNSCHEDULABLE.into()),
            message: Some("m".into()),
            ..Default::default()
        }]);
        let info = PodInfo::new(same);
        assert!(condition_patch(&info, UNSCHEDULABLE, "m", None).is_none());
        let nominated = condition_patch(&info, UNSCHEDULABLE, "m", Some("n1")).unwrap();
        assert_eq!(nominated["status"]["nominatedNodeName"], "n1");
    }
}
