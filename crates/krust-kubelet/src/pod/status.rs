//! The whole pod status the kubelet writes, from the pod as the API has it and what the
//! runtime reports. Fields the kubelet does not own (`qosClass`, `nominatedNodeName`,
//! conditions of others, ...) are carried over; `startTime` is set once. Recomputing with
//! nothing changed gives an equal status, which is how the status manager knows not to
//! write.

use k8s_openapi::api::core::v1::{HostIP, Pod, PodIP, PodStatus};

use super::admission::Rejection;
use super::conditions::{self, incomplete_init};
use super::containers::{self, Context};
use super::{app_containers, init_containers, is_sidecar, is_terminal, phase};
use crate::clock::time;
use crate::runtime::{ContainerKind, NodeContext, PodRuntimeStatus};

/// The status of `pod` on `node` given the runtime's view (`None`: no sandbox yet), for
/// a pod nothing is probed of.
#[cfg(test)]
pub(crate) fn pod_status(
    pod: &Pod,
    node: &NodeContext,
    rt: Option<&PodRuntimeStatus>,
    now: jiff::Timestamp,
) -> PodStatus {
    probed_pod_status(
        pod,
        node,
        rt,
        now,
        &containers::NO_VERDICTS,
        &containers::Failures::new(),
    )
}

/// The status of `pod` on `node` given the runtime's view (`None`: no sandbox yet) and
/// its containers' probe results and start failures.
pub(crate) fn probed_pod_status(
    pod: &Pod,
    node: &NodeContext,
    rt: Option<&PodRuntimeStatus>,
    now: jiff::Timestamp,
    verdicts: &containers::Verdicts,
    failures: &containers::Failures,
) -> PodStatus {
    let mut s = pod.status.clone().unwrap_or_default();
    let phase = phase::phase(pod, rt);
    let terminal = is_terminal(Some(phase));
    let init_spec = init_containers(pod);
    let sidecars: Vec<bool> = init_spec.iter().map(is_sidecar).collect();
    let mut ctx = Context {
        pod,
        initialized: false,
        terminal,
        now,
        verdicts,
        failures,
    };
    let init = containers::statuses(&ctx, ContainerKind::Init, init_spec, rt);
    ctx.initialized = incomplete_init(&init, &sidecars).is_empty();
    let apps = containers::statuses(&ctx, ContainerKind::App, app_containers(pod), rt);

    s.conditions = Some(conditions::conditions(&conditions::Inputs {
        pod,
        phase,
        sandbox_ready: rt.is_some_and(|r| r.sandbox.ready),
        init: &init,
        apps: &apps,
        sidecars: &sidecars,
        now,
    }));
    s.phase = Some(phase.into());
    let host_ip = node.ip.to_string();
    s.host_ips = Some(vec![HostIP { ip: host_ip.clone() }]);
    s.host_ip = Some(host_ip);
    if let Some(ip) = rt.and_then(|r| r.sandbox.ip) {
        s.pod_ip = Some(ip.to_string());
        s.pod_ips = Some(vec![PodIP { ip: ip.to_string() }]);
    }
    if s.start_time.is_none() {
        s.start_time = Some(time(now));
    }
    s.init_container_statuses = (!init.is_empty()).then_some(init);
    s.container_statuses = (!apps.is_empty()).then_some(apps);
    s
}

/// The status of a pod the node refused to run.
pub(crate) fn rejected_status(pod: &Pod, why: &Rejection) -> PodStatus {
    let mut s = pod.status.clone().unwrap_or_default();
    s.phase = Some("Failed".into());
    s.reason = Some(why.reason.clone());
    s.message = Some(why.message.clone());
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pod::fixtures::*;

    const T0: &str = "2025-01-01T00:00:00Z";
    const T1: &str = "2025-01-01T00:00:01Z";

    fn node() -> NodeContext {
        NodeContext {
            index: 0,
            name: "sim-0".into(),
            ip: "10.200.0.1".parse().unwrap(),
        }
    }

    #[test]
    fn running_pod() {
        let p = pod("Always", &["a"], &["i"]);
        let rt = with(sandbox(), vec![exited("i", 0, 0, T0, T0), running("a", 0, T0)]);
        let s = pod_status(&p, &node(), Some(&rt), t(T1));
        assert_eq!(s.phase.as_deref(), Some("Running"));
        assert_eq!(s.pod_ip.as_deref(), Some("10.64.0.2"));
        assert_eq!(s.pod_ips.as_ref().unwrap()[0].ip, "10.64.0.2");
        assert_eq!(s.host_ip.as_deref(), Some("10.200.0.1"));
        assert_eq!(s.qos_class.as_deref(), Some("BestEffort"), "kept");
        assert_eq!(s.start_time, Some(time(t(T1))));
        assert!(s.conditions.as_ref().unwrap().iter().all(|c| c.status == "True"));
        let init = &s.init_container_statuses.as_ref().unwrap()[0];
        assert_eq!(
            init.state
                .as_ref()
                .unwrap()
                .terminated
                .as_ref()
                .unwrap()
                .reason
                .as_deref(),
            Some("Completed")
        );
        assert!(s.container_statuses.as_ref().unwrap()[0].ready);
    }

    #[test]
    fn recomputing_after_a_round_trip_changes_nothing() {
        let mut p = pod("Never", &["a", "b"], &["side:s", "i"]);
        let rt = with(
            sandbox(),
            vec![
                running("s", 0, T0),
                exited("i", 0, 0, T0, T0),
                running("a", 0, "2025-01-01T00:00:00.123456789Z"),
                exited("b", 0, 0, T0, T1),
            ],
        );
        let first = pod_status(&p, &node(), Some(&rt), t("2025-01-01T00:00:02.5Z"));
        let wire = serde_json::to_value(&first).unwrap();
        p.status = Some(serde_json::from_value(wire).unwrap());
        let again = pod_status(&p, &node(), Some(&rt), t("2025-01-01T00:00:09Z"));
        assert_eq!(Some(&again), p.status.as_ref());
    }

    #[test]
    fn succeeded_pod() {
        let p = pod("OnFailure", &["a"], &[]);
        let rt = with(sandbox(), vec![exited("a", 0, 0, T0, T1)]);
        let s = pod_status(&p, &node(), Some(&rt), t(T1));
        assert_eq!(s.phase.as_deref(), Some("Succeeded"));
        let ready = s
            .conditions
            .as_ref()
            .unwrap()
            .iter()
            .find(|c| c.type_ == "Ready")
            .unwrap();
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_deref()),
            ("False", Some("PodCompleted"))
        );
    }

    #[test]
    fn pending_pod_has_no_pod_ip_yet() {
        let p = pod("Always", &["a"], &[]);
        let s = pod_status(&p, &node(), None, t(T1));
        assert_eq!(s.phase.as_deref(), Some("Pending"));
        assert_eq!(s.pod_ip, None);
        assert_eq!(s.init_container_statuses, None);
    }

    #[test]
    fn rejection() {
        let p = pod("Always", &["a"], &[]);
        let why = Rejection {
            reason: "OutOfcpu".into(),
            message: "no".into(),
        };
        let s = rejected_status(&p, &why);
        assert_eq!(
            (s.phase.as_deref(), s.reason.as_deref()),
            (Some("Failed"), Some("OutOfcpu"))
        );
    }
}
