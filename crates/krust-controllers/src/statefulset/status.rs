//! The status a StatefulSet sync writes, computed from the pods the set owns as
//! upstream's `updateStatus` does, and the end of a rolling update (every pod at the
//! update revision and Ready: it becomes the current revision).

use k8s_openapi::{
    api::{apps::v1::StatefulSetStatus, core::v1::Pod},
    jiff::Timestamp,
};

use super::pods::{is_created, is_running_and_available, is_running_and_ready, is_terminating, revision_of};

/// What the status is computed from.
pub(crate) struct Facts<'a> {
    /// Pods of the set with an ordinal of its name (in range or not).
    pub pods: &'a [&'a Pod],
    /// `metadata.generation`.
    pub generation: i64,
    /// The current and update revisions' names.
    pub current: &'a str,
    /// The update revision's name.
    pub update: &'a str,
    /// `status.collisionCount` after this sync.
    pub collision_count: i32,
    /// `spec.minReadySeconds`.
    pub min_ready_seconds: i32,
    /// The strategy is RollingUpdate.
    pub rolling: bool,
    /// The time of the sync.
    pub now: Timestamp,
}

/// The new status (conditions kept from `old`).
pub(crate) fn calculate(old: Option<&StatefulSetStatus>, f: &Facts<'_>) -> StatefulSetStatus {
    let count = |pred: &dyn Fn(&Pod) -> bool| {
        i32::try_from(f.pods.iter().filter(|p| pred(p)).count()).unwrap_or(i32::MAX)
    };
    let live = |p: &Pod| is_created(p) && !is_terminating(p);
    let mut st = StatefulSetStatus {
        replicas: count(&|p| is_created(p)),
        ready_replicas: Some(count(&is_running_and_ready)),
        available_replicas: Some(count(&|p| {
            is_running_and_ready(p) && is_running_and_available(p, f.min_ready_seconds, f.now)
        })),
        current_replicas: Some(count(&|p| live(p) && revision_of(p) == f.current)),
        updated_replicas: Some(count(&|p| live(p) && revision_of(p) == f.update)),
        current_revision: Some(f.current.to_string()),
        update_revision: Some(f.update.to_string()),
        collision_count: Some(f.collision_count),
        observed_generation: Some(f.generation),
        conditions: old.and_then(|o| o.conditions.clone()),
    };
    if f.rolling && st.updated_replicas == Some(st.replicas) && st.ready_replicas == Some(st.replicas) {
        st.current_replicas = st.updated_replicas;
        st.current_revision = st.update_revision.clone();
    }
    st
}

#[cfg(test)]
mod tests {
    use super::super::pods::tests::pod;
    use super::*;

    fn facts<'a>(pods: &'a [&'a Pod], rolling: bool) -> Facts<'a> {
        Facts {
            pods,
            generation: 3,
            current: "r1",
            update: "r2",
            collision_count: 0,
            min_ready_seconds: 0,
            rolling,
            now: Timestamp::from_second(100).unwrap_or_default(),
        }
    }

    #[test]
    fn counts_and_rollout_completion() {
        let a = pod("web-0", "Running", Some(1), "r1");
        let b = pod("web-1", "Running", Some(1), "r2");
        let c = pod("web-2", "Pending", None, "r2");
        let pods = [&a, &b, &c];
        let st = calculate(None, &facts(&pods, true));
        assert_eq!(st.replicas, 3);
        assert_eq!(st.ready_replicas, Some(2));
        assert_eq!(st.available_replicas, Some(2));
        assert_eq!((st.current_replicas, st.updated_replicas), (Some(1), Some(2)));
        assert_eq!(st.current_revision.as_deref(), Some("r1"));
        assert_eq!(st.observed_generation, Some(3));
        let d = pod("web-0", "Running", Some(1), "r2");
        let e = pod("web-2", "Running", Some(1), "r2");
        let done = [&d, &b, &e];
        let st = calculate(None, &facts(&done, true));
        assert_eq!(st.current_revision.as_deref(), Some("r2"));
        assert_eq!(st.current_replicas, Some(3));
        let st = calculate(None, &facts(&done, false));
        assert_eq!(
            st.current_revision.as_deref(),
            Some("r1"),
            "OnDelete never completes"
        );
    }
}
