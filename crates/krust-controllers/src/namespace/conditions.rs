//! The status conditions a terminating namespace carries while its content is deleted,
//! with upstream's types, reasons and messages (users and tools read them to learn why a
//! namespace is stuck in Terminating).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::NamespaceCondition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// Discovery of some resource types failed, so some content may have been missed.
pub const DISCOVERY_FAILURE: &str = "NamespaceDeletionDiscoveryFailure";
/// Some group versions could not be parsed.
pub const GV_PARSING_FAILURE: &str = "NamespaceDeletionGroupVersionParsingFailure";
/// Deleting some resource types failed.
pub const CONTENT_FAILURE: &str = "NamespaceDeletionContentFailure";
/// Objects remain in the namespace.
pub const CONTENT_REMAINING: &str = "NamespaceContentRemaining";
/// Objects remain because of their finalizers.
pub const FINALIZERS_REMAINING: &str = "NamespaceFinalizersRemaining";

/// Every condition type the namespace controller maintains, in the order it writes them.
const TYPES: [&str; 5] = [
    DISCOVERY_FAILURE,
    GV_PARSING_FAILURE,
    CONTENT_FAILURE,
    CONTENT_REMAINING,
    FINALIZERS_REMAINING,
];

/// What one deletion pass found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    /// Discovery failed (partly), with the message.
    pub discovery_failure: Option<String>,
    /// Group versions that do not parse, with the message.
    pub gv_parsing_failure: Option<String>,
    /// Per resource type that could not be deleted: the error.
    pub content_errors: Vec<String>,
    /// `plural.group` → objects remaining.
    pub remaining: BTreeMap<String, usize>,
    /// Finalizer → objects remaining that carry it.
    pub finalizers: BTreeMap<String, usize>,
}

impl Report {
    /// Whether content remains.
    pub fn content_remains(&self) -> bool {
        self.remaining.values().any(|n| *n > 0)
    }
}

/// (status, reason, message) of a condition type given a report.
fn wanted(kind: &str, r: &Report) -> (&'static str, &'static str, String) {
    let ok = |reason: &'static str, message: &str| ("False", reason, message.to_string());
    match kind {
        DISCOVERY_FAILURE => match &r.discovery_failure {
            Some(m) => ("True", "DiscoveryFailed", m.clone()),
            None => ok("ResourcesDiscovered", "All resources successfully discovered"),
        },
        GV_PARSING_FAILURE => match &r.gv_parsing_failure {
            Some(m) => ("True", "GroupVersionParsingFailed", m.clone()),
            None => ok("ParsedGroupVersions", "All legacy kube types successfully parsed"),
        },
        CONTENT_FAILURE if !r.content_errors.is_empty() => {
            let mut msgs = r.content_errors.clone();
            msgs.sort();
            (
                "True",
                "ContentDeletionFailed",
                format!(
                    "Failed to delete all resource types, {} remaining: {}",
                    msgs.len(),
                    msgs.join(", ")
                ),
            )
        }
        CONTENT_FAILURE => ok(
            "ContentDeleted",
            "All content successfully deleted, may be waiting on finalization",
        ),
        CONTENT_REMAINING if r.content_remains() => {
            let parts: Vec<String> = r
                .remaining
                .iter()
                .filter(|(_, n)| **n > 0)
                .map(|(res, n)| format!("{res} has {n} resource instances"))
                .collect();
            (
                "True",
                "SomeResourcesRemain",
                format!("Some resources are remaining: {}", parts.join(", ")),
            )
        }
        CONTENT_REMAINING => ok("ContentRemoved", "All content successfully removed"),
        FINALIZERS_REMAINING if r.finalizers.values().any(|n| *n > 0) => {
            let parts: Vec<String> = r
                .finalizers
                .iter()
                .filter(|(_, n)| **n > 0)
                .map(|(f, n)| format!("{f} in {n} resource instances"))
                .collect();
            (
                "True",
                "SomeFinalizersRemain",
                format!(
                    "Some content in the namespace has finalizers remaining: {}",
                    parts.join(", ")
                ),
            )
        }
        _ => ok("ContentRemoved", "All content successfully removed"),
    }
}

/// Brings `conditions` in line with `report`; true if anything changed. A condition's
/// lastTransitionTime moves only when its status does.
pub fn update(conditions: &mut Vec<NamespaceCondition>, report: &Report, now: &Time) -> bool {
    let mut changed = false;
    for kind in TYPES {
        let (status, reason, message) = wanted(kind, report);
        match conditions.iter_mut().find(|c| c.type_ == kind) {
            None => {
                conditions.push(NamespaceCondition {
                    type_: kind.to_string(),
                    status: status.to_string(),
                    reason: Some(reason.to_string()),
                    message: Some(message),
                    last_transition_time: Some(now.clone()),
                });
                changed = true;
            }
            Some(c) => {
                let same = c.status == status
                    && c.reason.as_deref() == Some(reason)
                    && c.message.as_deref() == Some(message.as_str());
                if !same {
                    if c.status != status {
                        c.last_transition_time = Some(now.clone());
                    }
                    c.status = status.to_string();
                    c.reason = Some(reason.to_string());
                    c.message = Some(message);
                    changed = true;
                }
            }
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::Timestamp;

    fn at(secs: i64) -> Time {
        Time(Timestamp::from_second(secs).unwrap_or(Timestamp::UNIX_EPOCH))
    }

    fn find<'a>(c: &'a [NamespaceCondition], t: &str) -> &'a NamespaceCondition {
        c.iter().find(|c| c.type_ == t).expect("condition present")
    }

    #[test]
    fn all_well_gives_five_false_conditions() {
        let mut c = Vec::new();
        assert!(update(&mut c, &Report::default(), &at(1)));
        assert_eq!(c.len(), 5);
        assert!(c.iter().all(|c| c.status == "False"));
        assert_eq!(
            find(&c, CONTENT_REMAINING).reason.as_deref(),
            Some("ContentRemoved")
        );
        // Nothing new: nothing to write.
        assert!(!update(&mut c, &Report::default(), &at(2)));
    }

    #[test]
    fn remaining_content_and_finalizers_are_listed() {
        let mut r = Report::default();
        r.remaining.insert("configmaps.".into(), 2);
        r.remaining.insert("widgets.example.com".into(), 1);
        r.finalizers.insert("example.com/hold".into(), 3);
        let mut c = Vec::new();
        update(&mut c, &r, &at(1));
        let cr = find(&c, CONTENT_REMAINING);
        assert_eq!(cr.status, "True");
        assert_eq!(cr.reason.as_deref(), Some("SomeResourcesRemain"));
        assert_eq!(
            cr.message.as_deref(),
            Some(
                "Some resources are remaining: configmaps. has 2 resource instances, widgets.example.com has 1 resource instances"
            )
        );
        let fr = find(&c, FINALIZERS_REMAINING);
        assert_eq!(fr.reason.as_deref(), Some("SomeFinalizersRemain"));
        assert_eq!(
            fr.message.as_deref(),
            Some(
                "Some content in the namespace has finalizers remaining: example.com/hold in 3 resource instances"
            )
        );
    }

    #[test]
    fn failures_become_true_conditions() {
        let r = Report {
            discovery_failure: Some("Discovery failed for some groups, 1 failing: x".into()),
            gv_parsing_failure: Some("bad/group/version".into()),
            content_errors: vec!["b failed".into(), "a failed".into()],
            ..Default::default()
        };
        let mut c = Vec::new();
        update(&mut c, &r, &at(1));
        assert_eq!(
            find(&c, DISCOVERY_FAILURE).reason.as_deref(),
            Some("DiscoveryFailed")
        );
        assert_eq!(
            find(&c, GV_PARSING_FAILURE).reason.as_deref(),
            Some("GroupVersionParsingFailed")
        );
        assert_eq!(
            find(&c, CONTENT_FAILURE).message.as_deref(),
            Some("Failed to delete all resource types, 2 remaining: a failed, b failed")
        );
    }

    #[test]
    fn transition_time_moves_only_with_status() {
        let mut r = Report::default();
        r.remaining.insert("pods.".into(), 2);
        let mut c = Vec::new();
        update(&mut c, &r, &at(1));
        r.remaining.insert("pods.".into(), 1);
        assert!(update(&mut c, &r, &at(2)));
        assert_eq!(find(&c, CONTENT_REMAINING).last_transition_time, Some(at(1)));
        r.remaining.clear();
        assert!(update(&mut c, &r, &at(3)));
        let cr = find(&c, CONTENT_REMAINING);
        assert_eq!(
            (cr.status.as_str(), cr.last_transition_time.clone()),
            ("False", Some(at(3)))
        );
    }
}
