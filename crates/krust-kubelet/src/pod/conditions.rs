//! The pod conditions the kubelet owns: `PodReadyToStartContainers`, `Initialized`,
//! `ContainersReady`, `Ready` (which also needs every readiness gate's condition to be
//! `True`) and `PodScheduled` when nobody set it. Conditions owned by others (readiness gate
//! conditions, `DisruptionTarget`, ...) are kept as they are, and a condition whose status
//! did not change keeps its `lastTransitionTime`, so recomputing changes nothing.

use k8s_openapi::api::core::v1::{ContainerStatus, Pod, PodCondition};

use crate::clock::time;

/// What the conditions are computed from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Inputs<'a> {
    pub pod: &'a Pod,
    pub phase: &'a str,
    pub sandbox_ready: bool,
    pub init: &'a [ContainerStatus],
    pub apps: &'a [ContainerStatus],
    /// Which init containers are sidecars (same order as `init`).
    pub sidecars: &'a [bool],
    pub now: jiff::Timestamp,
}

fn completed(s: &ContainerStatus) -> bool {
    s.state
        .as_ref()
        .and_then(|st| st.terminated.as_ref())
        .is_some_and(|t| t.exit_code == 0)
}

fn names(list: &[&str]) -> String {
    format!("[{}]", list.join(" "))
}

/// Init containers that keep the pod from being initialized.
pub(crate) fn incomplete_init<'a>(init: &'a [ContainerStatus], sidecars: &[bool]) -> Vec<&'a str> {
    init.iter()
        .zip(sidecars.iter().copied().chain(std::iter::repeat(false)))
        .filter(|(s, sidecar)| {
            if *sidecar {
                s.started != Some(true)
            } else {
                !completed(s)
            }
        })
        .map(|(s, _)| s.name.as_str())
        .collect()
}

/// What the readiness gates say: `None` when all are `True`, else why not.
fn gates_message(pod: &Pod) -> Option<String> {
    let gates = pod
        .spec
        .as_ref()
        .and_then(|s| s.readiness_gates.as_deref())
        .unwrap_or_default();
    let conditions = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default();
    let problems: Vec<String> = gates
        .iter()
        .filter_map(
            |g| match conditions.iter().find(|c| c.type_ == g.condition_type) {
                None => Some(format!(
                    "corresponding condition of pod readiness gate {:?} does not exist.",
                    g.condition_type
                )),
                Some(c) if c.status != "True" => Some(format!(
                    "the status of pod readiness gate {:?} is not \"True\", but {}",
                    g.condition_type, c.status
                )),
                Some(_) => None,
            },
        )
        .collect();
    (!problems.is_empty()).then(|| problems.join(", "))
}

/// Sets one condition in `list`, keeping its transition time if its status is unchanged.
fn set(
    list: &mut Vec<PodCondition>,
    type_: &str,
    ok: bool,
    why: Option<(&str, Option<String>)>,
    now: jiff::Timestamp,
) {
    let status = if ok { "True" } else { "False" };
    let (reason, message) = match why {
        Some((r, m)) if !ok => (Some(r.to_string()), m),
        _ => (None, None),
    };
    match list.iter_mut().find(|c| c.type_ == type_) {
        Some(c) => {
            if c.status != status {
                c.last_transition_time = Some(time(now));
            }
            c.status = status.into();
            c.reason = reason;
            c.message = message;
        }
        None => list.push(PodCondition {
            type_: type_.into(),
            status: status.into(),
            reason,
            message,
            last_transition_time: Some(time(now)),
            ..Default::default()
        }),
    }
}

/// The pod's conditions after this sync.
pub(crate) fn conditions(i: &Inputs<'_>) -> Vec<PodCondition> {
    let mut list = i
        .pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    set(
        &mut list,
        "PodReadyToStartContainers",
        i.sandbox_ready,
        None,
        i.now,
    );

    let incomplete = incomplete_init(i.init, i.sidecars);
    let why = Some((
        "ContainersNotInitialized",
        Some(format!(
            "containers with incomplete status: {}",
            names(&incomplete)
        )),
    ));
    set(&mut list, "Initialized", incomplete.is_empty(), why, i.now);

    let unready: Vec<&str> = i
        .apps
        .iter()
        .filter(|s| !s.ready)
        .map(|s| s.name.as_str())
        .collect();
    let containers_why = if i.phase == "Succeeded" {
        ("PodCompleted", None)
    } else {
        (
            "ContainersNotReady",
            Some(format!("containers with unready status: {}", names(&unready))),
        )
    };
    let containers_ready = unready.is_empty() && i.phase != "Succeeded";
    let gates = gates_message(i.pod);
    let ready_why = match (&gates, containers_ready) {
        (Some(m), true) => ("ReadinessGatesNotReady", Some(m.clone())),
        _ => containers_why.clone(),
    };
    set(
        &mut list,
        "Ready",
        containers_ready && gates.is_none(),
        Some(ready_why),
        i.now,
    );
    set(
        &mut list,
        "ContainersReady",
        containers_ready,
        Some(containers_why),
        i.now,
    );
    if !list.iter().any(|c| c.type_ == "PodScheduled") {
        set(&mut list, "PodScheduled", true, None, i.now);
    }
    list
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn status(name: &str, ready: bool) -> ContainerStatus {
        ContainerStatus {
            name: name.into(),
            ready,
            started: Some(ready),
            ..Default::default()
        }
    }

    fn get<'a>(list: &'a [PodCondition], t: &str) -> &'a PodCondition {
        list.iter().find(|c| c.type_ == t).unwrap()
    }

    fn pod(extra: serde_json::Value) -> Pod {
        let mut p = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a"}]}});
        if let Some(o) = extra.as_object() {
            for (k, v) in o {
                p[k] = v.clone();
            }
        }
        serde_json::from_value(p).unwrap()
    }

    fn inputs<'a>(p: &'a Pod, phase: &'a str, apps: &'a [ContainerStatus], now: &str) -> Inputs<'a> {
        Inputs {
            pod: p,
            phase,
            sandbox_ready: true,
            init: &[],
            apps,
            sidecars: &[],
            now: now.parse().unwrap(),
        }
    }

    #[test]
    fn all_true_when_running_and_ready() {
        let p = pod(json!({}));
        let apps = [status("a", true)];
        let list = conditions(&inputs(&p, "Running", &apps, "2025-01-01T00:00:00Z"));
        let types: Vec<&str> = list.iter().map(|c| c.type_.as_str()).collect();
        assert_eq!(
            types,
            [
                "PodReadyToStartContainers",
                "Initialized",
                "Ready",
                "ContainersReady",
                "PodScheduled"
            ]
        );
        assert!(list.iter().all(|c| c.status == "True" && c.reason.is_none()));
    }

    #[test]
    fn unready_and_completed() {
        let p = pod(json!({}));
        let apps = [status("a", false)];
        let list = conditions(&inputs(&p, "Pending", &apps, "2025-01-01T00:00:00Z"));
        let ready = get(&list, "Ready");
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_deref()),
            ("False", Some("ContainersNotReady"))
        );
        assert_eq!(
            ready.message.as_deref(),
            Some("containers with unready status: [a]")
        );
        let list = conditions(&inputs(&p, "Succeeded", &apps, "2025-01-01T00:00:00Z"));
        assert_eq!(
            get(&list, "ContainersReady").reason.as_deref(),
            Some("PodCompleted")
        );
        assert_eq!(get(&list, "Ready").reason.as_deref(), Some("PodCompleted"));
    }

    #[test]
    fn readiness_gates_hold_ready_back() {
        let apps = [status("a", true)];
        let p = pod(
            json!({"spec": {"containers": [{"name": "a"}], "readinessGates": [{"conditionType": "example.com/lb"}]}}),
        );
        let list = conditions(&inputs(&p, "Running", &apps, "2025-01-01T00:00:00Z"));
        let ready = get(&list, "Ready");
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_deref()),
            ("False", Some("ReadinessGatesNotReady"))
        );
        assert!(ready.message.as_deref().unwrap().contains("does not exist"));
        assert_eq!(get(&list, "ContainersReady").status, "True");
        let p = pod(json!({
            "spec": {"containers": [{"name": "a"}], "readinessGates": [{"conditionType": "example.com/lb"}]},
            "status": {"conditions": [{"type": "example.com/lb", "status": "True"}]}
        }));
        let list = conditions(&inputs(&p, "Running", &apps, "2025-01-01T00:00:00Z"));
        assert_eq!(get(&list, "Ready").status, "True");
        assert_eq!(get(&list, "example.com/lb").status, "True");
    }

    #[test]
    fn transition_times_move_only_on_change() {
        let p = pod(json!({"status": {"conditions": [
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": "2024-01-01T00:00:00Z"},
            {"type": "Ready", "status": "True", "lastTransitionTime": "2024-01-01T00:00:00Z"},
            {"type": "ContainersReady", "status": "False", "lastTransitionTime": "2024-01-01T00:00:00Z"}
        ]}}));
        let apps = [status("a", true)];
        let list = conditions(&inputs(&p, "Running", &apps, "2025-01-01T00:00:00Z"));
        let old = Some(time("2024-01-01T00:00:00Z".parse().unwrap()));
        let new = Some(time("2025-01-01T00:00:00Z".parse().unwrap()));
        assert_eq!(get(&list, "PodScheduled").last_transition_time, old);
        assert_eq!(get(&list, "Ready").last_transition_time, old);
        assert_eq!(get(&list, "ContainersReady").last_transition_time, new);
        assert_eq!(list[0].type_, "PodScheduled", "existing order is kept");
    }

    #[test]
    fn incomplete_init_containers() {
        let done = ContainerStatus {
            name: "i".into(),
            state: Some(k8s_openapi::api::core::v1::ContainerState {
                terminated: Some(Default::default()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let side = status("s", true);
        let pending = status("j", false);
        assert!(incomplete_init(&[done.clone(), side.clone()], &[false, true]).is_empty());
        assert_eq!(
            incomplete_init(&[done, side, pending], &[false, true, false]),
            vec!["j"]
        );
    }
}
