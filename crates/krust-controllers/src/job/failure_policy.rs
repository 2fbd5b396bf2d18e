//! `spec.podFailurePolicy`: the first rule matching a failed pod decides whether its
//! failure counts against the back-off limit, fails its index, fails the Job, or is
//! ignored; as upstream's `matchPodFailurePolicy`.

use k8s_openapi::api::batch::v1::{PodFailurePolicy, PodFailurePolicyOnExitCodesRequirement};
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};

/// What a matching rule says to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// Fail the whole Job.
    FailJob,
    /// Fail the pod's index (backoffLimitPerIndex).
    FailIndex,
    /// Count the failure as usual.
    Count,
    /// Do not count it.
    Ignore,
}

/// The verdict on one failed pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Verdict {
    /// The matching rule's action, `None` when no rule matched (counted as usual).
    pub action: Option<Action>,
    /// For FailJob: the message of the Job's failure condition.
    pub message: Option<String>,
}

impl Verdict {
    /// Whether the failure counts against the back-off limit.
    pub(crate) fn counts(&self) -> bool {
        self.action != Some(Action::Ignore)
    }
}

/// Applies the policy to a pod that failed.
pub(crate) fn evaluate(policy: &PodFailurePolicy, pod: &Pod) -> Verdict {
    let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    for (i, rule) in policy.rules.iter().enumerate() {
        let action = match rule.action.as_str() {
            "FailJob" => Action::FailJob,
            "FailIndex" => Action::FailIndex,
            "Count" => Action::Count,
            "Ignore" => Action::Ignore,
            // A rule with an action this version does not know is skipped, as upstream.
            _ => continue,
        };
        if let Some(req) = &rule.on_exit_codes
            && let Some(c) = matching_container(pod, req)
        {
            let code = exit_code(c).unwrap_or_default();
            return Verdict {
                action: Some(action),
                message: (action == Action::FailJob).then(|| {
                    format!(
                        "Container {} for pod {ns}/{name} failed with exit code {code} matching {} rule at index {i}",
                        c.name, rule.action
                    )
                }),
            };
        }
        if let Some(patterns) = &rule.on_pod_conditions {
            let conditions = pod.status.as_ref().and_then(|s| s.conditions.as_ref());
            let hit = patterns.iter().find_map(|p| {
                let want = if p.status.is_empty() {
                    "True"
                } else {
                    p.status.as_str()
                };
                conditions?
                    .iter()
                    .find(|c| c.type_ == p.type_ && c.status == want)
            });
            if let Some(c) = hit {
                return Verdict {
                    action: Some(action),
                    message: (action == Action::FailJob).then(|| {
                        format!(
                            "Pod {ns}/{name} has condition {} matching {} rule at index {i}",
                            c.type_, rule.action
                        )
                    }),
                };
            }
        }
    }
    Verdict {
        action: None,
        message: None,
    }
}

fn exit_code(c: &ContainerStatus) -> Option<i32> {
    Some(c.state.as_ref()?.terminated.as_ref()?.exit_code)
}

/// The first terminated container (app containers first, then init containers) with a
/// non-zero exit code the requirement matches.
fn matching_container<'a>(
    pod: &'a Pod,
    req: &PodFailurePolicyOnExitCodesRequirement,
) -> Option<&'a ContainerStatus> {
    let s = pod.status.as_ref()?;
    let matches = |c: &&ContainerStatus| {
        let Some(code) = exit_code(c) else { return false };
        if code == 0 || req.container_name.as_ref().is_some_and(|n| *n != c.name) {
            return false;
        }
        let listed = req.values.contains(&code);
        match req.operator.as_str() {
            "In" => listed,
            "NotIn" => !listed,
            _ => false,
        }
    };
    s.container_statuses
        .iter()
        .flatten()
        .find(matches)
        .or_else(|| s.init_container_statuses.iter().flatten().find(matches))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::batch::v1::{PodFailurePolicyOnPodConditionsPattern, PodFailurePolicyRule};
    use k8s_openapi::api::core::v1::{ContainerState, ContainerStateTerminated, PodCondition, PodStatus};

    fn failed_pod(code: i32, condition: Option<&str>) -> Pod {
        let mut p = Pod::default();
        p.metadata.name = Some("p".into());
        p.metadata.namespace = Some("ns".into());
        p.status = Some(PodStatus {
            phase: Some("Failed".into()),
            container_statuses: Some(vec![ContainerStatus {
                name: "main".into(),
                state: Some(ContainerState {
                    terminated: Some(ContainerStateTerminated {
                        exit_code: code,
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }]),
            conditions: condition.map(|t| {
                vec![PodCondition {
                    type_: t.into(),
                    status: "True".into(),
                    ..Default::default()
                }]
            }),
            ..Default::default()
        });
        p
    }

    fn exit_rule(action: &str, op: &str, values: &[i32]) -> PodFailurePolicyRule {
        PodFailurePolicyRule {
            action: action.into(),
            on_exit_codes: Some(PodFailurePolicyOnExitCodesRequirement {
                container_name: None,
                operator: op.into(),
                values: values.to_vec(),
            }),
            on_pod_conditions: None,
        }
    }

    fn policy() -> PodFailurePolicy {
        PodFailurePolicy {
            rules: vec![
                exit_rule("FailJob", "In", &[42]),
                PodFailurePolicyRule {
                    action: "Ignore".into(),
                    on_exit_codes: None,
                    on_pod_conditions: Some(vec![PodFailurePolicyOnPodConditionsPattern {
                        type_: "DisruptionTarget".into(),
                        status: "True".into(),
                    }]),
                },
                exit_rule("FailIndex", "NotIn", &[1]),
            ],
        }
    }

    #[test]
    fn first_matching_rule_decides() {
        let v = evaluate(&policy(), &failed_pod(42, None));
        assert_eq!(v.action, Some(Action::FailJob));
        assert_eq!(
            v.message.as_deref(),
            Some("Container main for pod ns/p failed with exit code 42 matching FailJob rule at index 0")
        );
        let v = evaluate(&policy(), &failed_pod(1, Some("DisruptionTarget")));
        assert_eq!(v.action, Some(Action::Ignore));
        assert!(!v.counts());
        assert_eq!(
            evaluate(&policy(), &failed_pod(3, None)).action,
            Some(Action::FailIndex)
        );
        let none = evaluate(&policy(), &failed_pod(1, None));
        assert_eq!(none.action, None);
        assert!(none.counts());
    }

    #[test]
    fn exit_code_zero_never_matches() {
        let p = PodFailurePolicy {
            rules: vec![exit_rule("FailJob", "NotIn", &[5])],
        };
        assert_eq!(evaluate(&p, &failed_pod(0, None)).action, None);
    }
}
