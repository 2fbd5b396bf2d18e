use super::*;
use crate::deployment::arith::tests::deploy;
use crate::deployment::rsutil::tests::rs;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

fn at(s: i64) -> Timestamp {
    Timestamp::from_second(s).unwrap()
}

fn d3() -> Deployment {
    let mut d = deploy(3, IntOrString::Int(1), IntOrString::Int(0));
    d.metadata.name = Some("web".into());
    d.metadata.generation = Some(2);
    d.spec.as_mut().unwrap().progress_deadline_seconds = Some(600);
    d
}

fn reason<'a>(s: &'a DeploymentStatus, t: &str) -> Option<&'a str> {
    condition(s, t).and_then(|c| c.reason.as_deref())
}

#[test]
fn counts_and_availability() {
    let d = d3();
    let old = rs("old", 1, 2, 2);
    let new = rs("new", 2, 2, 1);
    let s = calculate_status(&[&old, &new], Some(&new), &d, at(10));
    assert_eq!(s.replicas, Some(4));
    assert_eq!(s.updated_replicas, Some(2));
    assert_eq!(s.available_replicas, Some(3));
    assert_eq!(s.unavailable_replicas, Some(1));
    assert_eq!(s.observed_generation, Some(2));
    assert_eq!(reason(&s, AVAILABLE), Some("MinimumReplicasAvailable"));
    let thin = rs("new", 2, 3, 1);
    let s = calculate_status(&[&thin], Some(&thin), &d, at(10));
    assert_eq!(reason(&s, AVAILABLE), Some("MinimumReplicasUnavailable"));
    assert_eq!(s.ready_replicas, Some(1));
}

#[test]
fn conditions_keep_times_unless_status_changes() {
    let mut s = DeploymentStatus::default();
    set_condition(
        &mut s,
        new_condition(PROGRESSING, "True", NEW_RS_CREATED, "a".into(), at(1)),
    );
    set_condition(
        &mut s,
        new_condition(PROGRESSING, "True", NEW_RS_CREATED, "b".into(), at(2)),
    );
    assert_eq!(condition(&s, PROGRESSING).unwrap().message.as_deref(), Some("a"));
    set_condition(
        &mut s,
        new_condition(PROGRESSING, "True", RS_UPDATED, "c".into(), at(3)),
    );
    let c = condition(&s, PROGRESSING).unwrap();
    assert_eq!(c.last_transition_time.as_ref().unwrap().0, at(1));
    assert_eq!(c.last_update_time.as_ref().unwrap().0, at(3));
    set_condition(
        &mut s,
        new_condition(PROGRESSING, "False", TIMED_OUT, "d".into(), at(4)),
    );
    assert_eq!(
        condition(&s, PROGRESSING)
            .unwrap()
            .last_transition_time
            .as_ref()
            .unwrap()
            .0,
        at(4)
    );
    remove_condition(&mut s, PROGRESSING);
    assert!(s.conditions.is_none());
}

#[test]
fn rollout_completes() {
    let d = d3();
    let new = rs("new", 2, 3, 3);
    let s = rollout_status(&[&new], Some(&new), &d, at(10));
    assert!(deployment_complete(&d, &s));
    let c = condition(&s, PROGRESSING).unwrap();
    assert_eq!(c.reason.as_deref(), Some(NEW_RS_AVAILABLE));
    assert_eq!(
        c.message.as_deref(),
        Some("ReplicaSet \"new\" has successfully progressed.")
    );
    assert_eq!(stuck_requeue(&d, &s, at(10)), None);
}

#[test]
fn progress_refreshes_and_stalls_time_out() {
    let mut d = d3();
    let old = rs("old", 1, 3, 3);
    let new = rs("new", 2, 1, 0);
    let mut stored = DeploymentStatus {
        replicas: Some(3),
        ..Default::default()
    };
    set_condition(
        &mut stored,
        new_condition(PROGRESSING, "True", NEW_RS_CREATED, "x".into(), at(100)),
    );
    d.status = Some(stored);
    // One more updated replica than stored: progress.
    let s = rollout_status(&[&old, &new], Some(&new), &d, at(200));
    let c = condition(&s, PROGRESSING).unwrap();
    assert_eq!(c.reason.as_deref(), Some(RS_UPDATED));
    assert_eq!(c.last_update_time.as_ref().unwrap().0, at(200));
    assert_eq!(c.last_transition_time.as_ref().unwrap().0, at(100));
    // No change since then: requeued for the rest of the deadline, then timed out.
    d.status = Some(s.clone());
    let same = rollout_status(&[&old, &new], Some(&new), &d, at(300));
    assert_eq!(reason(&same, PROGRESSING), Some(RS_UPDATED));
    assert_eq!(stuck_requeue(&d, &same, at(300)), Some(Duration::from_secs(500)));
    let late = rollout_status(&[&old, &new], Some(&new), &d, at(801));
    assert_eq!(reason(&late, PROGRESSING), Some(TIMED_OUT));
    assert_eq!(condition(&late, PROGRESSING).unwrap().status, "False");
}

#[test]
fn without_deadline_no_progressing_condition() {
    let mut d = d3();
    d.spec.as_mut().unwrap().progress_deadline_seconds = Some(i32::MAX);
    let mut stored = DeploymentStatus::default();
    set_condition(
        &mut stored,
        new_condition(PROGRESSING, "True", NEW_RS_CREATED, "x".into(), at(1)),
    );
    d.status = Some(stored);
    let new = rs("new", 2, 3, 3);
    let s = rollout_status(&[&new], Some(&new), &d, at(10));
    assert!(condition(&s, PROGRESSING).is_none());
    assert!(paused_condition(&d, at(10)).is_none());
}

#[test]
fn replica_failures_are_copied_up() {
    use k8s_openapi::api::apps::v1::ReplicaSetCondition;
    let d = d3();
    let mut new = rs("new", 2, 3, 0);
    new.status.as_mut().unwrap().conditions = Some(vec![ReplicaSetCondition {
        type_: REPLICA_FAILURE.into(),
        status: "True".into(),
        reason: Some("FailedCreate".into()),
        message: Some("exceeded quota".into()),
        last_transition_time: None,
    }]);
    let s = rollout_status(&[&new], Some(&new), &d, at(10));
    assert_eq!(reason(&s, REPLICA_FAILURE), Some("FailedCreate"));
}

#[test]
fn pause_and_resume_conditions() {
    let mut d = d3();
    d.spec.as_mut().unwrap().paused = Some(true);
    let s = paused_condition(&d, at(5)).unwrap();
    assert_eq!(reason(&s, PROGRESSING), Some(PAUSED));
    assert_eq!(condition(&s, PROGRESSING).unwrap().status, "Unknown");
    d.status = Some(s);
    assert!(paused_condition(&d, at(6)).is_none());
    d.spec.as_mut().unwrap().paused = Some(false);
    assert_eq!(
        reason(&paused_condition(&d, at(7)).unwrap(), PROGRESSING),
        Some(RESUMED)
    );
    let mut timed_out = DeploymentStatus::default();
    set_condition(
        &mut timed_out,
        new_condition(PROGRESSING, "False", TIMED_OUT, "t".into(), at(1)),
    );
    d.status = Some(timed_out);
    d.spec.as_mut().unwrap().paused = Some(true);
    assert!(paused_condition(&d, at(8)).is_none());
}
