//! Job conditions: reading and setting them, the pending outcome of a Job (`Cond`: a
//! success or a failure with reason and message, shown first as the interim
//! `SuccessCriteriaMet`/`FailureTarget` and later as `Complete`/`Failed`), and the
//! success policy.

use std::collections::BTreeSet;

use k8s_openapi::api::batch::v1::{JobCondition, JobStatus, SuccessPolicy};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use super::indexes;

/// How a Job is about to end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cond {
    /// Succeeded (else failed).
    pub success: bool,
    /// Reason, e.g. `BackoffLimitExceeded`.
    pub reason: String,
    /// Message.
    pub message: String,
}

impl Cond {
    /// A failure.
    pub(crate) fn failure(reason: &str, message: &str) -> Self {
        Self {
            success: false,
            reason: reason.into(),
            message: message.into(),
        }
    }

    /// A success.
    pub(crate) fn success(reason: &str, message: &str) -> Self {
        Self {
            success: true,
            reason: reason.into(),
            message: message.into(),
        }
    }

    /// The condition shown while pods are still being counted or terminated.
    pub(crate) fn interim_type(&self) -> &'static str {
        if self.success {
            "SuccessCriteriaMet"
        } else {
            "FailureTarget"
        }
    }

    /// The final condition.
    pub(crate) fn terminal(&self, now: Timestamp) -> JobCondition {
        condition(
            if self.success { "Complete" } else { "Failed" },
            "True",
            &self.reason,
            &self.message,
            now,
        )
    }
}

fn condition(type_: &str, status: &str, reason: &str, message: &str, now: Timestamp) -> JobCondition {
    JobCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_probe_time: Some(Time(now)),
        last_transition_time: Some(Time(now)),
    }
}

/// The condition of a type.
pub(crate) fn find<'a>(st: &'a JobStatus, type_: &str) -> Option<&'a JobCondition> {
    st.conditions.iter().flatten().find(|c| c.type_ == type_)
}

/// Whether a condition of the type is True.
pub(crate) fn is_true(st: Option<&JobStatus>, type_: &str) -> bool {
    st.and_then(|s| find(s, type_))
        .is_some_and(|c| c.status == "True")
}

/// The outcome an interim condition already records.
pub(crate) fn interim(st: &JobStatus) -> Option<Cond> {
    let from = |c: &JobCondition, success| Cond {
        success,
        reason: c.reason.clone().unwrap_or_default(),
        message: c.message.clone().unwrap_or_default(),
    };
    if let Some(c) = find(st, "FailureTarget").filter(|c| c.status == "True") {
        return Some(from(c, false));
    }
    find(st, "SuccessCriteriaMet")
        .filter(|c| c.status == "True")
        .map(|c| from(c, true))
}

/// Sets a condition: a change of status moves its transition time; the same status
/// keeps it.
pub(crate) fn set(
    st: &mut JobStatus,
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: Timestamp,
) {
    let conds = st.conditions.get_or_insert_with(Vec::new);
    match conds.iter_mut().find(|c| c.type_ == type_) {
        Some(c) if c.status == status => {
            c.reason = Some(reason.into());
            c.message = Some(message.into());
            c.last_probe_time = Some(Time(now));
        }
        Some(c) => *c = condition(type_, status, reason, message, now),
        None => conds.push(condition(type_, status, reason, message, now)),
    }
}

/// The message of the first success-policy rule the succeeded indexes meet.
pub(crate) fn success_policy_met(
    sp: &SuccessPolicy,
    succeeded: &BTreeSet<i32>,
    completions: i32,
) -> Option<String> {
    sp.rules.iter().enumerate().find_map(|(i, rule)| {
        let met = match (&rule.succeeded_indexes, rule.succeeded_count) {
            (Some(ix), count) => {
                let wanted = indexes::parse(ix, completions);
                let hit = wanted.intersection(succeeded).count();
                match count {
                    Some(n) => hit as i64 >= i64::from(n),
                    None => !wanted.is_empty() && hit == wanted.len(),
                }
            }
            (None, Some(n)) => succeeded.len() as i64 >= i64::from(n),
            (None, None) => false,
        };
        met.then(|| format!("Matched rules at index {i}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::batch::v1::SuccessPolicyRule;

    #[test]
    fn success_policy_rules() {
        let sp = SuccessPolicy {
            rules: vec![
                SuccessPolicyRule {
                    succeeded_indexes: Some("0-2".into()),
                    succeeded_count: None,
                },
                SuccessPolicyRule {
                    succeeded_indexes: Some("3-9".into()),
                    succeeded_count: Some(2),
                },
            ],
        };
        assert_eq!(success_policy_met(&sp, &[0, 1].into(), 10), None);
        assert_eq!(
            success_policy_met(&sp, &[0, 1, 2].into(), 10).as_deref(),
            Some("Matched rules at index 0")
        );
        assert_eq!(
            success_policy_met(&sp, &[4, 8].into(), 10).as_deref(),
            Some("Matched rules at index 1")
        );
    }

    #[test]
    fn setting_keeps_transition_time_for_the_same_status() {
        let t0 = Timestamp::UNIX_EPOCH;
        let t1 = Timestamp::from_second(100).unwrap_or(t0);
        let mut st = JobStatus::default();
        set(&mut st, "Suspended", "True", "JobSuspended", "Job suspended", t0);
        set(&mut st, "Suspended", "True", "JobSuspended", "Job suspended", t1);
        assert_eq!(
            find(&st, "Suspended").unwrap().last_transition_time,
            Some(Time(t0))
        );
        set(&mut st, "Suspended", "False", "JobResumed", "Job resumed", t1);
        assert_eq!(
            find(&st, "Suspended").unwrap().last_transition_time,
            Some(Time(t1))
        );
        assert!(!is_true(Some(&st), "Suspended"));
    }
}
