//! What one sync of a DaemonSet does, decided as upstream's `manage` and `rollingUpdate`
//! decide it, as pure functions of the nodes and the pods on each:
//!
//! - a node the pod belongs on without a pod gets one; failed pods are listed apart, to
//!   be deleted (and replaced next time) as the failed-pod back-off (`backoff`) allows,
//!   succeeded ones are deleted; a node with several pods keeps the oldest (with maxSurge: the
//!   oldest new one while it is not yet available and the old one is Ready); pods on nodes
//!   they no longer belong on, or on nodes that are gone, are deleted;
//! - RollingUpdate without surge deletes old pods while at most maxUnavailable daemon pods
//!   are unavailable (an unavailable old pod is replaced at once); with maxSurge it starts
//!   a new pod next to an old one on up to maxSurge nodes and deletes the old one once the
//!   new one is available.

use std::collections::BTreeMap;

use k8s_openapi::{api::core::v1::Pod, jiff::Timestamp};

use super::backoff::FailedPod;
use super::placement::Fit;
use crate::statefulset::pods::{is_available, is_failed, is_finished, is_ready, is_terminating, revision_of};

/// Pods on each node (by target node) and whether each node wants one.
pub(crate) struct Nodes<'a> {
    /// Every existing node and its fit.
    pub fit: BTreeMap<String, Fit>,
    /// The set's pods by target node (pods without one are not listed).
    pub pods: BTreeMap<String, Vec<&'a Pod>>,
}

/// Creates and deletes of one sync.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Changes {
    /// Nodes to create a pod on.
    pub create_on: Vec<String>,
    /// Pods to delete, by name.
    pub delete: Vec<String>,
    /// Failed pods on nodes they may stay on: deleted only as the back-off allows.
    pub failed: Vec<FailedPod>,
}

impl Changes {
    /// Nothing to create or delete (failed pods still waiting for their back-off do not
    /// count).
    pub(crate) fn is_empty(&self) -> bool {
        self.create_on.is_empty() && self.delete.is_empty()
    }
}

fn name(p: &Pod) -> String {
    p.metadata.name.clone().unwrap_or_default()
}

/// Oldest first, as upstream's `podByCreationTimestampAndPhase` (then by name).
fn oldest_first(pods: &mut [&Pod]) {
    pods.sort_by(|a, b| {
        a.metadata
            .creation_timestamp
            .as_ref()
            .map(|t| t.0)
            .cmp(&b.metadata.creation_timestamp.as_ref().map(|t| t.0))
            .then_with(|| a.metadata.name.cmp(&b.metadata.name))
    });
}

/// Upstream's `manage`: pods where they belong, none elsewhere.
pub(crate) fn manage(nodes: &Nodes<'_>, hash: &str, surge: bool, min_ready: i32, now: Timestamp) -> Changes {
    let mut c = Changes::default();
    for (node, fit) in &nodes.fit {
        let pods: Vec<&Pod> = nodes
            .pods
            .get(node)
            .map(|v| {
                v.iter()
                    .copied()
                    .filter(|p| !(is_finished(p) && is_terminating(p)))
                    .collect()
            })
            .unwrap_or_default();
        if fit.should_run && pods.is_empty() {
            c.create_on.push(node.clone());
        } else if fit.should_continue {
            let mut running: Vec<&Pod> = Vec::new();
            for p in pods.iter().copied().filter(|p| !is_terminating(p)) {
                if is_failed(p) {
                    c.failed.push(FailedPod {
                        node: node.clone(),
                        pod: name(p),
                    });
                } else if is_finished(p) {
                    c.delete.push(name(p));
                } else {
                    running.push(p);
                }
            }
            oldest_first(&mut running);
            if !surge {
                c.delete.extend(running.iter().skip(1).map(|p| name(p)));
            } else {
                let (mut new, mut old) = (None, None);
                for p in running {
                    let slot = if revision_of(p) == hash {
                        &mut new
                    } else {
                        &mut old
                    };
                    if slot.is_none() {
                        *slot = Some(p);
                    } else {
                        c.delete.push(name(p));
                    }
                }
                if let (Some(new), Some(old)) = (new, old)
                    && (!is_ready(old) || is_available(new, min_ready, now))
                {
                    c.delete.push(name(old));
                }
            }
        } else {
            c.delete
                .extend(pods.iter().filter(|p| !is_terminating(p)).map(|p| name(p)));
        }
    }
    // Pods pinned to nodes that do not exist.
    for (node, pods) in &nodes.pods {
        if !nodes.fit.contains_key(node) {
            c.delete
                .extend(pods.iter().filter(|p| !is_terminating(p)).map(|p| name(p)));
        }
    }
    c
}

/// The new and the old pod on a node; `None` when there are several of either.
fn new_and_old<'a>(pods: &[&'a Pod], hash: &str) -> Option<(Option<&'a Pod>, Option<&'a Pod>)> {
    let (mut new, mut old) = (None, None);
    for p in pods.iter().copied().filter(|p| !is_terminating(p)) {
        let slot = if revision_of(p) == hash {
            &mut new
        } else {
            &mut old
        };
        if slot.is_some() {
            return None;
        }
        *slot = Some(p);
    }
    Some((new, old))
}

/// Upstream's `rollingUpdate` with resolved `max_surge` and `max_unavailable`.
pub(crate) fn rolling_update(
    nodes: &Nodes<'_>,
    hash: &str,
    max_surge: i32,
    max_unavailable: i32,
    min_ready: i32,
    now: Timestamp,
) -> Changes {
    let mut c = Changes::default();
    let available = |p: &Pod| is_available(p, min_ready, now);
    if max_surge == 0 {
        let mut unavailable = 0;
        let mut replace_now = Vec::new();
        let mut candidates = Vec::new();
        for pods in nodes.pods.values() {
            let Some((new, old)) = new_and_old(pods, hash) else {
                unavailable += 1;
                continue;
            };
            match (new, old) {
                (None, None) | (Some(_), Some(_)) => unavailable += 1,
                (Some(n), None) => {
                    if !available(n) {
                        unavailable += 1;
                    }
                }
                (None, Some(o)) => {
                    if !available(o) {
                        replace_now.push(name(o));
                    } else if unavailable < max_unavailable {
                        candidates.push(name(o));
                    }
                }
            }
        }
        let room = usize::try_from((max_unavailable - unavailable).max(0)).unwrap_or(0);
        c.delete = replace_now;
        c.delete.extend(candidates.into_iter().take(room));
        return c;
    }
    let mut surging = 0;
    for (node, pods) in &nodes.pods {
        let Some((new, old)) = new_and_old(pods, hash) else {
            surging += 1;
            continue;
        };
        match (new, old) {
            (_, None) => {}
            (None, Some(o)) => {
                if !nodes.fit.get(node).is_some_and(|f| f.should_run) {
                    continue;
                }
                if !available(o) {
                    c.create_on.push(node.clone());
                } else if surging < max_surge {
                    surging += 1;
                    c.create_on.push(node.clone());
                }
            }
            (Some(n), Some(o)) => {
                if available(n) {
                    c.delete.push(name(o));
                } else {
                    surging += 1;
                }
            }
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::statefulset::pods::tests::pod;

    const RUN: Fit = Fit {
        should_run: true,
        should_continue: true,
    };
    const STAY: Fit = Fit {
        should_run: false,
        should_continue: true,
    };
    const OUT: Fit = Fit {
        should_run: false,
        should_continue: false,
    };

    fn now() -> Timestamp {
        Timestamp::from_second(1000).unwrap_or_default()
    }

    fn nodes<'a>(fit: &[(&str, Fit)], pods: &'a [(&str, Pod)]) -> Nodes<'a> {
        let mut by_node: BTreeMap<String, Vec<&Pod>> = BTreeMap::new();
        for (n, p) in pods {
            by_node.entry(n.to_string()).or_default().push(p);
        }
        Nodes {
            fit: fit.iter().map(|(n, f)| (n.to_string(), *f)).collect(),
            pods: by_node,
        }
    }

    fn ready(name: &str, rev: &str) -> Pod {
        pod(name, "Running", Some(1), rev)
    }

    #[test]
    fn one_pod_per_eligible_node() {
        let pods = [
            ("a", ready("p-a", "h1")),
            ("b", ready("p-b", "h1")),
            ("c", ready("p-c", "h1")),
            ("gone", ready("p-gone", "h1")),
            ("d", ready("p-d1", "h1")),
            ("d", ready("p-d2", "h1")),
            ("e", pod("p-e", "Failed", None, "h1")),
            ("f", pod("p-f", "Succeeded", None, "h1")),
            ("c", pod("p-c2", "Failed", None, "h1")),
        ];
        let n = nodes(
            &[
                ("a", RUN),
                ("b", STAY),
                ("c", OUT),
                ("d", RUN),
                ("e", RUN),
                ("f", RUN),
                ("new", RUN),
            ],
            &pods,
        );
        let c = manage(&n, "h1", false, 0, now());
        assert_eq!(c.create_on, ["new"]);
        let mut deleted = c.delete.clone();
        deleted.sort();
        assert_eq!(deleted, ["p-c", "p-c2", "p-d2", "p-f", "p-gone"]);
        // A failed pod where one belongs waits for the back-off; one where none belongs
        // goes at once.
        assert_eq!(
            c.failed,
            [FailedPod {
                node: "e".into(),
                pod: "p-e".into()
            }]
        );
    }

    #[test]
    fn surge_keeps_old_until_new_is_available() {
        let pods = [
            ("a", ready("old", "h1")),
            ("a", pod("new", "Running", None, "h2")),
        ];
        let n = nodes(&[("a", RUN)], &pods);
        assert!(manage(&n, "h2", true, 0, now()).is_empty());
        let pods = [("a", ready("old", "h1")), ("a", ready("new", "h2"))];
        let n = nodes(&[("a", RUN)], &pods);
        assert_eq!(manage(&n, "h2", true, 0, now()).delete, ["old"]);
    }

    #[test]
    fn rolling_update_within_max_unavailable() {
        let pods = [
            ("a", ready("pa", "h1")),
            ("b", ready("pb", "h1")),
            ("c", ready("pc", "h1")),
        ];
        let n = nodes(&[("a", RUN), ("b", RUN), ("c", RUN)], &pods);
        assert_eq!(rolling_update(&n, "h2", 0, 1, 0, now()).delete, ["pa"]);
        assert_eq!(rolling_update(&n, "h2", 0, 2, 0, now()).delete, ["pa", "pb"]);
        // One node already without its pod counts as unavailable.
        let pods = [
            ("a", ready("pa", "h2")),
            ("b", pod("pb", "Pending", None, "h2")),
            ("c", ready("pc", "h1")),
        ];
        let n = nodes(&[("a", RUN), ("b", RUN), ("c", RUN)], &pods);
        assert!(rolling_update(&n, "h2", 0, 1, 0, now()).is_empty());
        // An unavailable old pod is replaced regardless.
        let pods = [
            ("a", pod("pa", "Running", None, "h1")),
            ("b", pod("pb", "Pending", None, "h2")),
        ];
        let n = nodes(&[("a", RUN), ("b", RUN)], &pods);
        assert_eq!(rolling_update(&n, "h2", 0, 1, 0, now()).delete, ["pa"]);
    }

    #[test]
    fn rolling_update_with_surge() {
        let pods = [("a", ready("pa", "h1")), ("b", ready("pb", "h1"))];
        let n = nodes(&[("a", RUN), ("b", RUN)], &pods);
        assert_eq!(rolling_update(&n, "h2", 1, 0, 0, now()).create_on, ["a"]);
        let pods = [
            ("a", ready("pa", "h1")),
            ("a", ready("na", "h2")),
            ("b", ready("pb", "h1")),
        ];
        let n = nodes(&[("a", RUN), ("b", RUN)], &pods);
        let c = rolling_update(&n, "h2", 1, 0, 0, now());
        assert_eq!(
            (c.delete, c.create_on),
            (vec!["pa".to_string()], vec!["b".to_string()])
        );
    }
}
