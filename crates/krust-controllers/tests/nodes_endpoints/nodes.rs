//! A silent node turns Unknown and is tainted, its pods are evicted after their
//! toleration (a taint removed in time cancels the eviction), it recovers; conditions and
//! cordons become NoSchedule taints.

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

use crate::support::*;

/// Seconds `reprieved` tolerates its node's unreachable taint: long enough for sim-1 to
/// come back and be untainted first even on a loaded machine.
const REPRIEVE: u32 = 90;

#[test]
fn a_silent_node_is_tainted_its_pods_evicted_and_it_recovers() {
    let env = Env::start();
    env.apply(&bound_pod("doomed", "sim-1", Some(3)));
    env.apply(&bound_pod("reprieved", "sim-1", Some(REPRIEVE)));
    env.apply(&bound_pod("steadfast", "sim-1", None));
    // Would go soon after sim-0 were ever (wrongly) tainted, yet survives a slow moment of
    // a loaded machine that makes the taint manager late.
    env.apply(&bound_pod("elsewhere", "sim-0", Some(60)));
    for p in ["doomed", "reprieved", "steadfast", "elsewhere"] {
        env.wait(&format!("{p} running"), || {
            let pod = env.try_json(&["pod", p])?;
            (pod["status"]["phase"] == "Running").then_some(())
        });
    }

    // sim-1 stops heartbeating: Unknown, then tainted unreachable.
    env.ok(&["annotate", "node", "sim-1", "krust.io/simulate-heartbeat=false"]);
    let node = env.wait("sim-1 Unknown and tainted", || {
        let n = env.try_json(&["node", "sim-1"])?;
        let t = taints(&n);
        let tainted = t.contains(&"node.kubernetes.io/unreachable:NoExecute".to_string())
            && t.contains(&"node.kubernetes.io/unreachable:NoSchedule".to_string());
        (condition(&n, "Ready")["status"] == "Unknown" && tainted).then_some(n)
    });
    let ready = condition(&node, "Ready");
    assert_eq!(ready["reason"], "NodeStatusUnknown", "{ready}");
    assert_eq!(ready["message"], "Kubelet stopped posting node status.");
    for c in ["MemoryPressure", "DiskPressure", "PIDPressure"] {
        assert_eq!(condition(&node, c)["status"], "Unknown", "{c}");
    }
    let added = node["spec"]["taints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["effect"] == "NoExecute")
        .unwrap()["timeAdded"]
        .clone();
    assert!(added.is_string(), "NoExecute taints carry timeAdded: {node}");
    // The taint's own stamp: the eviction clocks of its pods start after it.
    let tainted_at: Timestamp = added.as_str().unwrap().parse().unwrap();
    let since_tainted = || Timestamp::now().duration_since(tainted_at).unsigned_abs();

    // The pod tolerating 3 s goes; the others stay.
    env.wait("doomed evicted", || env.pod_leaving("doomed").then_some(()));
    env.wait("the eviction event", || {
        env.events_about("doomed")
            .iter()
            .any(|(reason, msg)| reason == "TaintManagerEviction" && msg.contains("Marking for deletion"))
            .then_some(())
    });
    for p in ["reprieved", "steadfast", "elsewhere"] {
        assert!(!env.pod_leaving(p), "{p} must stay");
    }
    let sim0 = env.try_json(&["node", "sim-0"]).unwrap();
    assert_eq!(condition(&sim0, "Ready")["status"], "True");
    assert!(taints(&sim0).is_empty(), "{:?}", taints(&sim0));

    // sim-1 comes back before `reprieved`'s REPRIEVE seconds are up: the taints go, the
    // eviction is cancelled.
    env.ok(&["annotate", "node", "sim-1", "krust.io/simulate-heartbeat-"]);
    env.wait("sim-1 Ready and untainted", || {
        let n = env.try_json(&["node", "sim-1"])?;
        (condition(&n, "Ready")["status"] == "True" && taints(&n).is_empty()).then_some(())
    });
    // (On a very slow machine the REPRIEVE seconds may be over already; then there is
    // nothing to see.)
    let cancelled_in_time = since_tainted() < Duration::from_secs(u64::from(REPRIEVE) - 10);
    if cancelled_in_time {
        env.wait("the cancellation event", || {
            env.events_about("reprieved")
                .iter()
                .any(|(reason, msg)| reason == "TaintManagerEviction" && msg.contains("Cancelling deletion"))
                .then_some(())
        });
        // Past the REPRIEVE seconds it would have had: still there.
        if let Some(rest) = Duration::from_secs(u64::from(REPRIEVE) + 5).checked_sub(since_tainted()) {
            std::thread::sleep(rest);
        }
        assert!(
            !env.pod_leaving("reprieved"),
            "a cancelled eviction must not happen"
        );
    }
    assert!(!env.pod_leaving("steadfast"));
}

#[test]
fn conditions_and_cordons_become_no_schedule_taints() {
    let env = Env::start();
    env.ok(&["cordon", "sim-0"]);
    env.wait("the unschedulable taint", || {
        let n = env.try_json(&["node", "sim-0"])?;
        taints(&n)
            .contains(&"node.kubernetes.io/unschedulable:NoSchedule".to_string())
            .then_some(())
    });
    env.ok(&["uncordon", "sim-0"]);
    env.wait("no taint after uncordon", || {
        taints(&env.try_json(&["node", "sim-0"])?)
            .is_empty()
            .then_some(())
    });
    // A user's taint next to ours is left alone.
    env.ok(&["taint", "node", "sim-0", "dedicated=db:NoSchedule"]);
    env.ok(&["cordon", "sim-0"]);
    env.wait("both taints", || {
        let t = taints(&env.try_json(&["node", "sim-0"])?);
        (t.len() == 2 && t.contains(&"dedicated:NoSchedule".to_string())).then_some(())
    });
    env.ok(&["uncordon", "sim-0"]);
    env.wait("the user's taint only", || {
        (taints(&env.try_json(&["node", "sim-0"])?) == ["dedicated:NoSchedule"]).then_some(())
    });
}
