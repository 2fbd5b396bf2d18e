//! The Job controller on simulated nodes: completions with parallelism, Indexed Jobs,
//! the back-off limit and the pod failure policy, the active deadline, suspend/resume.
//! Simulated pods of a Job succeed after the pod duration unless the annotation
//! `krust.io/simulate-exit-code` makes them fail with that code.

use serde_json::{Value, json};

use crate::support::*;

/// A Job running `image` with restartPolicy Never; `spec` fields are merged in, `pod`
/// annotations go on the pod template.
fn job(name: &str, spec: Value, pod_annotations: Value) -> String {
    let mut j = json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "template": {
                "metadata": {"annotations": pod_annotations},
                "spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": "busybox"}]},
            },
        },
    });
    if let (Some(s), Some(extra)) = (j["spec"].as_object_mut(), spec.as_object()) {
        for (k, v) in extra {
            s.insert(k.clone(), v.clone());
        }
    }
    j.to_string()
}

fn pods_of(c: &krust_e2e::Cluster, job: &str) -> Vec<Value> {
    c.get_json(&["pods", "-l", &format!("batch.kubernetes.io/job-name={job}")])["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn finished_with(c: &krust_e2e::Cluster, job: &str, type_: &str) -> Value {
    let mut seen = Value::Null;
    wait_for(c, &format!("job {job} {type_}"), || {
        seen = c.get_json(&["job", job]);
        condition(&seen, type_)["status"] == "True"
    });
    seen
}

#[test]
fn jobs_complete_with_parallelism_and_indexes() {
    let c = cluster();
    c.ok_stdin(
        &["apply", "-f", "-"],
        &job("work", json!({"completions": 4, "parallelism": 2}), json!({})),
    );
    let j = finished_with(&c, "work", "Complete");
    let st = &j["status"];
    assert_eq!(st["succeeded"], 4, "{j}");
    assert!(st["active"].as_i64().unwrap_or(0) == 0, "{j}");
    assert!(
        st["completionTime"].is_string() && st["startTime"].is_string(),
        "{j}"
    );
    assert_eq!(
        condition(&j, "SuccessCriteriaMet")["reason"],
        "CompletionsReached"
    );
    assert_eq!(condition(&j, "Complete")["reason"], "CompletionsReached");
    let uid = j["metadata"]["uid"].as_str().unwrap();
    let pods = pods_of(&c, "work");
    assert_eq!(pods.len(), 4, "one pod per completion");
    for p in &pods {
        assert_eq!(p["status"]["phase"], "Succeeded");
        assert_eq!(p["metadata"]["labels"]["batch.kubernetes.io/controller-uid"], uid);
        assert!(
            p["metadata"]["finalizers"]
                .as_array()
                .is_none_or(|f| f.iter().all(|x| x != "batch.kubernetes.io/job-tracking")),
            "the tracking finalizer is removed once counted: {p}"
        );
        assert_eq!(p["metadata"]["ownerReferences"][0]["kind"], "Job");
    }
    c.ok(&["wait", "--for=condition=complete", "job/work", "--timeout=60s"]);

    // Indexed: one success per index, with the index on the pod.
    c.ok_stdin(
        &["apply", "-f", "-"],
        &job(
            "idx",
            json!({"completions": 3, "parallelism": 3, "completionMode": "Indexed"}),
            json!({}),
        ),
    );
    let j = finished_with(&c, "idx", "Complete");
    assert_eq!(j["status"]["completedIndexes"], "0-2", "{j}");
    assert_eq!(j["status"]["succeeded"], 3);
    let mut indexes: Vec<String> = pods_of(&c, "idx")
        .iter()
        .map(|p| {
            let ix = p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]
                .as_str()
                .unwrap()
                .to_string();
            assert_eq!(
                p["metadata"]["labels"]["batch.kubernetes.io/job-completion-index"],
                ix.as_str()
            );
            assert_eq!(p["spec"]["hostname"], format!("idx-{ix}"));
            let env = &p["spec"]["containers"][0]["env"][0];
            assert_eq!(env["name"], "JOB_COMPLETION_INDEX", "{p}");
            ix
        })
        .collect();
    indexes.sort();
    assert_eq!(indexes, ["0", "1", "2"]);
}

#[test]
fn failing_jobs_fail_by_backoff_limit_and_pod_failure_policy() {
    let c = cluster();
    let failing = json!({"krust.io/simulate-exit-code": "1"});
    c.ok_stdin(
        &["apply", "-f", "-"],
        &job("flaky", json!({"backoffLimit": 1}), failing),
    );
    let j = finished_with(&c, "flaky", "Failed");
    assert_eq!(condition(&j, "Failed")["reason"], "BackoffLimitExceeded", "{j}");
    assert_eq!(condition(&j, "FailureTarget")["reason"], "BackoffLimitExceeded");
    assert_eq!(j["status"]["failed"], 2, "the first pod and its one retry: {j}");
    assert!(j["status"]["completionTime"].is_null());
    assert_eq!(pods_of(&c, "flaky").len(), 2);

    // A FailJob rule fails the Job at the first matching exit code, without retries.
    c.ok_stdin(
        &["apply", "-f", "-"],
        &job(
            "fatal",
            json!({"backoffLimit": 6, "podFailurePolicy": {"rules": [
                {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [42]}}
            ]}}),
            json!({"krust.io/simulate-exit-code": "42"}),
        ),
    );
    let j = finished_with(&c, "fatal", "Failed");
    let failed = condition(&j, "Failed");
    assert_eq!(failed["reason"], "PodFailurePolicy", "{j}");
    assert!(
        failed["message"].as_str().unwrap().contains("exit code 42"),
        "{j}"
    );
    assert_eq!(pods_of(&c, "fatal").len(), 1);

    // Per-index limits: every index fails on its first failure.
    c.ok_stdin(
        &["apply", "-f", "-"],
        &job(
            "perindex",
            json!({"completions": 2, "parallelism": 2, "completionMode": "Indexed", "backoffLimitPerIndex": 0}),
            json!({"krust.io/simulate-exit-code": "1"}),
        ),
    );
    let j = finished_with(&c, "perindex", "Failed");
    assert_eq!(condition(&j, "Failed")["reason"], "FailedIndexes", "{j}");
    assert_eq!(j["status"]["failedIndexes"], "0,1", "{j}");
    assert_eq!(j["status"]["failed"], 2);
}

#[test]
fn deadline_and_suspend() {
    // Pods that run for ten minutes unless stopped.
    let c = krust_e2e::Cluster::start_with_nodes(2, &["--simulated-pod-duration", "600s"]);
    c.ok_stdin(
        &["apply", "-f", "-"],
        &job(
            "slow",
            json!({"activeDeadlineSeconds": 3, "parallelism": 2, "completions": 2}),
            json!({}),
        ),
    );
    let j = finished_with(&c, "slow", "Failed");
    assert_eq!(condition(&j, "Failed")["reason"], "DeadlineExceeded", "{j}");
    assert_eq!(
        j["status"]["failed"], 2,
        "both active pods were stopped and counted: {j}"
    );
    wait_for(&c, "the deadline's pods gone", || {
        live_pods(&c, "batch.kubernetes.io/job-name=slow").is_empty()
    });

    // Created suspended: no pods, no start time, Suspended.
    c.ok_stdin(
        &["apply", "-f", "-"],
        &job(
            "later",
            json!({"suspend": true, "parallelism": 2, "completions": 4}),
            json!({}),
        ),
    );
    wait_for(&c, "the Suspended condition", || {
        let j = c.get_json(&["job", "later"]);
        condition(&j, "Suspended")["status"] == "True"
    });
    let j = c.get_json(&["job", "later"]);
    assert_eq!(condition(&j, "Suspended")["reason"], "JobSuspended");
    assert!(j["status"]["startTime"].is_null(), "{j}");
    assert!(pods_of(&c, "later").is_empty());
    // Resumed: pods start and the condition says so.
    c.ok(&[
        "patch",
        "job",
        "later",
        "--type=merge",
        "-p",
        r#"{"spec":{"suspend":false}}"#,
    ]);
    wait_for(&c, "two active pods", || {
        let j = c.get_json(&["job", "later"]);
        j["status"]["active"] == 2 && condition(&j, "Suspended")["reason"] == "JobResumed"
    });
    assert!(c.get_json(&["job", "later"])["status"]["startTime"].is_string());
    // Suspended again: the active pods are deleted.
    c.ok(&[
        "patch",
        "job",
        "later",
        "--type=merge",
        "-p",
        r#"{"spec":{"suspend":true}}"#,
    ]);
    wait_for(&c, "no active pods while suspended", || {
        let j = c.get_json(&["job", "later"]);
        j["status"]["active"].as_i64().unwrap_or(0) == 0
            && condition(&j, "Suspended")["status"] == "True"
            && live_pods(&c, "batch.kubernetes.io/job-name=later").is_empty()
    });
    let j = c.get_json(&["job", "later"]);
    assert!(
        j["status"]["failed"].as_i64().unwrap_or(0) == 0,
        "pods removed by suspend are not failures: {j}"
    );
}
