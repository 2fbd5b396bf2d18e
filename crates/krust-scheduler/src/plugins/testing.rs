//! Builders for hand-built pods and nodes in plugin tests.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{
    Affinity, Container, ContainerPort, Node, NodeSpec, NodeStatus, Pod, PodSpec, PodStatus,
    ResourceRequirements, Taint, Toleration, TopologySpreadConstraint,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

use crate::cache::Snapshot;
use crate::framework::{CycleState, NodeInfo, NodeObj, PodInfo, Status};

/// A pod under construction.
#[derive(Clone)]
pub struct PodBuilder(pub Pod);

/// A pod named `name` in namespace `default` with one container and no requests.
pub fn pod(name: &str) -> PodBuilder {
    PodBuilder(Pod {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("default".into()),
            uid: Some(format!("uid-{name}")),
            ..Default::default()
        },
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "c".into(),
                ..Default::default()
            }],
            ..Default::default()
        }),
        status: Some(PodStatus::default()),
    })
}

impl PodBuilder {
    fn spec(&mut self) -> &mut PodSpec {
        self.0.spec.get_or_insert_with(Default::default)
    }

    /// Adds a request to the first container.
    pub fn req(mut self, res: &str, q: &str) -> Self {
        let c = &mut self.spec().containers[0];
        c.resources
            .get_or_insert_with(ResourceRequirements::default)
            .requests
            .get_or_insert_with(BTreeMap::new)
            .insert(res.into(), Quantity(q.into()));
        self
    }

    /// Adds a label.
    pub fn label(mut self, k: &str, v: &str) -> Self {
        self.0
            .metadata
            .labels
            .get_or_insert_with(BTreeMap::new)
            .insert(k.into(), v.into());
        self
    }

    /// Sets the namespace.
    pub fn ns(mut self, ns: &str) -> Self {
        self.0.metadata.namespace = Some(ns.into());
        self
    }

    /// Sets the priority.
    pub fn priority(mut self, p: i32) -> Self {
        self.spec().priority = Some(p);
        self
    }

    /// Assigns to a node.
    pub fn node(mut self, n: &str) -> Self {
        self.spec().node_name = Some(n.into());
        self
    }

    /// Adds a host port.
    pub fn host_port(mut self, port: i32, proto: &str, ip: &str) -> Self {
        self.spec().containers[0]
            .ports
            .get_or_insert_with(Vec::new)
            .push(ContainerPort {
                container_port: port,
                host_port: Some(port),
                protocol: Some(proto.into()),
                host_ip: (!ip.is_empty()).then(|| ip.into()),
                ..Default::default()
            });
        self
    }

    /// Adds a toleration.
    pub fn toleration(mut self, key: &str, op: &str, value: &str, effect: &str) -> Self {
        self.spec()
            .tolerations
            .get_or_insert_with(Vec::new)
            .push(Toleration {
                key: Some(key.into()),
                operator: Some(op.into()),
                value: (!value.is_empty()).then(|| value.into()),
                effect: (!effect.is_empty()).then(|| effect.into()),
                toleration_seconds: None,
            });
        self
    }

    /// Sets a node selector entry.
    pub fn node_selector(mut self, k: &str, v: &str) -> Self {
        self.spec()
            .node_selector
            .get_or_insert_with(BTreeMap::new)
            .insert(k.into(), v.into());
        self
    }

    /// Sets the affinity.
    pub fn affinity(mut self, a: Affinity) -> Self {
        self.spec().affinity = Some(a);
        self
    }

    /// Adds a topology spread constraint selecting `k=v`.
    pub fn spread(mut self, key: &str, max_skew: i32, when: &str, k: &str, v: &str) -> Self {
        self.spec()
            .topology_spread_constraints
            .get_or_insert_with(Vec::new)
            .push(TopologySpreadConstraint {
                max_skew,
                topology_key: key.into(),
                when_unsatisfiable: when.into(),
                label_selector: Some(LabelSelector {
                    match_labels: Some(BTreeMap::from([(k.into(), v.into())])),
                    ..Default::default()
                }),
                ..Default::default()
            });
        self
    }

    /// Applies `f` to the spec.
    pub fn with_spec(mut self, f: impl FnOnce(&mut PodSpec)) -> Self {
        f(self.spec());
        self
    }

    /// The pod info.
    pub fn info(self) -> PodInfo {
        PodInfo::new(self.0)
    }

    /// The shared pod info.
    pub fn arc(self) -> Arc<PodInfo> {
        Arc::new(self.info())
    }
}

/// A node under construction.
#[derive(Clone)]
pub struct NodeBuilder(pub Node);

/// A node with 4 CPUs, 32 GiB and 110 pods allocatable, labelled with its hostname.
pub fn node(name: &str) -> NodeBuilder {
    let alloc = BTreeMap::from([
        ("cpu".to_string(), Quantity("4".into())),
        ("memory".to_string(), Quantity("32Gi".into())),
        ("pods".to_string(), Quantity("110".into())),
    ]);
    NodeBuilder(Node {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(BTreeMap::from([(
                "kubernetes.io/hostname".to_string(),
                name.to_string(),
            )])),
            ..Default::default()
        },
        spec: Some(NodeSpec::default()),
        status: Some(NodeStatus {
            allocatable: Some(alloc),
            ..Default::default()
        }),
    })
}

impl NodeBuilder {
    /// Sets an allocatable amount.
    pub fn alloc(mut self, res: &str, q: &str) -> Self {
        if let Some(a) = self.0.status.as_mut().and_then(|s| s.allocatable.as_mut()) {
            a.insert(res.into(), Quantity(q.into()));
        }
        self
    }

    /// Adds a label.
    pub fn label(mut self, k: &str, v: &str) -> Self {
        self.0
            .metadata
            .labels
            .get_or_insert_with(BTreeMap::new)
            .insert(k.into(), v.into());
        self
    }

    /// Adds a taint.
    pub fn taint(mut self, key: &str, value: &str, effect: &str) -> Self {
        self.0
            .spec
            .get_or_insert_with(Default::default)
            .taints
            .get_or_insert_with(Vec::new)
            .push(Taint {
                key: key.into(),
                value: (!value.is_empty()).then(|| value.into()),
                effect: effect.into(),
                time_added: None,
            });
        self
    }

    /// Cordons the node.
    pub fn unschedulable(mut self) -> Self {
        self.0.spec.get_or_insert_with(Default::default).unschedulable = Some(true);
        self
    }

    /// The node object.
    pub fn obj(self) -> Arc<NodeObj> {
        Arc::new(NodeObj::new(self.0))
    }

    /// A node info with `pods` on it.
    pub fn with_pods(self, pods: Vec<PodBuilder>) -> NodeInfo {
        let name = self.0.metadata.name.clone().unwrap_or_default();
        let mut ni = NodeInfo::with_node(self.obj());
        for p in pods {
            ni.add_pod(p.node(&name).arc());
        }
        ni
    }

    /// A node info without pods.
    pub fn info(self) -> NodeInfo {
        self.with_pods(Vec::new())
    }
}

/// Runs the framework's PreFilter and Filter of one plugin over every node of `snap`,
/// returning each node's status.
pub fn filter_all(
    pre: Option<&dyn crate::framework::PreFilterPlugin>,
    filter: &dyn crate::framework::FilterPlugin,
    pod: &PodInfo,
    snap: &Snapshot,
) -> Vec<Status> {
    let mut state = CycleState::default();
    if let Some(pre) = pre {
        let s = pre.pre_filter(&mut state, pod, snap);
        if s.is_skip() {
            return snap.nodes().iter().map(|_| Status::success()).collect();
        }
        if !s.is_success() {
            return snap.nodes().iter().map(|_| s.clone()).collect();
        }
    }
    snap.nodes()
        .iter()
        .map(|n| filter.filter(&state, pod, n))
        .collect()
}

/// Runs PreScore, Score and NormalizeScore of one plugin over every node of `snap`.
pub fn score_all(plugin: &dyn crate::framework::Plugin, pod: &PodInfo, snap: &Snapshot) -> Vec<i64> {
    let mut state = CycleState::default();
    let nodes: Vec<&NodeInfo> = snap.nodes().iter().map(|n| n.as_ref()).collect();
    if let Some(pre) = plugin.as_pre_filter() {
        let _ = pre.pre_filter(&mut state, pod, snap);
    }
    if let Some(ps) = plugin.as_pre_score() {
        let s = ps.pre_score(&mut state, pod, &nodes, snap);
        if s.is_skip() {
            return vec![0; nodes.len()];
        }
    }
    let Some(sp) = plugin.as_score() else {
        return vec![0; nodes.len()];
    };
    let mut scores: Vec<i64> = nodes
        .iter()
        .map(|n| sp.score(&state, pod, n).unwrap_or(-1))
        .collect();
    let _ = sp.normalize(&state, pod, &nodes, &mut scores);
    scores
}
