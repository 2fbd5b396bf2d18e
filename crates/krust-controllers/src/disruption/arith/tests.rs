//! PDB arithmetic: percents and rounding, expected counts, healthy counts, disrupted pods.

use super::*;
use crate::endpoints::pods::tests::pod;

fn pct(s: &str) -> IntOrString {
    IntOrString::String(s.into())
}

fn at(s: i64) -> Timestamp {
    Timestamp::from_second(s).unwrap_or(Timestamp::UNIX_EPOCH)
}

fn spec(min: Option<IntOrString>, max: Option<IntOrString>) -> PodDisruptionBudgetSpec {
    PodDisruptionBudgetSpec {
        min_available: min,
        max_unavailable: max,
        ..Default::default()
    }
}

#[test]
fn percents_round_as_asked() {
    assert_eq!(scaled(&IntOrString::Int(2), 10, true), Ok(2));
    assert_eq!(scaled(&pct("50%"), 5, true), Ok(3));
    assert_eq!(scaled(&pct("50%"), 5, false), Ok(2));
    assert_eq!(scaled(&pct("34%"), 3, true), Ok(2), "1.02 rounds up to 2");
    assert_eq!(scaled(&pct("0%"), 7, true), Ok(0));
    assert_eq!(scaled(&pct("100%"), 7, true), Ok(7));
    assert!(scaled(&pct("50"), 5, true).is_err(), "a string must be a percent");
    assert!(scaled(&pct("x%"), 5, true).is_err());
}

#[test]
fn expected_and_desired_counts() {
    // minAvailable as a number: expected is the pod count.
    let s = spec(Some(IntOrString::Int(2)), None);
    assert!(!needs_scale(&s));
    assert_eq!(expected_and_desired(&s, 3, 0), Ok((3, 2)));
    // minAvailable as a percent of the controllers' scale, rounded up.
    let s = spec(Some(pct("50%")), None);
    assert!(needs_scale(&s));
    assert_eq!(expected_and_desired(&s, 2, 5), Ok((5, 3)));
    // maxUnavailable: percent rounded up, so 25% of 5 is 2 unavailable, 3 desired.
    let s = spec(None, Some(pct("25%")));
    assert!(needs_scale(&s));
    assert_eq!(expected_and_desired(&s, 5, 5), Ok((5, 3)));
    let s = spec(None, Some(IntOrString::Int(7)));
    assert_eq!(expected_and_desired(&s, 5, 5), Ok((5, 0)), "never below 0");
    // Neither: nothing expected, nothing allowed.
    assert_eq!(expected_and_desired(&spec(None, None), 4, 0), Ok((0, 0)));
}

#[test]
fn allowed_disruptions() {
    assert_eq!(disruptions_allowed(3, 2, 3), 1);
    assert_eq!(disruptions_allowed(2, 2, 3), 0);
    assert_eq!(disruptions_allowed(1, 2, 3), 0);
    assert_eq!(disruptions_allowed(3, 0, 0), 0, "nothing expected yet");
}

#[test]
fn healthy_pods_and_pending_disruptions() {
    let now = at(1000);
    let a = pod("a", "10.42.0.1", true);
    let b = pod("b", "10.42.0.2", true);
    let c = pod("c", "10.42.0.3", false);
    let mut d = pod("d", "10.42.0.4", true);
    d.metadata.deletion_timestamp = Some(Time(at(990)));
    let selected = [&a, &b, &c, &d];
    assert_eq!(count_healthy(&selected, &BTreeMap::new(), now), 2);

    let recorded = BTreeMap::from([
        ("a".to_string(), Time(at(950))),    // pending until 1070
        ("b".to_string(), Time(at(800))),    // lapsed at 920
        ("d".to_string(), Time(at(990))),    // being deleted: done
        ("gone".to_string(), Time(at(990))), // no longer exists
    ]);
    let (pending, recheck) = pending_disruptions(&selected, Some(&recorded), now);
    assert_eq!(pending.keys().collect::<Vec<_>>(), ["a"]);
    assert_eq!(recheck, Some(at(1070)));
    assert_eq!(count_healthy(&selected, &pending, now), 1, "a is about to go");
    assert_eq!(pending_disruptions(&selected, None, now).0.len(), 0);
}

#[test]
fn conditions_keep_their_transition_time() {
    let c = condition(None, 1, None, Some(3), Time(at(10)));
    assert_eq!((c.status.as_str(), c.reason.as_str()), ("True", SUFFICIENT_PODS));
    assert_eq!(c.observed_generation, Some(3));
    let same = condition(Some(&c), 2, None, Some(4), Time(at(20)));
    assert_eq!(same.last_transition_time, Time(at(10)));
    let flipped = condition(Some(&c), 0, None, Some(4), Time(at(30)));
    assert_eq!(
        (flipped.status.as_str(), flipped.reason.as_str()),
        ("False", INSUFFICIENT_PODS)
    );
    assert_eq!(flipped.last_transition_time, Time(at(30)));
    let failed = condition(Some(&flipped), 5, Some("boom"), Some(4), Time(at(40)));
    assert_eq!(
        (failed.reason.as_str(), failed.message.as_str()),
        (SYNC_FAILED, "boom")
    );
    assert_eq!(failed.last_transition_time, Time(at(30)));
}
