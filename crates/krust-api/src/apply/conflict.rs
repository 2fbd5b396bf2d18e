//! Apply conflicts and their wording, as upstream reports them in the 409 answer.

use std::fmt;

use super::managed::{ManagerKey, Operation};
use super::set::FieldSet;
use super::value::go_quote;

/// One field another manager owns with a different value than the applied one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The other manager's name.
    pub manager: String,
    /// How that manager wrote the field.
    pub operation: Operation,
    /// The version an Update manager wrote with (none for appliers, whose entry is not
    /// identified by version).
    pub api_version: Option<String>,
    /// The subresource the manager wrote through (`status`), if any.
    pub subresource: Option<String>,
    /// The field, in upstream's form: `.spec.replicas`,
    /// `.spec.template.spec.containers[name="web"].image`.
    pub field: String,
}

impl Conflict {
    /// The manager as upstream names it: `"kubectl"`, `"kubectl-client-side-apply" using
    /// apps/v1`, `"kubelet" with subresource "status" using v1`.
    pub fn manager_description(&self) -> String {
        let mut out = go_quote(&self.manager);
        if let Some(sub) = &self.subresource {
            out.push_str(&format!(" with subresource {}", go_quote(sub)));
        }
        if self.operation == Operation::Update {
            out.push_str(&format!(
                " using {}",
                self.api_version.as_deref().unwrap_or_default()
            ));
        }
        out
    }

    /// The message of this conflict's `FieldManagerConflict` cause:
    /// `conflict with "kubectl-client-side-apply" using apps/v1`.
    pub fn cause_message(&self) -> String {
        format!("conflict with {}", self.manager_description())
    }
}

/// Every conflict of a failed apply, ordered by manager then field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflicts(pub Vec<Conflict>);

impl Conflicts {
    /// Builds the list from each conflicting manager's set, in upstream's order.
    pub(crate) fn from_sets(mut sets: Vec<(ManagerKey, FieldSet)>) -> Conflicts {
        sets.sort_by_key(|(key, _)| key.identifier());
        let mut out = Vec::new();
        for (key, set) in sets {
            for path in set.paths() {
                out.push(Conflict {
                    manager: key.manager.clone(),
                    operation: key.operation,
                    api_version: (!key.api_version.is_empty()).then(|| key.api_version.clone()),
                    subresource: (!key.subresource.is_empty()).then(|| key.subresource.clone()),
                    field: path.to_string(),
                });
            }
        }
        Conflicts(out)
    }
}

impl fmt::Display for Conflicts {
    /// Upstream's message: `Apply failed with 1 conflict: conflict with "x" using apps/v1:
    /// .spec.replicas`, or for several, one `conflicts with …:` block per manager listing
    /// `- <field>` lines.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_slice() {
            [one] => write!(
                f,
                "Apply failed with 1 conflict: {}: {}",
                one.cause_message(),
                one.field
            ),
            all => {
                let mut lines = Vec::new();
                let mut last: Option<String> = None;
                for conflict in all {
                    let who = conflict.manager_description();
                    if last.as_ref() != Some(&who) {
                        lines.push(format!("conflicts with {who}:"));
                        last = Some(who);
                    }
                    lines.push(format!("- {}", conflict.field));
                }
                write!(
                    f,
                    "Apply failed with {} conflicts: {}",
                    all.len(),
                    lines.join("\n")
                )
            }
        }
    }
}
