//! A node with the pods placed on it and what they add up to: requested resources (exact
//! and "non-zero" for scoring), host ports in use, and which pods carry (anti-)affinity
//! terms, so filters and scores read sums instead of walking pods.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Taint};

use super::pod_info::{HostPort, PodInfo};
use super::resource::Resource;
use super::selector::{Labels, NO_LABELS};

/// A Node object with its allocatable resources parsed.
#[derive(Debug, Clone)]
pub struct NodeObj {
    /// The API object.
    pub node: Node,
    /// `metadata.name`.
    pub name: String,
    /// `status.allocatable` (falling back to `status.capacity`).
    pub allocatable: Resource,
}

impl NodeObj {
    /// Parses `node`.
    pub fn new(node: Node) -> Self {
        let status = node.status.as_ref();
        let list = status
            .and_then(|s| s.allocatable.as_ref())
            .or(status.and_then(|s| s.capacity.as_ref()));
        let allocatable = list.map(Resource::from_list).unwrap_or_default();
        let name = node.metadata.name.clone().unwrap_or_default();
        Self {
            node,
            name,
            allocatable,
        }
    }

    /// Labels.
    pub fn labels(&self) -> &Labels {
        self.node.metadata.labels.as_ref().unwrap_or(&NO_LABELS)
    }

    /// Taints.
    pub fn taints(&self) -> &[Taint] {
        self.node
            .spec
            .as_ref()
            .and_then(|s| s.taints.as_deref())
            .unwrap_or(&[])
    }

    /// `spec.unschedulable` (cordoned).
    pub fn unschedulable(&self) -> bool {
        self.node
            .spec
            .as_ref()
            .and_then(|s| s.unschedulable)
            .unwrap_or(false)
    }
}

/// A node and the pods on it, as of one cache generation.
#[derive(Debug, Clone, Default)]
pub struct NodeInfo {
    /// The node object; `None` while only pods naming the node are known.
    pub node: Option<Arc<NodeObj>>,
    /// Pods bound or assumed to the node.
    pub pods: Vec<Arc<PodInfo>>,
    /// Pods with any (anti-)affinity term.
    pub pods_with_affinity: Vec<Arc<PodInfo>>,
    /// Pods with a required anti-affinity term.
    pub pods_with_required_anti_affinity: Vec<Arc<PodInfo>>,
    /// Sum of the pods' effective requests.
    pub requested: Resource,
    /// Sum of the pods' CPU requests with the scoring default for missing ones.
    pub non_zero_cpu: i64,
    /// Sum of the pods' memory requests with the scoring default for missing ones.
    pub non_zero_memory: i64,
    /// Host ports in use (one entry per pod that asks for it).
    pub used_ports: Vec<HostPort>,
    /// Cache generation of the last change.
    pub generation: u64,
}

impl NodeInfo {
    /// A node info for `node` without pods.
    pub fn with_node(node: Arc<NodeObj>) -> Self {
        Self {
            node: Some(node),
            ..Default::default()
        }
    }

    /// The node's name ("" without a node object).
    pub fn name(&self) -> &str {
        self.node.as_ref().map(|n| n.name.as_str()).unwrap_or("")
    }

    /// The node's labels.
    pub fn labels(&self) -> &Labels {
        self.node.as_ref().map(|n| n.labels()).unwrap_or(&NO_LABELS)
    }

    /// The node's allocatable resources.
    pub fn allocatable(&self) -> Option<&Resource> {
        self.node.as_ref().map(|n| &n.allocatable)
    }

    /// Accounts `pod` to this node.
    pub fn add_pod(&mut self, pod: Arc<PodInfo>) {
        self.requested.add(&pod.requests);
        self.non_zero_cpu = self.non_zero_cpu.saturating_add(pod.non_zero_cpu);
        self.non_zero_memory = self.non_zero_memory.saturating_add(pod.non_zero_memory);
        self.used_ports.extend(pod.host_ports.iter().cloned());
        if pod.has_affinity() {
            self.pods_with_affinity.push(pod.clone());
        }
        if !pod.required_anti_affinity.is_empty() {
            self.pods_with_required_anti_affinity.push(pod.clone());
        }
        self.pods.push(pod);
    }

    /// Removes the pod with `uid`; returns whether it was there.
    pub fn remove_pod(&mut self, uid: &str) -> bool {
        let Some(i) = self.pods.iter().position(|p| p.uid() == uid) else {
            return false;
        };
        let pod = self.pods.swap_remove(i);
        self.pods_with_affinity.retain(|p| p.uid() != uid);
        self.pods_with_required_anti_affinity.retain(|p| p.uid() != uid);
        self.requested.sub(&pod.requests);
        self.non_zero_cpu = self.non_zero_cpu.saturating_sub(pod.non_zero_cpu);
        self.non_zero_memory = self.non_zero_memory.saturating_sub(pod.non_zero_memory);
        for hp in &pod.host_ports {
            if let Some(j) = self.used_ports.iter().position(|u| u == hp) {
                self.used_ports.swap_remove(j);
            }
        }
        true
    }

    /// Whether `want` conflicts with a port in use: the same protocol and port on the same
    /// IP, where `0.0.0.0` overlaps every IP.
    pub fn port_conflict(&self, want: &HostPort) -> bool {
        self.used_ports.iter().any(|u| {
            u.port == want.port
                && u.protocol == want.protocol
                && (u.ip == want.ip || u.ip == "0.0.0.0" || want.ip == "0.0.0.0")
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::api::core::v1::{Container, Pod, PodSpec, ResourceRequirements};
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use super::*;

    fn pod(uid: &str, cpu: &str) -> Arc<PodInfo> {
        Arc::new(PodInfo::new(Pod {
            metadata: ObjectMeta {
                name: Some(uid.into()),
                uid: Some(uid.into()),
                ..Default::default()
            },
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "c".into(),
                    resources: Some(ResourceRequirements {
                        requests: Some(BTreeMap::from([("cpu".to_string(), Quantity(cpu.into()))])),
                        ..Default::default()
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            status: None,
        }))
    }

    #[test]
    fn add_and_remove_keep_sums() {
        let mut n = NodeInfo::default();
        n.add_pod(pod("a", "100m"));
        n.add_pod(pod("b", "200m"));
        assert_eq!(n.requested.milli_cpu, 300);
        assert_eq!(
            n.non_zero_memory,
            2 * super::super::resource::DEFAULT_MEMORY_REQUEST
        );
        assert!(n.remove_pod("a"));
        assert!(!n.remove_pod("a"));
        assert_eq!(n.requested.milli_cpu, 200);
        assert_eq!(n.pods.len(), 1);
    }

    #[test]
    fn port_conflicts() {
        let mut n = NodeInfo::default();
        n.used_ports.push(HostPort {
            ip: "10.0.0.1".into(),
            protocol: "TCP".into(),
            port: 80,
        });
        let any = HostPort {
            ip: "0.0.0.0".into(),
            protocol: "TCP".into(),
            port: 80,
        };
        assert!(n.port_conflict(&any));
        assert!(!n.port_conflict(&HostPort {
            ip: "10.0.0.2".into(),
            ..any.clone()
        }));
        assert!(!n.port_conflict(&HostPort {
            protocol: "UDP".into(),
            ..any
        }));
    }
}
