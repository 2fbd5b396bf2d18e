//! What the runtime reports, in the pod worker's terms: the newest instance of each
//! container with how the one before it ended, and which pods changed between two
//! listings. Pure.

use std::collections::{BTreeMap, HashMap};

use krust_cri::v1;

use crate::runtime::{ContainerRuntimeStatus, ContainerState, Termination};

/// A CRI timestamp (nanoseconds since the epoch).
pub(crate) fn timestamp(nanos: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_nanosecond(i128::from(nanos)).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

fn termination(s: &v1::ContainerStatus) -> Termination {
    Termination {
        id: format!("containerd://{}", s.id),
        started_at: timestamp(s.started_at),
        finished_at: timestamp(s.finished_at),
        exit_code: s.exit_code,
        reason: (!s.reason.is_empty()).then(|| s.reason.clone()),
        message: None,
    }
}

fn attempt(s: &v1::ContainerStatus) -> u32 {
    s.metadata.as_ref().map_or(0, |m| m.attempt)
}

/// The newest instance of each container, with the one before it as its `previous`
/// when that one ended.
pub(crate) fn latest_instances(statuses: Vec<v1::ContainerStatus>) -> Vec<ContainerRuntimeStatus> {
    let mut by_name: BTreeMap<String, Vec<v1::ContainerStatus>> = BTreeMap::new();
    for s in statuses {
        let name = s.metadata.as_ref().map(|m| m.name.clone()).unwrap_or_default();
        by_name.entry(name).or_default().push(s);
    }
    by_name
        .into_iter()
        .filter_map(|(name, mut instances)| {
            instances.sort_by_key(|s| std::cmp::Reverse(attempt(s)));
            let mut it = instances.into_iter();
            let newest = it.next()?;
            let previous = it
                .next()
                .filter(|p| p.state == v1::ContainerState::ContainerExited as i32)
                .map(|p| termination(&p));
            let state = match v1::ContainerState::try_from(newest.state) {
                Ok(v1::ContainerState::ContainerRunning) => ContainerState::Running {
                    started_at: timestamp(newest.started_at),
                },
                Ok(v1::ContainerState::ContainerExited) => ContainerState::Exited(termination(&newest)),
                // Unknown: the shim lost track of it; counts as ended so it is replaced.
                Ok(v1::ContainerState::ContainerUnknown) => ContainerState::Exited(Termination {
                    reason: Some("Unknown".into()),
                    exit_code: if newest.exit_code == 0 {
                        255
                    } else {
                        newest.exit_code
                    },
                    ..termination(&newest)
                }),
                _ => ContainerState::Created,
            };
            Some(ContainerRuntimeStatus {
                name,
                id: format!("containerd://{}", newest.id),
                image_ref: newest.image_ref.clone(),
                attempt: attempt(&newest),
                state,
                previous,
            })
        })
        .collect()
}

/// The pods (uids) with a container whose state changed between two listings, that went
/// away, or that appeared already exited (it ran and ended between two listings).
/// Containers that appeared otherwise are left out: the agent made them itself.
pub(crate) fn changed_pods(
    before: &HashMap<String, (i32, String)>,
    now: &HashMap<String, (i32, String)>,
) -> Vec<String> {
    let exited = v1::ContainerState::ContainerExited as i32;
    let changed = before
        .iter()
        .filter(|(id, (state, _))| now.get(*id).is_none_or(|(s, _)| s != state))
        .map(|(_, (_, uid))| uid);
    let ended_unseen = now
        .iter()
        .filter(|(id, (state, _))| *state == exited && !before.contains_key(*id))
        .map(|(_, (_, uid))| uid);
    let mut out: Vec<String> = changed
        .chain(ended_unseen)
        .filter(|uid| !uid.is_empty())
        .cloned()
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(name: &str, attempt: u32, state: v1::ContainerState, code: i32) -> v1::ContainerStatus {
        v1::ContainerStatus {
            id: format!("{name}-{attempt}"),
            metadata: Some(v1::ContainerMetadata {
                name: name.into(),
                attempt,
            }),
            state: state as i32,
            started_at: 1_700_000_000_000_000_000,
            finished_at: 1_700_000_005_000_000_000,
            exit_code: code,
            reason: if code == 0 {
                "Completed".into()
            } else {
                "Error".into()
            },
            image_ref: "sha256:abc".into(),
            ..Default::default()
        }
    }

    #[test]
    fn newest_instance_with_the_previous_termination() {
        use v1::ContainerState::*;
        let got = latest_instances(vec![
            status("web", 0, ContainerExited, 1),
            status("web", 2, ContainerRunning, 0),
            status("web", 1, ContainerExited, 137),
            status("init", 0, ContainerExited, 0),
        ]);
        assert_eq!(got.len(), 2);
        let init = &got[0];
        assert_eq!(init.name, "init");
        assert!(
            matches!(&init.state, ContainerState::Exited(t) if t.exit_code == 0 && t.reason.as_deref() == Some("Completed"))
        );
        let web = &got[1];
        assert_eq!((web.attempt, web.id.as_str()), (2, "containerd://web-2"));
        assert!(matches!(web.state, ContainerState::Running { .. }));
        let prev = web.previous.as_ref().unwrap();
        assert_eq!((prev.exit_code, prev.id.as_str()), (137, "containerd://web-1"));
        assert_eq!(prev.finished_at.as_second(), 1_700_000_005);
    }

    #[test]
    fn state_changes_and_disappearances_wake_their_pods() {
        let running = v1::ContainerState::ContainerRunning as i32;
        let exited = v1::ContainerState::ContainerExited as i32;
        let before = HashMap::from([
            ("a".to_string(), (running, "p1".to_string())),
            ("b".to_string(), (running, "p2".to_string())),
            ("c".to_string(), (running, "p3".to_string())),
        ]);
        let now = HashMap::from([
            ("a".to_string(), (exited, "p1".to_string())),
            ("b".to_string(), (running, "p2".to_string())),
            ("d".to_string(), (running, "p4".to_string())),
            ("e".to_string(), (exited, "p5".to_string())),
        ]);
        assert_eq!(changed_pods(&before, &now), vec!["p1", "p3", "p5"]);
    }
}
