//! Why a pod fits nowhere: the status of every node, and the message upstream prints for
//! it, `0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2
//! Insufficient cpu. preemption: ...` (reasons counted, sorted as strings).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use super::status::{Code, Status};

/// The status of each node a cycle evaluated; nodes not listed have `absent`.
#[derive(Debug, Clone)]
pub struct NodeToStatus {
    map: HashMap<String, Status>,
    absent: Status,
}

impl Default for NodeToStatus {
    fn default() -> Self {
        Self {
            map: HashMap::new(),
            absent: Status::with_reasons(Code::UnschedulableAndUnresolvable, Vec::new()),
        }
    }
}

impl NodeToStatus {
    /// Records the status of `node`.
    pub fn set(&mut self, node: &str, status: Status) {
        self.map.insert(node.to_string(), status);
    }

    /// The status of `node` (the absent status when not recorded).
    pub fn get(&self, node: &str) -> &Status {
        self.map.get(node).unwrap_or(&self.absent)
    }

    /// Sets the status of every node not recorded explicitly.
    pub fn set_absent(&mut self, status: Status) {
        self.absent = status;
    }

    /// Nodes recorded explicitly.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no node is recorded explicitly.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Explicitly recorded nodes and their statuses.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Status)> {
        self.map.iter()
    }

    /// The status of nodes not recorded.
    pub fn absent(&self) -> &Status {
        &self.absent
    }
}

/// What a failed cycle learned.
#[derive(Debug, Clone, Default)]
pub struct Diagnosis {
    /// Per-node statuses.
    pub node_to_status: NodeToStatus,
    /// Plugins that rejected the pod somewhere (for the queue's event hints).
    pub unschedulable_plugins: BTreeSet<&'static str>,
    /// The message of a PreFilter rejection.
    pub pre_filter_msg: String,
    /// The message of PostFilter (preemption).
    pub post_filter_msg: String,
}

/// No node fits the pod.
#[derive(Debug, Clone, Default)]
pub struct FitError {
    /// Nodes in the snapshot.
    pub num_all_nodes: usize,
    /// Why.
    pub diagnosis: Diagnosis,
}

impl fmt::Display for FitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0/{} nodes are available:", self.num_all_nodes)?;
        let d = &self.diagnosis;
        if !d.pre_filter_msg.is_empty() {
            write!(f, " {}.", d.pre_filter_msg)?;
        } else {
            let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
            for (_, s) in d.node_to_status.iter() {
                for r in s.reasons() {
                    *counts.entry(r).or_default() += 1;
                }
            }
            let explicit = d.node_to_status.len();
            if explicit < self.num_all_nodes {
                for r in d.node_to_status.absent().reasons() {
                    *counts.entry(r).or_default() += self.num_all_nodes - explicit;
                }
            }
            let mut parts: Vec<String> = counts.into_iter().map(|(r, n)| format!("{n} {r}")).collect();
            parts.sort();
            if !parts.is_empty() {
                write!(f, " {}.", parts.join(", "))?;
            }
        }
        if !d.post_filter_msg.is_empty() {
            write!(f, " {}", d.post_filter_msg)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_counts_and_sorts_reasons() {
        let mut d = Diagnosis::default();
        d.node_to_status.set(
            "a",
            Status::unresolvable("node(s) had untolerated taint {dedicated: gpu}"),
        );
        d.node_to_status
            .set("b", Status::unschedulable("Insufficient cpu"));
        d.node_to_status
            .set("c", Status::unschedulable("Insufficient cpu"));
        d.post_filter_msg =
            "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.".into();
        let e = FitError {
            num_all_nodes: 3,
            diagnosis: d,
        };
        assert_eq!(
            e.to_string(),
            "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 Insufficient cpu. \
             preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
        );
    }

    #[test]
    fn absent_nodes_count_with_the_absent_reasons() {
        let mut m = NodeToStatus::default();
        m.set_absent(Status::unresolvable("Preemption is not helpful for scheduling"));
        m.set(
            "a",
            Status::unresolvable("No preemption victims found for incoming pod"),
        );
        let e = FitError {
            num_all_nodes: 3,
            diagnosis: Diagnosis {
                node_to_status: m,
                ..Default::default()
            },
        };
        assert_eq!(
            e.to_string(),
            "0/3 nodes are available: 1 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling."
        );
    }

    #[test]
    fn pre_filter_message_replaces_node_reasons() {
        let d = Diagnosis {
            pre_filter_msg: "pod has unbound immediate PersistentVolumeClaims".into(),
            ..Default::default()
        };
        let e = FitError {
            num_all_nodes: 2,
            diagnosis: d,
        };
        assert_eq!(
            e.to_string(),
            "0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims."
        );
    }
}
