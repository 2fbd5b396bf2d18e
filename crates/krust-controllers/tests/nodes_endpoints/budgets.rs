//! PodDisruptionBudgets get their status from their pods and controllers, and `kubectl
//! drain` waits for them.

use std::time::Duration;

use serde_json::Value;

use crate::support::*;

fn deployment(name: &str, replicas: u32) -> String {
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - name: c
        image: nginx
"#
    )
}

fn budget(name: &str, app: &str, field: &str, value: &str) -> String {
    format!(
        r#"apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {name}
spec:
  {field}: {value}
  selector:
    matchLabels: {{app: {app}}}
"#
    )
}

fn ready_pods(env: &Env, app: &str) -> Vec<Value> {
    env.items(&["pods", "-l", &format!("app={app}")])
        .into_iter()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null() && condition(p, "Ready")["status"] == "True")
        .collect()
}

/// (expected, healthy, desired, allowed) once the budget has seen its current generation.
fn budget_status(env: &Env, name: &str) -> Option<(i64, i64, i64, i64)> {
    let b = env.try_json(&["pdb", name])?;
    let s = &b["status"];
    (s["observedGeneration"] == b["metadata"]["generation"]).then(|| {
        (
            s["expectedPods"].as_i64().unwrap_or(-1),
            s["currentHealthy"].as_i64().unwrap_or(-1),
            s["desiredHealthy"].as_i64().unwrap_or(-1),
            s["disruptionsAllowed"].as_i64().unwrap_or(-1),
        )
    })
}

#[test]
fn budgets_get_their_status_and_drain_respects_them() {
    let env = Env::start();
    env.apply(&deployment("web", 3));
    env.apply(&deployment("batch", 3));
    env.wait("3 ready web and batch pods", || {
        (ready_pods(&env, "web").len() == 3 && ready_pods(&env, "batch").len() == 3).then_some(())
    });
    env.apply(&budget("web", "web", "minAvailable", "3"));
    env.apply(&budget("batch", "batch", "maxUnavailable", "\"50%\""));

    env.wait("web's budget allows nothing", || {
        (budget_status(&env, "web")? == (3, 3, 3, 0)).then_some(())
    });
    let pdb = env.try_json(&["pdb", "web"]).unwrap();
    let cond = condition(&pdb, "DisruptionAllowed");
    assert_eq!(
        (cond["status"].as_str(), cond["reason"].as_str()),
        (Some("False"), Some("InsufficientPods"))
    );
    // 50% of 3 unavailable rounds up to 2: 1 must stay, 2 may go.
    env.wait("batch's budget from the deployment's scale", || {
        (budget_status(&env, "batch")? == (3, 3, 1, 2)).then_some(())
    });
    let batch = env.try_json(&["pdb", "batch"]).unwrap();
    let cond = condition(&batch, "DisruptionAllowed");
    assert_eq!(
        (cond["status"].as_str(), cond["reason"].as_str()),
        (Some("True"), Some("SufficientPods"))
    );
    // No status rewrites without changes: once a write that may still have been due has
    // landed, the version stays put for a while, and the status is the same.
    env.quiet(
        "no status rewrites without changes",
        Duration::from_secs(5),
        || {
            env.try_json(&["pdb", "batch"])
                .map(|p| p["metadata"]["resourceVersion"].clone())
        },
    );
    assert_eq!(budget_status(&env, "batch"), Some((3, 3, 1, 2)));
    let cond = condition(&env.try_json(&["pdb", "batch"]).unwrap(), "DisruptionAllowed");
    assert_eq!(
        (cond["status"].as_str(), cond["reason"].as_str()),
        (Some("True"), Some("SufficientPods"))
    );

    // Drain a node holding a web pod: the budget refuses (429), drain gives up.
    let pod = ready_pods(&env, "web")[0].clone();
    let node = pod["spec"]["nodeName"].as_str().unwrap().to_string();
    let out = env.cluster.kubectl(&[
        "drain",
        &node,
        "--ignore-daemonsets",
        "--timeout=15s",
        "--pod-selector=app=web",
    ]);
    assert!(!out.status.success(), "drain must not get past the budget");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("disruption budget"), "{stderr}");
    assert_eq!(ready_pods(&env, "web").len(), 3, "nothing was evicted");
    env.wait("the cordoned node's taint", || {
        taints(&env.try_json(&["node", &node])?)
            .contains(&"node.kubernetes.io/unschedulable:NoSchedule".to_string())
            .then_some(())
    });

    // Loosen the budget: drain moves the pods one disruption at a time.
    env.apply(&budget("web", "web", "minAvailable", "2"));
    env.wait("web's budget allows one", || {
        (budget_status(&env, "web")? == (3, 3, 2, 1)).then_some(())
    });
    env.ok(&["drain", &node, "--ignore-daemonsets", "--timeout=150s"]);
    env.wait("web and batch ready again off the drained node", || {
        let web = ready_pods(&env, "web");
        let batch = ready_pods(&env, "batch");
        let off = web
            .iter()
            .chain(&batch)
            .all(|p| p["spec"]["nodeName"] != node.as_str());
        (web.len() == 3 && batch.len() == 3 && off).then_some(())
    });
    env.wait("the budget healthy again with no pending disruption", || {
        let b = env.try_json(&["pdb", "web"])?;
        let pending = b["status"]["disruptedPods"]
            .as_object()
            .is_some_and(|m| !m.is_empty());
        (budget_status(&env, "web")? == (3, 3, 2, 1) && !pending).then_some(())
    });
    env.ok(&["uncordon", &node]);
}
