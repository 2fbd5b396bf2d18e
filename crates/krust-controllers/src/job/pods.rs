//! How the Job controller reads a pod: finished or not, failed by upstream's rule, ready,
//! terminating, carrying the tracking finalizer.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;

/// The finalizer that keeps a Job's pods until the Job has counted them.
pub(crate) const TRACKING_FINALIZER: &str = "batch.kubernetes.io/job-tracking";

fn phase(p: &Pod) -> &str {
    p.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("")
}

/// Phase Succeeded.
pub(crate) fn succeeded(p: &Pod) -> bool {
    phase(p) == "Succeeded"
}

/// Only failed pods are replaced (`podReplacementPolicy: Failed`), not terminating ones.
pub(crate) fn only_replace_failed(job: &Job) -> bool {
    job.spec
        .as_ref()
        .and_then(|s| s.pod_replacement_policy.as_deref())
        == Some("Failed")
}

/// Whether the pod counts as failed: phase Failed, or (unless only failed pods are
/// replaced) deleted before it succeeded — so orphaned pods that never reach a final
/// phase are still accounted for.
pub(crate) fn failed(p: &Pod, job: &Job) -> bool {
    if phase(p) == "Failed" {
        return true;
    }
    if only_replace_failed(job) {
        return false;
    }
    p.metadata.deletion_timestamp.is_some() && phase(p) != "Succeeded"
}

/// Neither finished nor being deleted.
pub(crate) fn active(p: &Pod) -> bool {
    !matches!(phase(p), "Succeeded" | "Failed") && p.metadata.deletion_timestamp.is_none()
}

/// Being deleted and not finished.
pub(crate) fn terminating(p: &Pod) -> bool {
    p.metadata.deletion_timestamp.is_some() && !matches!(phase(p), "Succeeded" | "Failed")
}

/// Condition Ready is True.
pub(crate) fn ready(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Carries [`TRACKING_FINALIZER`].
pub(crate) fn has_finalizer(p: &Pod) -> bool {
    p.metadata
        .finalizers
        .as_ref()
        .is_some_and(|f| f.iter().any(|x| x == TRACKING_FINALIZER))
}

/// Container restarts of the pod (init and app containers), for `OnFailure` pods whose
/// failures show as restarts instead of failed pods.
pub(crate) fn restarts(p: &Pod) -> i32 {
    let Some(s) = p.status.as_ref() else { return 0 };
    s.init_container_statuses
        .iter()
        .flatten()
        .chain(s.container_statuses.iter().flatten())
        .map(|c| c.restart_count)
        .sum()
}

/// When the pod finished (the latest container termination, else its Ready condition's
/// transition, else its creation), for the back-off clock.
pub(crate) fn finish_time(p: &Pod) -> Option<Timestamp> {
    let s = p.status.as_ref();
    let terminated = s
        .and_then(|s| s.container_statuses.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|c| c.state.as_ref()?.terminated.as_ref()?.finished_at.as_ref())
        .map(|t| t.0)
        .max();
    terminated
        .or_else(|| {
            s.and_then(|s| s.conditions.as_ref())?
                .iter()
                .find(|c| c.type_ == "Ready")?
                .last_transition_time
                .as_ref()
                .map(|t| t.0)
        })
        .or_else(|| p.metadata.deletion_timestamp.as_ref().map(|t| t.0))
        .or_else(|| p.metadata.creation_timestamp.as_ref().map(|t| t.0))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::PodStatus;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    /// A pod of a phase with a uid and name, carrying the tracking finalizer.
    pub(crate) fn pod(name: &str, phase: &str) -> Pod {
        let mut p = Pod::default();
        p.metadata.name = Some(name.into());
        p.metadata.uid = Some(format!("uid-{name}"));
        p.metadata.namespace = Some("ns".into());
        p.metadata.finalizers = Some(vec![TRACKING_FINALIZER.into()]);
        p.status = Some(PodStatus {
            phase: Some(phase.into()),
            ..Default::default()
        });
        p
    }

    #[test]
    fn deleted_pods_count_as_failed_unless_only_failed_are_replaced() {
        let mut p = pod("a", "Running");
        p.metadata.deletion_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
        let mut job = Job::default();
        assert!(failed(&p, &job) && terminating(&p) && !active(&p));
        job.spec = Some(k8s_openapi::api::batch::v1::JobSpec {
            pod_replacement_policy: Some("Failed".into()),
            ..Default::default()
        });
        assert!(!failed(&p, &job));
        assert!(failed(&pod("b", "Failed"), &job));
        assert!(!failed(&pod("c", "Succeeded"), &job));
        assert!(has_finalizer(&p));
    }
}
