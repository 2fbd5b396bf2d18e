//! ReplicaSet, ReplicationController and Deployment controllers end to end: the real
//! `krust server` with simulated nodes, driven by the real kubectl, checking what
//! upstream's conformance tests check (self-healing, adoption, rolling-update bounds,
//! rollout history/undo/pause/resume/restart, Recreate, progress deadlines).
//!
//! No timing is asserted: every wait is a generous wait-until.

#![allow(clippy::unwrap_used)]

mod cronjobs;
mod daemonsets;
mod jobs;
mod statefulsets;
mod support;

use serde_json::Value;
use support::*;

#[test]
fn deployment_scales_and_heals() {
    let c = cluster();
    c.ok(&["create", "deployment", "web", "--image=nginx:1", "--replicas=3"]);
    rollout(&c, "web");
    // The status the rollout ends with; the Progressing reason may be written in a later
    // sync than the one rollout status saw complete.
    wait_for(&c, "the complete rollout's status", || {
        let d = c.get_json(&["deployment", "web"]);
        d["status"]["availableReplicas"] == 3
            && d["status"]["updatedReplicas"] == 3
            && d["status"]["observedGeneration"] == d["metadata"]["generation"]
            && condition(&d, "Available")["reason"] == "MinimumReplicasAvailable"
            && condition(&d, "Progressing")["reason"] == "NewReplicaSetAvailable"
    });
    let d = c.get_json(&["deployment", "web"]);
    assert_eq!(
        d["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "1"
    );

    // The ReplicaSet: named by the template hash, owned, hash in selector and pods.
    let rs = only_rs(&c, "app=web");
    let hash = rs["metadata"]["labels"]["pod-template-hash"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(rs["metadata"]["name"], format!("web-{hash}"));
    assert_eq!(
        rs["spec"]["selector"]["matchLabels"]["pod-template-hash"],
        hash.as_str()
    );
    let owner = &rs["metadata"]["ownerReferences"][0];
    assert_eq!(
        (owner["kind"].as_str(), owner["controller"].as_bool()),
        (Some("Deployment"), Some(true))
    );
    assert_eq!(
        rs["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"],
        "3"
    );
    for p in live_pods(&c, "app=web") {
        assert_eq!(p["metadata"]["labels"]["pod-template-hash"], hash.as_str());
        let r = &p["metadata"]["ownerReferences"][0];
        assert_eq!(r["name"], rs["metadata"]["name"]);
        assert_eq!(r["blockOwnerDeletion"], true);
        assert!(
            p["metadata"]["name"]
                .as_str()
                .unwrap()
                .starts_with(&format!("web-{hash}-"))
        );
    }

    c.ok(&["scale", "deployment", "web", "--replicas=5"]);
    rollout(&c, "web");
    wait_for(&c, "5 ready pods", || ready_pods(&c, "app=web") == 5);
    c.ok(&["scale", "deployment", "web", "--replicas=2"]);
    rollout(&c, "web");
    wait_for(&c, "2 live pods", || live_pods(&c, "app=web").len() == 2);
    wait_for(&c, "status.replicas 2", || {
        c.get_json(&["deployment", "web"])["status"]["replicas"] == 2
    });

    // A pod deleted by hand is replaced.
    let victim = name(&live_pods(&c, "app=web")[0]);
    c.ok(&["delete", "pod", &victim, "--wait=false"]);
    wait_for(&c, "a replacement", || {
        let pods = live_pods(&c, "app=web");
        pods.len() == 2 && pods.iter().all(|p| name(p) != victim) && ready_pods(&c, "app=web") == 2
    });
    wait_for(&c, "SuccessfulCreate events", || {
        !events_with_reason(&c, "SuccessfulCreate").is_empty()
    });

    // A pod relabelled out of the selector is released and replaced.
    let stray = name(&live_pods(&c, "app=web")[0]);
    c.ok(&["label", "pod", &stray, "app=debug", "--overwrite"]);
    wait_for(&c, "the relabelled pod released", || {
        let p = c.get_json(&["pod", &stray]);
        p["metadata"]["ownerReferences"]
            .as_array()
            .is_none_or(|v| v.is_empty())
    });
    wait_for(&c, "a replacement for the released pod", || {
        ready_pods(&c, "app=web") == 2 && live_pods(&c, "app=web").iter().all(|p| name(p) != stray)
    });
    assert_eq!(live_pods(&c, "app=debug").len(), 1);
}

#[test]
fn replica_sets_adopt_orphans_and_replication_controllers_work() {
    let c = cluster();
    // Two orphans exist before their ReplicaSet: it adopts them instead of creating.
    for n in ["orphan-a", "orphan-b"] {
        c.ok_stdin(&["apply", "-f", "-"], &bare_pod(n, "app=adopt"));
    }
    c.ok_stdin(&["apply", "-f", "-"], &replica_set("adopter", "adopt", 2));
    wait_for(&c, "both orphans adopted", || {
        ["orphan-a", "orphan-b"].iter().all(|n| {
            let p = c.get_json(&["pod", n]);
            p["metadata"]["ownerReferences"][0]["name"] == "adopter"
        })
    });
    wait_for(&c, "status of the adopter", || {
        let rs = c.get_json(&["rs", "adopter"]);
        rs["status"]["readyReplicas"] == 2
            && rs["status"]["fullyLabeledReplicas"] == 2
            && rs["status"]["observedGeneration"] == rs["metadata"]["generation"]
    });
    wait_for(&c, "exactly the two adopted pods live", || {
        live_pods(&c, "app=adopt").len() == 2
    });
    // Nothing extra stays: the two live pods are the adopted orphans.
    let mut live: Vec<String> = live_pods(&c, "app=adopt").iter().map(name).collect();
    live.sort();
    assert_eq!(live, ["orphan-a", "orphan-b"], "nothing should have been created");

    // Scaling down removes pods; scaling up creates them with generated names.
    c.ok(&["scale", "rs", "adopter", "--replicas=1"]);
    wait_for(&c, "one pod left", || live_pods(&c, "app=adopt").len() == 1);
    c.ok(&["scale", "rs", "adopter", "--replicas=4"]);
    wait_for(&c, "four ready pods", || ready_pods(&c, "app=adopt") == 4);
    let created = live_pods(&c, "app=adopt")
        .iter()
        .filter(|p| name(p).starts_with("adopter-"))
        .count();
    assert!(created >= 3, "pods get the ReplicaSet's generated names");

    // Pods the API refuses (a PriorityClass that does not exist): ReplicaFailure with
    // reason FailedCreate, and FailedCreate events; cleared once creating works.
    let denied = replica_set("denied", "denied", 2).replace(
        "\"spec\":{\"containers\"",
        "\"spec\":{\"priorityClassName\":\"later\",\"containers\"",
    );
    assert!(denied.contains("priorityClassName"), "{denied}");
    c.ok_stdin(&["apply", "-f", "-"], &denied);
    wait_for(&c, "the ReplicaFailure condition", || {
        let rs = c.get_json(&["rs", "denied"]);
        condition(&rs, "ReplicaFailure")["reason"] == "FailedCreate"
    });
    let rs = c.get_json(&["rs", "denied"]);
    assert!(
        condition(&rs, "ReplicaFailure")["message"]
            .as_str()
            .unwrap()
            .contains("later"),
        "{rs}"
    );
    wait_for(&c, "FailedCreate events", || {
        !events_with_reason(&c, "FailedCreate").is_empty()
    });
    c.ok(&["create", "priorityclass", "later", "--value=10"]);
    wait_for(&c, "the denied pods created after all", || {
        let rs = c.get_json(&["rs", "denied"]);
        rs["status"]["readyReplicas"] == 2 && condition(&rs, "ReplicaFailure").is_null()
    });

    // A ReplicationController, same logic with a map selector.
    c.ok_stdin(&["apply", "-f", "-"], &replication_controller("legacy", 3));
    wait_for(&c, "the RC's pods ready", || {
        let rc = c.get_json(&["rc", "legacy"]);
        rc["status"]["readyReplicas"] == 3 && rc["status"]["availableReplicas"] == 3
    });
    assert_eq!(ready_pods(&c, "app=legacy"), 3);
    c.ok(&["scale", "rc", "legacy", "--replicas=0"]);
    wait_for(&c, "the RC's pods gone", || {
        live_pods(&c, "app=legacy").is_empty()
    });
    wait_for(&c, "the RC's status zeroed", || {
        let rc = c.get_json(&["rc", "legacy"]);
        rc["status"]["replicas"] == 0
    });
}

#[test]
fn rolling_update_history_and_undo() {
    let c = cluster();
    c.ok_stdin(
        &["apply", "-f", "-"],
        &deployment(
            "roll",
            4,
            "nginx:1",
            r#"{"type":"RollingUpdate","rollingUpdate":{"maxSurge":1,"maxUnavailable":1}}"#,
        ),
    );
    rollout(&c, "roll");

    // Watch the Deployment's status and its ReplicaSets while the new image rolls out.
    let watch = Watch::start(&c, &["deployment", "roll"]);
    let sets = Watch::start(&c, &["rs", "-l", "app=roll"]);
    c.ok(&["set", "image", "deployment/roll", "app=nginx:2"]);
    rollout(&c, "roll");
    let seen = watch.stop();
    assert!(!seen.is_empty());
    for d in &seen {
        let st = &d["status"];
        let available = st["availableReplicas"].as_i64().unwrap_or(0);
        if available < 3 {
            let events = c.ok(&["get", "events", "--sort-by=.lastTimestamp"]);
            panic!("availability fell below replicas - maxUnavailable: {st}\nevents:\n{events}");
        }
    }
    // The ReplicaSets' sizes, replayed in order, never exceed replicas + maxSurge.
    let mut sizes = std::collections::BTreeMap::new();
    for rs in sets.stop() {
        sizes.insert(name(&rs), rs["spec"]["replicas"].as_i64().unwrap_or(0));
        let total: i64 = sizes.values().sum();
        assert!(total <= 5, "more replicas than replicas + maxSurge: {sizes:?}");
    }
    let d = c.get_json(&["deployment", "roll"]);
    assert_eq!(
        d["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "2"
    );
    assert_eq!(images(&c, "app=roll"), ["nginx:2"]);
    wait_for(&c, "two ScalingReplicaSet events", || {
        events_with_reason(&c, "ScalingReplicaSet").len() >= 2
    });

    let history = c.ok(&["rollout", "history", "deployment/roll"]);
    assert!(history.contains("1 ") && history.contains("2 "), "{history}");
    let rev1 = c.ok(&["rollout", "history", "deployment/roll", "--revision=1"]);
    assert!(rev1.contains("nginx:1"), "{rev1}");

    // Undo goes back to the first template, reusing its ReplicaSet as revision 3.
    let first_rs = rs_with_image(&c, "app=roll", "nginx:1");
    c.ok(&["rollout", "undo", "deployment/roll"]);
    rollout(&c, "roll");
    assert_eq!(images(&c, "app=roll"), ["nginx:1"]);
    assert_eq!(
        rs_with_image(&c, "app=roll", "nginx:1"),
        first_rs,
        "the old ReplicaSet is reused"
    );
    let rs = c.get_json(&["rs", &first_rs]);
    assert_eq!(
        rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "3"
    );
    assert_eq!(
        rs["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"],
        "1"
    );

    // Undo to an explicit revision.
    c.ok(&["rollout", "undo", "deployment/roll", "--to-revision=2"]);
    rollout(&c, "roll");
    assert_eq!(images(&c, "app=roll"), ["nginx:2"]);
    let d = c.get_json(&["deployment", "roll"]);
    assert_eq!(
        d["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "4"
    );
    assert_eq!(
        c.get_json(&["rs", "-l", "app=roll"])["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn pause_resume_restart_and_history_limit() {
    let c = cluster();
    c.ok_stdin(
        &["apply", "-f", "-"],
        &deployment("pz", 2, "nginx:1", r#"{"type":"RollingUpdate"}"#),
    );
    rollout(&c, "pz");
    c.ok(&["rollout", "pause", "deployment/pz"]);
    c.ok(&["set", "image", "deployment/pz", "app=nginx:2"]);
    wait_for(&c, "the paused change observed", || {
        let d = c.get_json(&["deployment", "pz"]);
        d["status"]["observedGeneration"] == d["metadata"]["generation"]
            && condition(&d, "Progressing")["reason"] == "DeploymentPaused"
    });
    assert_eq!(
        c.get_json(&["rs", "-l", "app=pz"])["items"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "no rollout while paused"
    );
    // Scaling still works while paused.
    c.ok(&["scale", "deployment", "pz", "--replicas=3"]);
    wait_for(&c, "scaled while paused", || ready_pods(&c, "app=pz") == 3);
    assert_eq!(images(&c, "app=pz"), ["nginx:1"]);

    c.ok(&["rollout", "resume", "deployment/pz"]);
    rollout(&c, "pz");
    assert_eq!(images(&c, "app=pz"), ["nginx:2"]);

    c.ok(&["rollout", "restart", "deployment/pz"]);
    rollout(&c, "pz");
    let pods = live_pods(&c, "app=pz");
    assert_eq!(pods.len(), 3);
    assert!(
        pods.iter()
            .all(|p| !p["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"].is_null())
    );

    // revisionHistoryLimit 1: of the two old ReplicaSets only the newest stays.
    c.ok(&[
        "patch",
        "deployment",
        "pz",
        "-p",
        r#"{"spec":{"revisionHistoryLimit":1}}"#,
    ]);
    wait_for(&c, "old ReplicaSets trimmed to the limit", || {
        c.get_json(&["rs", "-l", "app=pz"])["items"]
            .as_array()
            .unwrap()
            .len()
            == 2
    });
}

#[test]
fn recreate_strategy_never_overlaps() {
    let c = cluster();
    c.ok_stdin(
        &["apply", "-f", "-"],
        &deployment("rc8", 3, "nginx:1", r#"{"type":"Recreate"}"#),
    );
    rollout(&c, "rc8");
    let watch = Watch::start(&c, &["rs", "-l", "app=rc8"]);
    c.ok(&["set", "image", "deployment/rc8", "app=nginx:2"]);
    rollout(&c, "rc8");
    let seen = watch.stop();
    // Replay the ReplicaSet events: a new one never wants pods while an old one has any.
    let mut state: std::collections::BTreeMap<String, (String, i64, i64)> = Default::default();
    for rs in &seen {
        let image = rs["spec"]["template"]["spec"]["containers"][0]["image"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let spec = rs["spec"]["replicas"].as_i64().unwrap_or(0);
        let have = rs["status"]["replicas"].as_i64().unwrap_or(0);
        state.insert(name(rs), (image, spec, have));
        let old_has = state.values().any(|(i, _, h)| i == "nginx:1" && *h > 0);
        let new_wants = state.values().any(|(i, s, _)| i == "nginx:2" && *s > 0);
        assert!(!(old_has && new_wants), "old and new overlap: {state:?}");
    }
    assert_eq!(images(&c, "app=rc8"), ["nginx:2"]);
    assert_eq!(ready_pods(&c, "app=rc8"), 3);
}

#[test]
fn progress_deadline_and_deletion() {
    let c = cluster();
    // Pods that can never be scheduled: the rollout stalls and times out.
    let stuck = deployment("stuck", 2, "nginx:1", r#"{"type":"RollingUpdate"}"#).replace(
        "\"spec\": {\"containers\"",
        "\"spec\": {\"nodeSelector\": {\"no\": \"such-node\"}, \"containers\"",
    );
    let stuck = stuck.replace(
        "\"replicas\": 2,",
        "\"replicas\": 2, \"progressDeadlineSeconds\": 3,",
    );
    c.ok_stdin(&["apply", "-f", "-"], &stuck);
    wait_for(&c, "ProgressDeadlineExceeded", || {
        let d = c.get_json(&["deployment", "stuck"]);
        condition(&d, "Progressing")["reason"] == "ProgressDeadlineExceeded"
    });
    let d = c.get_json(&["deployment", "stuck"]);
    assert_eq!(condition(&d, "Progressing")["status"], "False");
    assert_eq!(condition(&d, "Available")["status"], "False");
    let err = c.fails(&["rollout", "status", "deployment/stuck", "--timeout=60s"]);
    assert!(err.contains("exceeded its progress deadline"), "{err}");

    // minReadySeconds: available only after pods have been ready that long.
    c.ok_stdin(
        &["apply", "-f", "-"],
        &deployment("slow", 2, "nginx:1", r#"{"type":"RollingUpdate"}"#)
            .replace("\"replicas\": 2,", "\"replicas\": 2, \"minReadySeconds\": 2,"),
    );
    rollout(&c, "slow");
    assert_eq!(
        c.get_json(&["deployment", "slow"])["status"]["availableReplicas"],
        2
    );

    // Orphaning deletion leaves the ReplicaSet and its pods behind, without owner.
    c.ok(&["delete", "deployment", "slow", "--cascade=orphan"]);
    wait_for(&c, "the ReplicaSet orphaned", || {
        let rs = c.get_json(&["rs", "-l", "app=slow"]);
        let items = rs["items"].as_array().unwrap();
        items.len() == 1
            && items[0]["metadata"]["ownerReferences"]
                .as_array()
                .is_none_or(|v| v.is_empty())
    });
    assert_eq!(live_pods(&c, "app=slow").len(), 2);

    // Background deletion (the garbage collector) removes ReplicaSets and pods.
    c.ok(&["create", "deployment", "gone", "--image=nginx:1", "--replicas=2"]);
    rollout(&c, "gone");
    c.ok(&["delete", "deployment", "gone"]);
    wait_for(&c, "the Deployment's ReplicaSets and pods collected", || {
        c.get_json(&["rs", "-l", "app=gone"])["items"]
            .as_array()
            .unwrap()
            .is_empty()
            && live_pods(&c, "app=gone").is_empty()
    });
}

fn images(c: &krust_e2e::Cluster, selector: &str) -> Vec<String> {
    let mut v: Vec<String> = live_pods(c, selector)
        .iter()
        .map(|p| {
            p["spec"]["containers"][0]["image"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

fn rs_with_image(c: &krust_e2e::Cluster, selector: &str, image: &str) -> String {
    let list = c.get_json(&["rs", "-l", selector]);
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|rs| rs["spec"]["template"]["spec"]["containers"][0]["image"] == image)
        .map(name)
        .unwrap_or_else(|| panic!("no ReplicaSet with {image}: {list}"))
}

fn only_rs(c: &krust_e2e::Cluster, selector: &str) -> Value {
    let list = c.get_json(&["rs", "-l", selector]);
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    items[0].clone()
}
