//! The CronJob controller on simulated nodes: a schedule due every minute starts a Job
//! named after its scheduled minute, which runs to completion and is recorded in the
//! CronJob's status. (Schedules and policies are covered by the controller's unit tests;
//! this is the one wait for a real activation, at most about a minute.)

use serde_json::json;

use crate::support::*;

#[test]
fn a_due_schedule_starts_a_job() {
    let c = cluster();
    let cj = json!({
        "apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": "tick"},
        "spec": {
            "schedule": "* * * * *",
            // Keeps the Job waited on below even if later minutes' Jobs finish first.
            "successfulJobsHistoryLimit": 3,
            "jobTemplate": {
                "metadata": {"labels": {"team": "a"}},
                "spec": {"template": {"spec": {
                    "restartPolicy": "OnFailure",
                    "containers": [{"name": "c", "image": "busybox"}],
                }}},
            },
        },
    });
    c.ok_stdin(&["apply", "-f", "-"], &cj.to_string());
    let mut job = serde_json::Value::Null;
    wait_for(&c, "a Job of the CronJob", || {
        let list = c.get_json(&["jobs", "-l", "team=a"]);
        match list["items"].as_array().and_then(|v| v.first()) {
            Some(j) => {
                job = j.clone();
                true
            }
            None => false,
        }
    });
    let name = name(&job);
    let minutes = name.strip_prefix("tick-").expect("named <cronjob>-<minutes>");
    assert!(minutes.parse::<i64>().is_ok(), "{name}");
    let owner = &job["metadata"]["ownerReferences"][0];
    assert_eq!(
        (owner["kind"].as_str(), owner["name"].as_str()),
        (Some("CronJob"), Some("tick"))
    );
    assert_eq!(owner["controller"], true);
    let stamp = job["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(stamp.ends_with(":00Z"), "{stamp}");
    wait_for(&c, "the CronJob's lastScheduleTime", || {
        c.get_json(&["cronjob", "tick"])["status"]["lastScheduleTime"] == stamp.as_str()
    });
    c.ok(&[
        "wait",
        "--for=condition=complete",
        &format!("job/{name}"),
        "--timeout=90s",
    ]);
    wait_for(&c, "lastSuccessfulTime and an empty active list", || {
        let cj = c.get_json(&["cronjob", "tick"]);
        cj["status"]["lastSuccessfulTime"].is_string()
            && cj["status"]["active"]
                .as_array()
                .is_none_or(|a| a.iter().all(|r| r["name"] != name.as_str()))
    });
}
