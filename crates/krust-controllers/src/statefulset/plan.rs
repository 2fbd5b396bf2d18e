//! What one sync of a StatefulSet does to its pods, decided as upstream's
//! `updateStatefulSet` decides it, as a pure function of the pods the set owns:
//!
//! 1. every ordinal in range gets a pod: finished pods are deleted to be recreated,
//!    missing ones created (below the partition from the current revision, else from
//!    the update revision); with `OrderedReady` one at a time, waiting for each to be
//!    Running, Ready and available before the next;
//! 2. pods beyond the range are deleted, highest ordinal first (`OrderedReady`: one at a
//!    time, only once every other pod is healthy);
//! 3. `RollingUpdate`: pods at or above the partition not at the update revision are
//!    deleted (to be recreated at it) from the highest ordinal down, one at a time, or up
//!    to `maxUnavailable` unhealthy at once when that is set; `OnDelete` leaves them.

use std::collections::HashSet;

use k8s_openapi::{api::core::v1::Pod, jiff::Timestamp};

use super::pods::{
    is_created, is_finished, is_running_and_available, is_running_and_ready, is_terminating, revision_of,
};

/// How pods are replaced when the template changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Strategy {
    /// Only pods deleted by someone else are recreated at the new revision.
    OnDelete,
    /// Replaced from the highest ordinal down to `partition` (an index from the start
    /// ordinal); `max_unavailable` (already resolved against replicas) when set.
    Rolling {
        partition: i32,
        max_unavailable: Option<i32>,
    },
}

/// Everything a sync decides on.
pub(crate) struct Input<'a> {
    /// The set's name.
    pub set: &'a str,
    /// `spec.replicas`.
    pub replicas: i32,
    /// `spec.ordinals.start`.
    pub start: i32,
    /// `podManagementPolicy: Parallel`.
    pub parallel: bool,
    /// The pods the set owns.
    pub pods: Vec<&'a Pod>,
    /// The current revision's name.
    pub current: &'a str,
    /// The update revision's name.
    pub update: &'a str,
    /// The update strategy.
    pub strategy: Strategy,
    /// `spec.minReadySeconds`.
    pub min_ready_seconds: i32,
    /// The time of the sync.
    pub now: Timestamp,
    /// Ordinals with a claim still being deleted: their pod waits (upstream's stale claim).
    pub stale_claims: HashSet<i32>,
    /// Ordinals whose claims are missing or have the wrong owners.
    pub claims_to_fix: HashSet<i32>,
}

/// Which revision's template a new pod is made from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Revision {
    /// `status.currentRevision`.
    Current,
    /// `status.updateRevision`.
    Update,
}

/// Why a pod is deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Why {
    /// It finished and is recreated.
    Finished,
    /// Its ordinal is beyond the range.
    ScaleDown,
    /// It is not at the update revision.
    Update,
}

/// One thing to do, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Create the claims and the pod of an ordinal.
    Create { ordinal: i32, revision: Revision },
    /// Delete a pod.
    Delete { name: String, ordinal: i32, why: Why },
    /// Add missing identity labels to a pod.
    FixIdentity { name: String, ordinal: i32 },
    /// Create missing claims of an ordinal and set their owners.
    FixClaims { name: String, ordinal: i32 },
}

/// A slot of the ordinal range: the pod there, or the revision a new one would have.
#[derive(Clone, Copy)]
enum Slot<'a> {
    Pod(&'a Pod),
    Missing(Revision),
}

impl Slot<'_> {
    fn healthy(&self) -> bool {
        matches!(self, Slot::Pod(p) if is_running_and_ready(p) && !is_terminating(p))
    }
    fn revision<'r>(&self, input: &'r Input<'_>) -> &'r str {
        match self {
            Slot::Pod(p) => {
                // The pod outlives this borrow of the input only through its name.
                if revision_of(p) == input.update {
                    input.update
                } else if revision_of(p) == input.current {
                    input.current
                } else {
                    ""
                }
            }
            Slot::Missing(Revision::Update) => input.update,
            Slot::Missing(Revision::Current) => input.current,
        }
    }
    fn terminating(&self) -> bool {
        matches!(self, Slot::Pod(p) if is_terminating(p))
    }
}

/// The revision a new pod of index `index` (from the start) is made from.
fn new_pod_revision(input: &Input<'_>, index: i32) -> Revision {
    match input.strategy {
        Strategy::Rolling { partition, .. } if index < partition => Revision::Current,
        _ => Revision::Update,
    }
}

/// The steps of one sync, in order; a step that fails ends the sync.
pub(crate) fn plan(input: &Input<'_>) -> Vec<Step> {
    let count = usize::try_from(input.replicas.max(0)).unwrap_or(0);
    let mut slots: Vec<Slot<'_>> = (0..input.replicas.max(0))
        .map(|i| Slot::Missing(new_pod_revision(input, i)))
        .collect();
    let mut condemned: Vec<(i32, &Pod)> = Vec::new();
    for p in &input.pods {
        let Some(ord) = p
            .metadata
            .name
            .as_deref()
            .and_then(super::pods::parent_and_ordinal)
            .filter(|(parent, _)| *parent == input.set)
            .map(|(_, o)| o)
        else {
            continue;
        };
        let index = i64::from(ord) - i64::from(input.start);
        match usize::try_from(index) {
            Ok(i) if i < count => slots[i] = Slot::Pod(p),
            _ => condemned.push((ord, p)),
        }
    }
    condemned.sort_by_key(|c| std::cmp::Reverse(c.0));
    let monotonic = !input.parallel;
    let mut steps = Vec::new();

    // 1. Every ordinal in range.
    for (i, slot) in slots.iter().enumerate() {
        let ordinal = input.start + i32::try_from(i).unwrap_or(i32::MAX);
        let stop = match slot {
            Slot::Pod(p) if is_finished(p) => {
                if !is_terminating(p) {
                    steps.push(Step::Delete {
                        name: p.metadata.name.clone().unwrap_or_default(),
                        ordinal,
                        why: Why::Finished,
                    });
                }
                true
            }
            Slot::Missing(revision) => {
                if input.stale_claims.contains(&ordinal) {
                    true
                } else {
                    steps.push(Step::Create {
                        ordinal,
                        revision: *revision,
                    });
                    monotonic
                }
            }
            Slot::Pod(p) if !is_created(p) => monotonic,
            Slot::Pod(p) => {
                let name = p.metadata.name.clone().unwrap_or_default();
                if monotonic
                    && (is_terminating(p)
                        || !is_running_and_ready(p)
                        || !is_running_and_available(p, input.min_ready_seconds, input.now))
                {
                    // Claims of a pending pod are still made, so it can start.
                    if input.claims_to_fix.contains(&ordinal) && !is_terminating(p) {
                        steps.push(Step::FixClaims { name, ordinal });
                    }
                    true
                } else {
                    if !super::identity::missing_identity(p, ordinal).is_empty() {
                        steps.push(Step::FixIdentity {
                            name: name.clone(),
                            ordinal,
                        });
                    }
                    if input.claims_to_fix.contains(&ordinal) && !is_terminating(p) {
                        steps.push(Step::FixClaims { name, ordinal });
                    }
                    false
                }
            }
        };
        if stop && monotonic {
            return steps;
        }
    }

    // 2. Pods beyond the range: claims first (so a whenScaled policy applies), then the
    // pods, highest ordinal first.
    for (ord, p) in &condemned {
        if input.claims_to_fix.contains(ord) && !is_terminating(p) {
            steps.push(Step::FixClaims {
                name: p.metadata.name.clone().unwrap_or_default(),
                ordinal: *ord,
            });
        }
    }
    let first_unhealthy: Option<usize> = {
        // Index into `condemned` of the first unhealthy pod in upstream's order (slots,
        // then condemned from the lowest ordinal), if that pod is a condemned one.
        if slots.iter().any(|s| !s.healthy()) {
            None
        } else {
            (0..condemned.len())
                .rev()
                .find(|&i| !is_running_and_ready(condemned[i].1) || is_terminating(condemned[i].1))
        }
    };
    for (i, (ord, p)) in condemned.iter().enumerate() {
        if is_terminating(p) {
            if monotonic {
                return steps;
            }
            continue;
        }
        let healthy =
            is_running_and_ready(p) && is_running_and_available(p, input.min_ready_seconds, input.now);
        if monotonic && !healthy && first_unhealthy != Some(i) {
            return steps;
        }
        steps.push(Step::Delete {
            name: p.metadata.name.clone().unwrap_or_default(),
            ordinal: *ord,
            why: Why::ScaleDown,
        });
        if monotonic {
            return steps;
        }
    }

    // 3. The update.
    let Strategy::Rolling {
        partition,
        max_unavailable,
    } = input.strategy
    else {
        return steps;
    };
    let update_min = usize::try_from(partition.max(0)).unwrap_or(0);
    let outdated = |s: &Slot<'_>| s.revision(input) != input.update && !s.terminating();
    let pod_of = |i: usize| match slots[i] {
        Slot::Pod(p) => Some(p),
        Slot::Missing(_) => None,
    };
    let delete = |i: usize| {
        pod_of(i).map(|p| Step::Delete {
            name: p.metadata.name.clone().unwrap_or_default(),
            ordinal: input.start + i32::try_from(i).unwrap_or(i32::MAX),
            why: Why::Update,
        })
    };
    match max_unavailable {
        None => {
            for i in (update_min..count).rev() {
                if outdated(&slots[i]) {
                    steps.extend(delete(i));
                    return steps;
                }
                if !slots[i].healthy() {
                    return steps;
                }
            }
        }
        Some(max) => {
            let unavailable = slots.iter().filter(|s| !s.healthy()).count();
            let budget = usize::try_from(max.max(1))
                .unwrap_or(1)
                .saturating_sub(unavailable);
            let victims: Vec<usize> = (update_min..count)
                .rev()
                .filter(|&i| outdated(&slots[i]) && pod_of(i).is_some())
                .take(budget)
                .collect();
            steps.extend(victims.into_iter().filter_map(delete));
        }
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::super::identity::{POD_INDEX_LABEL, POD_NAME_LABEL};
    use super::*;

    /// A pod of the set with its identity labels.
    fn pod(name: &str, phase: &str, ready_at: Option<i64>, rev: &str) -> Pod {
        let mut p = super::super::pods::tests::pod(name, phase, ready_at, rev);
        let ord = super::super::pods::parent_and_ordinal(name).map_or(0, |(_, o)| o);
        if let Some(l) = p.metadata.labels.as_mut() {
            l.insert(POD_NAME_LABEL.into(), name.into());
            l.insert(POD_INDEX_LABEL.into(), ord.to_string());
        }
        p
    }

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap_or_default()
    }

    fn input<'a>(pods: &'a [Pod], replicas: i32, parallel: bool, strategy: Strategy) -> Input<'a> {
        Input {
            set: "web",
            replicas,
            start: 0,
            parallel,
            pods: pods.iter().collect(),
            current: "r1",
            update: "r1",
            strategy,
            min_ready_seconds: 0,
            now: at(1000),
            stale_claims: HashSet::new(),
            claims_to_fix: HashSet::new(),
        }
    }

    const ROLL: Strategy = Strategy::Rolling {
        partition: 0,
        max_unavailable: None,
    };

    fn ready(name: &str, rev: &str) -> Pod {
        pod(name, "Running", Some(1), rev)
    }

    fn create(ordinal: i32, revision: Revision) -> Step {
        Step::Create { ordinal, revision }
    }

    fn delete(name: &str, ordinal: i32, why: Why) -> Step {
        Step::Delete {
            name: name.into(),
            ordinal,
            why,
        }
    }

    #[test]
    fn ordered_ready_creates_one_at_a_time() {
        assert_eq!(plan(&input(&[], 3, false, ROLL)), [create(0, Revision::Update)]);
        let pending = [pod("web-0", "Pending", None, "r1")];
        assert!(
            plan(&input(&pending, 3, false, ROLL)).is_empty(),
            "waits for web-0"
        );
        let one = [ready("web-0", "r1")];
        assert_eq!(plan(&input(&one, 3, false, ROLL)), [create(1, Revision::Update)]);
        let mut slow = input(&one, 3, false, ROLL);
        slow.min_ready_seconds = 5000;
        assert!(plan(&slow).is_empty(), "waits for minReadySeconds");
    }

    #[test]
    fn parallel_creates_all_at_once() {
        let one = [pod("web-1", "Pending", None, "r1")];
        assert_eq!(
            plan(&input(&one, 3, true, ROLL)),
            [create(0, Revision::Update), create(2, Revision::Update)]
        );
    }

    #[test]
    fn start_ordinal_and_stale_claims() {
        let mut i = input(&[], 2, false, ROLL);
        i.start = 5;
        assert_eq!(plan(&i), [create(5, Revision::Update)]);
        i.stale_claims.insert(5);
        assert!(plan(&i).is_empty(), "waits until the old claim is gone");
    }

    #[test]
    fn finished_pods_are_recreated() {
        let pods = [pod("web-0", "Failed", None, "r1"), ready("web-1", "r1")];
        assert_eq!(
            plan(&input(&pods, 2, false, ROLL)),
            [delete("web-0", 0, Why::Finished)]
        );
    }

    #[test]
    fn scale_down_goes_from_the_highest_ordinal_one_at_a_time() {
        let pods = [
            ready("web-0", "r1"),
            ready("web-1", "r1"),
            ready("web-2", "r1"),
            ready("web-3", "r1"),
        ];
        assert_eq!(
            plan(&input(&pods, 2, false, ROLL)),
            [delete("web-3", 3, Why::ScaleDown)]
        );
        let mut dying = pods.clone();
        dying[3].metadata.deletion_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(at(1)));
        assert!(
            plan(&input(&dying, 2, false, ROLL)).is_empty(),
            "waits for web-3 to go"
        );
        assert_eq!(
            plan(&input(&pods, 2, true, ROLL)),
            [
                delete("web-3", 3, Why::ScaleDown),
                delete("web-2", 2, Why::ScaleDown)
            ]
        );
        // An unhealthy pod in range blocks ordered scale-down.
        let mut sick = pods.clone();
        sick[0] = pod("web-0", "Running", None, "r1");
        assert!(plan(&input(&sick, 2, false, ROLL)).is_empty());
    }

    #[test]
    fn rolling_update_respects_the_partition() {
        let pods = [ready("web-0", "r1"), ready("web-1", "r1"), ready("web-2", "r1")];
        let mut i = input(&pods, 3, false, ROLL);
        i.update = "r2";
        assert_eq!(plan(&i), [delete("web-2", 2, Why::Update)]);
        let updated = [ready("web-0", "r1"), ready("web-1", "r1"), ready("web-2", "r2")];
        let mut i = input(&updated, 3, false, ROLL);
        i.update = "r2";
        assert_eq!(plan(&i), [delete("web-1", 1, Why::Update)]);
        i.strategy = Strategy::Rolling {
            partition: 2,
            max_unavailable: None,
        };
        assert!(
            plan(&i).is_empty(),
            "ordinals below the partition keep their revision"
        );
        // A pod below the partition that is missing comes back at the current revision.
        let gone = [ready("web-1", "r1"), ready("web-2", "r2")];
        let mut i = input(&gone, 3, false, i.strategy);
        i.update = "r2";
        assert_eq!(plan(&i), [create(0, Revision::Current)]);
    }

    #[test]
    fn max_unavailable_deletes_several() {
        let pods = [ready("web-0", "r1"), ready("web-1", "r1"), ready("web-2", "r1")];
        let mut i = input(
            &pods,
            3,
            true,
            Strategy::Rolling {
                partition: 0,
                max_unavailable: Some(2),
            },
        );
        i.update = "r2";
        assert_eq!(
            plan(&i),
            [delete("web-2", 2, Why::Update), delete("web-1", 1, Why::Update)]
        );
    }

    #[test]
    fn on_delete_leaves_old_pods() {
        let pods = [ready("web-0", "r1")];
        let mut i = input(&pods, 1, false, Strategy::OnDelete);
        i.update = "r2";
        assert!(plan(&i).is_empty());
        let mut i = input(&[], 1, false, Strategy::OnDelete);
        i.update = "r2";
        assert_eq!(plan(&i), [create(0, Revision::Update)]);
    }

    #[test]
    fn identity_and_claims_are_repaired() {
        let mut p = ready("web-0", "r1");
        p.metadata.labels = Some([(crate::history::POD_REVISION_LABEL.to_string(), "r1".to_string())].into());
        let pods = [p];
        let mut i = input(&pods, 1, false, ROLL);
        i.claims_to_fix.insert(0);
        assert_eq!(
            plan(&i),
            [
                Step::FixIdentity {
                    name: "web-0".into(),
                    ordinal: 0
                },
                Step::FixClaims {
                    name: "web-0".into(),
                    ordinal: 0
                }
            ]
        );
    }
}
