//! A pod as the scheduler sees it: the API object plus everything derived from it once
//! (effective requests, host ports, compiled affinity terms), so that filtering a pod
//! against thousands of nodes never re-parses its spec.

use std::collections::HashMap;
use std::sync::LazyLock;

use k8s_openapi::api::core::v1::{Pod, PodAffinityTerm, PodSpec, Toleration, WeightedPodAffinityTerm};

use super::resource::{Resource, pod_requests};
use super::selector::{Labels, NO_LABELS, Requirement, Selector};

static EMPTY_SPEC: LazyLock<PodSpec> = LazyLock::new(PodSpec::default);

/// Labels of every namespace, for affinity terms with a `namespaceSelector`.
pub type NamespaceLabels = HashMap<String, Labels>;

/// A host port a container asks for, normalised (`0.0.0.0`, `TCP` when unset).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostPort {
    /// Host IP (`0.0.0.0` means every address).
    pub ip: String,
    /// Protocol (`TCP`, `UDP`, `SCTP`).
    pub protocol: String,
    /// Port number.
    pub port: i32,
}

/// A compiled pod (anti-)affinity term.
#[derive(Debug, Clone)]
pub struct AffinityTerm {
    /// Namespaces named explicitly (or the owning pod's own when none and no selector).
    pub namespaces: Vec<String>,
    /// Namespaces selected by label (`Nothing` when the term has no `namespaceSelector`).
    pub namespace_selector: Selector,
    /// Pods selected by label.
    pub selector: Selector,
    /// The node label that defines the topology domain.
    pub topology_key: String,
}

impl AffinityTerm {
    fn new(owner: &Pod, t: &PodAffinityTerm) -> Self {
        let owner_ns = owner.metadata.namespace.clone().unwrap_or_default();
        let mut selector = Selector::from_label_selector(t.label_selector.as_ref());
        // matchLabelKeys / mismatchLabelKeys take their values from the owning pod.
        let owner_labels = owner.metadata.labels.as_ref().unwrap_or(&NO_LABELS);
        if t.label_selector.is_some() {
            for k in t.match_label_keys.iter().flatten() {
                if let Some(v) = owner_labels.get(k) {
                    selector.push(Requirement::equals(k, v));
                }
            }
            for k in t.mismatch_label_keys.iter().flatten() {
                if let Some(v) = owner_labels.get(k) {
                    selector.push(Requirement::not_equals(k, v));
                }
            }
        }
        let explicit = t.namespaces.clone().unwrap_or_default();
        let namespaces = if explicit.is_empty() && t.namespace_selector.is_none() {
            vec![owner_ns]
        } else {
            explicit
        };
        Self {
            namespaces,
            namespace_selector: Selector::from_label_selector(t.namespace_selector.as_ref()),
            selector,
            topology_key: t.topology_key.clone(),
        }
    }

    /// Whether `pod` is selected by the term: in one of its namespaces (by name or by the
    /// namespace's labels) and with matching labels.
    pub fn matches(&self, pod: &PodInfo, ns_labels: &NamespaceLabels) -> bool {
        let ns = pod.namespace();
        let in_ns = self.namespaces.iter().any(|n| n == ns)
            || (!matches!(self.namespace_selector, Selector::Nothing)
                && self
                    .namespace_selector
                    .matches(ns_labels.get(ns).unwrap_or(&NO_LABELS)));
        in_ns && self.selector.matches(pod.labels())
    }
}

/// A preferred (anti-)affinity term with its weight.
#[derive(Debug, Clone)]
pub struct WeightedTerm {
    /// The term.
    pub term: AffinityTerm,
    /// Its weight (1–100).
    pub weight: i64,
}

/// A pod plus what the scheduler derives from it.
#[derive(Debug, Clone)]
pub struct PodInfo {
    /// The API object.
    pub pod: Pod,
    /// `namespace/name`.
    pub key: String,
    /// Effective requests (what fit checks and node accounting use).
    pub requests: Resource,
    /// CPU for scoring: missing container requests count as 100m.
    pub non_zero_cpu: i64,
    /// Memory for scoring: missing container requests count as 200Mi.
    pub non_zero_memory: i64,
    /// Host ports of app and sidecar containers.
    pub host_ports: Vec<HostPort>,
    /// Required pod affinity terms.
    pub required_affinity: Vec<AffinityTerm>,
    /// Required pod anti-affinity terms.
    pub required_anti_affinity: Vec<AffinityTerm>,
    /// Preferred pod affinity terms.
    pub preferred_affinity: Vec<WeightedTerm>,
    /// Preferred pod anti-affinity terms.
    pub preferred_anti_affinity: Vec<WeightedTerm>,
    /// `spec.priority` (0 when unset).
    pub priority: i32,
}

fn weighted(owner: &Pod, terms: Option<&Vec<WeightedPodAffinityTerm>>) -> Vec<WeightedTerm> {
    terms
        .into_iter()
        .flatten()
        .map(|w| WeightedTerm {
            term: AffinityTerm::new(owner, &w.pod_affinity_term),
            weight: i64::from(w.weight),
        })
        .collect()
}

impl PodInfo {
    /// Derives everything the scheduler needs from `pod`.
    pub fn new(pod: Pod) -> Self {
        let spec = pod.spec.as_ref().unwrap_or(&EMPTY_SPEC);
        let requests = pod_requests(spec, false);
        let non_zero = pod_requests(spec, true);
        let mut host_ports = Vec::new();
        let sidecars = spec
            .init_containers
            .iter()
            .flatten()
            .filter(|c| c.restart_policy.as_deref() == Some("Always"));
        for c in spec.containers.iter().chain(sidecars) {
            for p in c.ports.iter().flatten() {
                let port = p.host_port.unwrap_or(0);
                if port <= 0 {
                    continue;
                }
                let ip = p
                    .host_ip
                    .as_deref()
                    .filter(|s| !s.is_empty())
                    .unwrap_or("0.0.0.0")
                    .to_string();
                let protocol = p
                    .protocol
                    .as_deref()
                    .filter(|s| !s.is_empty())
                    .unwrap_or("TCP")
                    .to_string();
                host_ports.push(HostPort { ip, protocol, port });
            }
        }
        let affinity = spec.affinity.as_ref();
        let pa = affinity.and_then(|a| a.pod_affinity.as_ref());
        let paa = affinity.and_then(|a| a.pod_anti_affinity.as_ref());
        let required = |terms: Option<&Vec<PodAffinityTerm>>| -> Vec<AffinityTerm> {
            terms
                .into_iter()
                .flatten()
                .map(|t| AffinityTerm::new(&pod, t))
                .collect()
        };
        let required_affinity =
            required(pa.and_then(|a| a.required_during_scheduling_ignored_during_execution.as_ref()));
        let required_anti_affinity =
            required(paa.and_then(|a| a.required_during_scheduling_ignored_during_execution.as_ref()));
        let preferred_affinity = weighted(
            &pod,
            pa.and_then(|a| a.preferred_during_scheduling_ignored_during_execution.as_ref()),
        );
        let preferred_anti_affinity = weighted(
            &pod,
            paa.and_then(|a| a.preferred_during_scheduling_ignored_during_execution.as_ref()),
        );
        let priority = spec.priority.unwrap_or(0);
        let key = format!(
            "{}/{}",
            pod.metadata.namespace.as_deref().unwrap_or(""),
            pod.metadata.name.as_deref().unwrap_or("")
        );
        Self {
            key,
            requests,
            non_zero_cpu: non_zero.milli_cpu,
            non_zero_memory: non_zero.memory,
            host_ports,
            required_affinity,
            required_anti_affinity,
            preferred_affinity,
            preferred_anti_affinity,
            priority,
            pod,
        }
    }

    /// The pod spec (an empty one when the object has none).
    pub fn spec(&self) -> &PodSpec {
        self.pod.spec.as_ref().unwrap_or(&EMPTY_SPEC)
    }

    /// Namespace.
    pub fn namespace(&self) -> &str {
        self.pod.metadata.namespace.as_deref().unwrap_or("")
    }

    /// Name.
    pub fn name(&self) -> &str {
        self.pod.metadata.name.as_deref().unwrap_or("")
    }

    /// UID.
    pub fn uid(&self) -> &str {
        self.pod.metadata.uid.as_deref().unwrap_or("")
    }

    /// Labels.
    pub fn labels(&self) -> &Labels {
        self.pod.metadata.labels.as_ref().unwrap_or(&NO_LABELS)
    }

    /// `spec.nodeName` ("" when unassigned).
    pub fn node_name(&self) -> &str {
        self.spec().node_name.as_deref().unwrap_or("")
    }

    /// `status.nominatedNodeName` ("" when unset).
    pub fn nominated_node_name(&self) -> &str {
        self.pod
            .status
            .as_ref()
            .and_then(|s| s.nominated_node_name.as_deref())
            .unwrap_or("")
    }

    /// Tolerations.
    pub fn tolerations(&self) -> &[Toleration] {
        self.spec().tolerations.as_deref().unwrap_or(&[])
    }

    /// Whether the pod is being deleted.
    pub fn is_terminating(&self) -> bool {
        self.pod.metadata.deletion_timestamp.is_some()
    }

    /// Whether the pod has finished (Succeeded or Failed) and no longer uses its node.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self.pod.status.as_ref().and_then(|s| s.phase.as_deref()),
            Some("Succeeded" | "Failed")
        )
    }

    /// Whether the pod has any (anti-)affinity term.
    pub fn has_affinity(&self) -> bool {
        !self.required_affinity.is_empty()
            || !self.required_anti_affinity.is_empty()
            || !self.preferred_affinity.is_empty()
            || !self.preferred_anti_affinity.is_empty()
    }

    /// Start time (for preemption's tie-breaks), else creation time; seconds since the epoch.
    pub fn start_time(&self) -> i64 {
        self.pod
            .status
            .as_ref()
            .and_then(|s| s.start_time.as_ref())
            .or(self.pod.metadata.creation_timestamp.as_ref())
            .map(|t| t.0.as_second())
            .unwrap_or(i64::MAX)
    }

    /// Whether preemption may evict others for this pod (`preemptionPolicy` is not `Never`).
    pub fn may_preempt(&self) -> bool {
        self.spec().preemption_policy.as_deref() != Some("Never")
    }

    /// Names of the PersistentVolumeClaims the pod mounts.
    pub fn pvc_names(&self) -> impl Iterator<Item = &str> {
        self.spec()
            .volumes
            .iter()
            .flatten()
            .filter_map(|v| v.persistent_volume_claim.as_ref().map(|c| c.claim_name.as_str()))
    }
}

/// Whether `a` should be kept over `b` when choosing victims: higher priority first, then
/// the one that started earlier (upstream's `MoreImportantPod`).
pub fn more_important(a: &PodInfo, b: &PodInfo) -> bool {
    if a.priority != b.priority {
        return a.priority > b.priority;
    }
    a.start_time() < b.start_time()
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{Affinity, Container, ContainerPort, PodAntiAffinity};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

    use super::*;

    #[test]
    fn derives_ports_and_terms() {
        let pod = Pod {
            metadata: ObjectMeta {
                name: Some("p".into()),
                namespace: Some("ns".into()),
                labels: Some(Labels::from([("app".into(), "web".into())])),
                ..Default::default()
            },
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "c".into(),
                    ports: Some(vec![
                        ContainerPort {
                            container_port: 80,
                            host_port: Some(8080),
                            ..Default::default()
                        },
                        ContainerPort {
                            container_port: 81,
                            ..Default::default()
                        },
                    ]),
                    ..Default::default()
                }],
                affinity: Some(Affinity {
                    pod_anti_affinity: Some(PodAntiAffinity {
                        required_during_scheduling_ignored_during_execution: Some(vec![PodAffinityTerm {
                            label_selector: Some(LabelSelector::default()),
                            match_label_keys: Some(vec!["app".into()]),
                            topology_key: "kubernetes.io/hostname".into(),
                            ..Default::default()
                        }]),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            status: None,
        };
        let info = PodInfo::new(pod);
        assert_eq!(info.key, "ns/p");
        assert_eq!(
            info.host_ports,
            vec![HostPort {
                ip: "0.0.0.0".into(),
                protocol: "TCP".into(),
                port: 8080
            }]
        );
        let term = &info.required_anti_affinity[0];
        assert_eq!(term.namespaces, vec!["ns".to_string()]);
        assert!(term.matches(&info, &NamespaceLabels::new()));
        assert_eq!(info.non_zero_cpu, 100);
    }
}
