//! The status a DaemonSet sync writes, as upstream's `updateDaemonSetStatus` counts it:
//! per node that should run the pod, whether it has one, and whether the oldest one is
//! Ready, available and at the current revision; nodes with a pod that should not.

use k8s_openapi::{api::apps::v1::DaemonSetStatus, api::core::v1::Pod, jiff::Timestamp};

use super::plan::Nodes;
use crate::statefulset::pods::{is_available, is_ready, revision_of};

/// The counts of the status (conditions and collision count kept from `old`).
pub(crate) fn calculate(
    old: Option<&DaemonSetStatus>,
    nodes: &Nodes<'_>,
    hash: &str,
    generation: i64,
    min_ready: i32,
    now: Timestamp,
) -> DaemonSetStatus {
    let mut st = old.cloned().unwrap_or_default();
    let (mut desired, mut current, mut misscheduled, mut ready, mut available, mut updated) =
        (0, 0, 0, 0, 0, 0);
    for (node, fit) in &nodes.fit {
        let mut pods: Vec<&Pod> = nodes.pods.get(node).cloned().unwrap_or_default();
        if fit.should_run {
            desired += 1;
            pods.sort_by(|a, b| {
                a.metadata
                    .creation_timestamp
                    .as_ref()
                    .map(|t| t.0)
                    .cmp(&b.metadata.creation_timestamp.as_ref().map(|t| t.0))
                    .then_with(|| a.metadata.name.cmp(&b.metadata.name))
            });
            if let Some(p) = pods.first() {
                current += 1;
                if is_ready(p) {
                    ready += 1;
                    if is_available(p, min_ready, now) {
                        available += 1;
                    }
                }
                if revision_of(p) == hash {
                    updated += 1;
                }
            }
        } else if !pods.is_empty() {
            misscheduled += 1;
        }
    }
    st.desired_number_scheduled = desired;
    st.current_number_scheduled = current;
    st.number_misscheduled = misscheduled;
    st.number_ready = ready;
    st.number_available = Some(available);
    st.number_unavailable = Some(desired - available);
    st.updated_number_scheduled = Some(updated);
    st.observed_generation = Some(generation);
    st
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::placement::Fit;
    use super::*;
    use crate::statefulset::pods::tests::pod;

    #[test]
    fn counts() {
        let run = Fit {
            should_run: true,
            should_continue: true,
        };
        let out = Fit {
            should_run: false,
            should_continue: false,
        };
        let (a, b, c) = (
            pod("a", "Running", Some(1), "h2"),
            pod("b", "Pending", None, "h1"),
            pod("c", "Running", Some(1), "h2"),
        );
        let nodes = Nodes {
            fit: [("n1", run), ("n2", run), ("n3", run), ("n4", out)]
                .into_iter()
                .map(|(n, f)| (n.to_string(), f))
                .collect(),
            pods: BTreeMap::from([
                ("n1".to_string(), vec![&a]),
                ("n2".to_string(), vec![&b]),
                ("n4".to_string(), vec![&c]),
            ]),
        };
        let st = calculate(
            None,
            &nodes,
            "h2",
            7,
            0,
            Timestamp::from_second(5).unwrap_or_default(),
        );
        assert_eq!(
            (
                st.desired_number_scheduled,
                st.current_number_scheduled,
                st.number_ready,
                st.number_misscheduled
            ),
            (3, 2, 1, 1)
        );
        assert_eq!(st.number_available, Some(1));
        assert_eq!(st.number_unavailable, Some(2));
        assert_eq!(st.updated_number_scheduled, Some(1));
        assert_eq!(st.observed_generation, Some(7));
    }
}
