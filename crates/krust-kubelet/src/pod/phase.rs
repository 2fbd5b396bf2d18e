//! The pod phase from what the runtime reports, following upstream's rules:
//! `Pending` until the init containers have completed and every app container has started;
//! `Running` while any runs or will be started again; `Succeeded` when all ended with 0 and
//! none will restart; `Failed` when all ended, one failed and the policy is `Never` (or an
//! init container failed under `Never`).

use k8s_openapi::api::core::v1::Pod;

use super::{RestartPolicy, app_containers, init_containers, is_sidecar};
use crate::runtime::{ContainerState, PodRuntimeStatus};

/// The phase of `pod` given the runtime's view (`None`: no sandbox yet).
pub(crate) fn phase(pod: &Pod, rt: Option<&PodRuntimeStatus>) -> &'static str {
    let Some(rt) = rt else { return "Pending" };
    let policy = RestartPolicy::of(pod);
    for c in init_containers(pod).iter().filter(|c| !is_sidecar(c)) {
        match rt.container(&c.name).map(|s| &s.state) {
            Some(ContainerState::Exited(t)) if t.exit_code == 0 => {}
            Some(ContainerState::Exited(_)) if policy == RestartPolicy::Never => return "Failed",
            _ => return "Pending",
        }
    }
    let (mut running, mut waiting, mut stopped, mut succeeded) = (0, 0, 0, 0);
    for c in app_containers(pod) {
        match rt.container(&c.name).map(|s| &s.state) {
            None | Some(ContainerState::Created) => waiting += 1,
            Some(ContainerState::Running { .. }) => running += 1,
            Some(ContainerState::Exited(t)) => {
                stopped += 1;
                if t.exit_code == 0 {
                    succeeded += 1;
                }
            }
        }
    }
    if waiting > 0 {
        return "Pending";
    }
    if running > 0 {
        return "Running";
    }
    if stopped == 0 {
        return "Pending";
    }
    match policy {
        RestartPolicy::Always => "Running",
        _ if stopped == succeeded => "Succeeded",
        RestartPolicy::Never => "Failed",
        RestartPolicy::OnFailure => "Running",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pod::fixtures::*;

    const T0: &str = "2025-01-01T00:00:00Z";
    const T1: &str = "2025-01-01T00:00:01Z";

    #[test]
    fn phases() {
        let p = pod("Never", &["a", "b"], &[]);
        assert_eq!(phase(&p, None), "Pending");
        assert_eq!(phase(&p, Some(&sandbox())), "Pending");
        let one = with(sandbox(), vec![running("a", 0, T0)]);
        assert_eq!(phase(&p, Some(&one)), "Pending");
        let both = with(sandbox(), vec![running("a", 0, T0), exited("b", 0, 0, T0, T1)]);
        assert_eq!(phase(&p, Some(&both)), "Running");
        let done = with(
            sandbox(),
            vec![exited("a", 0, 0, T0, T1), exited("b", 0, 0, T0, T1)],
        );
        assert_eq!(phase(&p, Some(&done)), "Succeeded");
        let failed = with(
            sandbox(),
            vec![exited("a", 0, 0, T0, T1), exited("b", 0, 3, T0, T1)],
        );
        assert_eq!(phase(&p, Some(&failed)), "Failed");
        assert_eq!(
            phase(&pod("OnFailure", &["a", "b"], &[]), Some(&failed)),
            "Running"
        );
        assert_eq!(
            phase(&pod("OnFailure", &["a", "b"], &[]), Some(&done)),
            "Succeeded"
        );
        assert_eq!(phase(&pod("Always", &["a", "b"], &[]), Some(&done)), "Running");
    }

    #[test]
    fn init_containers_hold_the_pod_pending_or_fail_it() {
        let p = pod("Never", &["a"], &["side:s", "i"]);
        let waiting = with(sandbox(), vec![running("s", 0, T0), running("i", 0, T0)]);
        assert_eq!(phase(&p, Some(&waiting)), "Pending");
        let failed = with(sandbox(), vec![running("s", 0, T0), exited("i", 0, 1, T0, T1)]);
        assert_eq!(phase(&p, Some(&failed)), "Failed");
        assert_eq!(
            phase(&pod("OnFailure", &["a"], &["side:s", "i"]), Some(&failed)),
            "Pending"
        );
        let up = with(
            sandbox(),
            vec![
                running("s", 0, T0),
                exited("i", 0, 0, T0, T1),
                running("a", 0, T1),
            ],
        );
        assert_eq!(phase(&p, Some(&up)), "Running");
    }
}
