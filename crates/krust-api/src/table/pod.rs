//! The pod row: readiness, the one-word status kubectl shows (`Running`, `Init:1/2`,
//! `CrashLoopBackOff`, `Terminating`…), restarts with the age of the last one, and the wide
//! columns.

use jiff::Timestamp;
use serde_json::Value;

use super::util::{age, at, deleting, int, list, name, s, seconds_between, text, time};
use super::{Column, human_duration};

pub(super) const COLUMNS: &[Column] = &[
    Column::name(),
    Column::new(
        "Ready",
        "string",
        "Containers ready out of containers that count toward readiness.",
    ),
    Column::new(
        "Status",
        "string",
        "A one-word summary of the pod's state, from its phase and containers.",
    ),
    Column::new(
        "Restarts",
        "string",
        "Container restarts in total, and how long ago the latest one was.",
    ),
    Column::age(),
    Column::wide("IP", "string", "The pod's first IP address."),
    Column::wide("Node", "string", "The node the pod is bound to."),
    Column::wide(
        "Nominated Node",
        "string",
        "The node the scheduler preempted others on for this pod.",
    ),
    Column::wide(
        "Readiness Gates",
        "string",
        "Readiness gate conditions that are true, out of all gates.",
    ),
];

/// Reason set on pods whose node stopped answering, before they are deleted.
const NODE_LOST: &str = "NodeLost";

/// Whether an init container keeps running next to the main ones (a sidecar).
fn restartable(init: Option<&Value>) -> bool {
    init.is_some_and(|c| text(c, &["restartPolicy"]) == "Always")
}

fn condition_true(pod: &Value, kind: &str) -> bool {
    list(pod, &["status", "conditions"])
        .iter()
        .any(|c| text(c, &["type"]) == kind && text(c, &["status"]) == "True")
}

/// Tracks the total restarts and the latest restart (a terminated state's `finishedAt`).
#[derive(Default, Clone, Copy)]
struct Restarts {
    count: i64,
    last: Option<Timestamp>,
}

impl Restarts {
    fn add(&mut self, status: &Value) {
        self.count += int(status, &["restartCount"]);
        if let Some(finished) =
            at(status, &["lastState", "terminated"]).and_then(|t| time(t.get("finishedAt")))
            && self.last.is_none_or(|last| last < finished)
        {
            self.last = Some(finished);
        }
    }
}

/// `Signal:9` / `ExitCode:1` for a terminated state without a reason.
fn exit_text(terminated: &Value) -> String {
    match int(terminated, &["signal"]) {
        0 => format!("ExitCode:{}", int(terminated, &["exitCode"])),
        signal => format!("Signal:{signal}"),
    }
}

pub(super) fn cells(pod: &Value, now: Timestamp) -> Vec<Value> {
    let spec_inits = list(pod, &["spec", "initContainers"]);
    let init_spec = |name: &str| spec_inits.iter().find(|c| text(c, &["name"]) == name);
    let total =
        list(pod, &["spec", "containers"]).len() + spec_inits.iter().filter(|c| restartable(Some(c))).count();
    let mut ready = 0usize;
    let phase = text(pod, &["status", "phase"]);
    let mut reason = match text(pod, &["status", "reason"]) {
        "" => phase.to_string(),
        r => r.to_string(),
    };
    if list(pod, &["status", "conditions"])
        .iter()
        .any(|c| text(c, &["type"]) == "PodScheduled" && text(c, &["reason"]) == "SchedulingGated")
    {
        reason = "SchedulingGated".to_string();
    }

    let mut restarts = Restarts::default();
    let mut sidecar_restarts = Restarts::default();
    let mut initializing = false;
    for (i, status) in list(pod, &["status", "initContainerStatuses"]).iter().enumerate() {
        restarts.add(status);
        let sidecar = restartable(init_spec(text(status, &["name"])));
        if sidecar {
            sidecar_restarts.add(status);
        }
        let terminated = at(status, &["state", "terminated"]).filter(|t| t.is_object());
        let waiting_reason = text(status, &["state", "waiting", "reason"]);
        if terminated.is_some_and(|t| int(t, &["exitCode"]) == 0) {
            continue;
        }
        if sidecar && at(status, &["started"]).and_then(Value::as_bool) == Some(true) {
            if at(status, &["ready"]).and_then(Value::as_bool) == Some(true) {
                ready += 1;
            }
            continue;
        }
        reason = if let Some(t) = terminated {
            match text(t, &["reason"]) {
                "" => format!("Init:{}", exit_text(t)),
                r => format!("Init:{r}"),
            }
        } else if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" {
            format!("Init:{waiting_reason}")
        } else {
            format!("Init:{i}/{}", spec_inits.len())
        };
        initializing = true;
        break;
    }

    if !initializing || condition_true(pod, "Initialized") {
        restarts = sidecar_restarts;
        let mut has_running = false;
        for status in list(pod, &["status", "containerStatuses"]).iter().rev() {
            restarts.add(status);
            let waiting_reason = text(status, &["state", "waiting", "reason"]);
            let terminated = at(status, &["state", "terminated"]).filter(|t| t.is_object());
            if !waiting_reason.is_empty() {
                reason = waiting_reason.to_string();
            } else if let Some(t) = terminated {
                reason = match text(t, &["reason"]) {
                    "" => exit_text(t),
                    r => r.to_string(),
                };
            } else if at(status, &["ready"]).and_then(Value::as_bool) == Some(true)
                && at(status, &["state", "running"]).is_some_and(Value::is_object)
            {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            reason = if condition_true(pod, "Ready") {
                "Running"
            } else {
                "NotReady"
            }
            .to_string();
        }
    }

    if deleting(pod) {
        if text(pod, &["status", "reason"]) == NODE_LOST {
            reason = "Unknown".to_string();
        } else if phase != "Succeeded" && phase != "Failed" {
            reason = "Terminating".to_string();
        }
    }

    let restarts_cell = match restarts.last {
        Some(last) if restarts.count != 0 => {
            format!(
                "{} ({} ago)",
                restarts.count,
                human_duration(seconds_between(last, now))
            )
        }
        _ => restarts.count.to_string(),
    };

    let none_if_empty = |v: String| if v.is_empty() { "<none>".to_string() } else { v };
    let gates = list(pod, &["spec", "readinessGates"]);
    let gates_cell = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let conditions = list(pod, &["status", "conditions"]);
        let passing = gates
            .iter()
            .filter(|g| {
                let wanted = text(g, &["conditionType"]);
                conditions
                    .iter()
                    .find(|c| text(c, &["type"]) == wanted)
                    .is_some_and(|c| text(c, &["status"]) == "True")
            })
            .count();
        format!("{passing}/{}", gates.len())
    };

    vec![
        name(pod),
        s(format!("{ready}/{total}")),
        s(reason),
        s(restarts_cell),
        age(pod, now),
        s(none_if_empty(crate::fields::pod_ip(pod))),
        s(none_if_empty(text(pod, &["spec", "nodeName"]).to_string())),
        s(none_if_empty(
            text(pod, &["status", "nominatedNodeName"]).to_string(),
        )),
        s(gates_cell),
    ]
}
